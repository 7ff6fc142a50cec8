import mysql from 'mysql2';
import { describe, expect, it, vi } from 'vitest';
import { parseMysqlUrl } from '../../src/connectors/mysql/mysql-url.js';
import { openMysql } from '../../src/connectors/mysql/mysql-open.js';
import { loadTableInfo } from '../../src/connectors/mysql/mysql-schema.js';
import { insertRows } from '../../src/connectors/mysql/mysql-writes.js';
import { mysqlAvailable, useMysqlFixture } from '../support/mysql.js';
import { scanAll } from './contract.js';

const available = await mysqlAvailable();

describe.skipIf(!available)('mysql connector writes', () => {
  const db = useMysqlFixture();

  async function people(): Promise<string> {
    const table = db.tableName('people');
    await db.query(
      `create table ${table} (id int auto_increment primary key, email varchar(50) not null unique,
        plan varchar(10), phone varchar(20))`,
    );
    await db.query(`insert into ${table} (email, plan) values ('a@x.io', 'pro'), ('b@x.io', 'free')`);
    return table;
  }

  it('a duplicate entry fails its row alone; the rows around it commit with their new keys', async () => {
    const table = await people();
    const connector = db.open({ table });
    const results = await connector.insert([
      { values: { email: 'c@x.io' }, fallbackKey: 'dir-c' },
      { values: { email: 'a@x.io' }, fallbackKey: 'dir-dup' },
      { values: { email: 'd@x.io' }, fallbackKey: 'dir-d' },
    ]);
    expect(results[0]).toEqual({ status: 'ok', key: '3' });
    expect(results[1]).toEqual({
      status: 'failed',
      error: expect.stringMatching(/Duplicate entry 'a@x.io'/),
    });
    expect(results[2]?.status).toBe('ok');
    const { byKey } = await scanAll(connector, ['email']);
    expect([...byKey.values()].map((v) => v.email)).toEqual(['a@x.io', 'b@x.io', 'c@x.io', 'd@x.io']);
  });

  it('without INSERT … RETURNING (MySQL) the AUTO_INCREMENT key comes from insertId', async () => {
    const table = await people();
    const target = parseMysqlUrl(db.url());
    const kysely = openMysql(target, false);
    try {
      const info = await loadTableInfo(kysely, { schema: db.database(), name: table }, target.shown);
      const key = info.columns[0]!;
      const place = { address: target.address, user: target.user, database: db.database(), where: table };
      const results = await insertRows({ db: kysely, info, key, returning: false, place }, [
        { values: { email: 'e@x.io' }, fallbackKey: 'dir-e' },
        { values: { email: 'a@x.io' }, fallbackKey: 'dir-dup' },
        { values: { id: 50, email: 'f@x.io' }, fallbackKey: 'dir-f' },
        { values: { email: 'g@x.io' }, fallbackKey: 'dir-g' },
      ]);
      expect(results.map((r) => (r.status === 'ok' ? r.key : r.status))).toEqual(['3', 'failed', '50', '51']);
    } finally {
      await kysely.destroy();
    }
  });

  it('an update to the values already there is ok, not stale', async () => {
    const table = await people();
    const connector = db.open({ table });
    expect(await connector.update([{ key: '1', set: { plan: 'pro' }, expect: { plan: 'pro' } }])).toEqual([
      { status: 'ok' },
    ]);
    expect(await connector.update([{ key: '2', set: {}, expect: { plan: 'free' } }])).toEqual([
      { status: 'ok' },
    ]);
  });

  it('a concurrent change is stale, a change of case included, and is kept', async () => {
    const table = await people();
    const connector = db.open({ table });
    await db.query(`update ${table} set plan = 'Pro' where id = 1`);
    await db.query(`update ${table} set plan = 'team' where id = 2`);
    const results = await connector.update([
      { key: '1', set: { plan: 'free' }, expect: { plan: 'pro' } },
      { key: '2', set: { plan: 'free' }, expect: { plan: 'free' } },
      { key: '3', set: { plan: 'free' }, expect: { plan: 'free' } },
      { key: '2', set: {}, expect: { plan: 'free' } },
    ]);
    expect(results).toEqual([
      { status: 'stale' },
      { status: 'stale' },
      { status: 'stale' },
      { status: 'stale' },
    ]);
    const { byKey } = await scanAll(connector, ['plan']);
    expect([byKey.get('1')?.plan, byKey.get('2')?.plan]).toEqual(['Pro', 'team']);
  });

  it('an expected NULL matches a NULL value, and only a NULL', async () => {
    const table = await people();
    const connector = db.open({ table });
    expect(await connector.update([{ key: '1', set: { phone: '123' }, expect: { phone: null } }])).toEqual([
      { status: 'ok' },
    ]);
    expect(await connector.update([{ key: '1', set: { phone: '456' }, expect: { phone: null } }])).toEqual([
      { status: 'stale' },
    ]);
    expect(await connector.update([{ key: '1', set: { phone: null }, expect: { phone: '123' } }])).toEqual([
      { status: 'ok' },
    ]);
  });

  it('a batch of updates is one query of a statement a row, with no savepoint, until the server refuses a row', async () => {
    const table = await people();
    await db.query(`insert into ${table} (email, plan) values ('c@x.io', 'pro')`);
    const connector = db.open({ table });
    const sentDuring = async (work: () => Promise<unknown>) => {
      // Every statement passes through mysql2's Connection.query (Kysely's driver calls it).
      const query = vi.spyOn(mysql.Connection.prototype, 'query');
      try {
        const result = await work();
        return { result, sent: query.mock.calls.map(([text]) => String(text).toLowerCase()) };
      } finally {
        query.mockRestore();
      }
    };
    const taken = await sentDuring(() =>
      connector.update([
        { key: '1', set: { plan: 'team' }, expect: { plan: 'pro' } },
        { key: '2', set: { plan: 'pro' }, expect: { plan: 'free' } },
        { key: '3', set: { plan: 'free' }, expect: { plan: 'team' } }, // changed meanwhile: stale
        { key: '1', set: { phone: '1' }, expect: { plan: 'team' } }, // sees the first update
      ]),
    );
    expect(taken.result).toEqual([{ status: 'ok' }, { status: 'ok' }, { status: 'stale' }, { status: 'ok' }]);
    const updates = taken.sent.filter((text) => text.startsWith('update'));
    expect(updates).toHaveLength(1);
    expect(updates[0]!.split(';').filter((statement) => statement.trim().startsWith('update'))).toHaveLength(
      4,
    );
    expect(taken.sent.filter((text) => text.includes('savepoint'))).toEqual([]);

    const refused = await sentDuring(() =>
      connector.update([
        { key: '1', set: { phone: '11' }, expect: { plan: 'team' } },
        { key: '2', set: { email: 'c@x.io' }, expect: { plan: 'pro' } }, // a duplicate
        { key: '3', set: { phone: '3' }, expect: { plan: 'pro' } },
      ]),
    );
    expect(refused.result).toEqual([
      { status: 'ok' },
      { status: 'failed', error: expect.stringMatching(/Duplicate entry 'c@x.io'/) },
      { status: 'ok' },
    ]);
    // Sent together, rolled back, then row by row behind savepoints.
    expect(refused.sent.filter((text) => text.startsWith('savepoint'))).toHaveLength(3);
    const { byKey } = await scanAll(connector, ['email', 'plan', 'phone']);
    expect([...byKey.values()]).toEqual([
      { email: 'a@x.io', plan: 'team', phone: '11' },
      { email: 'b@x.io', plan: 'pro', phone: null },
      { email: 'c@x.io', plan: 'pro', phone: '3' },
    ]);
  });

  it('a batch checked by fingerprints as read is set in a few statements; stale, gone and refused rows apart', async () => {
    // A text key under a case-insensitive collation of another character set than the session's.
    const table = db.tableName('members');
    await db.query(
      `create table ${table} (code varchar(10) character set latin1 collate latin1_swedish_ci primary key,
        email varchar(50), app_user_id varchar(8), seen datetime(3))`,
    );
    await db.query(
      `insert into ${table} values ('A1', 'a@x.io', null, null), ('b2', 'b@x.io', null, null),
        ('c3', 'c@x.io', null, null), ('d4', 'd@x.io', null, null), ('e5', 'e@x.io', null, null)`,
    );
    const connector = db.open({ table, key: 'code' });
    const columns = ['email', 'app_user_id', 'seen'];
    const fingerprints = async () => {
      const all = new Map<string, string>();
      for await (const page of connector.scanFingerprints!({ columns, pageSize: 10 }))
        for (const { key, fingerprint } of page) all.set(key, fingerprint);
      return all;
    };
    const asRead = await fingerprints();
    await db.query(`update ${table} set email = 'c2@x.io' where code = 'c3'`); // edited since the read
    await db.query(`delete from ${table} where code = 'd4'`); // gone since the read
    const writeBack = (key: string, id: string) => ({
      key,
      set: { app_user_id: id, seen: new Date('2024-05-01T09:30:00.123Z') },
      expect: {},
      fingerprint: { columns, asRead: asRead.get(key)! },
    });
    const sent: string[] = [];
    const query = vi.spyOn(mysql.Connection.prototype, 'query');
    let results;
    try {
      results = await connector.update([
        writeBack('A1', 'u-1'),
        writeBack('b2', 'u-2'),
        writeBack('c3', 'u-3'),
        writeBack('d4', 'u-4'),
        writeBack('e5', 'u-5'),
      ]);
      sent.push(...query.mock.calls.map(([text]) => String(text).toLowerCase()));
    } finally {
      query.mockRestore();
    }
    const after = await fingerprints();
    expect(results).toEqual([
      { status: 'ok', fingerprint: after.get('A1') },
      { status: 'ok', fingerprint: after.get('b2') },
      { status: 'stale' },
      { status: 'stale' },
      { status: 'ok', fingerprint: after.get('e5') },
    ]);
    // One select that locks, one update, one select of the fingerprints after.
    expect(sent.filter((text) => /^\s*(select|update)/.test(text))).toHaveLength(3);
    const { byKey } = await scanAll(connector, ['app_user_id', 'seen']);
    expect(Object.fromEntries([...byKey].map(([key, row]) => [key, row.app_user_id]))).toEqual({
      A1: 'u-1',
      b2: 'u-2',
      c3: null,
      e5: 'u-5',
    });
    expect(String(byKey.get('e5')!.seen)).toMatch(/^2024-05-01 09:30:00\.123/);

    // A value the column refuses (strict mode: too long) fails its row alone.
    const again = await fingerprints();
    const refused = await connector.update(
      ['A1', 'b2', 'e5'].map((key) => ({
        key,
        set: { app_user_id: key === 'b2' ? 'far too long' : `v-${key}`, seen: null },
        expect: {},
        fingerprint: { columns, asRead: again.get(key)! },
      })),
    );
    expect(refused.map((r) => r.status)).toEqual(['ok', 'failed', 'ok']);
    expect(refused[1]).toMatchObject({ error: expect.stringMatching(/too long/i) });

    // One row twice: the second update no longer finds it as read, as row by row.
    const once = await fingerprints();
    const twice = await connector.update(
      ['x-1', 'x-2'].map((id) => ({
        key: 'e5',
        set: { app_user_id: id, seen: null },
        expect: {},
        fingerprint: { columns, asRead: once.get('e5')! },
      })),
    );
    expect(twice.map((r) => r.status)).toEqual(['ok', 'stale']);
    expect((await scanAll(connector, ['app_user_id'])).byKey.get('e5')).toEqual({ app_user_id: 'x-1' });
  });

  it('updates of one shape share a statement text, each with its own values; a NULL expected is another shape', async () => {
    const table = await people();
    await db.query(
      `insert into ${table} (email, plan, phone) values ('c@x.io', 'pro', '3'), ('d@x.io', 'team', null)`,
    );
    const connector = db.open({ table });
    // Keys 1, 2, 4 have no phone (expected NULL: "is null"), key 3 has one (expected "<=> ?").
    const first = await connector.update([
      { key: '1', set: { phone: 'p1' }, expect: { plan: 'pro', phone: null } },
      { key: '2', set: { phone: 'p2' }, expect: { plan: 'free', phone: null } },
      { key: '3', set: { phone: 'p3' }, expect: { plan: 'pro', phone: '3' } },
      { key: '4', set: { phone: 'p4' }, expect: { plan: 'pro', phone: null } }, // plan is team: stale
    ]);
    expect(first).toEqual([{ status: 'ok' }, { status: 'ok' }, { status: 'ok' }, { status: 'stale' }]);
    // The same shapes again, now with the texts already built.
    const again = await connector.update([
      { key: '4', set: { phone: 'q4' }, expect: { plan: 'team', phone: null } },
      { key: '1', set: { phone: 'q1' }, expect: { plan: 'pro', phone: 'p1' } },
      { key: '2', set: { phone: 'q2' }, expect: { plan: 'free', phone: 'wrong' } }, // stale
    ]);
    expect(again).toEqual([{ status: 'ok' }, { status: 'ok' }, { status: 'stale' }]);
    const { byKey } = await scanAll(connector, ['phone']);
    expect(Object.fromEntries([...byKey].map(([key, row]) => [key, row.phone]))).toEqual({
      '1': 'q1',
      '2': 'p2',
      '3': 'p3',
      '4': 'q4',
    });
  });

  it('a failing update or delete fails alone: a duplicate, a foreign key, a trigger', async () => {
    const parent = await people();
    const child = db.tableName('orders');
    await db.query(
      `create table ${child} (id int primary key, person int, foreign key (person) references ${parent} (id))`,
    );
    await db.query(`insert into ${child} values (1, 2)`);
    await db.query(
      `create trigger ${child}_guard before delete on ${parent} for each row
        if old.email = 'guarded@x.io' then signal sqlstate '45000' set message_text = 'guarded row'; end if`,
    );
    await db.query(`insert into ${parent} (email) values ('guarded@x.io'), ('free@x.io')`);
    const connector = db.open({ table: parent });
    const updates = await connector.update([
      { key: '1', set: { email: 'b@x.io' }, expect: {} },
      { key: '1', set: { plan: 'team' }, expect: { plan: 'pro' } },
    ]);
    expect(updates[0]).toEqual({ status: 'failed', error: expect.stringMatching(/Duplicate entry/) });
    expect(updates[1]).toEqual({ status: 'ok' });
    const deletes = await connector.delete(['2', '3', '4']);
    expect(deletes[0]).toEqual({ status: 'failed', error: expect.stringMatching(/foreign key constraint/i) });
    expect(deletes[1]).toEqual({ status: 'failed', error: 'guarded row' });
    expect(deletes[2]).toEqual({ status: 'ok' });
    const { byKey } = await scanAll(connector, ['plan']);
    expect([...byKey.keys()]).toEqual(['1', '2', '3']);
    expect(byKey.get('1')?.plan).toBe('team');
  });

  it('an insert that breaks a foreign key fails alone', async () => {
    const parent = await people();
    const child = db.tableName('orders');
    await db.query(
      `create table ${child} (id int primary key, person int, foreign key (person) references ${parent} (id))`,
    );
    const connector = db.open({ table: child });
    const results = await connector.insert([
      { values: { id: 1, person: 99 }, fallbackKey: 'x' },
      { values: { id: 2, person: 1 }, fallbackKey: 'y' },
    ]);
    expect(results).toEqual([
      { status: 'failed', error: expect.stringMatching(/foreign key constraint fails/i) },
      { status: 'ok', key: '2' },
    ]);
  });
});
