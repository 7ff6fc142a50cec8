/** Sync runs (SPEC §1): one execution for one connection, its trigger, status and counts. */
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { UsersyncError } from '../core/errors.js';
import type { Database, RunsTable } from './schema.js';
import type { RunCounts, RunListOptions, RunProgress, RunRecord, RunStatus, Trigger } from './store.js';

const DEFAULT_LIST_LIMIT = 50;

function zeroCounts(): RunCounts {
  const side = () => ({ created: 0, updated: 0, deleted: 0 });
  return { app: side(), source: side(), unchanged: 0, skipped: 0, stale: 0, conflicts: 0 };
}

function toRun(row: Selectable<RunsTable>): RunRecord {
  return {
    id: row.id,
    connection: row.connection,
    trigger: row.trigger,
    status: row.status,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    counts: JSON.parse(row.counts) as RunCounts,
    error: row.error,
    progress: row.progress === null ? null : (JSON.parse(row.progress) as RunProgress),
  };
}

export async function startRun(
  db: Kysely<Database>,
  connection: string,
  trigger: Trigger,
): Promise<RunRecord> {
  const row: Selectable<RunsTable> = {
    id: randomUUID(),
    connection,
    trigger,
    status: 'running',
    started_at: new Date().toISOString(),
    finished_at: null,
    counts: JSON.stringify(zeroCounts()),
    error: null,
    progress: null,
  };
  await db.insertInto('runs').values(row).execute();
  return toRun(row);
}

export async function finishRun(
  db: Kysely<Database>,
  id: string,
  status: Exclude<RunStatus, 'running'>,
  counts: RunCounts,
  error: string | null = null,
): Promise<RunRecord> {
  const row = await db
    .updateTable('runs')
    .set({
      status,
      counts: JSON.stringify(counts),
      error,
      progress: null,
      finished_at: new Date().toISOString(),
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
  if (row === undefined) throw new UsersyncError('not_found', `No sync run with id ${id}.`);
  return toRun(row);
}

export async function getRun(db: Kysely<Database>, id: string): Promise<RunRecord | null> {
  const row = await db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined ? null : toRun(row);
}

/** Only while the run is running: a late progress report must not outlive the result. */
export async function setRunProgress(db: Kysely<Database>, id: string, progress: RunProgress): Promise<void> {
  await db
    .updateTable('runs')
    .set({ progress: JSON.stringify(progress) })
    .where('id', '=', id)
    .where('status', '=', 'running')
    .execute();
}

/** Newest first. */
export async function listRuns(db: Kysely<Database>, options: RunListOptions = {}): Promise<RunRecord[]> {
  let query = db
    .selectFrom('runs')
    .selectAll()
    .orderBy('started_at', 'desc')
    .orderBy('id', 'desc')
    .limit(options.limit ?? DEFAULT_LIST_LIMIT);
  if (options.connection !== undefined) query = query.where('connection', '=', options.connection);
  if (options.excludeTriggers?.length) query = query.where('trigger', 'not in', options.excludeTriggers);
  return (await query.execute()).map(toRun);
}

/** Runs still `running` when no process holds the connection's lock were interrupted (a crash, a kill). */
export async function failInterruptedRuns(
  db: Kysely<Database>,
  connection: string,
  reason: string,
): Promise<number> {
  const result = await db
    .updateTable('runs')
    .set({ status: 'failed', error: reason, finished_at: new Date().toISOString() })
    .where('connection', '=', connection)
    .where('status', '=', 'running')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
