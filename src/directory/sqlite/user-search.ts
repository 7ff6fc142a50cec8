/**
 * Searching users by a part of their email or name without reading every user: an FTS5
 * index with the trigram tokenizer (substring matches, any case) over users.email and
 * users.name, kept current by triggers. It maps users by SQLite's rowid, which a VACUUM
 * may renumber: the search therefore re-checks each match with LIKE (no false match can
 * come through), and `INSERT INTO users_search(users_search) VALUES ('rebuild')` after a
 * VACUUM restores any lost ones. Terms under three characters have no trigram: those scan.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';

export async function createUserSearch(db: Kysely<unknown>): Promise<void> {
  const exists = await sql<{
    name: string;
  }>`select name from sqlite_master where name = 'users_search'`.execute(db);
  if (exists.rows.length > 0) return;
  await db.transaction().execute(async (trx) => {
    await sql`create virtual table if not exists users_search using fts5(
      email, name, content = 'users', content_rowid = 'rowid', tokenize = 'trigram')`.execute(trx);
    await sql`create trigger if not exists users_search_insert after insert on users begin
      insert into users_search (rowid, email, name) values (new.rowid, new.email, new.name);
    end`.execute(trx);
    await sql`create trigger if not exists users_search_delete after delete on users begin
      insert into users_search (users_search, rowid, email, name) values ('delete', old.rowid, old.email, old.name);
    end`.execute(trx);
    await sql`create trigger if not exists users_search_update after update of email, name on users begin
      insert into users_search (users_search, rowid, email, name) values ('delete', old.rowid, old.email, old.name);
      insert into users_search (rowid, email, name) values (new.rowid, new.email, new.name);
    end`.execute(trx);
    await sql`insert into users_search (users_search) values ('rebuild')`.execute(trx);
  });
}

export function sqliteUserSearch(term: string, like: RawBuilder<boolean>): RawBuilder<boolean> {
  if ([...term].length < 3) return like;
  const phrase = `"${term.replaceAll('"', '""')}"`;
  return sql<boolean>`(rowid in (select rowid from users_search where users_search match ${phrase}) and ${like})`;
}
