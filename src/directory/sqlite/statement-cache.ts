import type { Database, Statement } from 'better-sqlite3';
import type { SqliteDatabase } from 'kysely';

/**
 * Kysely's SQLite driver prepares every query it runs. A sync applies thousands of
 * queries of a handful of shapes, so the directory keeps the prepared statements and
 * reuses them by SQL text (least recently used ones are dropped past `capacity`).
 *
 * Safe because the store never streams (a better-sqlite3 statement being iterated
 * cannot run again until the iteration ends); it pages with keyset queries instead.
 */
export function withStatementCache(db: Database, capacity = 500): SqliteDatabase {
  const statements = new Map<string, Statement>();
  return {
    close: () => db.close(),
    prepare(sql: string) {
      const cached = statements.get(sql);
      if (cached !== undefined) {
        // Re-insert to mark it most recently used (a Map keeps insertion order).
        statements.delete(sql);
        statements.set(sql, cached);
        return cached;
      }
      const statement = db.prepare(sql);
      statements.set(sql, statement);
      if (statements.size > capacity) statements.delete(statements.keys().next().value as string);
      return statement;
    },
  };
}
