/**
 * Run locks (SPEC §5: only one run per connection at a time, across all processes).
 * Every step is a single conditional statement (insert-if-absent, update-if-unchanged),
 * so two processes racing for a lock cannot both win, on SQLite or PostgreSQL, without
 * row locks or a transaction.
 */
import type { Kysely, Selectable } from 'kysely';
import type { Database, RunLocksTable } from './schema.js';
import type { LockOwner } from './store.js';

/** A holder that has not refreshed its heartbeat for this long is presumed dead (another host, a hung process). */
export const LOCK_STALE_AFTER_MS = 10 * 60 * 1000;

type LockRow = Selectable<RunLocksTable>;

export async function acquireRunLock(
  db: Kysely<Database>,
  connection: string,
  owner: LockOwner,
): Promise<boolean> {
  const now = new Date().toISOString();
  if (await insertLock(db, connection, owner, now)) return true;
  if (await refreshLock(db, connection, owner, now)) return true;
  const holder = await db
    .selectFrom('run_locks')
    .selectAll()
    .where('connection', '=', connection)
    .executeTakeFirst();
  // Released between our insert and this read: try once more from the start.
  if (holder === undefined) return insertLock(db, connection, owner, now);
  if (!isAbandoned(holder, owner, Date.parse(now))) return false;
  return takeOverLock(db, holder, owner, now);
}

async function insertLock(
  db: Kysely<Database>,
  connection: string,
  owner: LockOwner,
  now: string,
): Promise<boolean> {
  const result = await db
    .insertInto('run_locks')
    .values({
      connection,
      owner_id: owner.id,
      pid: owner.pid,
      host: owner.host,
      acquired_at: now,
      heartbeat_at: now,
    })
    .onConflict((conflict) => conflict.column('connection').doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
}

/** The holder acquiring again refreshes its heartbeat (a long run does so to keep its lock). */
async function refreshLock(
  db: Kysely<Database>,
  connection: string,
  owner: LockOwner,
  now: string,
): Promise<boolean> {
  const result = await db
    .updateTable('run_locks')
    .set({ heartbeat_at: now })
    .where('connection', '=', connection)
    .where('owner_id', '=', owner.id)
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

/** Same host and its process is gone, or silent for too long. */
function isAbandoned(holder: LockRow, claimant: LockOwner, now: number): boolean {
  if (holder.host === claimant.host && !isProcessAlive(Number(holder.pid))) return true;
  return now - Date.parse(holder.heartbeat_at) > LOCK_STALE_AFTER_MS;
}

function isProcessAlive(pid: number): boolean {
  try {
    // Signal 0 checks existence without signalling.
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Takes the lock only if the holder is still the one judged abandoned (another claimant may have won). */
async function takeOverLock(
  db: Kysely<Database>,
  holder: LockRow,
  owner: LockOwner,
  now: string,
): Promise<boolean> {
  const result = await db
    .updateTable('run_locks')
    .set({ owner_id: owner.id, pid: owner.pid, host: owner.host, acquired_at: now, heartbeat_at: now })
    .where('connection', '=', holder.connection)
    .where('owner_id', '=', holder.owner_id)
    .where('heartbeat_at', '=', holder.heartbeat_at)
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

export async function releaseRunLock(
  db: Kysely<Database>,
  connection: string,
  owner: LockOwner,
): Promise<void> {
  await db
    .deleteFrom('run_locks')
    .where('connection', '=', connection)
    .where('owner_id', '=', owner.id)
    .execute();
}
