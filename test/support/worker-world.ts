/**
 * A world for the multi-process tests on PostgreSQL: a temp folder whose usersync.yaml
 * puts the directory on a fresh PostgreSQL schema (pg-boss then keeps its jobs in
 * `<schema>_jobs`), one connection to a club table of a few thousand rows in another fresh
 * schema, an API key made with the CLI, and real `usersync serve --no-jobs` / `usersync
 * worker` processes. Everything the tests assert is read with the admin pool (plain SQL on
 * the runs, run_locks, users and pg-boss job tables), never through the code under test.
 * After each test the processes are stopped, then every schema is dropped.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { afterAll, afterEach } from 'vitest';
import { stringify } from 'yaml';
import type { CliEnv } from './cli.js';
import { ClubServers, type ClubTable } from './club-table.js';
import { postgresUrl, quoteIdent, usePostgresSchemas } from './postgres-directory.js';
import {
  createApiKey,
  startServer,
  startUsersync,
  type ServerProcess,
  type UsersyncProcess,
} from './server.js';
import { clubConnection } from './sync-fixture.js';
import { useTempDir } from './temp.js';

export const CONNECTION = 'crm';
export const WEBHOOK_SECRET = 'worker-world-webhook-secret-0123456789';

/** A row of the directory's runs table, as stored. */
export interface RunRow {
  readonly id: string;
  readonly trigger: string;
  readonly status: string;
  readonly started_at: string;
  readonly finished_at: string | null;
  readonly error: string | null;
  readonly counts: string;
}

export interface WorkerWorld {
  readonly dir: string;
  /** The directory's schema; pg-boss's is `jobsSchema`. */
  readonly schema: string;
  readonly jobsSchema: string;
  readonly club: ClubTable;
  readonly rows: number;
  readonly key: string;
  readonly admin: pg.Pool;
  /** `usersync serve --port 0 --no-jobs`: the API only, syncs left to the workers. */
  startApi(env?: CliEnv): Promise<ServerProcess>;
  /** `usersync worker`, once it says it started. */
  startWorker(env?: CliEnv): Promise<UsersyncProcess>;
  /** The connection's runs, oldest first. */
  runs(): Promise<RunRow[]>;
  /** Who holds the connection's run lock, if anyone. */
  lockHolder(): Promise<{ pid: number; host: string } | undefined>;
  /** pg-boss jobs of the sync queue by state (created, retry, active, completed, failed…). */
  jobStates(): Promise<Record<string, number>>;
  /**
   * Waits until the queue has drained: no job waiting, retrying or active, no run running
   * and no run lock held, twice in a row 300 ms apart. Fails after `timeoutMs` with the state.
   */
  waitUntilIdle(timeoutMs: number): Promise<void>;
  /** Live users in the directory. */
  userCount(): Promise<number>;
  /** Users, and source rows holding the id of the user with their email (see `convergence`). */
  convergence(): Promise<Convergence>;
}

export interface Convergence {
  readonly users: number;
  readonly rowsWithId: number;
  readonly distinctIds: number;
  /** Rows whose app_user_id names a live user with the row's email. */
  readonly rowsMatchingTheirUser: number;
}

export interface WorkerWorldSetup {
  /** Rows of the club table, inserted in one statement before anything starts. */
  readonly rows: number;
  /** Environment of every usersync process of the world (CLI, API, workers). */
  readonly env?: CliEnv;
  /** Settings added to the club connection. */
  readonly connection?: Record<string, unknown>;
}

export function useWorkerWorld(): (setup: WorkerWorldSetup) => Promise<WorkerWorld> {
  // Registered first: under vitest's stacked after-hooks, the schemas are dropped last.
  const schemas = usePostgresSchemas();
  const tempDir = useTempDir('usersync-workers-');
  const servers = new ClubServers();
  const processes: UsersyncProcess[] = [];
  const clubs: ClubTable[] = [];
  const jobSchemas: string[] = [];
  afterEach(async () => {
    // The processes first (a worker still running a sync would hold locks on the schemas).
    await Promise.all(processes.splice(0).map((p) => p.stop()));
    for (const club of clubs.splice(0)) await club.drop();
    for (const schema of jobSchemas.splice(0))
      if (process.env.KEEP_TEST_SCHEMA !== '1')
        await schemas.admin.query(`drop schema if exists ${quoteIdent(schema)} cascade`);
  });
  afterAll(() => servers.end());

  return async ({ rows, env: worldEnv = {}, connection: extra = {} }) => {
    const admin = schemas.admin;
    const dir = tempDir();
    const club = await servers.create('postgres');
    clubs.push(club);
    await admin.query(
      `insert into ${club.table} (email, "Full-Name", plan, company, status)
       select 'member' || n || '@example.com', 'Member ' || n,
              case when n % 3 = 0 then 'pro' else 'free' end, 'Company ' || (n % 40), 'active'
       from generate_series(1, $1) n`,
      [rows],
    );
    const schema = schemas.newSchema();
    const jobsSchema = `${schema}_jobs`;
    jobSchemas.push(jobsSchema);
    const connection = clubConnection({
      source: club.source,
      table: club.table,
      webhookSecret: WEBHOOK_SECRET,
      ...extra,
    });
    writeFileSync(
      join(dir, 'usersync.yaml'),
      stringify({ directory: postgresUrl({ schema }), connections: [connection] }),
    );
    const env: CliEnv = { USERSYNC_LOG_LEVEL: 'info', ...worldEnv };
    const key = await createApiKey(dir, 'test', env);
    const dirTable = (name: string) => `${quoteIdent(schema)}.${quoteIdent(name)}`;

    const world: WorkerWorld = {
      dir,
      schema,
      jobsSchema,
      club,
      rows,
      key,
      admin,
      async startApi(extra = {}) {
        const api = await startServer(dir, ['--no-jobs'], { ...env, ...extra });
        processes.push(api);
        return api;
      },
      async startWorker(extra = {}) {
        const worker = startUsersync(dir, ['worker'], { ...env, ...extra });
        processes.push(worker);
        await worker.waitForLog((line) => line.msg === 'usersync worker started', 30_000);
        return worker;
      },
      async runs() {
        const result = await admin.query<RunRow>(
          `select id, trigger, status, started_at, finished_at, error, counts from ${dirTable('runs')}
           where connection = $1 order by started_at, id`,
          [CONNECTION],
        );
        return result.rows;
      },
      async lockHolder() {
        const result = await admin.query<{ pid: number; host: string }>(
          `select pid, host from ${dirTable('run_locks')} where connection = $1`,
          [CONNECTION],
        );
        const row = result.rows[0];
        return row && { pid: Number(row.pid), host: row.host };
      },
      async jobStates() {
        const exists = await admin.query(`select 1 from pg_namespace where nspname = $1`, [jobsSchema]);
        if (exists.rowCount === 0) return {};
        const result = await admin.query<{ state: string; n: string }>(
          `select state::text as state, count(*) as n from ${quoteIdent(jobsSchema)}.job
           where name = 'usersync-sync' group by state`,
        );
        return Object.fromEntries(result.rows.map((r) => [r.state, Number(r.n)]));
      },
      async waitUntilIdle(timeoutMs) {
        const deadline = Date.now() + timeoutMs;
        let idleOnce = false;
        for (;;) {
          const [states, runs, holder] = await Promise.all([
            world.jobStates(),
            world.runs(),
            world.lockHolder(),
          ]);
          const pending = (states.created ?? 0) + (states.retry ?? 0) + (states.active ?? 0);
          const idle = pending === 0 && !runs.some((r) => r.status === 'running') && holder === undefined;
          if (idle && idleOnce) return;
          idleOnce = idle;
          if (Date.now() > deadline)
            throw new Error(
              `The queue did not drain within ${timeoutMs} ms: jobs ${JSON.stringify(states)}, lock ${JSON.stringify(holder)}, runs ${JSON.stringify(runs.map((r) => [r.trigger, r.status, r.started_at, r.finished_at, r.error]))}`,
            );
          await sleep(300);
        }
      },
      async userCount() {
        const users = await admin.query<{ n: string }>(
          `select count(*) as n from ${dirTable('users')} where deleted_at is null`,
        );
        return Number(users.rows[0]!.n);
      },
      async convergence() {
        const ids = await admin.query<{ with_id: string; distinct_ids: string; matching: string }>(
          `select count(s.app_user_id) as with_id, count(distinct s.app_user_id) as distinct_ids,
                  count(u.id) as matching
           from ${club.table} s
           left join ${dirTable('users')} u
             on u.id = s.app_user_id and u.email_key = lower(trim(s.email)) and u.deleted_at is null`,
        );
        const row = ids.rows[0]!;
        return {
          users: await world.userCount(),
          rowsWithId: Number(row.with_id),
          distinctIds: Number(row.distinct_ids),
          rowsMatchingTheirUser: Number(row.matching),
        };
      },
    };
    return world;
  };
}

/** Two runs overlap when one starts before the other has finished. */
export function overlappingRuns(runs: readonly RunRow[]): [RunRow, RunRow][] {
  const overlaps: [RunRow, RunRow][] = [];
  const sorted = [...runs].sort((a, b) => a.started_at.localeCompare(b.started_at));
  for (let i = 0; i < sorted.length; i++)
    for (let j = i + 1; j < sorted.length; j++) {
      const [a, b] = [sorted[i]!, sorted[j]!];
      if (a.finished_at === null || b.started_at < a.finished_at) overlaps.push([a, b]);
    }
  return overlaps;
}
