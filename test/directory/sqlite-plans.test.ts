/**
 * Statements a large sync sends many times must find their rows by index on SQLite: the
 * test reads SQLite's plan (EXPLAIN QUERY PLAN) of the exact SQL, it does not time it.
 */
import { Kysely, type CompiledQuery } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fingerprintsStatement, suspendedLinks } from '../../src/directory/links.js';
import { migrateDirectory } from '../../src/directory/migrations/index.js';
import type { Database } from '../../src/directory/schema.js';
import { createSqliteDirectoryDialect } from '../../src/directory/sqlite/sqlite-dialect.js';
import { newUserRow, patchStatement } from '../../src/directory/user-writes.js';
import { newUser } from './contract/harness.js';

const NOW = '2026-01-01T00:00:00.000Z';

/** SQLite's plan of a statement, one step per line. */
async function planOf(db: Kysely<Database>, compiled: CompiledQuery): Promise<string[]> {
  const plan = await db.executeQuery<{ detail: string }>({
    ...compiled,
    sql: `explain query plan ${compiled.sql}`,
  });
  return plan.rows.map((r) => r.detail);
}

/** The plan finds the table's rows through an index (its primary key's included) and never scans it. */
function expectFoundByIndex(steps: readonly string[], table: string): void {
  const plan = steps.join(' | ');
  expect(
    steps.some((s) => new RegExp(`^SEARCH ${table} USING (COVERING INDEX|INDEX|PRIMARY KEY)`).test(s)),
    plan,
  ).toBe(true);
  expect(
    steps.some((s) => new RegExp(`^SCAN ${table}\\b`).test(s)),
    plan,
  ).toBe(false);
}

describe('SQLite query plans', () => {
  let db: Kysely<Database>;
  beforeEach(async () => {
    db = new Kysely<Database>({ dialect: createSqliteDirectoryDialect(':memory:').kysely });
    await migrateDirectory(db as Kysely<unknown>);
  });
  afterEach(() => db.destroy());

  it('a batch of user patches finds each user by primary key, never by scanning users', async () => {
    // As many as one statement takes: SQLite plans 3 rows of VALUES differently from 500.
    const group = Array.from({ length: 500 }, (_, i) => ({
      current: { ...newUserRow(newUser(`u${i}`, `u${i}@x.io`), NOW), version: 1 + (i % 3) },
      changes: { name: `n${i}` },
    }));
    expectFoundByIndex(await planOf(db, patchStatement(['name'], group, NOW).compile(db)), 'users');
  });

  it('a batch of fingerprints finds each link by primary key, never by scanning links', async () => {
    const fingerprints = Array.from(
      { length: 500 },
      (_, i) => [`k${i}`, { fingerprint: `f${i}`, userVersion: 1 + (i % 3) }] as const,
    );
    expectFoundByIndex(await planOf(db, fingerprintsStatement('crm', fingerprints).compile(db)), 'links');
  });

  it('the users suspended elsewhere come from the index of suspended links, not a scan of links', async () => {
    const steps = await planOf(db, suspendedLinks(db, 'crm').compile());
    expect(
      steps.some((s) => /links USING COVERING INDEX links_suspended/.test(s)),
      steps.join(' | '),
    ).toBe(true);
  });
});
