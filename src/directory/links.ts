/** Links (SPEC §1): per (connection, user), the source row's key and the baseline. */
import { sql, type Kysely, type RawBuilder, type Selectable } from 'kysely';
import {
  BUCKET_DIGEST_SELECT,
  BUCKET_MASK,
  toBucketDigest,
  type BucketDigest,
  type BucketDigestRow,
} from '../core/fingerprint-buckets.js';
import type { Baseline, LinkState } from '../core/link.js';
import type { DirectoryDialect } from './dialect.js';
import { toUser } from './users.js';
import type { Database, LinksTable } from './schema.js';
import type { FingerprintAt, LinkFingerprint, LinkWithUser } from './store.js';
import { selectInChunks } from './in-chunks.js';
import { insertMany, ROWS_PER_INSERT } from './insert-many.js';

function toLink(row: Selectable<LinksTable>): LinkState {
  return {
    userId: row.user_id,
    key: row.source_key,
    sourceEmail: row.source_email,
    baseline: JSON.parse(row.baseline) as Baseline,
    suspended: Number(row.suspended) === 1,
  };
}

/** Pages of rows by source key (keyset): `fetch` reads up to `limit` links after the key given. */
async function* byKey<R extends { readonly source_key: string }>(
  pageSize: number,
  fetch: (after: string | undefined, limit: number) => Promise<R[]>,
): AsyncIterable<R[]> {
  const limit = Math.max(1, Math.floor(pageSize));
  let after: string | undefined;
  for (;;) {
    const rows = await fetch(after, limit);
    if (rows.length > 0) yield rows;
    if (rows.length < limit) return;
    after = rows[rows.length - 1]?.source_key;
  }
}

/** Pages through a connection's links by source key (keyset). */
export async function* scanLinks(
  db: Kysely<Database>,
  connection: string,
  pageSize: number,
): AsyncIterable<LinkState[]> {
  const pages = byKey(pageSize, (after, limit) => {
    let query = db
      .selectFrom('links')
      .selectAll()
      .where('connection', '=', connection)
      .orderBy('source_key')
      .limit(limit);
    if (after !== undefined) query = query.where('source_key', '>', after);
    return query.execute();
  });
  for await (const rows of pages) yield rows.map(toLink);
}

/** A link's fingerprint while its user is at the version it was taken at (see sync/fingerprints.ts); else null. */
const trustedFingerprint = sql<
  string | null
>`case when links.fingerprint_version = users.version then links.fingerprint end`;

/** The trusted fingerprint as a number, for digests (core/fingerprint-buckets.ts). */
const trustedFingerprintValue = sql<number | null>`cast(${trustedFingerprint} as bigint)`;

function linksWithUsers(db: Kysely<Database>, connection: string) {
  return db
    .selectFrom('links')
    .innerJoin('users', 'users.id', 'links.user_id')
    .selectAll('users')
    .select([
      'links.source_key',
      'links.source_email as link_email',
      'links.baseline as link_baseline',
      'links.suspended as link_suspended',
    ])
    .select(trustedFingerprint.as('link_fingerprint'))
    .where('links.connection', '=', connection);
}

type LinkWithUserRow = Awaited<ReturnType<ReturnType<typeof linksWithUsers>['execute']>>[number];

function toLinkWithUser(connection: string, row: LinkWithUserRow): LinkWithUser {
  return {
    link: toLink({
      connection,
      source_key: row.source_key,
      user_id: row.id,
      source_email: row.link_email,
      baseline: row.link_baseline,
      suspended: row.link_suspended,
      updated_at: row.updated_at,
      fingerprint: row.link_fingerprint,
      fingerprint_version: null,
    }),
    user: toUser(row),
    fingerprint: row.link_fingerprint,
  };
}

/**
 * Pages through a connection's links by source key (keyset), each with its user: what a
 * full sync compares every row with, in one pass over the links' primary key.
 */
export async function* scanLinksWithUsers(
  db: Kysely<Database>,
  connection: string,
  pageSize: number,
): AsyncIterable<LinkWithUser[]> {
  const pages = byKey(pageSize, (after, limit) => {
    let query = linksWithUsers(db, connection).orderBy('links.source_key').limit(limit);
    if (after !== undefined) query = query.where('links.source_key', '>', after);
    return query.execute();
  });
  for await (const rows of pages) yield rows.map((row) => toLinkWithUser(connection, row));
}

/** The links of these row keys, each with its user (chunked). */
export async function findLinksWithUsers(
  db: Kysely<Database>,
  connection: string,
  keys: readonly string[],
): Promise<LinkWithUser[]> {
  const rows = await selectInChunks(keys, (chunk) =>
    linksWithUsers(db, connection).where('links.source_key', 'in', chunk).execute(),
  );
  return rows.map((row) => toLinkWithUser(connection, row));
}

/** A connection's links' keys and trusted fingerprints, as `LinkFingerprint`s are read. */
function linkFingerprints(db: Kysely<Database>, connection: string) {
  return db
    .selectFrom('links')
    .innerJoin('users', 'users.id', 'links.user_id')
    .select('links.source_key')
    .select(trustedFingerprint.as('fingerprint'))
    .where('links.connection', '=', connection);
}

const toFingerprint = (row: { source_key: string; fingerprint: string | null }): LinkFingerprint => ({
  key: row.source_key,
  fingerprint: row.fingerprint,
});

export async function findLinkFingerprints(
  db: Kysely<Database>,
  connection: string,
  keys: readonly string[],
): Promise<LinkFingerprint[]> {
  const rows = await selectInChunks(keys, (chunk) =>
    linkFingerprints(db, connection).where('links.source_key', 'in', chunk).execute(),
  );
  return rows.map(toFingerprint);
}

/** Pages through a connection's links as the fingerprint check reads them. */
export async function* scanLinkFingerprints(
  db: Kysely<Database>,
  connection: string,
  pageSize: number,
  only?: { buckets: readonly number[]; oneOf: DirectoryDialect['oneOf'] },
): AsyncIterable<LinkFingerprint[]> {
  const query = linkFingerprints(db, connection);
  if (only) {
    // Some buckets: one pass (a join the database may hash), not pages by key, each of
    // which would look up a user for every link up to its last.
    const bucket = sql`(${trustedFingerprintValue} & ${sql.raw(String(BUCKET_MASK))})`;
    const rows = await query
      .where(sql<boolean>`(${trustedFingerprint} is null or ${only.oneOf(bucket, only.buckets)})`)
      .execute();
    for (let i = 0; i < rows.length; i += pageSize) yield rows.slice(i, i + pageSize).map(toFingerprint);
    return;
  }
  const pages = byKey(pageSize, (after, limit) => {
    const page = query.orderBy('links.source_key').limit(limit);
    return (after === undefined ? page : page.where('links.source_key', '>', after)).execute();
  });
  for await (const rows of pages) yield rows.map(toFingerprint);
}

/**
 * The fingerprints of a connection's links that their users' versions vouch for, digested
 * by bucket, and how many links have none (their NULL fingerprints make a bucket of their own).
 */
export async function digestLinkFingerprints(
  db: Kysely<Database>,
  connection: string,
  besideSource: DirectoryDialect['besideSource'],
): Promise<{ buckets: BucketDigest[]; untrusted: number }> {
  const digest = sql<BucketDigestRow>`select ${sql.raw(BUCKET_DIGEST_SELECT)}
    from (select ${trustedFingerprintValue} as f from links join users on users.id = links.user_id
          where links.connection = ${connection}) as fingerprints
    group by 1`;
  const read = (on: Kysely<Database>) => digest.execute(on);
  const { rows } = await (besideSource ? besideSource(db, read) : read(db));
  const untrusted = rows.find((row) => row.b === null);
  return {
    buckets: rows.filter((row) => row.b !== null).map(toBucketDigest),
    untrusted: untrusted ? Number(untrusted.n) : 0,
  };
}

/**
 * Sets (or clears, with null) the fingerprints of these links: a transaction per 5,000
 * (one commit each, not one per statement, yet never holding the write lock for long);
 * clears in `IN` lists, sets 500 per `WITH v AS (VALUES …) UPDATE … FROM v`.
 */
export async function setFingerprints(
  db: Kysely<Database>,
  connection: string,
  fingerprints: ReadonlyMap<string, FingerprintAt | null>,
): Promise<void> {
  const all = [...fingerprints];
  for (let i = 0; i < all.length; i += FINGERPRINTS_PER_TRANSACTION) {
    const cleared: string[] = [];
    const set: Array<[string, FingerprintAt]> = [];
    for (const [key, fingerprint] of all.slice(i, i + FINGERPRINTS_PER_TRANSACTION)) {
      if (fingerprint === null) cleared.push(key);
      else set.push([key, fingerprint]);
    }
    await db.transaction().execute(async (trx) => {
      await selectInChunks(cleared, async (chunk) => {
        await trx
          .updateTable('links')
          .set({ fingerprint: null, fingerprint_version: null })
          .where('connection', '=', connection)
          .where('source_key', 'in', chunk)
          .execute();
        return [];
      });
      for (let j = 0; j < set.length; j += FINGERPRINTS_PER_STATEMENT) {
        await fingerprintsStatement(connection, set.slice(j, j + FINGERPRINTS_PER_STATEMENT)).execute(trx);
      }
    });
  }
}

/** One statement of setFingerprints: these links (by row key) get these fingerprints. */
export function fingerprintsStatement(
  connection: string,
  fingerprints: ReadonlyArray<readonly [string, FingerprintAt]>,
): RawBuilder<unknown> {
  const rows = fingerprints.map(
    ([key, { fingerprint, userVersion }]) => sql`(${key}, ${fingerprint}, cast(${userVersion} as integer))`,
  );
  return sql`with v (k, fp, version) as (values ${sql.join(rows)})
    update links set fingerprint = v.fp, fingerprint_version = v.version from v
    where links.connection = ${connection} and links.source_key = v.k`;
}

const FINGERPRINTS_PER_STATEMENT = 500;
const FINGERPRINTS_PER_TRANSACTION = 5000;

export async function linksOfUser(
  db: Kysely<Database>,
  connection: string,
  userId: string,
): Promise<LinkState[]> {
  const rows = await db
    .selectFrom('links')
    .selectAll()
    .where('connection', '=', connection)
    .where('user_id', '=', userId)
    .orderBy('source_key')
    .execute();
  return rows.map(toLink);
}

/** The links of the given row keys (chunked to stay under SQL parameter limits). */
export async function findLinks(
  db: Kysely<Database>,
  connection: string,
  keys: readonly string[],
): Promise<LinkState[]> {
  const rows = await selectInChunks(keys, (chunk) =>
    db
      .selectFrom('links')
      .selectAll()
      .where('connection', '=', connection)
      .where('source_key', 'in', chunk)
      .execute(),
  );
  return rows.map(toLink);
}

/** The links of these users in a connection, chunked. */
export async function linksOfUsers(
  db: Kysely<Database>,
  connection: string,
  userIds: readonly string[],
): Promise<LinkState[]> {
  const rows = await selectInChunks(userIds, (chunk) =>
    db
      .selectFrom('links')
      .selectAll()
      .where('connection', '=', connection)
      .where('user_id', 'in', chunk)
      .execute(),
  );
  return rows.map(toLink);
}

/** Users (all, or among `userIds`) that some connection other than `connection` suspends through its filter. */
export async function suspendedElsewhere(
  db: Kysely<Database>,
  connection: string,
  userIds?: readonly string[],
): Promise<Set<string>> {
  const query = suspendedLinks(db, connection);
  const rows = userIds
    ? await selectInChunks(userIds, (chunk) => query.where('user_id', 'in', chunk).execute())
    : await query.execute();
  return new Set(rows.map((r) => r.user_id));
}

/** The users of the links other connections' filters suspend. */
export function suspendedLinks(db: Kysely<Database>, connection: string) {
  return (
    db
      .selectFrom('links')
      .select('user_id')
      .distinct()
      .where('connection', '!=', connection)
      // A literal, so SQLite sees the partial index's condition (links_suspended) in the query.
      .where('suspended', '=', sql.lit(1))
  );
}

function linkValues(link: LinkState, now: string) {
  return {
    // A link written is a pair that changed: its row is read in full until it is quiet
    // again. Except an import's, which may keep its row's (insertNewUsersLinks).
    fingerprint: null as string | null,
    fingerprint_version: null as number | null,
    user_id: link.userId,
    source_email: link.sourceEmail,
    baseline: JSON.stringify(link.baseline),
    suspended: link.suspended ? 1 : 0,
    updated_at: now,
  };
}

/**
 * Writes links, many per statement. A user has one row per source, so first each user's
 * other links in this connection go: any but its (user, key) pair, so two users trading
 * rows never meet on the one-link-per-user index, and only its own, since a source may hand
 * a deleted row's key to another user's new row (SQLite reuses rowids). Then the links are
 * upserted by key. The last link given for a key, or for a user, wins.
 */
export async function putLinks(
  db: Kysely<Database>,
  connection: string,
  links: readonly LinkState[],
  now: string,
): Promise<void> {
  const byUser = new Map(links.map((l) => [l.userId, l]));
  const unique = [...new Map([...byUser.values()].map((l) => [l.key, l])).values()];
  for (let i = 0; i < unique.length; i += ROWS_PER_INSERT) {
    const chunk = unique.slice(i, i + ROWS_PER_INSERT);
    await db
      .deleteFrom('links')
      .where('connection', '=', connection)
      .where(
        'user_id',
        'in',
        chunk.map((l) => l.userId),
      )
      .where(({ eb, refTuple, tuple }) =>
        eb(
          refTuple('user_id', 'source_key'),
          'not in',
          chunk.map((l) => tuple(l.userId, l.key)),
        ),
      )
      .execute();
  }
  await insertNewUsersLinks(db, connection, unique, now);
}

/** Links of users just created (they have no other link to replace), many rows per statement. */
export async function insertNewUsersLinks(
  db: Kysely<Database>,
  connection: string,
  links: readonly LinkState[],
  now: string,
  /** Each link's row's fingerprint to keep, by index (none: no fingerprint). */
  fingerprints?: ReadonlyArray<FingerprintAt | null>,
): Promise<void> {
  const rows = links.map((link, i) => {
    const row = { connection, source_key: link.key, ...linkValues(link, now) };
    const kept = fingerprints?.[i];
    if (kept) {
      row.fingerprint = kept.fingerprint;
      row.fingerprint_version = kept.userVersion;
    }
    return row;
  });
  await insertMany(db, 'links upsert', rows, (r) =>
    db
      .insertInto('links')
      .values(r)
      .onConflict((conflict) =>
        conflict.columns(['connection', 'source_key']).doUpdateSet((eb) => ({
          user_id: eb.ref('excluded.user_id'),
          source_email: eb.ref('excluded.source_email'),
          baseline: eb.ref('excluded.baseline'),
          suspended: eb.ref('excluded.suspended'),
          updated_at: eb.ref('excluded.updated_at'),
          fingerprint: eb.ref('excluded.fingerprint'),
          fingerprint_version: eb.ref('excluded.fingerprint_version'),
        })),
      ),
  );
}

export async function deleteLink(db: Kysely<Database>, connection: string, key: string): Promise<void> {
  await db.deleteFrom('links').where('connection', '=', connection).where('source_key', '=', key).execute();
}
