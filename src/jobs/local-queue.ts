/**
 * The in-process queue (SQLite directory): per connection, at most one run in progress
 * and one request waiting. A request arriving while one waits is merged into it.
 */
import {
  coalesce,
  DEFAULT_RETRY,
  needsRetry,
  type RetryPolicy,
  type RunRequest,
  type SyncQueue,
  type SyncRequest,
} from './sync-queue.js';

interface Lane {
  running: Promise<void> | null;
  waiting: SyncRequest | null;
  /** Retries already made for the waiting request. */
  attempt: number;
  retryTimer: NodeJS.Timeout | null;
}

export class LocalSyncQueue implements SyncQueue {
  readonly kind = 'local';
  private readonly lanes = new Map<string, Lane>();
  private working = false;

  constructor(
    private readonly run: RunRequest,
    private readonly retry: RetryPolicy = DEFAULT_RETRY,
    private readonly onError: (error: unknown, request: SyncRequest) => void = () => {},
  ) {}

  request(request: SyncRequest): Promise<void> {
    const lane = this.lane(request.connection);
    lane.waiting = lane.waiting ? coalesce(lane.waiting, request) : request;
    this.kick(request.connection);
    return Promise.resolve();
  }

  work(): Promise<void> {
    this.working = true;
    for (const connection of this.lanes.keys()) this.kick(connection);
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.working = false;
    for (const lane of this.lanes.values()) {
      if (lane.retryTimer) clearTimeout(lane.retryTimer);
      lane.retryTimer = null;
    }
    await Promise.all([...this.lanes.values()].map((lane) => lane.running));
  }

  /** Resolves when no run is in progress or waiting (for tests and graceful shutdown). */
  async idle(): Promise<void> {
    for (;;) {
      const busy = [...this.lanes.values()].filter((l) => l.running || (l.waiting && !l.retryTimer));
      if (busy.length === 0) return;
      await Promise.all(busy.map((l) => l.running ?? Promise.resolve()));
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private lane(connection: string): Lane {
    let lane = this.lanes.get(connection);
    if (!lane) {
      lane = { running: null, waiting: null, attempt: 0, retryTimer: null };
      this.lanes.set(connection, lane);
    }
    return lane;
  }

  private kick(connection: string): void {
    const lane = this.lane(connection);
    if (!this.working || lane.running || lane.retryTimer || !lane.waiting) return;
    const request = lane.waiting;
    const attempt = lane.attempt;
    lane.waiting = null;
    lane.attempt = 0;
    // Started on the next turn of the event loop: whoever asked gets its answer first.
    lane.running = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.runOnce(request))
      .then((outcome) => {
        if (outcome === 'done' || !this.working) return;
        // Busy (another process holds the connection) is no failure: no attempt is used up.
        if (outcome === 'failed' && attempt >= this.retry.limit) return;
        // A request that came meanwhile runs next anyway: it is the retry.
        if (lane.waiting) return void (lane.waiting = coalesce(request, lane.waiting));
        lane.waiting = request;
        lane.attempt = outcome === 'failed' ? attempt + 1 : attempt;
        lane.retryTimer = setTimeout(
          () => {
            lane.retryTimer = null;
            this.kick(connection);
          },
          outcome === 'failed' ? this.retry.delayMs * 2 ** attempt : this.retry.delayMs,
        );
        lane.retryTimer.unref();
      })
      .finally(() => {
        lane.running = null;
        this.kick(connection);
      });
  }

  private async runOnce(request: SyncRequest): Promise<'done' | 'failed' | 'busy'> {
    try {
      const result = await this.run(request);
      if (result?.status === 'skipped') return 'busy';
      return needsRetry(result) ? 'failed' : 'done';
    } catch (error) {
      this.onError(error, request);
      return 'failed';
    }
  }
}
