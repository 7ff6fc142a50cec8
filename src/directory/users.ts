/** Reading users from the directory. */
import type { ExpressionBuilder, Kysely, Selectable } from 'kysely';
import { sql } from 'kysely';
import type { CustomValue, DirectoryUser } from '../core/user.js';
import { emailKey } from '../core/normalize.js';
import type { Database, UsersTable } from './schema.js';
import type { DirectoryDialect } from './dialect.js';
import { selectInChunks } from './in-chunks.js';
import type { UserListOptions } from './store.js';

export type UserRow = Selectable<UsersTable>;

const DEFAULT_LIST_LIMIT = 50;

export function toUser(row: UserRow): DirectoryUser {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    avatar: row.avatar,
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
    magicLink: row.magic_link,
    externalId: row.external_id,
    status: row.status,
    custom: JSON.parse(row.custom) as Record<string, CustomValue>,
    deletedAt: row.deleted_at,
    version: Number(row.version),
  };
}

export async function getUserRow(db: Kysely<Database>, id: string): Promise<UserRow | null> {
  const row = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  return row ?? null;
}

export async function getUser(db: Kysely<Database>, id: string): Promise<DirectoryUser | null> {
  const row = await getUserRow(db, id);
  return row === null ? null : toUser(row);
}

/** Users by id, tombstones included (chunked to stay under SQL parameter limits). */
export async function getUsers(db: Kysely<Database>, ids: readonly string[]): Promise<DirectoryUser[]> {
  return (await getUserRows(db, ids)).map(toUser);
}

/** The rows of users by id, tombstones included, chunked. */
export async function getUserRows(db: Kysely<Database>, ids: readonly string[]): Promise<UserRow[]> {
  return selectInChunks(ids, (chunk) =>
    db.selectFrom('users').selectAll().where('id', 'in', chunk).execute(),
  );
}

/** The user's link in `connection`, as a subquery of a query on users. */
function linkIn(eb: ExpressionBuilder<Database, 'users'>, connection: string) {
  return eb
    .selectFrom('links')
    .select('links.user_id')
    .where('links.connection', '=', connection)
    .whereRef('links.user_id', '=', 'users.id');
}

/**
 * Users written at or after `since` (ISO), tombstones included, but those whose link in
 * `connection` holds a fingerprint taken at the user's version (see DirectoryStore).
 */
export async function usersChangedSince(
  db: Kysely<Database>,
  since: string,
  connection: string,
): Promise<DirectoryUser[]> {
  const rows = await db
    .selectFrom('users')
    .selectAll()
    .where('updated_at', '>=', since)
    .where((eb) =>
      eb.not(
        eb.exists(
          linkIn(eb, connection)
            .where('links.fingerprint', 'is not', null)
            .whereRef('links.fingerprint_version', '=', 'users.version'),
        ),
      ),
    )
    .execute();
  return rows.map(toUser);
}

/** Live users with no link in this connection: those a full sync may give a row. */
export async function liveUsersWithoutLink(
  db: Kysely<Database>,
  connection: string,
): Promise<DirectoryUser[]> {
  if (await everyLiveUserLinked(db, connection)) return [];
  const rows = await db
    .selectFrom('users')
    .selectAll()
    .where('deleted_at', 'is', null)
    .where((eb) => eb.not(eb.exists(linkIn(eb, connection))))
    .execute();
  return rows.map(toUser);
}

/**
 * True when no user is a tombstone and the connection has as many links as there are
 * users: then every live user has one (a user has at most one link per connection). Three
 * counts over indexes in one statement (one snapshot), where the anti-join reads every
 * user's row: at 1M users 90 ms against 640 ms, the common case of a full sync.
 */
async function everyLiveUserLinked(db: Kysely<Database>, connection: string): Promise<boolean> {
  const { rows } = await sql<{ users: number | string; live: number | string; linked: number | string }>`
    select (select count(*) from users) as users,
      (select count(*) from users where deleted_at is null) as live,
      (select count(*) from links where connection = ${connection}) as linked`.execute(db);
  const counts = rows[0]!;
  // PostgreSQL returns count(*) as a bigint string.
  return Number(counts.users) === Number(counts.live) && Number(counts.linked) === Number(counts.live);
}

/** Live users with these emails (matching form), chunked. */
export async function findUsersByEmailKeys(
  db: Kysely<Database>,
  keys: readonly string[],
): Promise<DirectoryUser[]> {
  const rows = await selectInChunks(keys, (chunk) =>
    db
      .selectFrom('users')
      .selectAll()
      .where('deleted_at', 'is', null)
      .where('email_key', 'in', chunk)
      .execute(),
  );
  return rows.map(toUser);
}

export async function findUserByEmail(db: Kysely<Database>, email: string): Promise<DirectoryUser | null> {
  const row = await db
    .selectFrom('users')
    .selectAll()
    .where('email_key', '=', emailKey(email))
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  return row === undefined ? null : toUser(row);
}

/** True when a live user other than `exceptId` has this email key. */
export async function isEmailTaken(db: Kysely<Database>, key: string, exceptId?: string): Promise<boolean> {
  let query = db
    .selectFrom('users')
    .select('id')
    .where('email_key', '=', key)
    .where('deleted_at', 'is', null);
  if (exceptId !== undefined) query = query.where('id', '!=', exceptId);
  return (await query.executeTakeFirst()) !== undefined;
}

/** True when a live user other than `exceptId` has this external id. */
export async function isExternalIdTaken(
  db: Kysely<Database>,
  externalId: string,
  exceptId?: string,
): Promise<boolean> {
  let query = db
    .selectFrom('users')
    .select('id')
    .where('external_id', '=', externalId)
    .where('deleted_at', 'is', null);
  if (exceptId !== undefined) query = query.where('id', '!=', exceptId);
  return (await query.executeTakeFirst()) !== undefined;
}

export async function listUsers(
  db: Kysely<Database>,
  options: UserListOptions = {},
  search: DirectoryDialect['userSearch'] = undefined,
): Promise<DirectoryUser[]> {
  let query = db
    .selectFrom('users')
    .selectAll()
    .orderBy('id')
    .limit(options.limit ?? DEFAULT_LIST_LIMIT);
  if (options.includeDeleted !== true) query = query.where('deleted_at', 'is', null);
  if (options.after !== undefined) query = query.where('id', '>', options.after);
  if (options.status !== undefined) query = query.where('status', '=', options.status);
  if (options.externalId !== undefined) query = query.where('external_id', '=', options.externalId);
  const term = options.search?.trim();
  if (term) {
    // lower() on both sides: PostgreSQL's LIKE is case-sensitive, SQLite's only for non-ASCII.
    // An explicit ESCAPE because SQLite has no default escape character.
    const pattern = `%${escapeLike(term)}%`;
    const like = sql<boolean>`(lower(${sql.ref('email')}) like lower(${pattern}) escape '\\' or lower(${sql.ref('name')}) like lower(${pattern}) escape '\\')`;
    query = query.where(search ? search(term, like) : like);
  }
  return (await query.execute()).map(toUser);
}

/** Makes `%`, `_` and the escape character itself match literally in a LIKE pattern. */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (char) => `\\${char}`);
}

/** Pages through users by id (keyset, so a page costs the same however deep the scan). */
export async function* scanUsers(
  db: Kysely<Database>,
  pageSize: number,
  options: { includeDeleted?: boolean } = {},
): AsyncIterable<DirectoryUser[]> {
  const limit = Math.max(1, Math.floor(pageSize));
  let after: string | undefined;
  for (;;) {
    const page = await listUsers(db, { limit, includeDeleted: options.includeDeleted === true, after });
    if (page.length > 0) yield page;
    if (page.length < limit) return;
    after = page[page.length - 1]?.id;
  }
}

export async function countUsers(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll().as('count'))
    .where('deleted_at', 'is', null)
    .executeTakeFirstOrThrow();
  // PostgreSQL returns count(*) as a bigint string.
  return Number(row.count);
}
