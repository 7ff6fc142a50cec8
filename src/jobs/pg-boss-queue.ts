/**
 * The PostgreSQL queue: pg-boss, in a schema next to the directory's, shared by every API
 * process and worker. The `short` policy keeps at most one waiting job per singleton key
 * (a send while one waits is dropped: that is the coalescing); a job may wait while
 * another of the same connection runs, and the run lock (SPEC §5) makes it wait its turn.
 * pg-boss retries failed jobs with backoff, and a job whose worker died (kill -9) expires
 * and is retried by another worker.
 */
import PgBoss from 'pg-boss';
import { parsePostgresDirectoryUrl } from '../directory/postgres/postgres-url.js';
import {
  needsRetry,
  type RetryPolicy,
  type RunRequest,
  type SyncQueue,
  type SyncRequest,
} from './sync-queue.js';

const QUEUE = 'usersync-sync';
/** A request whose connection was busy in another process is asked again after this. */
const SKIPPED_AGAIN_AFTER_S = 15;

export interface PgBossQueueOptions {
  readonly retry: RetryPolicy;
  /**
   * A job running longer than this is presumed dead (its worker was killed) and retried.
   * pg-boss 10 has no heartbeat: it also fails a live handler that runs longer (the run goes
   * on; the retry waits for its lock), so keep this above the longest run.
   */
  readonly expireSeconds: number;
  /** How often pg-boss looks for expired jobs. */
  readonly maintenanceSeconds: number;
  /** Runs at once in this process. */
  readonly concurrency: number;
  readonly pollingSeconds: number;
}

export const DEFAULT_PG_BOSS: PgBossQueueOptions = {
  retry: { limit: 5, delayMs: 5_000 },
  expireSeconds: 60 * 60,
  maintenanceSeconds: 60,
  concurrency: 2,
  pollingSeconds: 1,
};

export class PgBossSyncQueue implements SyncQueue {
  readonly kind = 'pg-boss';
  private readonly boss: PgBoss;
  private started: Promise<void> | null = null;

  constructor(
    directoryUrl: string,
    private readonly run: RunRequest,
    private readonly options: PgBossQueueOptions = DEFAULT_PG_BOSS,
    onError: (error: unknown) => void = () => {},
  ) {
    const target = parsePostgresDirectoryUrl(directoryUrl);
    this.boss = new PgBoss({
      connectionString: target.connectionString,
      schema: `${target.schema === 'public' ? 'usersync' : target.schema}_jobs`,
      max: 4,
      maintenanceIntervalSeconds: options.maintenanceSeconds,
      monitorStateIntervalSeconds: Math.max(options.maintenanceSeconds, 1),
      // usersync runs its own schedules (cron per connection).
      schedule: false,
    });
    this.boss.on('error', onError);
  }

  private start(): Promise<void> {
    this.started ??= (async () => {
      await this.boss.start();
      if (!(await this.boss.getQueue(QUEUE)))
        await raceSafe(() => this.boss.createQueue(QUEUE, this.queueSettings()));
    })();
    return this.started;
  }

  /**
   * Jobs take their expiry and retries from the queue's row, which createQueue writes only
   * when the queue does not exist yet: the first process ever started would decide them
   * for good. So a worker writes its own settings when it starts (changed settings take
   * effect for jobs queued after a worker restarts with them); an API process leaves them.
   */
  private queueSettings() {
    const { retry, expireSeconds } = this.options;
    return {
      name: QUEUE,
      policy: 'short' as const,
      retryLimit: retry.limit,
      retryDelay: Math.max(1, Math.round(retry.delayMs / 1000)),
      retryBackoff: true,
      expireInSeconds: expireSeconds,
    };
  }

  async request(
    request: SyncRequest,
    options: { slotSeconds?: number; startAfterSeconds?: number } = {},
  ): Promise<void> {
    await this.start();
    // One waiting full run and one waiting incremental run per connection at most.
    const singletonKey = `${request.connection}:${request.full ? 'full' : 'incremental'}`;
    await this.boss.send(
      QUEUE,
      { ...request },
      {
        singletonKey,
        ...(options.slotSeconds ? { singletonSeconds: options.slotSeconds } : {}),
        ...(options.startAfterSeconds ? { startAfter: options.startAfterSeconds } : {}),
      },
    );
  }

  async work(): Promise<void> {
    await this.start();
    await raceSafe(() => this.boss.updateQueue(QUEUE, this.queueSettings()));
    const options = { batchSize: 1, pollingIntervalSeconds: this.options.pollingSeconds };
    for (let i = 0; i < this.options.concurrency; i++) {
      await this.boss.work<SyncRequest>(QUEUE, options, async ([job]) => {
        const result = await this.run(job!.data);
        // Another process holds the connection (a long run): ask again later, as a new
        // request that coalesces with any waiting one, without using up this job's retries.
        if (result?.status === 'skipped')
          return void (await this.request(job!.data, { startAfterSeconds: SKIPPED_AGAIN_AFTER_S }));
        // Throwing marks the job failed, so pg-boss retries it with backoff.
        if (needsRetry(result))
          throw new Error(`${result!.connection}: ${result!.status}: ${result!.error ?? ''}`);
      });
    }
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    await this.started.catch(() => undefined);
    // Graceful: waits for the jobs in progress, then closes pg-boss's pool.
    await this.boss.stop({ graceful: true, wait: true, timeout: 60_000 });
  }
}

/**
 * pg-boss's queue DDL is not safe when several processes start at once (a deadlock, or
 * a duplicate key): the loser tries again after a moment, by when the queue exists.
 */
async function raceSafe(work: () => Promise<unknown>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await work();
      return;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (attempt >= 5 || (code !== '40P01' && code !== '23505')) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 200 * attempt));
    }
  }
}
