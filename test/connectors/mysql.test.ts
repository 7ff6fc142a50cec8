import { describe, expect, it } from 'vitest';
import { mysqlAvailable, useMysqlFixture } from '../support/mysql.js';
import { CONTRACT_COLUMNS, runConnectorContract, scanAll, type ContractRow } from './contract.js';
import { createMysqlConnector } from '../../src/connectors/mysql/mysql-connector.js';

const available = await mysqlAvailable();

describe.skipIf(!available)('mysql connector', () => {
  const db = useMysqlFixture();
  const quoted = (name: string) => `\`${name}\``;

  runConnectorContract('mysql', async (rows: readonly ContractRow[], { readOnly }) => {
    const table = `Member List-${db.tableName()}`;
    await db.query(
      `create table ${quoted(table)} (id varchar(64) primary key, email varchar(255) not null unique,
        full_name varchar(255), plan varchar(32), \`Mixed Case-Col\` varchar(255))`,
    );
    for (const row of rows) {
      await db.query(
        `insert into ${quoted(table)} values (?, ?, ?, ?, ?)`,
        CONTRACT_COLUMNS.map((column) => row[column]),
      );
    }
    // No `key:`: the primary key is the default.
    const connector = createMysqlConnector({
      source: db.url(),
      table,
      emailColumn: 'email',
      baseDir: '/',
      readOnly,
    });
    return {
      connector,
      setValue: async (key, column, value) =>
        void (await db.query(`update ${quoted(table)} set ${quoted(column)} = ? where id = ?`, [value, key])),
      removeRow: async (key) => void (await db.query(`delete from ${quoted(table)} where id = ?`, [key])),
      snapshot: async () => JSON.stringify(await db.query(`select * from ${quoted(table)} order by id`)),
    };
  });

  it('reads and writes names with spaces, dashes and mixed case, as db.table', async () => {
    const table = `Team-Members ${db.tableName()}`;
    await db.query(
      `create table ${quoted(table)} (\`User ID\` varchar(20) primary key, \`E-Mail\` varchar(100),
        \`Full Name\` varchar(100), \`isActive\` tinyint(1))`,
    );
    await db.query(`insert into ${quoted(table)} values ('a', 'a@x.io', 'Ann', 1)`);
    const connector = db.open({ table: `${db.database()}.${table}`, emailColumn: 'E-Mail' });
    const description = await connector.describe();
    expect(connector.keyColumn).toBe('User ID');
    expect(description.location).toMatch(`${table} in mysql://`);
    expect(description.location).toMatch(`/${db.database()}`);
    expect(description.columns.map((c) => c.name)).toEqual(['User ID', 'E-Mail', 'Full Name', 'isActive']);
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
    expect(await connector.delete(['a'])).toEqual([{ status: 'ok' }]);
  });

  it('a name holding a backtick or looking like SQL is quoted, not executed', async () => {
    const table = `t\`x ${db.tableName()}`;
    await db.query(
      `create table ${quoted(table.replace(/`/g, '``'))} (id int auto_increment primary key,
        \`a\`\` or 1=1 --\` varchar(10), \`select\` varchar(10))`,
    );
    const connector = db.open({ table });
    await connector.insert([{ values: { 'a` or 1=1 --': 'v', select: 's' }, fallbackKey: 'x' }]);
    expect((await scanAll(connector, ['a` or 1=1 --', 'select'])).rows).toEqual([
      { key: '1', values: { 'a` or 1=1 --': 'v', select: 's' } },
    ]);
  });

  it('pages INT AUTO_INCREMENT keys in numeric order and returns the key of a new row', async () => {
    const table = db.tableName();
    await db.query(`create table ${table} (id int auto_increment primary key, email varchar(50) unique)`);
    for (let id = 1; id <= 25; id++)
      await db.query(`insert into ${table} (email) values (?)`, [`p${id}@x.io`]);
    const connector = db.open({ table });
    const { pages, rows } = await scanAll(connector, ['email'], 10);
    expect(pages.map((page) => page.length)).toEqual([10, 10, 5]);
    expect(rows.map((row) => row.key)).toEqual(Array.from({ length: 25 }, (_, i) => String(i + 1)));
    expect((await connector.describe()).columns[0]).toEqual({
      name: 'id',
      type: 'int(11)',
      nullable: false,
      generated: true,
    });
    const results = await connector.insert([
      { values: { email: 'new@x.io' }, fallbackKey: 'dir-uuid' },
      { values: { id: 100, email: 'given@x.io' }, fallbackKey: 'dir-uuid-2' },
      { values: { email: 'next@x.io' }, fallbackKey: 'dir-uuid-3' },
    ]);
    expect(results).toEqual([
      { status: 'ok', key: '26' },
      { status: 'ok', key: '100' },
      { status: 'ok', key: '101' },
    ]);
    expect(
      await connector.update([{ key: '12', set: { email: 'twelve@x.io' }, expect: { email: 'p12@x.io' } }]),
    ).toEqual([{ status: 'ok' }]);
    expect(await connector.delete(['13'])).toEqual([{ status: 'ok' }]);
    const after = await scanAll(connector, ['email']);
    expect(after.byKey.get('12')?.email).toBe('twelve@x.io');
    expect(after.byKey.has('13')).toBe(false);
  });

  it('BIGINT keys past 2^53 page, update and delete exactly', async () => {
    const table = db.tableName();
    await db.query(`create table ${table} (id bigint unsigned primary key, email varchar(50))`);
    const keys = ['9007199254740993', '9007199254740994', '18446744073709551615', '7'];
    for (const key of keys) await db.query(`insert into ${table} values (${key}, ?)`, [`${key}@x.io`]);
    const connector = db.open({ table });
    const { rows } = await scanAll(connector, ['email'], 1);
    expect(rows.map((row) => row.key)).toEqual([
      '7',
      '9007199254740993',
      '9007199254740994',
      '18446744073709551615',
    ]);
    expect(
      await connector.update([
        { key: '9007199254740993', set: { email: 'odd' }, expect: { email: '9007199254740993@x.io' } },
      ]),
    ).toEqual([{ status: 'ok' }]);
    expect(await connector.delete(['9007199254740994'])).toEqual([{ status: 'ok' }]);
    const after = await scanAll(connector, ['email']);
    expect([...after.byKey.entries()]).toEqual([
      ['7', { email: '7@x.io' }],
      ['9007199254740993', { email: 'odd' }],
      ['18446744073709551615', { email: '18446744073709551615@x.io' }],
    ]);
  });

  it('CHAR(36) uuid keys: a default uuid() is returned on insert, otherwise the fallback key', async () => {
    const withDefault = db.tableName();
    await db.query(`create table ${withDefault} (id char(36) primary key default uuid(), email varchar(50))`);
    const generated = db.open({ table: withDefault });
    const [result] = await generated.insert([{ values: { email: 'a@x.io' }, fallbackKey: 'dir-1' }]);
    const key = result?.status === 'ok' ? result.key : '';
    expect(key).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect((await scanAll(generated, ['email'])).byKey.get(key)).toEqual({ email: 'a@x.io' });

    const plain = db.tableName();
    await db.query(`create table ${plain} (id char(36) primary key, email varchar(50))`);
    const uuid = '5f0c6d4e-8f43-4a4e-9b8e-2f1f3c1f6a11';
    const connector = db.open({ table: plain });
    expect(await connector.insert([{ values: { email: 'b@x.io' }, fallbackKey: uuid }])).toEqual([
      { status: 'ok', key: uuid },
    ]);
    expect(
      await connector.update([{ key: uuid, set: { email: 'c@x.io' }, expect: { email: 'b@x.io' } }]),
    ).toEqual([{ status: 'ok' }]);
  });

  it('VARCHAR keys page in the collation order the server sorts by, none lost or repeated', async () => {
    const table = db.tableName();
    await db.query(`create table ${table} (code varchar(20) primary key, email varchar(50))`);
    // utf8mb4_general_ci sorts 'A' < 'a_' < 'b' < 'Zed'; JavaScript's order differs.
    const keys = ['10', '9', 'b', 'A', 'Ä1', '100', '-1', 'z z', 'Zed', 'a_'];
    for (const key of keys) await db.query(`insert into ${table} values (?, ?)`, [key, `${key}@x.io`]);
    const connector = db.open({ table });
    const { rows } = await scanAll(connector, ['email'], 2);
    expect(rows.map((row) => row.key).sort()).toEqual([...keys].sort());
    const serverOrder = await db.query<{ code: string }[]>(`select code from ${table} order by code`);
    expect(rows.map((row) => row.key)).toEqual(serverOrder.map((row) => row.code));
    expect(rows.map((row) => row.key)).not.toEqual([...keys].sort());
    expect(
      await connector.update([{ key: '10', set: { email: 'ten' }, expect: { email: '10@x.io' } }]),
    ).toEqual([{ status: 'ok' }]);
  });

  it('a key column other than the primary key works, and a repeated key is refused per row', async () => {
    const table = db.tableName();
    await db.query(
      `create table ${table} (id int auto_increment primary key, code varchar(10), email varchar(50))`,
    );
    await db.query(
      `insert into ${table} (code, email) values ('x', 'a@x.io'), ('x', 'b@x.io'), ('y', 'c@x.io')`,
    );
    const connector = db.open({ table, key: 'CODE' });
    await connector.describe();
    expect(connector.keyColumn).toBe('CODE');
    const results = await connector.update([
      { key: 'x', set: { email: 'z' }, expect: {} },
      { key: 'y', set: { email: 'y@x.io' }, expect: { email: 'c@x.io' } },
    ]);
    expect(results[0]).toEqual({ status: 'failed', error: expect.stringMatching(/matches 2 rows/) });
    expect(results[1]).toEqual({ status: 'ok' });
  });
});
