import mysql from 'mysql2';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mysqlAvailable, useMysqlFixture, type MysqlFixture } from '../support/mysql.js';

const available = await mysqlAvailable();

const ROWS = 20_000;

interface ExplainRow {
  readonly table: string;
  readonly type: string;
  readonly key: string | null;
}

/** A table of ROWS emails in `collation`, indexed, with a few that differ in case or spaces. */
async function emailTable(db: MysqlFixture, collation: string): Promise<string> {
  const table = db.tableName('lookup');
  await db.query(
    `create table ${table} (id int auto_increment primary key,
      email varchar(255) character set utf8mb4 collate ${collation}, key email_idx (email))`,
  );
  for (let start = 0; start < ROWS; start += 1000) {
    const emails = Array.from({ length: 1000 }, (_, i) => `User${start + i}@Example.com`);
    await db.query(`insert into ${table} (email) values ${emails.map(() => '(?)').join(', ')}`, emails);
  }
  await db.query(`insert into ${table} (email) values ('  Lead@Example.com '), ('Trail@example.com   ')`);
  await db.query(`analyze table ${table}`);
  return table;
}

describe.skipIf(!available)('mysql source: case-insensitive lookups by email', () => {
  const db = useMysqlFixture();

  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** Looks up three emails as the sync does, and returns the keys found and the SQL sent. */
  async function lookUp(table: string) {
    const query = vi.spyOn(mysql.Connection.prototype, 'query');
    const connector = db.open({ table });
    const found = await connector.lookup(
      'email',
      ['USER7@example.com', ' lead@EXAMPLE.com', 'trail@example.com'],
      ['email'],
      { caseInsensitive: true },
    );
    const sent = query.mock.calls
      .map(([text, values]) => ({ text: String(text), values: values as unknown as unknown[] }))
      .filter(({ text }) => text.startsWith('select') && text.includes(`\`${table}\``));
    query.mockRestore();
    expect(sent).toHaveLength(1);
    const [{ text, values }] = sent as [{ text: string; values: unknown[] }];
    const plan = await db.query<ExplainRow[]>(`explain ${text}`, values);
    return { emails: found.map((row) => row.values.email).sort(), text, plan };
  }

  const everyMatch = ['  Lead@Example.com ', 'Trail@example.com   ', 'User7@Example.com'];

  it('under a case-insensitive collation, uses the column’s index and still folds case and spaces', async () => {
    const table = await emailTable(db, 'utf8mb4_general_ci');
    const { emails, text, plan } = await lookUp(table);
    expect(emails).toEqual(everyMatch);
    expect(text).toMatch(/`email` in \(/);
    expect(plan).toHaveLength(1);
    expect(plan[0]).toMatchObject({ key: 'email_idx', type: 'range' });
  });

  it('under a binary collation, compares lower(trim(email)), which reads the whole table', async () => {
    const table = await emailTable(db, 'utf8mb4_bin');
    const { emails, text, plan } = await lookUp(table);
    expect(emails).toEqual(everyMatch);
    expect(text).toMatch(/lower\(trim\(`email`\)\) in \(/);
    expect(text).not.toMatch(/`email` in \(/);
    expect(['ALL', 'index']).toContain(plan[0]?.type);
  });

  it('under a NO PAD collation, where trailing spaces count, keeps lower(trim(email)) too', async () => {
    const [nopad] = await db.query<unknown[]>("show collation like 'utf8mb4_general_nopad_ci'");
    // MariaDB's name; MySQL 8's NO PAD collations are the _0900_ ones.
    const table = await emailTable(db, nopad ? 'utf8mb4_general_nopad_ci' : 'utf8mb4_0900_ai_ci');
    const { emails, text } = await lookUp(table);
    expect(emails).toEqual(everyMatch);
    expect(text).toMatch(/lower\(trim\(`email`\)\) in \(/);
    expect(text).not.toMatch(/`email` in \(/);
  });
});
