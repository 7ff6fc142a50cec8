/**
 * The read side of a sync: open the source, check the mapping against its columns, digest
 * the directory, stream the rows past the digests, load in full only what needs work, and
 * plan. Nothing is written here, so a dry run is just this.
 */
import type { ConnectionConfig, LoadedConfig } from '../config.js';
import type { SourceConnector, SourceDescription, SourceRow } from '../connectors/connector.js';
import { createConnector } from '../connectors/index.js';
import { UsersyncError } from '../core/errors.js';
import { emailKey } from '../core/normalize.js';
import { mappedColumns, type MappedField } from '../core/fields.js';
import { planSync } from '../core/plan-sync.js';
import type { KeySet, PlanContext, SyncMode, SyncPlan } from '../core/plan.js';
import {
  factsToLookUp,
  neededForPlan,
  newUserEmail,
  pairDigest,
  quietInput,
  splitRows,
  type DirectoryDigest,
  type PairDigest,
  type QuietKeys,
  type QuietKeySet,
  type RowFacts,
} from '../core/quiet-row.js';
import type { LinkState } from '../core/link.js';
import type { DirectoryUser } from '../core/user.js';
import type { DirectoryStore } from '../directory/store.js';
import { effectiveMode, mappingOf, planContext } from './plan-context.js';
import { laterCursor } from './cursor.js';
import { checkFingerprints, FingerprintChanges, fingerprintTag, lookUpRows } from './fingerprints.js';
import { HOLD_NEW_ROWS, NewRows, type StreamedNewRows } from './new-rows.js';
import { readIncremental, type IncrementalSince } from './read-incremental.js';
import { leaseSource, type SourcePool } from './source-pool.js';
import type { SyncProgress } from './sync-result.js';
import { yieldToEventLoop } from './yield.js';

const PAGE_SIZE = 5000;

export interface ReadPlanOptions {
  /** Read incrementally from here (a connection with `cursor:`); absent: a full read. */
  readonly since?: IncrementalSince | null | undefined;
  readonly approveMassChange?: boolean | undefined;
  readonly onProgress?: ((event: SyncProgress) => void) | undefined;
  /** Hold every row, so the plan lists every action (a dry run); by default new-user rows may stream. */
  readonly holdAllRows?: boolean | undefined;
  /** How many new-user rows to hold before streaming them (tests set it low). */
  readonly holdNewRows?: number | undefined;
  /**
   * A first sync into an empty directory reads each row's email and cursor before the rows
   * to import (see `narrow` in readAndPlan); false reads every column at once, as any
   * other full sync (tests compare the two).
   */
  readonly narrowFirstRead?: boolean | undefined;
  /** Fingerprints (see fingerprints.ts): how many rows a full sync may look up before it scans instead. */
  readonly fingerprints?: { readonly mostLookedUp?: number } | undefined;
}

export interface PlannedSync {
  readonly plan: SyncPlan;
  /** full: every row was read; incremental: rows changed since the last cursor (see read-incremental.ts). */
  readonly scope: 'full' | 'incremental';
  /** The largest value of the connection's cursor column among the rows read. */
  readonly maxCursor: unknown;
  readonly ctx: PlanContext;
  /** The columns read from each row. */
  readonly columns: readonly string[];
  readonly mode: SyncMode;
  /** New-user rows not in the plan, imported after it by reading the source again (see new-rows.ts). */
  readonly streamed: StreamedNewRows | null;
  /** What a full read learnt of its rows' fingerprints (null: the source gives none, or an incremental read). */
  readonly fingerprints: FingerprintChanges | null;
  /** Open for the rest of the run. */
  readonly source: SourceConnector;
  /** The caller ends the run with it: closes the source, or gives it back to the pool. */
  release(): Promise<void>;
}

export async function openSource(
  config: LoadedConfig,
  connection: ConnectionConfig,
  mode: SyncMode,
): Promise<SourceConnector> {
  return createConnector({
    source: connection.source,
    table: connection.table,
    key: connection.key,
    emailColumn: connection.emailColumn,
    baseDir: config.baseDir,
    readOnly: mode === 'import',
  });
}

export async function readAndPlan(
  services: { store: DirectoryStore; config: LoadedConfig; sources?: SourcePool | undefined },
  connection: ConnectionConfig,
  options: ReadPlanOptions,
): Promise<PlannedSync> {
  const { store, config } = services;
  const state = await store.getConnectionState(connection.name);
  const mode = effectiveMode(connection, state);
  const { source, release } = await leaseSource(services, connection, mode);
  try {
    const columns = await columnsToRead(config, connection, source);
    const tag = source.scanFingerprints ? fingerprintTag(connection, source.keyColumn, columns) : null;
    if (options.since && source.capabilities.supportsCursor && source.readChangedSince) {
      const planned = await readIncremental(store, connection, source, columns, options.since, {
        ...options,
        mode,
        // The links' fingerprints vouch for rows only if taken over these same columns.
        vouch: tag !== null && tag === state.fingerprintTag,
      });
      return { ...planned, source, release };
    }
    const checked =
      tag === null
        ? null
        : await checkFingerprints(store, connection, source, columns, { tag, state }, options.fingerprints);
    const directory = checked?.directory ?? (await digestDirectory(store, connection));
    const totalUsers = await store.countUsers();
    const ctx = planContext(connection, {
      mode,
      keyColumn: source.keyColumn,
      totalUsers,
      approveMassChange: options.approveMassChange ?? false,
      suspendedElsewhere: await store.suspendedElsewhere(connection.name),
    });
    // With no live user, no row's email or userId can name one: nothing to look up.
    const lookUp = totalUsers === 0 ? noFacts : (rows: readonly SourceRow[]) => lookUpFacts(store, ctx, rows);
    const byFingerprint = source.capabilities.fingerprintsOnServer === true;
    const over = {
      columns,
      cursor: connection.filter ? null : (connection.cursor ?? null),
      readWithRows: connection.filter !== null || byFingerprint,
      byFingerprint,
    };
    // A first sync into an empty directory: every row with a valid email is a new user's,
    // imported from a second read (new-rows.ts), and the planner judges the others (no valid
    // email) by their key and email alone. So this read takes only the email and the cursor.
    const narrow =
      (options.narrowFirstRead ?? true) &&
      !checked &&
      totalUsers === 0 &&
      directory.links.size === 0 &&
      !connection.filter &&
      !options.holdAllRows;
    // A linked row's fingerprint is kept if its pair is quiet; see readWithRows for new rows'.
    const fingerprint = tag !== null && !narrow && (directory.links.size > 0 || over.readWithRows);
    const pages = checked
      ? lookUpRows(source, checked.suspectKeys, columns)
      : source.scan({
          columns: narrow ? identifyingColumns(connection) : columns,
          pageSize: PAGE_SIZE,
          fingerprint,
        });
    const fingerprints = tag === null ? null : new FingerprintChanges(tag, over);
    const read = await readRows(
      ctx,
      connection,
      pages,
      directory,
      lookUp,
      narrow ? { ...options, holdNewRows: 0 } : options,
      {
        quiet: checked?.quiet ?? new Set(),
        fingerprints,
      },
    );
    const { rows: moreRows, streamed } = await read.newRows.finish(read.rows, read.repeatedKeys, {
      source,
      columns,
      isNewUserRow: (row) => newUserEmail(ctx, row, directory, read.facts) !== null,
    });
    const rows = [...read.rows, ...moreRows];
    const needed = neededForPlan(ctx, rows, read.met, read.repeatedKeys, directory, read.facts);
    const { users, links } = await loadForPlan(store, connection.name, needed);
    const quiet = quietInput(ctx, read.quiet, read.repeatedKeys, rows, read.facts, links);
    const plan = planSync(ctx, { rows, ...quiet, seenKeys: read.met, users, links });
    options.onProgress?.({ connection: connection.name, phase: 'plan', actions: plan.actions.length });
    return {
      plan,
      ctx,
      columns,
      mode,
      source,
      release,
      maxCursor: read.maxCursor,
      scope: 'full',
      streamed,
      fingerprints,
    };
  } catch (error) {
    await release();
    throw error;
  }
}

/**
 * Streams the rows past the directory's digests, page by page: every row, or those the
 * fingerprints could not vouch for (`known.quiet` are the rest). Keeps in full only the
 * rows that need work (and what the directory says about them), quiet rows by key, new-user
 * rows as `NewRows` decides; and every key met. Tells `known.fingerprints` what it found.
 */
async function readRows(
  ctx: PlanContext,
  connection: ConnectionConfig,
  pages: AsyncIterable<SourceRow[]>,
  directory: DirectoryDigest,
  lookUp: (rows: readonly SourceRow[]) => Promise<RowFacts>,
  options: ReadPlanOptions,
  known: { quiet: QuietKeySet; fingerprints: FingerprintChanges | null },
) {
  const rows: SourceRow[] = [];
  // What the directory says about the rows kept in full (new-user rows have nothing to say).
  const facts = { owners: new Map<string, string>(), liveIds: new Set<string>() };
  const unread = known.quiet.size;
  const quiet: QuietKeys = { keys: known.quiet, again: [] };
  const newRows = new NewRows(
    ctx.mapping.emailColumn,
    options.holdAllRows ? Infinity : (options.holdNewRows ?? HOLD_NEW_ROWS),
  );
  // The keys read; with the quiet keys not read, every key met.
  const seen = new Set<string>();
  const met: KeySet = { has: (key) => seen.has(key) || quiet.keys.has(key) };
  const repeatedKeys = new Set<string>();
  let maxCursor: unknown;
  for await (const page of pages) {
    await yieldToEventLoop();
    const split = { rows: [] as SourceRow[], quiet };
    splitRows(ctx, page, directory, split);
    if (known.fingerprints) {
      const full = new Set(split.rows);
      for (const row of page) known.fingerprints.read(row, directory.links.get(row.key), !full.has(row));
    }
    const found = await lookUp(split.rows);
    for (const [email, id] of found.owners) facts.owners.set(email, id);
    for (const id of found.liveIds) facts.liveIds.add(id);
    for (const row of split.rows) {
      const email = newUserEmail(ctx, row, directory, found);
      if (email === null) rows.push(row);
      else newRows.add(row, email);
    }
    for (const row of page) {
      if (seen.has(row.key)) repeatedKeys.add(row.key);
      else seen.add(row.key);
      if (connection.cursor) maxCursor = laterCursor(maxCursor, row.values[connection.cursor]);
    }
    options.onProgress?.({ connection: connection.name, phase: 'read', rows: unread + seen.size });
  }
  if (known.fingerprints) {
    for (const [key, pair] of directory.links) {
      if (!met.has(key) || repeatedKeys.has(key)) known.fingerprints.forget(key, pair);
    }
  }
  return { rows, quiet, newRows, met, repeatedKeys, maxCursor, facts };
}

/** What a narrow first read takes of each row besides its key: the email and the cursor. */
function identifyingColumns(connection: ConnectionConfig): string[] {
  const { emailColumn, cursor } = connection;
  return cursor && cursor !== emailColumn ? [emailColumn, cursor] : [emailColumn];
}

/**
 * The users and links `neededForPlan` names, the live users with no row here (they may
 * need one), and every link here of all those users (so the planner knows which have a row).
 */
async function loadForPlan(
  store: DirectoryStore,
  connection: string,
  needed: { userIds: ReadonlySet<string>; linkKeys: ReadonlySet<string> },
): Promise<{ users: DirectoryUser[]; links: LinkState[] }> {
  const users = new Map((await store.getUsers([...needed.userIds])).map((u) => [u.id, u]));
  for (const user of await store.liveUsersWithoutLink(connection)) users.set(user.id, user);
  const links = new Map((await store.findLinks(connection, [...needed.linkKeys])).map((l) => [l.key, l]));
  for (const link of await store.linksOfUsers(connection, [...users.keys()])) links.set(link.key, link);
  return { users: [...users.values()], links: [...links.values()] };
}

/** Checks the mapping against the source's columns; returns the columns a sync reads. */
export async function columnsToRead(
  config: LoadedConfig,
  connection: ConnectionConfig,
  source: SourceConnector,
): Promise<readonly string[]> {
  const description = await source.describe();
  checkColumns(config, connection, description, source.keyColumn);
  // A filter may name any column, so read them all then; otherwise the mapped ones and the cursor.
  if (connection.filter) return description.columns.map((c) => c.name);
  const mapped = mappedColumns(mappingOf(connection, source.keyColumn));
  return connection.cursor && !mapped.includes(connection.cursor) ? [...mapped, connection.cursor] : mapped;
}

/** This connection's links with their users, as digests: what a sync compares rows with. */
async function digestDirectory(
  store: DirectoryStore,
  connection: ConnectionConfig,
): Promise<DirectoryDigest> {
  const links = new Map<string, PairDigest>();
  for await (const page of store.scanLinksWithUsers(connection.name, PAGE_SIZE)) {
    await yieldToEventLoop();
    for (const { link, user, fingerprint } of page) {
      links.set(link.key, pairDigest(link, user, connection.fields, fingerprint));
    }
  }
  return { links };
}

/** The live users the rows' emails and userId column name. */
async function lookUpFacts(
  store: DirectoryStore,
  ctx: PlanContext,
  rows: readonly SourceRow[],
): Promise<RowFacts> {
  if (rows.length === 0) return noFacts();
  const { emails, ids } = factsToLookUp(ctx, rows);
  const owners = await store.findUsersByEmailKeys(emails);
  const named = await store.getUsers(ids);
  return {
    owners: new Map(owners.map((u) => [emailKey(u.email), u.id])),
    liveIds: new Set(named.filter((u) => u.deletedAt === null).map((u) => u.id)),
  };
}

async function noFacts(): Promise<RowFacts> {
  return { owners: new Map(), liveIds: new Set() };
}

/** Appendix A: a column the source does not have is a clear error naming the file and the key. */
export function checkColumns(
  config: LoadedConfig,
  connection: ConnectionConfig,
  description: SourceDescription,
  keyColumn: string,
): void {
  const have = new Set(description.columns.map((c) => c.name));
  const wanted: Array<[string, string]> = [
    ['key', keyColumn],
    ['fields.email', connection.emailColumn],
    ...connection.fields.map((f): [string, string] => [configKey(f), f.column]),
  ];
  if (connection.cursor) wanted.push(['cursor', connection.cursor]);
  const missing = wanted.filter(([, column]) => !have.has(column));
  if (missing.length === 0) return;
  const lines = missing.map(
    ([key, column]) =>
      `${config.file}: ${connection.configPath}.${key}: column "${column}" is not in ${description.location}`,
  );
  throw new UsersyncError(
    'source.invalid',
    `${lines.join('\n')}\nIts columns are: ${[...have].join(', ')}. Fix the mapping in ${config.file}, or add the column to the source.`,
  );
}

function configKey(field: MappedField): string {
  return field.id.startsWith('custom.') ? field.id : `fields.${field.id}`;
}
