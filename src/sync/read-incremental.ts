/**
 * The read side of an incremental sync (`cursor:`): the rows changed since the last
 * cursor and the users changed since the last run, with just enough around them for the
 * planner to judge them: their links and users, the users their emails belong to, and the
 * rows of all those users (looked up by key and by email, never scanned). Absence is judged
 * only among what was looked up, so a row deleted in the source waits for a full sync.
 */
import type { ConnectionConfig } from '../config.js';
import type { SourceConnector, SourceRow } from '../connectors/connector.js';
import type { LinkState } from '../core/link.js';
import { parseEmail } from '../core/normalize.js';
import { planSync } from '../core/plan-sync.js';
import type { DirectoryUser } from '../core/user.js';
import type { DirectoryStore } from '../directory/store.js';
import { laterCursor, readFrom, storedCursor } from './cursor.js';
import { planContext } from './plan-context.js';
import type { PlannedSync, ReadPlanOptions } from './read-plan.js';

const PAGE_SIZE = 5000;

export interface IncrementalSince {
  /** The stored cursor: rows whose cursor column is at least (a little before) it. */
  readonly cursor: string;
  /** Users written since then (ISO) are pushed. */
  readonly usersSince: string;
}

export async function readIncremental(
  store: DirectoryStore,
  connection: ConnectionConfig,
  source: SourceConnector,
  columns: readonly string[],
  since: IncrementalSince,
  options: ReadPlanOptions & {
    mode: PlannedSync['mode'];
    /** The links' fingerprints were taken over `columns`: a row that still has its link's is quiet. */
    vouch: boolean;
  },
): Promise<Omit<PlannedSync, 'source' | 'release'>> {
  const cursorColumn = connection.cursor!;
  const changed: SourceRow[] = [];
  let maxCursor: unknown;
  let read = 0;
  const { vouch } = options;
  for await (const page of source.readChangedSince!(cursorColumn, readFrom(since.cursor), {
    columns,
    pageSize: PAGE_SIZE,
    fingerprint: vouch,
  })) {
    for (const row of page) maxCursor = laterCursor(maxCursor, row.values[cursorColumn]);
    changed.push(...(vouch ? await withoutQuietRows(store, connection.name, page) : page));
    read += page.length;
    options.onProgress?.({ connection: connection.name, phase: 'read', rows: read });
  }
  const scope = await widenScope(
    store,
    connection,
    source,
    columns,
    changed,
    await store.usersChangedSince(since.usersSince, connection.name),
  );
  const ctx = planContext(connection, {
    mode: options.mode,
    keyColumn: source.keyColumn,
    totalUsers: await store.countUsers(),
    approveMassChange: options.approveMassChange ?? false,
    suspendedElsewhere: await store.suspendedElsewhere(
      connection.name,
      scope.users.map((u) => u.id),
    ),
  });
  const plan = planSync(ctx, scope);
  options.onProgress?.({ connection: connection.name, phase: 'plan', actions: plan.actions.length });
  return {
    plan,
    ctx,
    columns,
    mode: options.mode,
    maxCursor,
    scope: 'incremental',
    streamed: null,
    fingerprints: null,
  };
}

/**
 * The rows of a page whose values moved since their pair was last quiet: not those whose
 * fingerprint is still the one their link keeps (and their user is still at the version
 * it was kept at). A cursor column the database sets on every UPDATE (a trigger, MySQL's
 * ON UPDATE CURRENT_TIMESTAMP) moves for the sync's own write-backs, which after an
 * import is every row: such rows are left out here rather than held and planned (1M rows
 * would not fit in memory), and the cursor still moves past them.
 */
async function withoutQuietRows(
  store: DirectoryStore,
  connection: string,
  page: readonly SourceRow[],
): Promise<SourceRow[]> {
  // By the links' fingerprints alone: right after an import whose write-back moved every
  // row's cursor, all quiet, 300k rows took 3.3-3.8 s with every link and user read,
  // 2.0-2.1 s so. The rows kept have their links read with the rest of the scope.
  const found = await store.findLinkFingerprints(
    connection,
    page.map((row) => row.key),
  );
  const trusted = new Map(found.map((l) => [l.key, l.fingerprint]));
  return page.filter((row) => row.fingerprint === undefined || row.fingerprint !== trusted.get(row.key));
}

/** The changed rows and users, closed over links, email owners and those users' rows. */
async function widenScope(
  store: DirectoryStore,
  connection: ConnectionConfig,
  source: SourceConnector,
  columns: readonly string[],
  changed: readonly SourceRow[],
  changedUsers: readonly DirectoryUser[],
): Promise<{ rows: SourceRow[]; users: DirectoryUser[]; links: LinkState[] }> {
  const rows = new Map(changed.map((r) => [r.key, r]));
  const users = new Map(changedUsers.map((u) => [u.id, u]));
  const links = new Map<string, LinkState>();
  const addLinks = (found: readonly LinkState[]) => found.forEach((l) => links.set(l.key, l));
  const addUsers = async (ids: Iterable<string>) => {
    const missing = [...new Set(ids)].filter((id) => !users.has(id));
    for (const user of await store.getUsers(missing)) users.set(user.id, user);
  };

  addLinks(await store.findLinks(connection.name, [...rows.keys()]));
  const emails = [...rows.values()].flatMap((r) => {
    const email = parseEmail(r.values[connection.emailColumn]);
    return email.ok ? [email.key] : [];
  });
  for (const owner of await store.findUsersByEmailKeys(emails)) users.set(owner.id, owner);
  await addUsers([...links.values()].map((l) => l.userId));
  addLinks(await store.linksOfUsers(connection.name, [...users.keys()]));

  // Every link in the scope gets its row read, so "not found" really means deleted.
  const unread = [...links.keys()].filter((key) => !rows.has(key));
  for (const row of await source.lookup(source.keyColumn, unread, columns)) rows.set(row.key, row);
  const live = [...users.values()].filter((u) => u.deletedAt === null).map((u) => u.email);
  const byEmail = await source.lookup(connection.emailColumn, live, columns, { caseInsensitive: true });
  for (const row of byEmail) rows.set(row.key, row);
  // Rows found by email may be other users' rows: the planner must know those links too.
  const newKeys = byEmail.map((r) => r.key).filter((key) => !links.has(key));
  addLinks(await store.findLinks(connection.name, newKeys));
  await addUsers([...links.values()].map((l) => l.userId));
  return { rows: [...rows.values()], users: [...users.values()], links: [...links.values()] };
}

/** A full sync at least this often still sees rows deleted in the source (SPEC §3). */
export const FULL_SYNC_EVERY_MS = 24 * 60 * 60 * 1000;

/** Users written this long before the last run started are pushed again: clocks of processes differ. */
export const USERS_OVERLAP_MS = 2_000;

/**
 * Where an incremental sync of this connection reads from, or null for a full sync: no
 * `cursor:`, `--full`, no full sync yet, the last one too old, or no successful run to
 * start from.
 */
export async function incrementalSince(
  store: DirectoryStore,
  connection: ConnectionConfig,
  full: boolean,
  now = Date.now(),
): Promise<IncrementalSince | null> {
  if (!connection.cursor || full) return null;
  const state = await store.getConnectionState(connection.name);
  if (state.cursor === null || state.lastFullSyncAt === null) return null;
  if (now - Date.parse(state.lastFullSyncAt) > FULL_SYNC_EVERY_MS) return null;
  const last = (await store.listRuns({ connection: connection.name, limit: 20 })).find(
    (r) => r.status === 'succeeded',
  );
  if (!last) return null;
  const usersSince = new Date(Date.parse(last.startedAt) - USERS_OVERLAP_MS).toISOString();
  return { cursor: state.cursor, usersSince };
}

/** After a successful run: the new cursor, and when the last full sync was. */
export async function recordCursor(
  store: DirectoryStore,
  connection: ConnectionConfig,
  planned: { scope: 'full' | 'incremental'; maxCursor: unknown },
  runStartedAt: string,
): Promise<void> {
  if (!connection.cursor) return;
  const previous = (await store.getConnectionState(connection.name)).cursor;
  const cursor = storedCursor(laterCursor(previous, planned.maxCursor));
  await store.setConnectionState(
    connection.name,
    planned.scope === 'full' ? { cursor, lastFullSyncAt: runStartedAt } : { cursor },
  );
}
