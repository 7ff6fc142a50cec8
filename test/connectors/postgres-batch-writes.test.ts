import pg from 'pg';
import { describe, expect, it, vi } from 'vitest';
import type { RowUpdate } from '../../src/connectors/connector.js';
import { scanAll } from './contract.js';
import { postgresReachable, usePostgresSources, type PostgresSources } from '../support/postgres.js';

const reachable = await postgresReachable();

/** Counts the UPDATE statements run on a table (a statement-level trigger fires once per statement). */
async function countStatements(db: PostgresSources, table: string): Promise<() => Promise<number>> {
  const counter = db.qualified(`${table}_statements`);
  const bump = db.qualified(`${table}_bump`);
  await db.query(`create table ${counter} (n int not null)`);
  await db.query(`insert into ${counter} values (0)`);
  await db.query(
    `create function ${bump}() returns trigger language plpgsql as $$ begin update ${counter} set n = n + 1; return null; end $$`,
  );
  await db.query(
    `create trigger count_statements after update on ${db.qualified(table)} for each statement execute function ${bump}()`,
  );
  return async () => (await db.query<{ n: number }>(`select n from ${counter}`))[0]!.n;
}

/** What `work` sends to the server, statement by statement (every query passes through pg's Client.query). */
async function sentDuring<T>(work: () => Promise<T>): Promise<{ result: T; sent: string[] }> {
  const query = vi.spyOn(pg.Client.prototype, 'query');
  try {
    const result = await work();
    return { result, sent: query.mock.calls.map(([text]) => String(text).trim().toLowerCase()) };
  } finally {
    query.mockRestore();
  }
}

describe.runIf(reachable)('postgres source: a batch of updates', () => {
  const db = usePostgresSources();

  it('is one statement for a batch of updates of the same columns, and each row is judged on its own', async () => {
    const table = await db.makeTable('id integer primary key, email text, user_id text, seen timestamptz');
    await db.query(
      `insert into ${db.qualified(table)} select n, 'p' || n || '@x.io', null, null from generate_series(1, 500) n`,
    );
    const statements = await countStatements(db, table);
    await db.query(`update ${db.qualified(table)} set email = 'moved@x.io' where id = 7`);
    await db.query(`delete from ${db.qualified(table)} where id = 9`);
    const before = await statements();
    const connector = db.open({ table: `${db.name()}.${table}` });
    const updates: RowUpdate[] = Array.from({ length: 500 }, (_, i) => ({
      key: String(i + 1),
      set: { user_id: `u${i + 1}` },
      expect: { email: `p${i + 1}@x.io`, user_id: null },
    }));
    const { result: results, sent } = await sentDuring(() => connector.update(updates));
    expect(await statements()).toBe(before + 1);
    // One statement is atomic: no BEGIN and COMMIT around it.
    expect(sent.filter((text) => text.startsWith('update'))).toHaveLength(1);
    expect(sent.filter((text) => text === 'begin' || text === 'commit')).toEqual([]);
    expect(results[6]).toEqual({ status: 'stale' }); // changed meanwhile
    expect(results[8]).toEqual({ status: 'stale' }); // gone
    expect(results.filter((r) => r.status === 'ok')).toHaveLength(498);
    const { byKey } = await scanAll(connector, ['user_id']);
    expect(byKey.get('1')?.user_id).toBe('u1');
    expect(byKey.get('7')?.user_id).toBeNull();
  });

  it('updates of different columns go by shape, in one transaction, results in input order', async () => {
    const table = await db.makeTable('id text primary key, a text, b text');
    await db.query(
      `insert into ${db.qualified(table)} values ('x', '1', '1'), ('y', '1', '1'), ('z', '1', '1')`,
    );
    const statements = await countStatements(db, table);
    const before = await statements();
    const connector = db.open({ table: `${db.name()}.${table}` });
    const { result: results, sent } = await sentDuring(() =>
      connector.update([
        { key: 'x', set: { a: '2' }, expect: { a: '1' } },
        { key: 'y', set: { b: '2' }, expect: { b: '0' } },
        { key: 'z', set: { a: '2', b: '2' }, expect: { b: '1', a: '1' } },
        { key: 'y', set: {}, expect: { a: '1' } },
      ]),
    );
    expect(results).toEqual([{ status: 'ok' }, { status: 'stale' }, { status: 'ok' }, { status: 'ok' }]);
    expect(await statements()).toBe(before + 3);
    expect(sent.filter((text) => text === 'begin' || text === 'commit')).toEqual(['begin', 'commit']);
    expect(await db.query(`select id, a, b from ${db.qualified(table)} order by id`)).toEqual([
      { id: 'x', a: '2', b: '1' },
      { id: 'y', a: '1', b: '1' },
      { id: 'z', a: '2', b: '2' },
    ]);
  });

  it('a batch of one statement with a row the table refuses: nothing half-written, then row by row', async () => {
    const table = await db.makeTable('id integer primary key, email text unique');
    await db.query(
      `insert into ${db.qualified(table)} select i, 'p' || i || '@x.io' from generate_series(1, 3) i`,
    );
    const connector = db.open({ table: `${db.name()}.${table}` });
    const results = await connector.update([
      { key: '1', set: { email: 'one@x.io' }, expect: { email: 'p1@x.io' } },
      { key: '2', set: { email: 'p3@x.io' }, expect: { email: 'p2@x.io' } }, // unique violation
      { key: '3', set: { email: 'three@x.io' }, expect: { email: 'p3@x.io' } },
    ]);
    expect(results.map((r) => r.status)).toEqual(['ok', 'failed', 'ok']);
    expect(results[1]).toMatchObject({ error: expect.stringMatching(/already exists/) });
    expect(await db.query(`select id, email from ${db.qualified(table)} order by id`)).toEqual([
      { id: 1, email: 'one@x.io' },
      { id: 2, email: 'p2@x.io' },
      { id: 3, email: 'three@x.io' },
    ]);
  });

  it('a key repeated in a batch sees the earlier update, as one row after another would', async () => {
    const table = await db.makeTable('id text primary key, n text');
    await db.query(`insert into ${db.qualified(table)} values ('a', '1'), ('b', '1')`);
    const connector = db.open({ table: `${db.name()}.${table}` });
    const results = await connector.update([
      { key: 'a', set: { n: '2' }, expect: { n: '1' } },
      { key: 'b', set: { n: '2' }, expect: { n: '1' } },
      { key: 'a', set: { n: '3' }, expect: { n: '2' } },
      { key: 'a', set: { n: '4' }, expect: { n: '2' } },
    ]);
    expect(results.map((r) => r.status)).toEqual(['ok', 'ok', 'ok', 'stale']);
    expect(await db.query(`select id, n from ${db.qualified(table)} order by id`)).toEqual([
      { id: 'a', n: '3' },
      { id: 'b', n: '2' },
    ]);
  });

  it('one row the table refuses fails alone; the rest of the batch lands', async () => {
    const table = await db.makeTable('id integer primary key, email text unique, n integer, code varchar(3)');
    await db.query(
      `insert into ${db.qualified(table)} select i, 'p' || i || '@x.io', i, 'c' from generate_series(1, 6) i`,
    );
    const connector = db.open({ table: `${db.name()}.${table}` });
    const results = await connector.update([
      { key: '1', set: { email: 'one@x.io' }, expect: { n: 1 } },
      { key: '2', set: { email: 'p3@x.io' }, expect: { n: 2 } }, // unique violation
      { key: '4', set: { n: 'four' }, expect: { n: 4 } }, // not an integer
      { key: '5', set: { code: 'toolong' }, expect: { code: 'c' } }, // refused, not cut short
      { key: '6', set: { email: 'six@x.io' }, expect: { n: 6 } },
    ]);
    expect(results.map((r) => r.status)).toEqual(['ok', 'failed', 'failed', 'failed', 'ok']);
    expect(results[1]).toMatchObject({ error: expect.stringMatching(/already exists/) });
    expect(results[3]).toMatchObject({ error: expect.stringMatching(/too long/) });
    expect(await db.query(`select id, email, code from ${db.qualified(table)} order by id`)).toEqual([
      { id: 1, email: 'one@x.io', code: 'c' },
      { id: 2, email: 'p2@x.io', code: 'c' },
      { id: 3, email: 'p3@x.io', code: 'c' },
      { id: 4, email: 'p4@x.io', code: 'c' },
      { id: 5, email: 'p5@x.io', code: 'c' },
      { id: 6, email: 'six@x.io', code: 'c' },
    ]);
  });

  it('checks every type as it was read, NULLs among them, with uuid keys, in one batch', async () => {
    const table = await db.makeTable(
      `id uuid primary key default gen_random_uuid(), ts timestamptz, naive timestamp(3), d date,
       flag boolean, amount numeric(10, 2), big bigint, doc jsonb, raw json, code char(4), note varchar(10),
       n integer`,
    );
    await db.query(
      `insert into ${db.qualified(table)} (ts, naive, d, flag, amount, big, doc, raw, code, note)
        select now() + i * interval '1 second', '2024-05-01 09:30:00.123', '2024-05-01', i % 2 = 0, 12.5 + i,
          9007199254740993 + i, '{"b": [1, 2], "a": "x"}', cast('{ "a" : ' || i || ' }' as json), 'ab', 'note ' || i
        from generate_series(1, 20) i`,
    );
    await db.query(`insert into ${db.qualified(table)} default values`);
    const names = ['ts', 'naive', 'd', 'flag', 'amount', 'big', 'doc', 'raw', 'code', 'note', 'n'];
    const statements = await countStatements(db, table);
    const connector = db.open({ table: `${db.name()}.${table}` });
    const read = (await scanAll(connector, names)).rows;
    expect(read).toHaveLength(21);
    // Keys are random uuids: the row edited is one with a timestamp (not the row of NULLs).
    const at = read.findIndex((row) => row.values.ts !== null);
    const changed = read[at]!.key;
    await db.query(`update ${db.qualified(table)} set ts = ts + interval '1 millisecond' where id = $1`, [
      changed,
    ]);
    const before = await statements();
    const results = await connector.update(
      read.map((row, i) => ({ key: row.key, set: { n: i }, expect: row.values })),
    );
    // Two shapes: a NULL timestamp is checked as NULL, a Date to the millisecond.
    expect(await statements()).toBe(before + 2);
    expect(results.filter((r) => r.status === 'stale')).toHaveLength(1);
    expect(results[at]).toEqual({ status: 'stale' });
    expect(results.filter((r) => r.status === 'ok')).toHaveLength(20);
    const after = (await scanAll(connector, ['n'])).byKey;
    const other = at === 0 ? 1 : 0;
    expect(after.get(read[other]!.key)?.n).toBe(other);
    expect(after.get(changed)?.n).toBeNull();
  });

  it('a key: without a unique index: a key that matches several rows fails, the others land', async () => {
    const table = await db.makeTable('id serial primary key, code text, email text');
    await db.query(
      `insert into ${db.qualified(table)} (code, email) values ('a', 'a@x.io'), ('b', 'b1@x.io'), ('b', 'b2@x.io'), ('c', 'c@x.io')`,
    );
    const connector = db.open({ table: `${db.name()}.${table}`, key: 'code' });
    const results = await connector.update([
      { key: 'a', set: { email: 'A@x.io' }, expect: { email: 'a@x.io' } },
      { key: 'b', set: { email: 'B@x.io' }, expect: {} },
      { key: 'c', set: { email: 'C@x.io' }, expect: { email: 'c@x.io' } },
    ]);
    expect(results[0]).toEqual({ status: 'ok' });
    expect(results[1]).toMatchObject({ status: 'failed', error: expect.stringMatching(/matches 2 rows/) });
    expect(results[2]).toEqual({ status: 'ok' });
    expect(await db.query(`select email from ${db.qualified(table)} order by id`)).toEqual([
      { email: 'A@x.io' },
      { email: 'b1@x.io' },
      { email: 'b2@x.io' },
      { email: 'C@x.io' },
    ]);
  });

  it('an array value goes alone, row by row, and is still checked and written', async () => {
    const table = await db.makeTable('id integer primary key, tags text[], n integer');
    await db.query(`insert into ${db.qualified(table)} values (1, '{x,"y z"}', 0), (2, '{}', 0)`);
    const connector = db.open({ table: `${db.name()}.${table}` });
    const read = (await scanAll(connector, ['tags', 'n'])).byKey;
    expect(read.get('1')?.tags).toEqual(['x', 'y z']);
    const results = await connector.update([
      { key: '1', set: { tags: ['a', 'b'] }, expect: read.get('1')! },
      { key: '2', set: { n: 2 }, expect: { tags: ['nope'] } },
    ]);
    expect(results).toEqual([{ status: 'ok' }, { status: 'stale' }]);
    expect((await scanAll(connector, ['tags'])).byKey.get('1')?.tags).toEqual(['a', 'b']);
  });
});
