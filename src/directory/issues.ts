/** Sync issues (SPEC §4): opened when first seen, updated when seen again, resolved when gone. */
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
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
      const existing = open.get(report.fingerprint);
      if (existing === undefined) opened.push(await openIssue(trx, connection, runId, report, now));
      else
        await trx
          .updateTable('issues')
          .set(sighting(report, runId, now))
          .where('id', '=', existing.id)
          .execute();
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

async function openIssue(
  db: Kysely<Database>,
  connection: string,
  runId: string | null,
  report: IssueReport,
  now: string,
): Promise<IssueRecord> {
  const row: IssueRow = {
    id: randomUUID(),
    connection,
    fingerprint: report.fingerprint,
    status: 'open',
    first_seen_at: now,
    resolved_at: null,
    ...sighting(report, runId, now),
  };
  await db.insertInto('issues').values(row).execute();
  return toIssue(row);
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
