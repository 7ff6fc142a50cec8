/**
 * Searching users by a part of their email or name without reading every user: GIN
 * trigram indexes (pg_trgm, shipped with PostgreSQL) on lower(email) and lower(name),
 * which the portable `lower(…) like '%term%'` search uses as it is. Best effort: where
 * pg_trgm cannot be installed (not available, or no right to), the search still works,
 * by reading every user.
 */
import { sql, type Kysely } from 'kysely';
import { quoteIdentifier } from './postgres-dialect.js';

export async function createUserSearch(db: Kysely<unknown>): Promise<void> {
  // Every open comes here: when the indexes are there, one catalog read and no DDL.
  const { rows } = await sql<{ indexname: string }>`select indexname from pg_indexes
    where schemaname = current_schema() and indexname in ('users_search_email', 'users_search_name')`.execute(
    db,
  );
  const missing = ['email', 'name'].filter((c) => !rows.some((r) => r.indexname === `users_search_${c}`));
  if (missing.length === 0) return;
  const schema = await trigramSchema(db);
  if (schema === null) return;
  const ops = sql.raw(`${quoteIdentifier(schema)}.gin_trgm_ops`);
  for (const column of missing) {
    const index = sql.raw(quoteIdentifier(`users_search_${column}`));
    try {
      await sql`create index if not exists ${index} on users using gin (lower(${sql.ref(column)}) ${ops})`.execute(
        db,
      );
    } catch (error) {
      // Another process created it at the same moment: what we wanted.
      if (!(await indexExists(db, `users_search_${column}`))) throw error;
    }
  }
}

/** Where pg_trgm is installed, installing it (in public) if it is not yet; null if it cannot be. */
async function trigramSchema(db: Kysely<unknown>): Promise<string | null> {
  const installed = async () =>
    (
      await sql<{ schema: string }>`select n.nspname as schema from pg_extension e
        join pg_namespace n on n.oid = e.extnamespace where e.extname = 'pg_trgm'`.execute(db)
    ).rows[0]?.schema ?? null;
  const found = await installed();
  if (found !== null) return found;
  const { rows } = await sql`select 1 from pg_available_extensions where name = 'pg_trgm'`.execute(db);
  if (rows.length === 0) return null;
  try {
    // In public, not in the directory's schema: dropping one directory must not drop it for others.
    await sql`create extension if not exists pg_trgm schema public`.execute(db);
  } catch {
    // No right to install it, or another process did at the same moment.
  }
  return installed();
}

async function indexExists(db: Kysely<unknown>, name: string): Promise<boolean> {
  const { rows } =
    await sql`select 1 from pg_indexes where schemaname = current_schema() and indexname = ${name}`.execute(
      db,
    );
  return rows.length > 0;
}
