/**
 * Applying a sync plan's directory steps: a batch is one transaction; each step succeeds
 * or reports why not (stale, conflict) without writing anything, and the rest go on.
 */
import type { Kysely, Transaction } from 'kysely';
import { CompiledQuery } from 'kysely';
import { emailKey } from '../core/normalize.js';
import type { DirectoryDialect } from './dialect.js';
import { selectInChunks } from './in-chunks.js';
import type { LinkState } from '../core/link.js';
import { deleteLink, insertNewUsersLinks, putLinks } from './links.js';
import type { Database } from './schema.js';
import type { DirectoryOp, DirectoryOpResult } from './store.js';
import {
  insertUser,
  isPlainPatch,
  liveAt,
  liveUserRow,
  newUserRow,
  patchUser,
  patchUsers,
} from './user-writes.js';
import { getUserRows, isEmailTaken, type UserRow } from './users.js';
import { insertMany } from './insert-many.js';

type IsUniqueViolation = DirectoryDialect['isUniqueViolation'];

const SAVEPOINT = CompiledQuery.raw('savepoint directory_op');
const ROLLBACK_TO_SAVEPOINT = CompiledQuery.raw('rollback to savepoint directory_op');
const RELEASE_SAVEPOINT = CompiledQuery.raw('release savepoint directory_op');

export async function applyBatch(
  db: Kysely<Database>,
  isUniqueViolation: IsUniqueViolation,
  connection: string,
  ops: readonly DirectoryOp[],
): Promise<DirectoryOpResult[]> {
  if (ops.length === 0) return [];
  const now = new Date().toISOString();
  return db.transaction().execute(async (trx) => {
    if (ops.every(isCreate)) {
      const created = await createUsersInBulk(trx, isUniqueViolation, connection, ops, now);
      if (created) return created;
    }
    const state: BatchState = { connection, now, links: [], users: await usersUpdatedOnce(trx, ops) };
    // Links are written together (putLinks) before any step that is not a link write.
    const flush = async () => {
      await putLinks(trx, connection, state.links, now);
      state.links.length = 0;
    };
    const results: DirectoryOpResult[] = [];
    // Updates that cannot conflict (no email, no external id) wait and go together (patchUsers).
    const waiting: Array<{ index: number; op: UpdateStep; current: UserRow }> = [];
    const patchWaiting = async () => {
      const patches = waiting.flatMap(({ op, current }) => (op.patch ? [{ current, patch: op.patch }] : []));
      const patched = await patchUsers(trx, patches, now);
      for (const { index, op } of waiting) {
        const ok = op.patch === null || patched.has(op.userId);
        results[index] = ok ? 'ok' : 'stale';
        if (ok) state.links.push(op.link);
      }
      waiting.length = 0;
    };
    for (const [index, op] of ops.entries()) {
      const read = op.type === 'updateUser' ? state.users.get(op.userId) : undefined;
      if (op.type === 'updateUser' && read && (op.patch === null || isPlainPatch(op.patch))) {
        const current = liveAt(read, op.expectedVersion);
        if (current) waiting.push({ index, op, current });
        results.push(current ? 'ok' : 'stale');
        continue;
      }
      await patchWaiting();
      if (op.type === 'createUser' || op.type === 'deleteLink') await flush();
      const apply = () => applyOp(trx, op, state);
      results.push(mayConflict(op) ? await inSavepoint(trx, isUniqueViolation, apply) : await apply());
    }
    await patchWaiting();
    await flush();
    return results;
  });
}

interface BatchState {
  readonly connection: string;
  readonly now: string;
  /** Link writes not yet made. */
  readonly links: LinkState[];
  /** Users the batch updates, read together when it starts (see usersUpdatedOnce). */
  readonly users: ReadonlyMap<string, UserRow>;
}

/**
 * The users that one step of the batch updates, read in one query per 500 rather than one
 * each (1,000 round trips on PostgreSQL). A user named by two steps is read at its step,
 * after the first has changed it. Each update is still conditional on the version.
 */
async function usersUpdatedOnce(
  db: Kysely<Database>,
  ops: readonly DirectoryOp[],
): Promise<Map<string, UserRow>> {
  const steps = new Map<string, number>();
  for (const op of ops) if (op.type === 'updateUser') steps.set(op.userId, (steps.get(op.userId) ?? 0) + 1);
  const once = [...steps].filter(([, n]) => n === 1).map(([id]) => id);
  return new Map((await getUserRows(db, once)).map((row) => [row.id, row]));
}

type CreateUser = Extract<DirectoryOp, { type: 'createUser' }>;
type UpdateStep = Extract<DirectoryOp, { type: 'updateUser' }>;

function isCreate(op: DirectoryOp): op is CreateUser {
  return op.type === 'createUser';
}

/**
 * A batch of new users (a first sync's imports) in a few multi-row statements instead of
 * several statements per user. Emails taken before or earlier in the batch are conflicts,
 * as step by step. Null when a concurrent writer won a race on an email meanwhile: the
 * caller then goes step by step, which tells that one step from the others.
 */
async function createUsersInBulk(
  trx: Transaction<Database>,
  isUniqueViolation: IsUniqueViolation,
  connection: string,
  ops: readonly CreateUser[],
  now: string,
): Promise<DirectoryOpResult[] | null> {
  const seen = await liveEmailKeys(
    trx,
    ops.map((op) => emailKey(op.user.email)),
  );
  const results: DirectoryOpResult[] = [];
  const fresh: CreateUser[] = [];
  for (const op of ops) {
    const key = emailKey(op.user.email);
    if (seen.has(key)) {
      results.push('conflict');
      continue;
    }
    seen.add(key);
    fresh.push(op);
    results.push('ok');
  }
  await trx.executeQuery(SAVEPOINT);
  try {
    const rows = fresh.map((op) => newUserRow(op.user, now));
    await insertMany(trx, 'users', rows, (r) => trx.insertInto('users').values(r));
    await insertNewUsersLinks(
      trx,
      connection,
      fresh.flatMap((op) => (op.link ? [op.link] : [])),
      now,
    );
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    await trx.executeQuery(ROLLBACK_TO_SAVEPOINT);
    await trx.executeQuery(RELEASE_SAVEPOINT);
    return null;
  }
  await trx.executeQuery(RELEASE_SAVEPOINT);
  return results;
}

/** The emails (matching form) among these that a live user has. */
async function liveEmailKeys(db: Kysely<Database>, keys: readonly string[]): Promise<Set<string>> {
  const rows = await selectInChunks(keys, (chunk) =>
    db
      .selectFrom('users')
      .select('email_key')
      .where('deleted_at', 'is', null)
      .where('email_key', 'in', chunk)
      .execute(),
  );
  return new Set(rows.map((row) => row.email_key));
}

/** Steps that check the email first but can still lose a race to a concurrent writer (PostgreSQL). */
function mayConflict(op: DirectoryOp): boolean {
  return op.type === 'createUser' || (op.type === 'updateUser' && op.patch?.email !== undefined);
}

/**
 * Runs one step inside a savepoint, so a step that fails on a unique index (a race the
 * check-first missed) is undone alone: PostgreSQL aborts the whole transaction otherwise.
 * Plain SQL (the same on SQLite and PostgreSQL) rather than Kysely's savepoint builders,
 * which cost more than the step itself in a thousand-step batch.
 */
async function inSavepoint(
  trx: Transaction<Database>,
  isUniqueViolation: IsUniqueViolation,
  step: () => Promise<DirectoryOpResult>,
): Promise<DirectoryOpResult> {
  await trx.executeQuery(SAVEPOINT);
  let result: DirectoryOpResult;
  try {
    result = await step();
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    result = 'conflict';
  }
  if (result !== 'ok') await trx.executeQuery(ROLLBACK_TO_SAVEPOINT);
  await trx.executeQuery(RELEASE_SAVEPOINT);
  return result;
}

/** One step; an update's or a put's link joins `state.links`, which the caller writes. */
async function applyOp(db: Kysely<Database>, op: DirectoryOp, state: BatchState): Promise<DirectoryOpResult> {
  switch (op.type) {
    case 'createUser':
      if (await isEmailTaken(db, emailKey(op.user.email))) return 'conflict';
      await insertUser(db, op.user, state.now);
      // In the step, so its savepoint undoes the user and the link together.
      if (op.link) await putLinks(db, state.connection, [op.link], state.now);
      return 'ok';
    case 'updateUser':
      return applyUpdate(db, op, state);
    case 'putLink':
      state.links.push(op.link);
      return 'ok';
    case 'deleteLink':
      await deleteLink(db, state.connection, op.key);
      return 'ok';
  }
}

/** Patches the user only if it is still at the version the sync read; then its link is to be written. */
async function applyUpdate(
  db: Kysely<Database>,
  op: UpdateStep,
  state: BatchState,
): Promise<DirectoryOpResult> {
  const read = state.users.get(op.userId);
  const current = read
    ? liveAt(read, op.expectedVersion)
    : await liveUserRow(db, op.userId, op.expectedVersion);
  if (current === null) return 'stale';
  if (op.patch !== null) {
    const outcome = await patchUser(db, current, op.patch, state.now);
    if (outcome.type !== 'ok') return outcome.type;
  }
  state.links.push(op.link);
  return 'ok';
}
