import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { SourceRow } from '../../src/connectors/connector.js';
import { openMysql, SESSION_SQL_MODE } from '../../src/connectors/mysql/mysql-open.js';
import { parseMysqlUrl } from '../../src/connectors/mysql/mysql-url.js';
import { mysqlAvailable, useMysqlFixture } from '../support/mysql.js';
import { scanAll } from './contract.js';

const available = await mysqlAvailable();

describe.skipIf(!available)('mysql connector values', () => {
  const db = useMysqlFixture();

  async function typedTable(): Promise<string> {
    const table = db.tableName('typed');
    await db.query(
      `create table ${table} (id int primary key, born date, seen datetime(3), stamp timestamp null,
        active tinyint(1), credit decimal(10,2), big bigint, prefs json, kind enum('a','b'), note text)`,
    );
    return table;
  }

  it('describe lists the columns with their declared types, marking what the server fills in', async () => {
    const table = db.tableName();
    await db.query(
      `create table ${table} (id int auto_increment primary key, email varchar(80) not null,
        plan varchar(10) default 'free', note text, upper_email varchar(80) as (upper(email)) virtual,
        created timestamp not null default current_timestamp, flag tinyint(1) not null)`,
    );
    const description = await db.open({ table }).describe();
    expect(description.columns).toEqual([
      { name: 'id', type: 'int(11)', nullable: false, generated: true },
      { name: 'email', type: 'varchar(80)', nullable: false, generated: false },
      { name: 'plan', type: 'varchar(10)', nullable: true, generated: true },
      { name: 'note', type: 'text', nullable: true, generated: false },
      { name: 'upper_email', type: 'varchar(80)', nullable: true, generated: true },
      { name: 'created', type: 'timestamp', nullable: false, generated: true },
      { name: 'flag', type: 'tinyint(1)', nullable: false, generated: false },
    ]);
  });

  it('each session is strict and in UTC, whatever the server defaults to', async () => {
    const kysely = openMysql(parseMysqlUrl(db.url()), false);
    try {
      const { rows } = await sql<{ mode: string; zone: string }>`select @@session.sql_mode as mode,
        @@session.time_zone as zone`.execute(kysely);
      expect(rows).toEqual([{ mode: SESSION_SQL_MODE, zone: '+00:00' }]);
    } finally {
      await kysely.destroy();
    }
  });

  it('reads DATETIME, TIMESTAMP, DATE, TINYINT, DECIMAL, BIGINT and JSON as the server prints them', async () => {
    const table = await typedTable();
    // Written in another time zone: the connector still reads the TIMESTAMP in UTC.
    await db.query(`set session time_zone = '+02:00'`);
    await db.query(
      `insert into ${table} values (1, '1990-05-17', '2024-03-01 08:30:00.250', '2024-03-01 10:30:00',
        1, 12.50, 9007199254740993, '{"theme": "dark"}', 'b', 'hello')`,
    );
    await db.query(`set session time_zone = '+00:00'`);
    await db.query(`insert into ${table} (id) values (2)`);
    const connector = db.open({ table });
    const columns = ['born', 'seen', 'stamp', 'active', 'credit', 'big', 'prefs', 'kind', 'note'];
    const { byKey } = await scanAll(connector, columns);
    expect(byKey.get('1')).toEqual({
      born: '1990-05-17',
      seen: '2024-03-01 08:30:00.250',
      stamp: '2024-03-01 08:30:00',
      active: 1,
      credit: '12.50',
      big: '9007199254740993',
      prefs: '{"theme": "dark"}',
      kind: 'b',
      note: 'hello',
    });
    expect(byKey.get('2')).toEqual(Object.fromEntries(columns.map((c) => [c, null])));
  });

  it('writes ISO-8601 times and booleans as the columns take them, and reads them back', async () => {
    const table = await typedTable();
    const connector = db.open({ table });
    const inserted = await connector.insert([
      {
        values: {
          id: 1,
          born: '1990-05-17T00:00:00.000Z',
          seen: '2024-03-01T10:30:00.250+02:00',
          stamp: new Date('2024-03-01T08:30:00Z'),
          active: false,
          credit: '7.5',
          prefs: { theme: 'light' },
        },
        fallbackKey: 'x',
      },
    ]);
    expect(inserted).toEqual([{ status: 'ok', key: '1' }]);
    const read = (await scanAll(connector, ['born', 'seen', 'stamp', 'active', 'credit', 'prefs'])).byKey.get(
      '1',
    );
    expect(read).toEqual({
      born: '1990-05-17',
      seen: '2024-03-01 08:30:00.250',
      stamp: '2024-03-01 08:30:00',
      active: 0,
      credit: '7.50',
      prefs: '{"theme":"light"}',
    });
    // The values as read are what the next update expects.
    expect(
      await connector.update([
        { key: '1', set: { stamp: '2024-04-01T00:00:00Z', active: true }, expect: read ?? {} },
      ]),
    ).toEqual([{ status: 'ok' }]);
    expect((await scanAll(connector, ['stamp', 'active'])).byKey.get('1')).toEqual({
      stamp: '2024-04-01 00:00:00',
      active: 1,
    });
  });

  it('a value that does not fit fails its row (strict mode) instead of being truncated', async () => {
    const table = db.tableName();
    await db.query(
      `create table ${table} (id int primary key, code varchar(3), n tinyint, d date, e varchar(10) not null default 'x',
        constraint positive check (n >= 0))`,
    );
    const connector = db.open({ table });
    const results = await connector.insert([
      { values: { id: 1, code: 'toolong' }, fallbackKey: 'x' },
      { values: { id: 2, n: 1000 }, fallbackKey: 'x' },
      { values: { id: 3, d: 'not a date' }, fallbackKey: 'x' },
      { values: { id: 4, n: -1 }, fallbackKey: 'x' },
      { values: { id: 5, e: null }, fallbackKey: 'x' },
      { values: { id: 6, n: 'abc' }, fallbackKey: 'x' },
      { values: { id: 7, code: 'ok', n: 1, d: '2024-01-01' }, fallbackKey: 'x' },
    ]);
    expect(results.map((r) => r.status)).toEqual([
      'failed',
      'failed',
      'failed',
      'failed',
      'failed',
      'failed',
      'ok',
    ]);
    const errors = results.map((r) => (r.status === 'failed' ? r.error : ''));
    expect(errors[0]).toMatch(/too long/i);
    expect(errors[1]).toMatch(/out of range/i);
    expect(errors[2]).toMatch(/incorrect date value/i);
    expect(errors[3]).toMatch(/CONSTRAINT .*positive/i);
    expect(errors[4]).toMatch(/cannot be null/i);
    expect(errors[5]).toMatch(/incorrect integer value/i);
    expect((await scanAll(connector, ['code'])).rows).toEqual([{ key: '7', values: { code: 'ok' } }]);
  });

  it('reads rows changed since a cursor, paged by key', async () => {
    const table = db.tableName();
    await db.query(`create table ${table} (id int primary key, email varchar(50), updated_at datetime)`);
    for (let id = 1; id <= 9; id++) {
      await db.query(`insert into ${table} values (?, ?, ?)`, [id, `p${id}@x.io`, `2024-01-0${id} 12:00:00`]);
    }
    const connector = db.open({ table });
    expect(connector.capabilities.supportsCursor).toBe(true);
    const read = async (since: unknown) => {
      const pages: SourceRow[][] = [];
      for await (const page of connector.readChangedSince!('updated_at', since, {
        columns: ['email'],
        pageSize: 4,
      }))
        pages.push(page);
      return pages.map((page) => page.map((row) => row.key));
    };
    expect(await read('2024-01-04 12:00:00')).toEqual([
      ['4', '5', '6', '7'],
      ['8', '9'],
    ]);
    // An ISO-8601 UTC cursor, as the core keeps times, means the same instant.
    expect(await read('2024-01-08T12:00:00.000Z')).toEqual([['8', '9']]);
  });

  it('looks up long lists of values in chunks', async () => {
    const table = db.tableName();
    await db.query(`create table ${table} (id int auto_increment primary key, email varchar(50))`);
    const emails = Array.from({ length: 2500 }, (_, i) => `p${i}@x.io`);
    await db.query(`insert into ${table} (email) values ${emails.map(() => '(?)').join(', ')}`, emails);
    const connector = db.open({ table });
    const wanted = [...emails, ...Array.from({ length: 300 }, (_, i) => `missing${i}@x.io`)];
    expect(await connector.lookup('email', wanted, ['email'])).toHaveLength(2500);
    expect(
      await connector.lookup('email', [' P7@X.IO', 'p8@x.io'], ['email'], { caseInsensitive: true }),
    ).toHaveLength(2);
  });

  it('an integer column is looked up by number, and a text column only by its exact text', async () => {
    const table = db.tableName();
    await db.query(`create table ${table} (id int primary key, code varchar(10), n int)`);
    await db.query(`insert into ${table} values (1, '7abc', 7), (2, 'Abc', 8), (3, '7', 9)`);
    const connector = db.open({ table });
    const keys = async (column: string, values: unknown[]) =>
      (await connector.lookup(column, values, [])).map((row) => row.key).sort();
    expect(await keys('code', [7])).toEqual(['3']);
    expect(await keys('code', ['abc'])).toEqual([]);
    expect(await keys('code', ['Abc'])).toEqual(['2']);
    expect(await keys('n', ['7', 8])).toEqual(['1', '2']);
    expect(await keys('id', ['3'])).toEqual(['3']);
  });
});
