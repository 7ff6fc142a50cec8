/**
 * Searching users by a part of their email or name without reading every user: an FTS5
 * index with the trigram tokenizer (substring matches, any case) over users.email and
 * users.name, kept current by triggers. It keeps which users have each trigram and
 * nothing else (detail=none, columnsize=0): a search asks for users with every trigram of
 * the term and re-checks each with LIKE, so it needs no positions, and the index costs a
 * bulk import about a fifth less (1M users: 15.8 → 12.4 s of SQLite time). It maps users
 * by SQLite's rowid, which a VACUUM may renumber: the LIKE re-check means no false match
 * can come through, and `INSERT INTO users_search(users_search) VALUES ('rebuild')` after
 * a VACUUM restores any lost ones. Terms under three characters have no trigram: those scan.
 *
 * A large import pauses the index (`inBulk`): kept row by row, it flushed and merged a
 * segment per import transaction, a quarter of SQLite's time in a first sync (300k users:
 * 1.0–1.3 s of 4.3–4.5 s), where one rebuild at the end takes 0.3 s.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';

const INDEX = `create virtual table users_search using fts5(
  email, name, content = 'users', content_rowid = 'rowid', tokenize = 'trigram', detail = none, columnsize = 0)`;

/** The triggers that keep the index current, by name. */
const TRIGGERS = {
  users_search_insert: `create trigger if not exists users_search_insert after insert on users begin
      insert into users_search (rowid, email, name) values (new.rowid, new.email, new.name);
    end`,
  users_search_delete: `create trigger if not exists users_search_delete after delete on users begin
      insert into users_search (users_search, rowid, email, name) values ('delete', old.rowid, old.email, old.name);
    end`,
  users_search_update: `create trigger if not exists users_search_update after update of email, name on users begin
      insert into users_search (users_search, rowid, email, name) values ('delete', old.rowid, old.email, old.name);
      insert into users_search (rowid, email, name) values (new.rowid, new.email, new.name);
    end`,
};

/**
 * Creates the index, or re-creates one of the earlier definition (which kept every
 * trigram's positions), or resumes one an import paused and did not resume (it stopped).
 */
export async function createUserSearch(db: Kysely<unknown>): Promise<void> {
  // SQLite keeps the statement's text (its first keywords upper-cased): this index's has detail = none.
  const current = async (on: Kysely<unknown>): Promise<'current' | 'paused' | 'earlier' | 'none'> => {
    const { rows } = await sql<{ name: string; sql: string }>`select name, sql from sqlite_master
      where name = 'users_search' or (type = 'trigger' and name in (${sql.join(Object.keys(TRIGGERS))}))`.execute(
      on,
    );
    const text = rows.find((row) => row.name === 'users_search')?.sql;
    if (text === undefined) return 'none';
    if (!/detail\s*=\s*none/i.test(text)) return 'earlier';
    return rows.length === 1 + Object.keys(TRIGGERS).length ? 'current' : 'paused';
  };
  if ((await current(db)) === 'current') return;
  await db.transaction().execute(async (trx) => {
    // Another process may have done it while this one waited for the write lock.
    const found = await current(trx);
    if (found === 'current') return;
    if (found === 'earlier') {
      for (const name of Object.keys(TRIGGERS))
        await sql`drop trigger if exists ${sql.id(name)}`.execute(trx);
      await sql`drop table users_search`.execute(trx);
    }
    if (found !== 'paused') await sql.raw(INDEX).execute(trx);
    await keepCurrent(trx);
  });
}

/**
 * Runs `work` (a large import) with the index paused: its triggers dropped, then made again
 * and the index rebuilt from the users in one transaction. Meanwhile a search finds only
 * the users indexed before. Another process's writes meanwhile are in the rebuild; one that
 * imports at the same time pauses and resumes it too (the triggers made if not there). If
 * the process stops before the end, the next one to open the directory resumes it.
 */
export async function inBulk<T>(db: Kysely<unknown>, work: () => Promise<T>): Promise<T> {
  await db.transaction().execute(async (trx) => {
    for (const name of Object.keys(TRIGGERS)) await sql`drop trigger if exists ${sql.id(name)}`.execute(trx);
  });
  try {
    return await work();
  } finally {
    await db.transaction().execute(keepCurrent);
  }
}

/** Makes the triggers that are missing and rebuilds the index from every user. */
async function keepCurrent(trx: Kysely<unknown>): Promise<void> {
  for (const trigger of Object.values(TRIGGERS)) await sql.raw(trigger).execute(trx);
  await sql`insert into users_search (users_search) values ('rebuild')`.execute(trx);
}

export function sqliteUserSearch(term: string, like: RawBuilder<boolean>): RawBuilder<boolean> {
  const trigrams = trigramsOf(term);
  if (trigrams.length === 0) return like;
  const query = trigrams.map((t) => `"${t.replaceAll('"', '""')}"`).join(' AND ');
  return sql<boolean>`(rowid in (select rowid from users_search where users_search match ${query}) and ${like})`;
}

/** The term's distinct runs of three characters (code points, as the tokenizer counts them). */
function trigramsOf(term: string): string[] {
  const chars = [...term];
  const trigrams = new Set<string>();
  for (let i = 0; i + 3 <= chars.length; i++) trigrams.add(chars.slice(i, i + 3).join(''));
  return [...trigrams];
}
