import fc from 'fast-check';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { parseTimestamptz } from '../../src/connectors/postgres/postgres-type-parsers.js';
import { parseDate } from '../../src/core/normalize.js';
import { scanAll } from './contract.js';
import { POSTGRES_TEST_URL, postgresReachable, usePostgresSources } from '../support/postgres.js';

const reachable = await postgresReachable();

const TYPED_COLUMNS = `id serial primary key, ts timestamptz, naive timestamp, d date, flag boolean,
  amount numeric(10, 2), big bigint, doc jsonb, raw json, n integer, f double precision`;
const NAMES = ['ts', 'naive', 'd', 'flag', 'amount', 'big', 'doc', 'raw', 'n', 'f'];

describe.runIf(reachable)('postgres source values', () => {
  const db = usePostgresSources();
  const zone = process.env.TZ;
  afterEach(() => {
    if (zone === undefined) delete process.env.TZ;
    else process.env.TZ = zone;
  });

  async function typedTable(): Promise<string> {
    const table = await db.makeTable(TYPED_COLUMNS);
    await db.query(
      `insert into ${db.qualified(table)} (ts, naive, d, flag, amount, big, doc, raw, n, f) values
        ('2024-05-01 09:30:00.123456+02', '2024-05-01 09:30:00.123456', '2024-05-01', true, 12.5,
         9007199254740993, '{"b": [1, 2], "a": "x"}', '{ "a" : 1 }', 42, 1.5)`,
    );
    return table;
  }

  it('reads each type as the core understands it', async () => {
    const table = await typedTable();
    const connector = db.open({ table: `${db.name()}.${table}` });
    const { byKey } = await scanAll(connector, NAMES);
    expect(byKey.get('1')).toEqual({
      ts: new Date('2024-05-01T07:30:00.123Z'),
      naive: '2024-05-01 09:30:00.123456',
      d: '2024-05-01',
      flag: true,
      amount: '12.50',
      big: '9007199254740993',
      doc: '{"a": "x", "b": [1, 2]}',
      raw: '{ "a" : 1 }',
      n: 42,
      f: 1.5,
    });
    // The core reads the zone-less timestamp and the date as UTC, whatever the process's zone.
    const values = byKey.get('1')!;
    expect(parseDate(values.naive)).toEqual({ ok: true, value: '2024-05-01T09:30:00.123Z' });
    expect(parseDate(values.d)).toEqual({ ok: true, value: '2024-05-01T00:00:00.000Z' });
  });

  it('leaves the process-wide pg type parsers alone', async () => {
    const table = await typedTable();
    await scanAll(db.open({ table: `${db.name()}.${table}` }), NAMES);
    const client = new pg.Client({ connectionString: POSTGRES_TEST_URL });
    await client.connect();
    try {
      const { rows } = await client.query(`select naive, d from ${db.qualified(table)}`);
      expect(rows[0].naive).toBeInstanceOf(Date);
      expect(rows[0].d).toBeInstanceOf(Date);
    } finally {
      await client.end();
    }
  });

  it('a conditional update matches every type as it was read', async () => {
    const table = await typedTable();
    await db.query(`update ${db.qualified(table)} set ts = now()`); // microseconds, which a Date drops
    const connector = db.open({ table: `${db.name()}.${table}` });
    const read = (await scanAll(connector, NAMES)).byKey.get('1')!;
    expect(await connector.update([{ key: '1', set: { n: 43 }, expect: read }])).toEqual([{ status: 'ok' }]);
    const nulls = Object.fromEntries(NAMES.map((name) => [name, null]));
    const blank = await db.makeTable(TYPED_COLUMNS);
    await db.query(`insert into ${db.qualified(blank)} default values`);
    const other = db.open({ table: `${db.name()}.${blank}` });
    expect(await other.update([{ key: '1', set: { n: 1 }, expect: nulls }])).toEqual([{ status: 'ok' }]);
  });

  it('writes Dates, objects and text into typed columns, independent of the process zone', async () => {
    process.env.TZ = 'America/New_York';
    const table = await db.makeTable(TYPED_COLUMNS);
    const connector = db.open({ table: `${db.name()}.${table}` });
    const when = new Date('2024-06-01T12:00:00.250Z');
    const [inserted] = await connector.insert([
      {
        values: {
          ts: when,
          naive: when,
          d: '2024-06-02',
          flag: false,
          amount: '3.14',
          big: 12n,
          doc: { x: [1], y: 'z' },
          raw: [1, 'two'],
          n: '7',
          f: 2.5,
        },
        fallbackKey: 'ignored',
      },
    ]);
    expect(inserted).toEqual({ status: 'ok', key: '1' });
    const [row] = await db.query(
      `select ts = '2024-06-01T12:00:00.250Z' as ts_ok, naive::text, d::text, flag, amount::text, big::text,
        doc::text, raw::text, n, f from ${db.qualified(table)}`,
    );
    expect(row).toEqual({
      ts_ok: true,
      naive: '2024-06-01 12:00:00.25',
      d: '2024-06-02',
      flag: false,
      amount: '3.14',
      big: '12',
      doc: '{"x": [1], "y": "z"}',
      raw: '[1,"two"]',
      n: 7,
      f: 2.5,
    });
  });

  it('an update is stale when a timestamptz changed meanwhile, even by a millisecond', async () => {
    const table = await db.makeTable(
      'id serial primary key, email text, updated_at timestamptz default now()',
    );
    await db.query(`insert into ${db.qualified(table)} (email) values ('a@x.io'), ('b@x.io')`);
    const connector = db.open({ table: `${db.name()}.${table}` });
    const read = (await scanAll(connector, ['email', 'updated_at'])).byKey;
    expect(read.get('1')?.updated_at).toBeInstanceOf(Date);
    await db.query(
      `update ${db.qualified(table)} set updated_at = updated_at + interval '1 millisecond' where id = 1`,
    );
    await db.query(
      `update ${db.qualified(table)} set updated_at = updated_at - interval '1 millisecond' where id = 2`,
    );
    const results = await connector.update(
      ['1', '2'].map((key) => ({ key, set: { email: 'changed@x.io' }, expect: read.get(key)! })),
    );
    expect(results).toEqual([{ status: 'stale' }, { status: 'stale' }]);
    const after = (await scanAll(connector, ['email', 'updated_at'])).byKey;
    expect(
      await connector.update([{ key: '1', set: { email: 'changed@x.io' }, expect: after.get('1')! }]),
    ).toEqual([{ status: 'ok' }]);
  });

  it('an expected NULL matches a NULL value and nothing else', async () => {
    const table = await db.makeTable('id serial primary key, email text, phone text');
    await db.query(`insert into ${db.qualified(table)} (email) values ('a@x.io')`);
    const connector = db.open({ table: `${db.name()}.${table}` });
    expect(await connector.update([{ key: '1', set: { phone: '123' }, expect: { phone: null } }])).toEqual([
      { status: 'ok' },
    ]);
    expect(await connector.update([{ key: '1', set: { phone: '456' }, expect: { phone: null } }])).toEqual([
      { status: 'stale' },
    ]);
    expect(await connector.update([{ key: '1', set: {}, expect: { phone: '123' } }])).toEqual([
      { status: 'ok' },
    ]);
  });

  /** Day n of 2024 (n from 1): row n's updated_at in `membersUpdated`. */
  const DAY_N = `timestamptz '2024-01-01 00:00:00Z' + n * interval '1 day'`;

  /** `rows` members p1@x.io … whose updated_at is `updatedAt` (SQL over n), and a connector on them. */
  async function membersUpdated(rows: number, updatedAt: string) {
    const name = await db.makeTable('id serial primary key, email text, updated_at timestamptz');
    const table = db.qualified(name);
    await db.query(
      `insert into ${table} (email, updated_at)
        select 'p' || n || '@x.io', ${updatedAt} from generate_series(1, ${rows}) n`,
    );
    return { table, connector: db.open({ table: `${db.name()}.${name}` }) };
  }

  it('reads rows changed since a cursor, in pages of one server-side cursor', async () => {
    const { connector } = await membersUpdated(9, DAY_N);
    expect(connector.capabilities.supportsCursor).toBe(true);
    const pagesSince = async (since: unknown) => {
      const pages: string[][] = [];
      for await (const page of connector.readChangedSince!('updated_at', since, {
        columns: ['email'],
        pageSize: 4,
      }))
        pages.push(page.map((row) => row.key));
      return pages;
    };
    const sorted = (pages: string[][]) => pages.flat().sort((a, b) => Number(a) - Number(b));
    const fromFourth = await pagesSince(new Date('2024-01-05T00:00:00Z'));
    expect(fromFourth.map((page) => page.length)).toEqual([4, 2]);
    expect(sorted(fromFourth)).toEqual(['4', '5', '6', '7', '8', '9']);
    expect(await pagesSince('2024-01-09T00:00:00Z')).toEqual([expect.arrayContaining(['8', '9'])]);
    expect(await pagesSince('2030-01-01')).toEqual([]);
    // Exactly a page's worth: the empty fetch after it ends the read.
    expect((await pagesSince('2024-01-07T00:00:00Z')).map((page) => page.length)).toEqual([4]);
  });

  it('reads the changed rows as they were when the read began, each once', async () => {
    const { table, connector } = await membersUpdated(9, DAY_N);
    const seen: string[] = [];
    for await (const page of connector.readChangedSince!('updated_at', '2024-01-01', {
      columns: ['email'],
      pageSize: 3,
    })) {
      // Every row edited (its cursor moved on) and one added while the read is under way.
      if (seen.length === 0) {
        await db.query(
          `update ${table} set email = 'edited@x.io', updated_at = '2025-01-01';
           insert into ${table} (email, updated_at) values ('late@x.io', '2025-01-01')`,
        );
      }
      seen.push(...page.map((row) => `${row.key}:${String(row.values.email)}`));
    }
    expect(seen.sort()).toEqual(Array.from({ length: 9 }, (_, i) => `${i + 1}:p${i + 1}@x.io`).sort());
  });

  it('gives its connection back when the caller stops early or a fetch fails', async () => {
    const { connector } = await membersUpdated(20, `'2024-01-01'`);
    const options = { columns: ['email'], pageSize: 5 };
    // More early stops than the pool has connections: a read that kept its own would hang here.
    for (let i = 0; i < 6; i++) {
      for await (const page of connector.readChangedSince!('updated_at', '2024-01-01', options)) {
        expect(page).toHaveLength(5);
        break;
      }
    }
    // A value the column cannot take fails the read with what PostgreSQL said, and frees it too.
    for (let i = 0; i < 6; i++) {
      await expect(async () => {
        for await (const page of connector.readChangedSince!('updated_at', 'not a date', options)) void page;
      }).rejects.toThrow(/not a date/);
    }
    const all = [];
    for await (const page of connector.readChangedSince!('updated_at', '2024-01-01', options))
      all.push(...page);
    expect(all).toHaveLength(20);
  });

  it('looks up case-insensitively with lower(btrim()), and long lists in chunks', async () => {
    const table = await db.makeTable('id serial primary key, email text');
    await db.query(
      `insert into ${db.qualified(table)} (email) select 'P' || n || '@X.io ' from generate_series(1, 1200) n`,
    );
    const connector = db.open({ table: `${db.name()}.${table}` });
    const wanted = Array.from({ length: 1500 }, (_, i) => ` p${i + 1}@x.IO`);
    const found = await connector.lookup('email', wanted, ['email'], { caseInsensitive: true });
    expect(found).toHaveLength(1200);
    expect(await connector.lookup('email', ['P7@X.io '], ['email'])).toEqual([
      { key: '7', values: { email: 'P7@X.io ' } },
    ]);
  });
});

describe('timestamptz text', () => {
  const pgDefault = pg.types.getTypeParser(1184, 'text') as (text: string) => unknown;
  const same = (text: string): void => {
    expect(parseTimestamptz(text), text).toEqual(pgDefault(text));
  };

  it('is read as pg reads it by default, in the shapes the server sends (property)', () => {
    const two = fc.integer({ min: 0, max: 99 }).map((n) => String(n).padStart(2, '0'));
    const serverShape = fc
      .tuple(
        fc.integer({ min: 0, max: 12_000 }).map((y) => String(y).padStart(4, '0')),
        two,
        two,
        two,
        two,
        two,
        fc.option(fc.stringMatching(/^\.[0-9]{1,7}$/), { nil: '' }),
        fc.constantFrom('+', '-', ' ', ''),
        two,
        fc.option(
          two.map((m) => `:${m}`),
          { nil: '' },
        ),
        fc.option(
          two.map((s) => `:${s}`),
          { nil: '' },
        ),
        fc.constantFrom('', '', '', ' BC', 'x'),
      )
      .map(([y, mo, d, h, mi, s, frac, sign, oh, om, os, tail]) =>
        [y, '-', mo, '-', d, ' ', h, ':', mi, ':', s, frac, sign, oh, om, os, tail].join(''),
      );
    fc.assert(
      fc.property(serverShape, (text) => same(text)),
      { numRuns: 5_000 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => same(text)),
      { numRuns: 2_000 },
    );
  });

  it.runIf(reachable)(
    'is read as pg reads it by default, in the text the server sends in any zone',
    async () => {
      const client = new pg.Client(POSTGRES_TEST_URL);
      await client.connect();
      try {
        // Half-hour zones, a zone whose 1900 offset has seconds (local mean time), BC, infinity.
        for (const zone of ['UTC', 'Asia/Kolkata', 'America/St_Johns', 'Europe/Amsterdam']) {
          await client.query(`set time zone '${zone}'`);
          const { rows } = await client.query<{ t: string }>(`select t::text as t from unnest(array[
            timestamptz '2024-05-01 09:30:00.123456+02', '1900-01-01 00:00:00+00', '0050-06-01 12:00:00+00',
            '10000-01-01 00:00:00+00', '0044-03-15 12:00:00+00 BC', 'infinity', '-infinity',
            now(), '1999-12-31 23:59:59.999999+00', '2024-02-29 12:00:00.5+00'
          ]) as t`);
          for (const { t } of rows) same(t);
        }
      } finally {
        await client.end();
      }
    },
  );
});
