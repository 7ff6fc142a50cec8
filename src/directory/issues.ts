/** Sync issues (SPEC §4): opened when first seen, updated when seen again, resolved when gone. */
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { sql } from 'kysely';
import type { IssueKind, IssueReport } from '../core/issue.js';
import type { Database, IssuesTable } from './schema.js';
import type { IssueRecord, IssueStatus } from './store.js';

type IssueRow = Selectable<IssuesTable>;

export interface RecordIssuesOptions {
  resolveUnseen: boolean;
  keep?: readonly IssueKind[];
}

function toIssue(row: IssueRow): IssueRecord {
  return {
    id: row.id,
    connection: row.connection,
    kind: row.kind,
    fingerprint: row.fingerprint,
    status: row.status,
    message: row.message,
    fix: row.fix,
    rows: JSON.parse(row.rows) as string[],
    users: JSON.parse(row.users) as string[],
    firstSeenAt: row.first_seen_at,
    lastSeenAt: row.last_seen_at,
    resolvedAt: row.resolved_at,
    runId: row.run_id,
  };
}

/** What a report says, as the columns a sighting writes. */
function sighting(report: IssueReport, runId: string | null, now: string) {
  return {
    kind: report.kind,
    message: report.message,
    fix: report.fix,
    rows: JSON.stringify(report.rows),
    users: JSON.stringify(report.users),
    last_seen_at: now,
    run_id: runId,
  };
}

export async function recordIssues(
  db: Kysely<Database>,
  connection: string,
  runId: string | null,
  seen: readonly IssueReport[],
  options: RecordIssuesOptions,
): Promise<{ opened: IssueRecord[]; resolved: IssueRecord[] }> {
  // One report per fingerprint: the last one wins (the freshest description).
  const reports = new Map(seen.map((report) => [report.fingerprint, report]));
  const now = new Date().toISOString();
  return db.transaction().execute(async (trx) => {
    const open = await openIssues(trx, connection);
    const opened: IssueRecord[] = [];
    for (const report of reports.values()) {
      const sighted = await sightIssue(trx, connection, runId, report, now);
      if (sighted.opened) opened.push(sighted.issue);
    }
    if (!options.resolveUnseen) return { opened, resolved: [] };
    const keep = new Set(options.keep ?? []);
    const gone = [...open.values()].filter((row) => !reports.has(row.fingerprint) && !keep.has(row.kind));
    return { opened, resolved: await resolveIssues(trx, gone, now) };
  });
}

async function openIssues(db: Kysely<Database>, connection: string): Promise<Map<string, IssueRow>> {
  const rows = await db
    .selectFrom('issues')
    .selectAll()
    .where('connection', '=', connection)
    .where('status', '=', 'open')
    .execute();
  return new Map(rows.map((row) => [row.fingerprint, row]));
}

/**
 * Opens an issue for the report, or updates the open one with its fingerprint, in one
 * statement: the partial unique index (one open issue per connection and fingerprint) is
 * the conflict target, so a process that opened the same issue a moment ago (even in a
 * transaction not committed yet) makes this an update rather than a second issue.
 */
async function sightIssue(
  db: Kysely<Database>,
  connection: string,
  runId: string | null,
  report: IssueReport,
  now: string,
): Promise<{ opened: boolean; issue: IssueRecord }> {
  const row: IssueRow = {
    id: randomUUID(),
    connection,
    fingerprint: report.fingerprint,
    status: 'open',
    first_seen_at: now,
    resolved_at: null,
    ...sighting(report, runId, now),
  };
  const stored = await db
    .insertInto('issues')
    .values(row)
    .onConflict((conflict) =>
      conflict
        .columns(['connection', 'fingerprint'])
        // A literal, as in the index: both databases match a partial index by its predicate's text.
        .where(sql.ref('status'), '=', sql.lit('open'))
        .doUpdateSet(sighting(report, runId, now)),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
  return { opened: stored.id === row.id, issue: toIssue(stored) };
}

async function resolveIssues(
  db: Kysely<Database>,
  rows: readonly IssueRow[],
  now: string,
): Promise<IssueRecord[]> {
  for (const row of rows) {
    await db
      .updateTable('issues')
      .set({ status: 'resolved', resolved_at: now })
      .where('id', '=', row.id)
      .execute();
  }
  return rows.map((row) => toIssue({ ...row, status: 'resolved', resolved_at: now }));
}

export async function listIssues(
  db: Kysely<Database>,
  options: { connection?: string; status?: IssueStatus } = {},
): Promise<IssueRecord[]> {
  let query = db.selectFrom('issues').selectAll().orderBy('last_seen_at', 'desc').orderBy('id');
  if (options.connection !== undefined) query = query.where('connection', '=', options.connection);
  if (options.status !== undefined) query = query.where('status', '=', options.status);
  return (await query.execute()).map(toIssue);
}

export async function getIssue(db: Kysely<Database>, id: string): Promise<IssueRecord | null> {
  const row = await db.selectFrom('issues').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined ? null : toIssue(row);
}
