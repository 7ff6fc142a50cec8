/**
 * What a long-lived process (`usersync serve`, `usersync worker`) holds: the directory,
 * the connection catalog, pooled sources, the sync queue, the user pusher, the scheduler
 * and metrics. The HTTP surface and the worker are thin layers over it.
 */
import type { LoadedConfig } from '../config.js';
import { UsersyncError } from '../core/errors.js';
import { openDirectory } from '../directory/open.js';
import type { DirectoryStore, Trigger } from '../directory/store.js';
import { LocalSyncQueue } from '../jobs/local-queue.js';
import { DEFAULT_PG_BOSS, PgBossSyncQueue } from '../jobs/pg-boss-queue.js';
import { DEFAULT_RETRY, type SyncQueue, type SyncRequest } from '../jobs/sync-queue.js';
import { changedDirectory } from '../sync/counts.js';
import { runConnectionSync, type SyncServices } from '../sync/run-sync.js';
import { findConnection } from '../sync/sync-all.js';
import { SourcePool } from '../sync/source-pool.js';
import type { SyncResult } from '../sync/sync-result.js';
import { ConnectionCatalog } from './connections.js';
import { Metrics } from './metrics.js';
import { Scheduler } from './scheduler.js';
import { loadSecrets } from './secrets.js';
import { UserPusher } from './user-pusher.js';

/** A login or app change may use a connection list this old (a second: changes elsewhere show up quickly). */
const PUSH_CONFIG_MAX_AGE_MS = 1_000;

export interface Logger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface RuntimeOptions {
  readonly logger: Logger;
  /** Run queued syncs and schedules in this process (a worker; a server unless told not to). */
  readonly runJobs: boolean;
  readonly env?: NodeJS.ProcessEnv;
}

export class Runtime {
  readonly catalog: ConnectionCatalog;
  readonly metrics: Metrics;
  readonly queue: SyncQueue;
  readonly pusher: UserPusher;
  private readonly sources: SourcePool;
  private readonly scheduler: Scheduler | null;
  private refreshTimer: NodeJS.Timeout | null = null;

  private constructor(
    readonly file: LoadedConfig,
    readonly store: DirectoryStore,
    private readonly options: RuntimeOptions,
  ) {
    const env = options.env ?? process.env;
    const log = options.logger;
    this.catalog = new ConnectionCatalog(store, file, loadSecrets(file.baseDir, env));
    this.sources = new SourcePool(file);
    this.metrics = new Metrics(store);
    const run = (request: SyncRequest) => this.runRequested(request);
    const onQueueError = (error: unknown) => log.error({ err: error }, 'sync queue error');
    this.queue =
      store.dialect === 'postgres'
        ? new PgBossSyncQueue(file.directory, run, pgBossOptions(env), onQueueError)
        : new LocalSyncQueue(run, DEFAULT_RETRY, (error, request) =>
            log.error({ err: error, connection: request.connection }, 'sync run threw'),
          );
    this.pusher = new UserPusher(
      () => this.services(PUSH_CONFIG_MAX_AGE_MS),
      (result) => this.finished(result),
    );
    this.scheduler = options.runJobs
      ? new Scheduler(this.queue, (error, connection) =>
          log.error({ err: error, connection }, 'could not queue a scheduled sync'),
        )
      : null;
  }

  static async open(file: LoadedConfig, options: RuntimeOptions): Promise<Runtime> {
    const store = await openDirectory(file.directory, { baseDir: file.baseDir });
    const runtime = new Runtime(file, store, options);
    try {
      if (options.runJobs) {
        await runtime.queue.work();
        await runtime.refreshSchedules();
        // Other processes change connections too: pick their schedules up.
        runtime.refreshTimer = setInterval(() => void runtime.refreshSchedules(), 60_000);
        runtime.refreshTimer.unref();
      }
    } catch (error) {
      await runtime.close();
      throw error;
    }
    return runtime;
  }

  /** `maxAgeMs`: how old a connection list will do (see ConnectionCatalog.config). */
  async services(maxAgeMs = 0): Promise<SyncServices> {
    return { store: this.store, config: await this.catalog.config(maxAgeMs), sources: this.sources };
  }

  /** Queues a run of one connection (or of every connection). */
  async trigger(connection: string | null, trigger: Trigger, full: boolean): Promise<string[]> {
    const { connections } = await this.catalog.config();
    const names =
      connection === null ? connections.map((c) => c.name) : [findConnection(connections, connection).name];
    for (const name of names) await this.queue.request({ connection: name, trigger, full });
    return names;
  }

  async refreshSchedules(): Promise<void> {
    if (!this.scheduler) return;
    try {
      this.scheduler.refresh(await this.catalog.config());
    } catch (error) {
      this.options.logger.error({ err: error }, 'could not refresh schedules');
    }
  }

  nextScheduledRuns(): Record<string, string | null> {
    return this.scheduler?.nextRuns() ?? {};
  }

  async close(): Promise<void> {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.scheduler?.stop();
    await this.queue.stop();
    await this.pusher.stop();
    await this.sources.close();
    await this.store.close();
  }

  private async runRequested(request: SyncRequest): Promise<SyncResult | null> {
    const services = await this.services();
    const connection = services.config.connections.find((c) => c.name === request.connection);
    if (!connection) {
      this.options.logger.warn(
        { connection: request.connection },
        'a queued sync names a connection that no longer exists; dropped',
      );
      return null;
    }
    const result = await runConnectionSync(services, connection, {
      trigger: request.trigger,
      full: request.full,
      // A queued run waits its turn briefly; the queue retries it later otherwise.
      lockWaitMs: 5_000,
    });
    this.finished(result);
    // SPEC §3, the directory is the hub: what one connection changed is an app change for the others.
    if (result.status === 'succeeded' && changedDirectory(result.counts))
      for (const other of services.config.connections)
        if (other.name !== connection.name)
          await this.queue.request({ connection: other.name, trigger: 'app_change', full: false });
    return result;
  }

  private finished(result: SyncResult): void {
    this.metrics.recordRun(result);
    const { connection, trigger, status, scope, runId, counts, error, durationMs } = result;
    const fields = {
      connection,
      trigger,
      status,
      scope,
      runId,
      app: counts.app,
      source: counts.source,
      durationMs,
    };
    if (status === 'failed') this.options.logger.warn({ ...fields, error }, 'sync run failed');
    else if (scope !== 'user' || status !== 'succeeded')
      this.options.logger.info({ ...fields, error }, 'sync run finished');
  }
}

/** Job settings from the environment, for operators and for tests that kill workers. */
function pgBossOptions(env: NodeJS.ProcessEnv): typeof DEFAULT_PG_BOSS {
  const number = (name: string, fallback: number) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0)
      throw new UsersyncError(
        'config.invalid',
        `${name} must be a positive number of seconds, not "${raw}".`,
      );
    return value;
  };
  return {
    ...DEFAULT_PG_BOSS,
    expireSeconds: number('USERSYNC_JOB_EXPIRE_SECONDS', DEFAULT_PG_BOSS.expireSeconds),
    maintenanceSeconds: number('USERSYNC_JOB_MAINTENANCE_SECONDS', DEFAULT_PG_BOSS.maintenanceSeconds),
    retry: {
      ...DEFAULT_PG_BOSS.retry,
      delayMs: number('USERSYNC_JOB_RETRY_SECONDS', DEFAULT_PG_BOSS.retry.delayMs / 1000) * 1000,
    },
  };
}
