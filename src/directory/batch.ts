/**
 * Applying a sync plan's directory steps: a batch is one transaction; each step succeeds
 * or reports why not (stale, conflict) without writing anything, and the rest go on.
 */
import type { Kysely, Transaction } from 'kysely';
import { CompiledQuery } from 'kysely';
import { emailKey } from '../core/normalize.js';
import type { DirectoryDialect } from './dialect.js';
import { deleteLink, putLink } from './links.js';
import type { Database } from './schema.js';
import type { DirectoryOp, DirectoryOpResult } from './store.js';
import { insertUser, liveUserRow, patchUser } from './user-writes.js';
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
    const results: DirectoryOpResult[] = [];
    for (const op of ops) {
      const apply = () => applyOp(trx, connection, op, now);
      results.push(mayConflict(op) ? await inSavepoint(trx, isUniqueViolation, apply) : await apply());
    }
    return results;
  });
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

async function applyOp(
  db: Kysely<Database>,
  connection: string,
  op: DirectoryOp,
  now: string,
): Promise<DirectoryOpResult> {
  switch (op.type) {
    case 'createUser':
      if (await isEmailTaken(db, emailKey(op.user.email))) return 'conflict';
      await insertUser(db, op.user, now);
      await putLink(db, connection, op.link, now);
      return 'ok';
    case 'updateUser':
      return applyUpdate(db, connection, op, now);
    case 'putLink':
      await putLink(db, connection, op.link, now);
      return 'ok';
    case 'deleteLink':
      await deleteLink(db, connection, op.key);
      return 'ok';
  }
}

/** Patches the user only if it is still at the version the sync read, then writes its link. */
async function applyUpdate(
  db: Kysely<Database>,
  connection: string,
  op: Extract<DirectoryOp, { type: 'updateUser' }>,
  now: string,
): Promise<DirectoryOpResult> {
  const current = await liveUserRow(db, op.userId, op.expectedVersion);
  if (current === null) return 'stale';
  if (op.patch !== null) {
    const outcome = await patchUser(db, current, op.patch, now);
    if (outcome.type !== 'ok') return outcome.type;
  }
  await putLink(db, connection, op.link, now);
  return 'ok';
}
