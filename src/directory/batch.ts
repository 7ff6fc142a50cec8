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
import { deleteLink, insertNewUsersLinks, putLink, putLinks, ROWS_PER_INSERT } from './links.js';
import type { Database } from './schema.js';
import type { DirectoryOp, DirectoryOpResult } from './store.js';
import { insertUser, liveUserRow, newUserRow, patchUser } from './user-writes.js';
import { isEmailTaken } from './users.js';

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
    // Links are written together (putLinks) before any step that is not a link write.
    const links: LinkState[] = [];
    const flush = async () => {
      await putLinks(trx, connection, links, now);
      links.length = 0;
    };
    const results: DirectoryOpResult[] = [];
    for (const op of ops) {
      if (op.type === 'createUser' || op.type === 'deleteLink') await flush();
      const apply = () => applyOp(trx, connection, op, now, links);
      results.push(mayConflict(op) ? await inSavepoint(trx, isUniqueViolation, apply) : await apply());
    }
    await flush();
    return results;
  });
}

type CreateUser = Extract<DirectoryOp, { type: 'createUser' }>;

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
    for (let i = 0; i < fresh.length; i += ROWS_PER_INSERT) {
      const rows = fresh.slice(i, i + ROWS_PER_INSERT).map((op) => newUserRow(op.user, now));
      await trx.insertInto('users').values(rows).execute();
    }
    await insertNewUsersLinks(
      trx,
      connection,
      fresh.map((op) => op.link),
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

/** One step; an update's link joins `links`, which the caller writes. */
async function applyOp(
  db: Kysely<Database>,
  connection: string,
  op: DirectoryOp,
  now: string,
  links: LinkState[],
): Promise<DirectoryOpResult> {
  switch (op.type) {
    case 'createUser':
      if (await isEmailTaken(db, emailKey(op.user.email))) return 'conflict';
      await insertUser(db, op.user, now);
      await putLink(db, connection, op.link, now);
      return 'ok';
    case 'updateUser':
      return applyUpdate(db, op, now, links);
    case 'putLink':
      links.push(op.link);
      return 'ok';
    case 'deleteLink':
      await deleteLink(db, connection, op.key);
      return 'ok';
  }
}

/** Patches the user only if it is still at the version the sync read; then its link is to be written. */
async function applyUpdate(
  db: Kysely<Database>,
  op: Extract<DirectoryOp, { type: 'updateUser' }>,
  now: string,
  links: LinkState[],
): Promise<DirectoryOpResult> {
  const current = await liveUserRow(db, op.userId, op.expectedVersion);
  if (current === null) return 'stale';
  if (op.patch !== null) {
    const outcome = await patchUser(db, current, op.patch, now);
    if (outcome.type !== 'ok') return outcome.type;
  }
  links.push(op.link);
  return 'ok';
}
