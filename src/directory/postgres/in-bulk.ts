/**
 * A large import with the upkeep PostgreSQL does row by row put off to one pass after it
 * (`DirectoryDialect.inBulk`). 300k users into an empty directory, as the server spent it:
 * - the users' GIN trigram indexes (user-search.ts), kept entry by entry: 15.6 s with
 *   them, 12.9 s without and 1.3 s to build them at the end;
 * - the links' foreign key to users, a trigger's query per link (1.35 s of the links'
 *   inserts), checked once by VALIDATE at the end instead (0.19 s).
 * Meanwhile a search reads every user, and the key is not enforced: nothing here writes a
 * link before its user. If the process stops before the end, the next open puts both back
 * (`restoreDeferred`, called on every open).
 */
import { sql, type Kysely } from 'kysely';
import { createUserSearch } from './user-search.js';

const LINKS_USER_KEY = 'links_user_id_fkey';
/**
 * Dropping an index or a foreign key waits for every transaction on the table; one that
 * runs long (a report, another import's batch) would hold the import and, queued behind
 * it, every other query on users. Past this wait the import runs with the upkeep as usual,
 * as it does for a role that may not drop them.
 */
const LOCK_TIMEOUT = '5s';
const LOCK_NOT_AVAILABLE = '55P03';
/** A role that may write the directory's rows but does not own its tables (the migrations ran as another). */
const INSUFFICIENT_PRIVILEGE = '42501';
const FOREIGN_KEY_VIOLATION = '23503';

export async function inBulk<T>(db: Kysely<unknown>, work: () => Promise<T>): Promise<T> {
  if (!(await putOff(db))) return work();
  try {
    return await work();
  } finally {
    await restoreDeferred(db);
  }
}

/**
 * The trigram indexes and the links' key to users, made where they are missing. A role
 * that may not make them leaves them to the next open by the tables' owner.
 */
export async function restoreDeferred(db: Kysely<unknown>): Promise<void> {
  for (const restore of [createUserSearch, restoreLinksUserKey]) {
    try {
      await restore(db);
    } catch (error) {
      if ((error as { code?: unknown }).code !== INSUFFICIENT_PRIVILEGE) throw error;
    }
  }
}

async function putOff(db: Kysely<unknown>): Promise<boolean> {
  try {
    await db.transaction().execute(async (trx) => {
      await sql`set local lock_timeout = ${sql.lit(LOCK_TIMEOUT)}`.execute(trx);
      await sql`drop index if exists users_search_email, users_search_name`.execute(trx);
      await sql`alter table links drop constraint if exists ${sql.id(LINKS_USER_KEY)}`.execute(trx);
    });
    return true;
  } catch (error) {
    const { code } = error as { code?: unknown };
    if (code === LOCK_NOT_AVAILABLE || code === INSUFFICIENT_PRIVILEGE) return false;
    throw error;
  }
}

/**
 * Added NOT VALID (new links are checked from then on) and validated in one pass: a join
 * of every link to its user, which lets other processes go on writing.
 */
async function restoreLinksUserKey(db: Kysely<unknown>): Promise<void> {
  const found = async () =>
    (
      await sql<{ valid: boolean }>`select convalidated as valid from pg_constraint
        where conrelid = 'links'::regclass and conname = ${LINKS_USER_KEY}`.execute(db)
    ).rows[0];
  let key = await found();
  if (key?.valid) return;
  if (key === undefined) {
    try {
      await sql`alter table links add constraint ${sql.id(LINKS_USER_KEY)}
        foreign key (user_id) references users (id) on delete cascade not valid`.execute(db);
    } catch (error) {
      // Another process put it back at the same moment.
      key = await found();
      if (key === undefined) throw error;
    }
  }
  try {
    await sql`alter table links validate constraint ${sql.id(LINKS_USER_KEY)}`.execute(db);
  } catch (error) {
    // A link to no user, written by hand while the key was off: the key stays NOT VALID
    // (enforced for every write from now on) rather than the directory refusing to open.
    if ((error as { code?: unknown }).code !== FOREIGN_KEY_VIOLATION) throw error;
  }
}
