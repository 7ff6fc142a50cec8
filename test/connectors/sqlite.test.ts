import { describe, expect, it } from 'vitest';
import { CONTRACT_COLUMNS, runConnectorContract, scanAll, type ContractRow } from './contract.js';
import { useSqliteFixture, withDatabase } from './sqlite-fixture.js';
import { createSqliteConnector } from '../../src/connectors/sqlite/sqlite-connector.js';

const { tempDir, makeDatabase, open } = useSqliteFixture();

const TABLE = '"Member List"';
const quoted = (column: string) => `"${column}"`;

runConnectorContract('sqlite', async (rows: readonly ContractRow[], { readOnly }) => {
  const { dir, path } = makeDatabase(
    `create table ${TABLE} (id text primary key, email text not null unique, full_name text, plan text, "Mixed Case-Col" text)`,
    (db) => {
      const insert = db.prepare(`insert into ${TABLE} values (?, ?, ?, ?, ?)`);
      for (const row of rows) insert.run(...CONTRACT_COLUMNS.map((column) => row[column]));
    },
  );
  const connector = createSqliteConnector({
    source: 'sqlite:crm.db',
    table: 'Member List',
    key: 'id',
    emailColumn: 'email',
    baseDir: dir,
    readOnly,
  });
  return {
    connector,
    setValue: async (key, column, value) =>
      void withDatabase(path, (db) =>
        db.prepare(`update ${TABLE} set ${quoted(column)} = ? where id = ?`).run(value, key),
      ),
    removeRow: async (key) =>
      void withDatabase(path, (db) => db.prepare(`delete from ${TABLE} where id = ?`).run(key)),
    snapshot: async () =>
      withDatabase(path, (db) => JSON.stringify(db.prepare(`select * from ${TABLE} order by id`).all())),
  };
});

describe('sqlite connector', () => {
  it('reads and writes identifiers with spaces, dashes and mixed case, with a main. prefix', async () => {
    const { dir } = makeDatabase(
      `create table "Team-Members 2024" ("User ID" text primary key, "E-Mail" text, "Full Name" text, "isActive" integer)`,
      (db) => db.prepare(`insert into "Team-Members 2024" values ('a', 'a@x.io', 'Ann', 1)`).run(),
    );
    const connector = open(dir, { table: 'main.Team-Members 2024', emailColumn: 'E-Mail' });
    expect(connector.keyColumn).toBe('User ID');
    expect((await connector.describe()).columns.map((c) => c.name)).toEqual([
      'User ID',
      'E-Mail',
      'Full Name',
      'isActive',
    ]);
    const inserted = await connector.insert([
      { values: { 'E-Mail': 'b@x.io', 'Full Name': 'Bo', isActive: true }, fallbackKey: 'b' },
    ]);
    expect(inserted).toEqual([{ status: 'ok', key: 'b' }]);
    const updated = await connector.update([
      { key: 'a', set: { 'Full Name': 'Anna' }, expect: { 'Full Name': 'Ann', isActive: 1 } },
    ]);
    expect(updated).toEqual([{ status: 'ok' }]);
    const { byKey } = await scanAll(connector, ['E-Mail', 'Full Name', 'isActive']);
    expect(byKey.get('a')).toEqual({ 'E-Mail': 'a@x.io', 'Full Name': 'Anna', isActive: 1 });
    expect(byKey.get('b')).toEqual({ 'E-Mail': 'b@x.io', 'Full Name': 'Bo', isActive: 1 });
    expect(await connector.lookup('E-Mail', ['b@x.io'], ['Full Name'])).toEqual([
      { key: 'b', values: { 'Full Name': 'Bo' } },
    ]);
  });

  it('a column named like SQL or holding a quote is quoted, not executed', async () => {
    const { dir } = makeDatabase(
      `create table "t""x" (id integer primary key, "a"" or 1=1 --" text, "select" text)`,
    );
    const connector = open(dir, { table: 't"x' });
    await connector.insert([{ values: { 'a" or 1=1 --': 'v', select: 's' }, fallbackKey: 'x' }]);
    expect((await scanAll(connector, ['a" or 1=1 --', 'select'])).rows).toEqual([
      { key: '1', values: { 'a" or 1=1 --': 'v', select: 's' } },
    ]);
  });

  it('pages integer keys in numeric order, across pages', async () => {
    const { dir } = makeDatabase('create table people (id integer primary key, email text)', (db) => {
      const insert = db.prepare('insert into people values (?, ?)');
      for (let id = 1; id <= 25; id++) insert.run(id, `p${id}@x.io`);
    });
    const connector = open(dir, { table: 'people' });
    const { pages, rows } = await scanAll(connector, ['email'], 10);
    expect(pages.map((page) => page.length)).toEqual([10, 10, 5]);
    expect(rows.map((row) => row.key)).toEqual(Array.from({ length: 25 }, (_, i) => String(i + 1)));
    expect(
      await connector.update([{ key: '12', set: { email: 'twelve@x.io' }, expect: { email: 'p12@x.io' } }]),
    ).toEqual([{ status: 'ok' }]);
    expect(await connector.delete(['13'])).toEqual([{ status: 'ok' }]);
    const after = await scanAll(connector, ['email']);
    expect(after.byKey.get('12')?.email).toBe('twelve@x.io');
    expect(after.byKey.has('13')).toBe(false);
  });

  it('pages text keys that look like numbers without losing or repeating any', async () => {
    const keys = ['10', '9', 'b', 'A', 'a', '100', '-1', 'z z'];
    const { dir } = makeDatabase('create table people (code text primary key, email text)', (db) => {
      for (const key of keys) db.prepare('insert into people values (?, ?)').run(key, `${key}@x.io`);
    });
    const connector = open(dir, { table: 'people' });
    const { rows } = await scanAll(connector, ['email'], 3);
    expect(rows.map((row) => row.key).sort()).toEqual([...keys].sort());
    expect(
      await connector.update([{ key: '10', set: { email: 'ten' }, expect: { email: '10@x.io' } }]),
    ).toEqual([{ status: 'ok' }]);
  });

  it('a key column declared without a type still finds integer keys', async () => {
    const { dir } = makeDatabase('create table people (id primary key, email text)', (db) => {
      db.prepare('insert into people values (?, ?)').run(7, 'seven@x.io');
    });
    const connector = open(dir, { table: 'people' });
    expect(
      await connector.update([{ key: '7', set: { email: 'new' }, expect: { email: 'seven@x.io' } }]),
    ).toEqual([{ status: 'ok' }]);
    expect(await connector.delete(['7'])).toEqual([{ status: 'ok' }]);
    expect((await scanAll(connector, ['email'])).rows).toEqual([]);
  });

  it('returns the key SQLite assigns to an INTEGER PRIMARY KEY, ignoring the fallback key', async () => {
    const { dir } = makeDatabase('create table people (id integer primary key, email text unique)', (db) => {
      db.prepare('insert into people values (41, ?)').run('old@x.io');
    });
    const connector = open(dir, { table: 'people' });
    await connector.describe(); // reloading the table must not lose track of the rowid key
    const results = await connector.insert([
      { values: { email: 'new@x.io' }, fallbackKey: 'dir-uuid' },
      { values: { id: 100, email: 'given@x.io' }, fallbackKey: 'dir-uuid-2' },
    ]);
    expect(results).toEqual([
      { status: 'ok', key: '42' },
      { status: 'ok', key: '100' },
    ]);
  });

  it('describe marks rowid keys, defaults and generated columns as generated', async () => {
    const { dir } = makeDatabase(
      `create table people (id integer primary key, email text not null, plan text default 'free',
        upper_email text generated always as (upper(email)) virtual, note text)`,
    );
    const description = await open(dir, { table: 'people' }).describe();
    expect(description.location).toBe('people in crm.db');
    expect(description.columns).toEqual([
      { name: 'id', type: 'INTEGER', nullable: false, generated: true },
      { name: 'email', type: 'TEXT', nullable: false, generated: false },
      { name: 'plan', type: 'TEXT', nullable: true, generated: true },
      { name: 'upper_email', type: 'TEXT', nullable: true, generated: true },
      { name: 'note', type: 'TEXT', nullable: true, generated: false },
    ]);
  });

  it('inserts the fallback key when the key column has no value and no default', async () => {
    const { dir } = makeDatabase('create table people (id text primary key, email text)');
    const connector = open(dir, { table: 'people' });
    expect(await connector.insert([{ values: { email: 'a@x.io', id: null }, fallbackKey: 'dir-1' }])).toEqual(
      [{ status: 'ok', key: 'dir-1' }],
    );
  });

  it('an expected NULL matches a NULL value', async () => {
    const { dir } = makeDatabase(
      'create table people (id integer primary key, email text, phone text)',
      (db) => {
        db.prepare('insert into people values (1, ?, null)').run('a@x.io');
      },
    );
    const connector = open(dir, { table: 'people' });
    expect(await connector.update([{ key: '1', set: { phone: '123' }, expect: { phone: null } }])).toEqual([
      { status: 'ok' },
    ]);
    expect(await connector.update([{ key: '1', set: { phone: '456' }, expect: { phone: null } }])).toEqual([
      { status: 'stale' },
    ]);
  });

  it('reads rows changed since a cursor, paged by key', async () => {
    const { dir } = makeDatabase(
      'create table people (id integer primary key, email text, updated_at text)',
      (db) => {
        for (let id = 1; id <= 9; id++)
          db.prepare('insert into people values (?, ?, ?)').run(id, `p${id}@x.io`, `2024-01-0${id}`);
      },
    );
    const connector = open(dir, { table: 'people' });
    expect(connector.capabilities.supportsCursor).toBe(true);
    const pages = [];
    for await (const page of connector.readChangedSince!('updated_at', '2024-01-04', {
      columns: ['email'],
      pageSize: 4,
    }))
      pages.push(page);
    expect(pages.map((page) => page.map((row) => row.key))).toEqual([
      ['4', '5', '6', '7'],
      ['8', '9'],
    ]);
  });

  it('looks up long lists of values in chunks', async () => {
    const { dir } = makeDatabase('create table people (id integer primary key, email text)', (db) => {
      const insert = db.prepare('insert into people (email) values (?)');
      for (let i = 0; i < 1200; i++) insert.run(`p${i}@x.io`);
    });
    const connector = open(dir, { table: 'people' });
    const wanted = Array.from({ length: 1500 }, (_, i) => `p${i}@x.io`);
    expect(await connector.lookup('email', wanted, ['email'])).toHaveLength(1200);
  });

  it('a sqlite:// source and an absolute path are accepted', async () => {
    const { dir, path } = makeDatabase('create table people (id integer primary key)');
    expect(open(dir, { source: 'sqlite://crm.db', table: 'people' }).keyColumn).toBe('id');
    expect(open(tempDir(), { source: `sqlite:${path}`, table: 'people' }).keyColumn).toBe('id');
  });
});
