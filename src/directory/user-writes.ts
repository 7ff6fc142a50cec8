/** Writing users: creation, conditional patches (optimistic concurrency on `version`), tombstones. */
import { sql } from 'kysely';
import type { Kysely, RawBuilder, Updateable } from 'kysely';
import { UsersyncError } from '../core/errors.js';
import { parseEmail } from '../core/normalize.js';
import type { CustomValue, DirectoryUser, NewUser } from '../core/user.js';
import type { Database, UsersTable } from './schema.js';
import { NEW_USER_VERSION, type AppUserPatch, type NewAppUser } from './store.js';
import { getUserRow, isEmailTaken, isExternalIdTaken, toUser, type UserRow } from './users.js';
import { newUserId } from './user-id.js';

/** The stored email and its matching form; an invalid address never reaches the directory. */
function checkedEmail(raw: string): { email: string; key: string } {
  const parsed = parseEmail(raw);
  if (!parsed.ok) throw new UsersyncError('directory.invalid', `Cannot store this user: ${parsed.reason}.`);
  return { email: parsed.email, key: parsed.key };
}

function emailConflict(email: string): UsersyncError {
  return new UsersyncError(
    'directory.conflict',
    `A user with email ${email} already exists. Update that user instead, or choose another email.`,
  );
}

function externalIdConflict(externalId: string): UsersyncError {
  return new UsersyncError(
    'directory.conflict',
    `A user with external id ${externalId} already exists. Update that user instead.`,
  );
}

/** Inserts a user whose email (and external id) the caller has checked are free. */
export async function insertUser(
  db: Kysely<Database>,
  user: NewUser,
  now: string,
  externalId: string | null = null,
): Promise<DirectoryUser> {
  const row = newUserRow(user, now, externalId);
  await db.insertInto('users').values(row).execute();
  return toUser(row);
}

/** The row of a user a sync creates. */
export function newUserRow(user: NewUser, now: string, externalId: string | null = null): UserRow {
  const { email, key } = checkedEmail(user.email);
  return {
    id: user.id,
    email,
    email_key: key,
    name: user.name,
    avatar: user.avatar,
    created_at: user.createdAt,
    last_seen_at: user.lastSeenAt,
    magic_link: null,
    external_id: externalId,
    status: user.status,
    custom: JSON.stringify(user.custom),
    deleted_at: null,
    version: NEW_USER_VERSION,
    updated_at: now,
  };
}

/** An app-made user (CLI, API, identity platform). Throws directory.conflict when the email is taken. */
export async function createUser(db: Kysely<Database>, input: NewAppUser): Promise<DirectoryUser> {
  const { email, key } = checkedEmail(input.email);
  const externalId = input.externalId ?? null;
  const now = new Date().toISOString();
  const user: NewUser = {
    id: newUserId(),
    email,
    name: input.name ?? null,
    avatar: input.avatar ?? null,
    createdAt: now,
    lastSeenAt: null,
    status: input.status ?? 'active',
    custom: input.custom ?? {},
  };
  return db.transaction().execute(async (trx) => {
    if (await isEmailTaken(trx, key)) throw emailConflict(email);
    if (externalId !== null && (await isExternalIdTaken(trx, externalId))) {
      throw externalIdConflict(externalId);
    }
    return insertUser(trx, user, now, externalId);
  });
}

/** `custom` patches merge key by key; a null value removes the key (SPEC: UserPatch). */
function mergeCustom(
  current: Readonly<Record<string, CustomValue>>,
  patch: Readonly<Record<string, CustomValue | null>>,
): Record<string, CustomValue> {
  const merged: Record<string, CustomValue> = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  return merged;
}

/** The column changes a patch makes to `current` (without version and updated_at). */
/** A patch that cannot conflict with another user: no email, no external id. */
export function isPlainPatch(patch: AppUserPatch): boolean {
  return patch.email === undefined && patch.externalId === undefined;
}

/**
 * Plain patches (see isPlainPatch) of many users, each conditional on the version read, in
 * one statement per set of columns changed and 500 users: `WITH v AS (VALUES …) UPDATE …
 * FROM v` (SQLite 3.33+ and PostgreSQL). Returns the ids patched; the others moved on.
 */
export async function patchUsers(
  db: Kysely<Database>,
  items: ReadonlyArray<{ current: UserRow; patch: AppUserPatch }>,
  now: string,
): Promise<Set<string>> {
  const shapes = new Map<string, Array<{ current: UserRow; changes: Updateable<UsersTable> }>>();
  for (const { current, patch } of items) {
    const changes = userChanges(current, patch);
    const shape = Object.keys(changes).sort().join(',');
    const group = shapes.get(shape) ?? [];
    group.push({ current, changes });
    shapes.set(shape, group);
  }
  const patched = new Set<string>();
  for (const [shape, group] of shapes) {
    const columns = shape === '' ? [] : (shape.split(',') as Array<keyof UsersTable>);
    for (let i = 0; i < group.length; i += PATCHES_PER_STATEMENT) {
      const statement = patchStatement(columns, group.slice(i, i + PATCHES_PER_STATEMENT), now);
      for (const row of (await statement.execute(db)).rows) patched.add(row.id);
    }
  }
  return patched;
}

/** One statement of patchUsers: these users, each at its version, get these columns. */
export function patchStatement(
  columns: ReadonlyArray<keyof UsersTable>,
  group: ReadonlyArray<{ current: UserRow; changes: Updateable<UsersTable> }>,
  now: string,
): RawBuilder<{ id: string }> {
  const rows = group.map(({ current, changes }) => {
    const version = Number(current.version);
    const values = [
      sql`${current.id}`,
      sql`cast(${version} as integer)`,
      sql`cast(${version + 1} as integer)`,
      ...columns.map((c) => sql`${changes[c] ?? null}`),
    ];
    return sql`(${sql.join(values)})`;
  });
  const names = sql.join(['uid', 'old_version', 'new_version', ...columns].map((c) => sql.ref(c)));
  const sets = sql.join([
    sql`version = v.new_version`,
    sql`updated_at = ${now}`,
    ...columns.map((c) => sql`${sql.ref(c)} = v.${sql.ref(c)}`),
  ]);
  // `users.id in (select uid from v)` makes SQLite find the users by primary key; without it
  // SQLite scanned every user against the 500 rows (6 s per statement at 200,000 users).
  return sql<{ id: string }>`with v (${names}) as (values ${sql.join(rows)})
    update users set ${sets} from v
    where users.id in (select uid from v) and users.id = v.uid and users.version = v.old_version
    returning id`;
}

const PATCHES_PER_STATEMENT = 500;

function userChanges(current: UserRow, patch: AppUserPatch): Updateable<UsersTable> {
  const changes: Updateable<UsersTable> = {};
  if (patch.email !== undefined) {
    const { email, key } = checkedEmail(patch.email);
    changes.email = email;
    changes.email_key = key;
  }
  if (patch.name !== undefined) changes.name = patch.name;
  if (patch.avatar !== undefined) changes.avatar = patch.avatar;
  if (patch.createdAt !== undefined) changes.created_at = patch.createdAt;
  if (patch.status !== undefined) changes.status = patch.status;
  if (patch.lastSeenAt !== undefined) changes.last_seen_at = patch.lastSeenAt;
  if (patch.magicLink !== undefined) changes.magic_link = patch.magicLink;
  if (patch.externalId !== undefined) changes.external_id = patch.externalId;
  if (patch.custom !== undefined) {
    const custom = JSON.parse(current.custom) as Record<string, CustomValue>;
    changes.custom = JSON.stringify(mergeCustom(custom, patch.custom));
  }
  return changes;
}

export type PatchOutcome =
  | { readonly type: 'ok'; readonly user: DirectoryUser }
  | { readonly type: 'stale' }
  | { readonly type: 'conflict'; readonly error: UsersyncError };

/**
 * Applies a patch to a live user, only if it is still at `current.version` (the row the
 * caller read). Bumps the version. Writes nothing unless the outcome is ok.
 */
export async function patchUser(
  db: Kysely<Database>,
  current: UserRow,
  patch: AppUserPatch,
  now: string,
): Promise<PatchOutcome> {
  const changes = userChanges(current, patch);
  const { email, email_key: key, external_id: externalId } = changes;
  if (typeof email === 'string' && typeof key === 'string' && (await isEmailTaken(db, key, current.id))) {
    return { type: 'conflict', error: emailConflict(email) };
  }
  if (typeof externalId === 'string' && (await isExternalIdTaken(db, externalId, current.id))) {
    return { type: 'conflict', error: externalIdConflict(externalId) };
  }
  const version = Number(current.version) + 1;
  const result = await db
    .updateTable('users')
    .set({ ...changes, version, updated_at: now })
    .where('id', '=', current.id)
    .where('version', '=', current.version)
    .executeTakeFirst();
  // Another writer (another process on PostgreSQL) got there first.
  if (result.numUpdatedRows !== 1n) return { type: 'stale' };
  return { type: 'ok', user: toUser({ ...current, ...changes, version, updated_at: now } as UserRow) };
}

/** A live user at `expectedVersion` (any version when undefined), or null. */
export async function liveUserRow(
  db: Kysely<Database>,
  id: string,
  expectedVersion?: number,
): Promise<UserRow | null> {
  return liveAt(await getUserRow(db, id), expectedVersion);
}

/** The row if it is a live user at `expectedVersion` (any version when undefined), else null. */
export function liveAt(row: UserRow | null, expectedVersion?: number): UserRow | null {
  if (row === null || row.deleted_at !== null) return null;
  if (expectedVersion !== undefined && Number(row.version) !== expectedVersion) return null;
  return row;
}

/**
 * A patch made at a known version that has moved on returns null. Without one, the patch
 * applies to whatever the user is now: if another process writes the user between the read
 * and the conditional write (only possible on PostgreSQL; SQLite's write lock is taken at
 * `begin`), the transaction reads it again and patches the new version, so neither write
 * is lost. Read committed lets a later statement of the same transaction see that commit.
 */
export async function updateUser(
  db: Kysely<Database>,
  id: string,
  patch: AppUserPatch,
  expectedVersion?: number,
): Promise<DirectoryUser | null> {
  const now = new Date().toISOString();
  return db.transaction().execute(async (trx) => {
    for (let attempt = 1; ; attempt++) {
      const current = await liveUserRow(trx, id, expectedVersion);
      if (current === null) return null;
      const outcome = await patchUser(trx, current, patch, now);
      if (outcome.type === 'conflict') throw outcome.error;
      if (outcome.type === 'ok') return outcome.user;
      if (expectedVersion !== undefined) return null;
      if (attempt === MAX_PATCH_ATTEMPTS) throw busyUser(id);
    }
  });
}

const MAX_PATCH_ATTEMPTS = 5;

function busyUser(id: string): UsersyncError {
  return new UsersyncError(
    'directory.conflict',
    `User ${id} changed ${MAX_PATCH_ATTEMPTS} times while this update was being applied. Retry.`,
  );
}

/**
 * Tombstones the user (SPEC §3: its source rows are deleted by the next sync, then it can
 * go). One statement, bumping the version in SQL, so a concurrent patch is never undone.
 */
export async function deleteUser(db: Kysely<Database>, id: string): Promise<DirectoryUser | null> {
  const now = new Date().toISOString();
  const deleted = await db
    .updateTable('users')
    .set((eb) => ({ deleted_at: now, version: eb('version', '+', 1), updated_at: now }))
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
  if (deleted !== undefined) return toUser(deleted);
  // Missing, or deleted already (deleting again changes nothing).
  const row = await getUserRow(db, id);
  return row === null ? null : toUser(row);
}
