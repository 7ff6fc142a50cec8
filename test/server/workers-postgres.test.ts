/**
 * SPEC §5 and the job layer on PostgreSQL, with real processes: one API process
 * (`usersync serve --no-jobs`) and two `usersync worker`s sharing one directory and its
 * pg-boss queue. Many triggers at once for one connection never make two runs at once and
 * coalesce into few runs; `kill -9` of the worker holding a run leaves the job to the other
 * worker, which finishes it. Runs, locks, jobs, users and source rows are read with plain
 * SQL, never through the code under test; the end state must be the one a single sync gives.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { changedNothing, usersyncJson, type SyncJson } from '../support/cli.js';
import { postgresReachable } from '../support/postgres-directory.js';
import { eventually, type ServerProcess } from '../support/server.js';
import {
  CONNECTION,
  overlappingRuns,
  useWorkerWorld,
  WEBHOOK_SECRET,
  type RunRow,
  type WorkerWorld,
} from '../support/worker-world.js';

const reachable = await postgresReachable();
const world = useWorkerWorld();

/** Enough rows that a first sync takes a couple of seconds, so triggers land during it. */
const ROWS = Number(process.env.WORKERS_TEST_ROWS ?? 6000);

/**
 * Short job expiry, maintenance and retry, so a job whose worker died is retried within
 * seconds (pg-boss 10 accepts ≥ 1 s for each). The expiry must stay above a run's length:
 * pg-boss 10 also fails a job whose handler runs longer than its expiry (and retries it
 * while the run goes on).
 */
const FAST_RECOVERY = {
  USERSYNC_JOB_EXPIRE_SECONDS: '6',
  USERSYNC_JOB_MAINTENANCE_SECONDS: '1',
  USERSYNC_JOB_RETRY_SECONDS: '1',
};

/** Every source row became a user and holds that user's id; a further sync changes nothing. */
async function expectConverged(w: WorkerWorld): Promise<void> {
  expect(await w.convergence()).toEqual({
    users: w.rows,
    rowsWithId: w.rows,
    distinctIds: w.rows,
    rowsMatchingTheirUser: w.rows,
  });
  const again = await usersyncJson<SyncJson>(w.dir, ['sync']);
  expect(again.runs.map((r) => [r.connection, r.status])).toEqual([[CONNECTION, 'succeeded']]);
  expect(changedNothing(again.runs), JSON.stringify(again.runs)).toBe(true);
}

function burst(api: ServerProcess, key: string, manual: number, webhooks: number, lists: number) {
  return Promise.all([
    ...Array.from({ length: manual }, () =>
      api.request('POST', '/api/v1/runs', { key, body: { connection: CONNECTION } }),
    ),
    ...Array.from({ length: webhooks }, () =>
      api.request('POST', `/api/v1/hooks/${CONNECTION}`, {
        key: null,
        body: { changed: true },
        headers: { 'x-usersync-webhook-secret': WEBHOOK_SECRET },
      }),
    ),
    ...Array.from({ length: lists }, () => api.request('GET', '/api/v1/users?limit=5', { key })),
  ]);
}

describe.skipIf(!reachable)('API process and workers on PostgreSQL', () => {
  it('many triggers at once for one connection: never two runs at once, few runs, correct result', async () => {
    const w = await world({ rows: ROWS, env: { USERSYNC_JOB_RETRY_SECONDS: '1' } });
    const [api] = await Promise.all([w.startApi(), w.startWorker(), w.startWorker()]);

    const first = await burst(api, w.key, 20, 3, 3);
    expect(first.map((r) => r.status)).toEqual([...Array(23).fill(202), 200, 200, 200]);
    // A second burst while the first run is in progress: it coalesces into follow-up runs.
    await eventually(
      async () => ((await w.runs()).some((r) => r.status === 'running') ? true : undefined),
      'a run to start',
      30_000,
    );
    const second = await burst(api, w.key, 20, 3, 0);
    expect(second.map((r) => r.status)).toEqual(Array(23).fill(202));
    const stillRunning = (await w.runs()).filter((r) => r.status === 'running');

    await w.waitUntilIdle(120_000);
    const runs = await w.runs();
    expect(stillRunning, 'the second burst came during the first run').toHaveLength(1);
    expect(overlappingRuns(runs)).toEqual([]);
    expect(runs.every((r) => r.status === 'succeeded')).toBe(true);
    // 49 triggers, a handful of runs: one waiting job per connection and kind (full,
    // incremental) at most; a few more only if a worker took one in the middle of a burst.
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs.length).toBeLessThanOrEqual(8);
    expect(new Set(runs.map((r) => r.trigger))).toContain('manual');
    const created = runs.reduce(
      (sum, r) => sum + (JSON.parse(r.counts) as { app: { created: number } }).app.created,
      0,
    );
    expect(created).toBe(ROWS);
    await expectConverged(w);
  }, 180_000);

  it('kill -9 of the worker holding a run: the other worker finishes it', async () => {
    const w = await world({ rows: ROWS });
    // Job settings are the workers' (they write them to pg-boss's queue when they start).
    const workers = await Promise.all([w.startWorker(FAST_RECOVERY), w.startWorker(FAST_RECOVERY)]);
    const api = await w.startApi();
    const triggered = await api.request('POST', '/api/v1/runs', {
      key: w.key,
      body: { connection: CONNECTION },
    });
    expect(triggered.status).toBe(202);

    // Killed in the middle of applying: some users made (and linked), the rest not yet.
    const { run, holder } = await midApply(w);
    const victim = workers.find((p) => p.child.pid === holder.pid);
    const survivor = workers.find((p) => p !== victim)!;
    expect(victim, `the lock names worker pid ${holder.pid}`).toBeDefined();
    victim!.child.kill('SIGKILL');
    expect(await victim!.stop()).toBeNull(); // killed by a signal: no exit code
    // Cut off: the run is still `running`, its job still active, its lock still held.
    expect((await w.runs()).map((r) => [r.id, r.status])).toEqual([[run.id, 'running']]);
    expect((await w.jobStates()).active).toBe(1);
    expect(await w.lockHolder()).toEqual(holder);
    const usersLeft = await w.userCount();
    expect(usersLeft).toBeGreaterThan(0);
    expect(usersLeft).toBeLessThan(ROWS);

    // pg-boss expires the dead worker's job and retries it; the survivor takes the lock over.
    const finished = await survivor.waitForLog(
      (line) =>
        line.msg === 'sync run finished' && line.connection === CONNECTION && line.status === 'succeeded',
      60_000,
    );
    await w.waitUntilIdle(60_000);
    const runs = await w.runs();
    expect(runs[0]).toMatchObject({
      id: run.id,
      status: 'failed',
      error: 'the process running it stopped before it finished',
    });
    expect(runs.find((r) => r.id === finished.runId)).toMatchObject({
      status: 'succeeded',
      trigger: 'manual',
    });
    expect(runs.slice(1).every((r) => r.status === 'succeeded')).toBe(true);
    expect(overlappingRuns(runs)).toEqual([]);
    await expectConverged(w);
  }, 180_000);
});

/** Polls (fast: a batch takes a fraction of a second) until a run is applying: running, locked, with some users made. */
async function midApply(w: WorkerWorld): Promise<{ run: RunRow; holder: { pid: number; host: string } }> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const [runs, holder, users] = await Promise.all([w.runs(), w.lockHolder(), w.userCount()]);
    const run = runs.find((r) => r.status === 'running');
    if (run && holder && users > 0 && users < w.rows) return { run, holder };
    if (runs.some((r) => r.status !== 'running'))
      throw new Error(`The run ended before it could be killed: ${JSON.stringify(runs)}; add rows.`);
    if (Date.now() > deadline) throw new Error('No run started applying within 30 s.');
    await sleep(20);
  }
}
