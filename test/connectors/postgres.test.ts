import { describe, expect, it } from 'vitest';
import { isUsersyncError } from '../../src/core/errors.js';
import { CONTRACT_COLUMNS, runConnectorContract, scanAll, type ContractRow } from './contract.js';
import { POSTGRES_TEST_URL, postgresReachable, quoteIdent, usePostgresSources } from '../support/postgres.js';
import { createPostgresConnector } from '../../src/connectors/postgres/postgres-connector.js';

const reachable = await postgresReachable();

describe.runIf(reachable)('postgres source', () => {
  const db = usePostgresSources();

  runConnectorContract('postgres', async (rows: readonly ContractRow[], { readOnly }) => {
    const table = await db.makeTable(
      'id text primary key, email text not null unique, full_name text, plan text, "Mixed Case-Col" text',
      'Member List',
    );
    const qualified = db.qualified(table);
    for (const row of rows)
      await db.query(
        `insert into ${qualified} values ($1, $2, $3, $4, $5)`,
        CONTRACT_COLUMNS.map((column) => row[column]),
      );
    const connector = createPostgresConnector({
      source: POSTGRES_TEST_URL,
      table: `${db.name()}.${table}`,
      key: 'id',
      emailColumn: 'email',
      baseDir: '/',
      readOnly,
    });
    return {
      connector,
      setValue: async (key, column, value) =>
        void (await db.query(`update ${qualified} set ${quoteIdent(column)} = $1 where id = $2`, [
          value,
          key,
        ])),
      removeRow: async (key) => void (await db.query(`delete from ${qualified} where id = $1`, [key])),
      snapshot: async () => JSON.stringify(await db.query(`select * from ${qualified} order by id`)),
    };
  });

  it('fingerprints tell floats apart however the database prints them by default', async () => {
    const table = await db.makeTable('id int primary key, email text, score double precision');
    await db.query(
      `insert into ${db.qualified(table)} values (1, 'a@x.io', 0.1::float8 + 0.2::float8), (2, 'b@x.io', 0.3)`,
    );
    // A session that prints floats to 15 digits, as databases before PostgreSQL 12 did.
    const connector = createPostgresConnector({
      source: `${POSTGRES_TEST_URL}?options=${encodeURIComponent('-c extra_float_digits=0')}`,
      table: `${db.name()}.${table}`,
      emailColumn: 'email',
      baseDir: '/',
      readOnly: true,
    });
    try {
      const fingerprints: string[] = [];
      for await (const page of connector.scanFingerprints!({ columns: ['score'], pageSize: 10 })) {
        fingerprints.push(...page.map((row) => row.fingerprint));
      }
      expect(fingerprints).toHaveLength(2);
      expect(fingerprints[0]).not.toBe(fingerprints[1]);
    } finally {
      await connector.close();
    }
  });

  describe('table names', () => {
    const columns = '"User ID" text primary key, "E-Mail" text, "Full Name" text, "isActive" boolean';

    it('reads and writes a quoted mixed-case table with spaces and dashes, as "schema"."table"', async () => {
      const table = await db.makeTable(columns, 'Team-Members 2024');
      await db.query(`insert into ${db.qualified(table)} values ('a', 'a@x.io', 'Ann', true)`);
      const connector = db.open({ table: `"${db.name()}"."${table}"`, emailColumn: 'E-Mail' });
      expect((await connector.describe()).columns.map((c) => c.name)).toEqual([
        'User ID',
        'E-Mail',
        'Full Name',
        'isActive',
      ]);
      expect(connector.keyColumn).toBe('User ID');
      expect(
        await connector.insert([{ values: { 'E-Mail': 'b@x.io', 'Full Name': 'Bo' }, fallbackKey: 'b' }]),
      ).toEqual([{ status: 'ok', key: 'b' }]);
      expect(
        await connector.update([
          { key: 'a', set: { 'Full Name': 'Anna' }, expect: { 'Full Name': 'Ann', isActive: true } },
        ]),
      ).toEqual([{ status: 'ok' }]);
      const { byKey } = await scanAll(connector, ['E-Mail', 'Full Name', 'isActive']);
      expect(byKey.get('a')).toEqual({ 'E-Mail': 'a@x.io', 'Full Name': 'Anna', isActive: true });
      expect(byKey.get('b')).toEqual({ 'E-Mail': 'b@x.io', 'Full Name': 'Bo', isActive: null });
      expect(await connector.lookup('E-Mail', ['b@x.io'], ['Full Name'])).toEqual([
        { key: 'b', values: { 'Full Name': 'Bo' } },
      ]);
      expect(await connector.delete(['a'])).toEqual([{ status: 'ok' }]);
      expect((await scanAll(connector, ['E-Mail'])).rows.map((row) => row.key)).toEqual(['b']);
    });

    it('finds schema.table unquoted, a table on the search_path, and a name in another case', async () => {
      const table = await db.makeTable(columns, 'Team-Members');
      await db.query(`insert into ${db.qualified(table)} values ('a', 'a@x.io', 'Ann', true)`);
      const onPath = { source: db.urlOnSchema(), emailColumn: 'E-Mail' };
      for (const connector of [
        db.open({ table: `${db.name()}.${table}` }),
        db.open({ ...onPath, table }),
        db.open({ ...onPath, table: `"${table}"` }),
        db.open({ ...onPath, table: table.toUpperCase() }),
      ]) {
        expect((await connector.describe()).location).toBe(`${db.name()}.${table} in test on 127.0.0.1:5432`);
        expect((await scanAll(connector, ['E-Mail'])).rows).toEqual([
          { key: 'a', values: { 'E-Mail': 'a@x.io' } },
        ]);
      }
    });

    it('a table or column name holding quotes or SQL is quoted, not executed', async () => {
      const table = await db.makeTable('id serial primary key, "a"" or 1=1 --" text, "select" text', 't"x');
      const connector = db.open({ table: `${db.name()}.${table}` });
      await connector.insert([{ values: { 'a" or 1=1 --': 'v', select: 's' }, fallbackKey: 'x' }]);
      expect((await scanAll(connector, ['a" or 1=1 --', 'select'])).rows).toEqual([
        { key: '1', values: { 'a" or 1=1 --': 'v', select: 's' } },
      ]);
      // SQL's own spelling of the same name works too.
      const quoted = db.open({ table: `"${db.name()}"."${table.replaceAll('"', '""')}"` });
      expect((await scanAll(quoted, ['select'])).rows).toEqual([{ key: '1', values: { select: 's' } }]);
    });
  });

  describe('read-only', () => {
    it('an import-only connection reads in a read-only session: even SQL hidden in a view cannot write', async () => {
      const log = await db.makeTable('n int', 'log');
      const table = await db.makeTable('id serial primary key, email text');
      await db.query(`insert into ${db.qualified(table)} (email) values ('a@x.io')`);
      const writer = db.qualified(`${table}_writes`);
      await db.query(
        `create function ${writer}() returns int language sql volatile as 'insert into ${db.qualified(log).replaceAll("'", "''")} values (1) returning n'`,
      );
      const view = db.newTable('members_view');
      await db.query(
        `create view ${db.qualified(view)} as select id, email, ${writer}() as probe from ${db.qualified(table)}`,
      );
      const plain = db.open({ table: `${db.name()}.${table}`, readOnly: true });
      expect((await scanAll(plain, ['email'])).rows).toEqual([{ key: '1', values: { email: 'a@x.io' } }]);
      const readOnly = db.open({ table: `${db.name()}.${view}`, key: 'id', readOnly: true });
      const error = await scanAll(readOnly, ['probe']).catch((e: unknown) => e);
      expect(isUsersyncError(error, 'source.read_only')).toBe(true);
      expect((error as Error).message).toMatch(/read-only transaction/);
      const writable = db.open({ table: `${db.name()}.${view}`, key: 'id' });
      expect((await scanAll(writable, ['probe'])).rows).toEqual([{ key: '1', values: { probe: 1 } }]);
    });
  });

  describe('describe', () => {
    it('gives each column its PostgreSQL type, nullability, and whether the table fills it in', async () => {
      const table = await db.makeTable(
        `id serial primary key, ident bigint generated always as identity, email text not null,
         plan text default 'free', upper_email text generated always as (upper(email)) stored,
         born date, seen timestamptz, note varchar(20), extra jsonb`,
      );
      const connector = db.open({ table: `${db.name()}.${table}` });
      const description = await connector.describe();
      expect(description.location).toBe(`${db.name()}.${table} in test on 127.0.0.1:5432`);
      expect(description.columns).toEqual([
        { name: 'id', type: 'int4', nullable: false, generated: true },
        { name: 'ident', type: 'int8', nullable: false, generated: true },
        { name: 'email', type: 'text', nullable: false, generated: false },
        { name: 'plan', type: 'text', nullable: true, generated: true },
        { name: 'upper_email', type: 'text', nullable: true, generated: true },
        { name: 'born', type: 'date', nullable: true, generated: false },
        { name: 'seen', type: 'timestamptz', nullable: true, generated: false },
        { name: 'note', type: 'varchar', nullable: true, generated: false },
        { name: 'extra', type: 'jsonb', nullable: true, generated: false },
      ]);
    });

    it('describe sees a column added since the first read', async () => {
      const table = await db.makeTable('id serial primary key, email text');
      const connector = db.open({ table: `${db.name()}.${table}` });
      await connector.describe();
      await db.query(`alter table ${db.qualified(table)} add column phone text`);
      expect((await connector.describe()).columns.map((c) => c.name)).toEqual(['id', 'email', 'phone']);
      expect((await scanAll(connector, ['phone'])).rows).toEqual([]);
    });

    it('postgresql:// is the same kind, and creating a connector does not connect', async () => {
      const table = await db.makeTable('id serial primary key, email text');
      const connector = db.open({
        source: POSTGRES_TEST_URL.replace(/^postgres:/, 'postgresql:'),
        table: `${db.name()}.${table}`,
      });
      expect((await connector.describe()).columns).toHaveLength(2);
      // Port 1 refuses connections; only the first use finds out.
      expect(() => db.open({ source: 'postgres://u@127.0.0.1:1/test', table: 'x', key: 'id' })).not.toThrow();
    });

    it('the connections carry application_name usersync', async () => {
      const table = await db.makeTable('id serial primary key, email text');
      const connector = db.open({ table: `${db.name()}.${table}` });
      await connector.describe();
      const rows = await db.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity where application_name = 'usersync' and datname = 'test'`,
      );
      expect(rows[0]?.n).toBeGreaterThan(0);
    });
  });
});
