/**
 * Pushes single users' changes (SPEC §5 `login`, `app_change`) to every connection
 * through the user-scoped fast path. Changes that arrive while a connection is busy with
 * the previous batch wait and go together in the next one: one run for many logins, as a
 * database commits many transactions with one flush. A batch that could not run (the
 * source is down, a full run holds the connection) is tried again later, so the change
 * still reaches the source; the caller never waits for that.
 */
import type { Trigger } from '../directory/store.js';
import { emptyCounts } from '../sync/counts.js';
import type { SyncServices } from '../sync/run-sync.js';
import type { SyncResult } from '../sync/sync-result.js';
import { syncUsers } from '../sync/sync-user.js';

interface Waiting {
  readonly userIds: Set<string>;
  readonly done: Array<(result: SyncResult | null) => void>;
}

interface Lane {
  busy: boolean;
  waiting: Map<Trigger, Waiting>;
}

export interface PusherOptions {
  /** Largest batch of users in one run. */
  readonly batchSize: number;
  /** Retries of a batch that failed or was skipped, each after `retryDelayMs` × 2^n. */
  readonly retries: number;
  readonly retryDelayMs: number;
}

export const DEFAULT_PUSHER: PusherOptions = { batchSize: 200, retries: 5, retryDelayMs: 2_000 };

export class UserPusher {
  private readonly lanes = new Map<string, Lane>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly services: () => Promise<SyncServices>,
    private readonly onResult: (result: SyncResult) => void = () => {},
    private readonly options: PusherOptions = DEFAULT_PUSHER,
  ) {}

  /** Pushes the users' current state to every connection; one result per connection. */
  async push(userIds: readonly string[], trigger: Trigger): Promise<SyncResult[]> {
    const { config } = await this.services();
    const results = await Promise.all(config.connections.map((c) => this.pushTo(c.name, userIds, trigger)));
    return results.filter((r) => r !== null);
  }

  /** Stops retrying and waits for the batches in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.all(this.inFlight);
  }

  private pushTo(
    connection: string,
    userIds: readonly string[],
    trigger: Trigger,
  ): Promise<SyncResult | null> {
    return new Promise<SyncResult | null>((resolve) => {
      const waiting = this.waiting(connection, trigger);
      for (const id of userIds) waiting.userIds.add(id);
      waiting.done.push(resolve);
      this.drain(connection);
    });
  }

  private waiting(connection: string, trigger: Trigger): Waiting {
    let lane = this.lanes.get(connection);
    if (!lane) this.lanes.set(connection, (lane = { busy: false, waiting: new Map() }));
    let waiting = lane.waiting.get(trigger);
    if (!waiting) lane.waiting.set(trigger, (waiting = { userIds: new Set(), done: [] }));
    return waiting;
  }

  private drain(connection: string): void {
    const lane = this.lanes.get(connection);
    if (!lane || lane.busy || lane.waiting.size === 0) return;
    const [trigger, waiting] = lane.waiting.entries().next().value!;
    const ids = [...waiting.userIds].slice(0, this.options.batchSize);
    const done = waiting.done.splice(0);
    for (const id of ids) waiting.userIds.delete(id);
    // Users beyond the batch size wait for the next batch; their callers were answered with this one's result.
    if (waiting.userIds.size === 0) lane.waiting.delete(trigger);
    lane.busy = true;
    const batch = this.runBatch(connection, ids, trigger, done, 0).finally(() => {
      this.inFlight.delete(batch);
      lane.busy = false;
      this.drain(connection);
    });
    this.inFlight.add(batch);
  }

  private async runBatch(
    name: string,
    userIds: readonly string[],
    trigger: Trigger,
    done: Array<(result: SyncResult | null) => void>,
    attempt: number,
  ): Promise<void> {
    const result = await this.runOnce(name, userIds, trigger);
    for (const resolve of done) resolve(result);
    if (result === null) return; // the connection is gone: nothing to push to
    this.onResult(result);
    if (
      (result.status === 'failed' || result.status === 'skipped') &&
      attempt < this.options.retries &&
      !this.stopped
    ) {
      const timer = setTimeout(
        () => {
          this.timers.delete(timer);
          const retry = this.runBatch(name, userIds, trigger, [], attempt + 1);
          this.inFlight.add(retry);
          void retry.finally(() => this.inFlight.delete(retry));
        },
        this.options.retryDelayMs * 2 ** attempt,
      );
      timer.unref();
      this.timers.add(timer);
    }
  }

  private async runOnce(
    name: string,
    userIds: readonly string[],
    trigger: Trigger,
  ): Promise<SyncResult | null> {
    const started = performance.now();
    try {
      const services = await this.services();
      const connection = services.config.connections.find((c) => c.name === name);
      if (!connection) return null;
      return await syncUsers(services, connection, userIds, trigger);
    } catch (error) {
      // The directory itself failed (syncUsers records source failures as a failed run).
      return {
        connection: name,
        trigger,
        status: 'failed',
        dryRun: false,
        scope: 'user',
        runId: null,
        counts: emptyCounts(),
        issues: [],
        opened: 0,
        resolved: 0,
        error: error instanceof Error ? error.message : String(error),
        durationMs: Math.round(performance.now() - started),
        plan: null,
      };
    }
  }
}
