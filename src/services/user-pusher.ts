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

/** One caller's push, waiting for a batch. */
interface Waiting {
  readonly trigger: Trigger;
  readonly userIds: readonly string[];
  readonly resolve: (result: SyncResult | null) => void;
}

interface Lane {
  busy: boolean;
  waiting: Waiting[];
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
      let lane = this.lanes.get(connection);
      if (!lane) this.lanes.set(connection, (lane = { busy: false, waiting: [] }));
      lane.waiting.push({ trigger, userIds, resolve });
      this.drain(connection);
    });
  }

  /**
   * Starts the connection's next batch unless one runs: the waiting pushes of the first
   * one's trigger, up to the batch size. It starts on the next turn of the event loop, so
   * that pushes made in this one (requests that arrived together) join it.
   */
  private drain(connection: string): void {
    const lane = this.lanes.get(connection);
    if (!lane || lane.busy || lane.waiting.length === 0) return;
    lane.busy = true;
    const batch = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => {
        const trigger = lane.waiting[0]!.trigger;
        const taken: Waiting[] = [];
        const ids = new Set<string>();
        lane.waiting = lane.waiting.filter((w) => {
          if (w.trigger !== trigger || (taken.length > 0 && ids.size >= this.options.batchSize)) return true;
          taken.push(w);
          for (const id of w.userIds) ids.add(id);
          return false;
        });
        return this.runBatch(
          connection,
          [...ids],
          trigger,
          taken.map((w) => w.resolve),
          0,
        );
      })
      .finally(() => {
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
