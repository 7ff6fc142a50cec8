/**
 * Statements a large sync sends many times must find their rows by index on SQLite: the
 * test reads SQLite's plan (EXPLAIN QUERY PLAN) of the exact SQL, it does not time it.
 */
import { Kysely } from 'kysely';
import { describe, expect, it } from 'vitest';
import { migrateDirectory } from '../../src/directory/migrations/index.js';
import type { Database } from '../../src/directory/schema.js';
import { createSqliteDirectoryDialect } from '../../src/directory/sqlite/sqlite-dialect.js';
import { newUserRow, patchStatement } from '../../src/directory/user-writes.js';
import { newUser } from './contract/harness.js';

const NOW = '2026-01-01T00:00:00.000Z';

describe('SQLite query plans', () => {
  it('a batch of user patches finds each user by primary key, never by scanning users', async () => {
    const db = new Kysely<Database>({ dialect: createSqliteDirectoryDialect(':memory:').kysely });
    try {
      await migrateDirectory(db as Kysely<unknown>);
      // As many as one statement takes: SQLite plans 3 rows of VALUES differently from 500.
      const group = Array.from({ length: 500 }, (_, i) => ({
        current: { ...newUserRow(newUser(`u${i}`, `u${i}@x.io`), NOW), version: 1 + (i % 3) },
        changes: { name: `n${i}` },
      }));
      const compiled = patchStatement(['name'], group, NOW).compile(db);
      const plan = await db.executeQuery<{ detail: string }>({
        ...compiled,
        sql: `explain query plan ${compiled.sql}`,
      });
      const steps = plan.rows.map((r) => r.detail);
      expect(
        steps.some((s) => /^SEARCH users USING (INDEX|PRIMARY KEY)/.test(s)),
        steps.join(' | '),
      ).toBe(true);
      expect(
        steps.some((s) => /^SCAN users\b/.test(s)),
        steps.join(' | '),
      ).toBe(false);
    } finally {
      await db.destroy();
    }
  });
});
