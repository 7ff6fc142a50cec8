import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { SourceConnector } from '../../src/connectors/connector.js';
import { createConnector } from '../../src/connectors/index.js';
import { isUsersyncError } from '../../src/core/errors.js';
import { scanAll } from './contract.js';
import { postgresReachable, postgresUrl, quoteIdent, usePostgresSources } from '../support/postgres.js';
import { errorOf } from '../support/error-of.js';

const reachable = await postgresReachable();
const PASSWORD = 'sekret-Pa55';

/** The UsersyncError a call rejects with, checked for its code and for not leaking the password. */
async function failure(work: () => Promise<unknown>, code: string): Promise<string> {
  const error = await work().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isUsersyncError(error) ? error.code : error).toBe(code);
  const { message } = error as Error;
  expect(message).not.toContain(PASSWORD);
  return message;
}

describe.runIf(reachable)('postgres source errors', () => {
  const db = usePostgresSources();

  describe('connecting', () => {
    it('a port nobody listens on is source.unreachable naming host and port, on first use', async () => {
      const connector = db.open({ source: postgresUrl({ port: '1', password: PASSWORD }), table: 'members' });
      const message = await failure(() => connector.describe(), 'source.unreachable');
      expect(message).toMatch(/cannot reach PostgreSQL at 127\.0\.0\.1:1 \(.+\)/);
      expect(message).toContain('host and port');
      await failure(() => scanAll(connector, ['email']), 'source.unreachable');
    });

    it('a host that does not resolve is source.unreachable', async () => {
      const connector = db.open({
        source: `postgres://postgres:${PASSWORD}@usersync-no-such-host.invalid:5432/test`,
        table: 'members',
      });
      expect(await failure(() => connector.describe(), 'source.unreachable')).toContain(
        'usersync-no-such-host.invalid:5432',
      );
    });

    it('a database that does not exist is source.unreachable saying so', async () => {
      const connector = db.open({
        source: postgresUrl({ database: 'usersync_no_such_db', password: PASSWORD }),
        table: 'members',
      });
      expect(await failure(() => connector.describe(), 'source.unreachable')).toContain(
        'database "usersync_no_such_db" does not exist on PostgreSQL at 127.0.0.1:5432',
      );
    });

    it('a login the server refuses is source.unreachable naming the user', async () => {
      const url = new URL(postgresUrl({ password: PASSWORD }));
      url.username = 'usersync_no_such_role';
      const connector = db.open({ source: url.toString(), table: 'members' });
      expect(await failure(() => connector.describe(), 'source.unreachable')).toContain(
        'refused the login of user "usersync_no_such_role"',
      );
    });

    it('a malformed URL, or one without a database or table, is config.invalid at once', async () => {
      const settings = { emailColumn: 'email', baseDir: '/', readOnly: false, table: 'members' };
      for (const source of [
        `postgres://u:${PASSWORD}@[bad/db`,
        `postgres://u:${PASSWORD}@127.0.0.1:5432`,
        `postgres://u:${PASSWORD}@127.0.0.1:5432/`,
      ]) {
        const error = await errorOf(() => createConnector({ ...settings, source }));
        expect(isUsersyncError(error, 'config.invalid')).toBe(true);
        expect((error as Error).message).not.toContain(PASSWORD);
      }
      const noTable = await errorOf(() =>
        createConnector({ ...settings, table: undefined, source: postgresUrl({ password: PASSWORD }) }),
      );
      expect(isUsersyncError(noTable, 'config.invalid')).toBe(true);
      expect((noTable as Error).message).toMatch(/needs `table:`/);
    });

    it('a connection lost during a write fails the call, and nothing of the batch is kept', async () => {
      const table = await db.makeTable('id serial primary key, email text');
      const qualified = db.qualified(table);
      const kill = quoteIdent(`${db.name()}_kill_${table}`);
      await db.query(
        `create function ${quoteIdent(db.name())}.${kill}() returns trigger language plpgsql as $$
          begin
            if new.email = 'kill@x.io' then perform pg_terminate_backend(pg_backend_pid()); end if;
            return new;
          end $$`,
      );
      await db.query(
        `create trigger kill before insert on ${qualified} for each row execute function ${quoteIdent(db.name())}.${kill}()`,
      );
      const connector = db.open({ table: `${db.name()}.${table}` });
      await failure(
        () =>
          connector.insert([
            { values: { email: 'ok@x.io' }, fallbackKey: 'a' },
            { values: { email: 'kill@x.io' }, fallbackKey: 'b' },
          ]),
        'source.unreachable',
      );
      expect(await db.query(`select * from ${qualified}`)).toEqual([]);
      // The pool recovers: the next call opens a new connection.
      expect(await connector.insert([{ values: { email: 'ok@x.io' }, fallbackKey: 'a' }])).toMatchObject([
        { status: 'ok' },
      ]);
    });
  });

  describe('the table and its columns', () => {
    it('a missing table is source.invalid naming it and the tables there', async () => {
      const table = await db.makeTable('id serial primary key, email text', 'present');
      const connector = db.open({ source: db.urlOnSchema(), table: 'absent_members' });
      const message = await failure(() => connector.describe(), 'source.invalid');
      expect(message).toContain('Table "absent_members" not found');
      expect(message).toContain(table);
      expect(await failure(() => connector.insert([]), 'source.invalid')).toContain('absent_members');
      const elsewhere = db.open({ table: `${db.name()}.absent_members` });
      expect(await failure(() => elsewhere.describe(), 'source.invalid')).toContain(table);
    });

    it('a missing column is source.invalid naming it', async () => {
      const table = await db.makeTable('id serial primary key, email text');
      const connector = db.open({ table: `${db.name()}.${table}` });
      expect(await failure(() => scanAll(connector, ['email', 'Phone']), 'source.invalid')).toContain(
        'Column "Phone" not found',
      );
      expect(await failure(() => connector.lookup('phone', ['1'], ['email']), 'source.invalid')).toContain(
        '"phone"',
      );
      await db.query(`alter table ${db.qualified(table)} add column phone text`);
      expect(await connector.lookup('phone', ['1'], ['email'])).toEqual([]); // a new column is seen
    });

    it('a key: not in the table, no primary key, or a composite one, is source.invalid asking for key:', async () => {
      const plain = await db.makeTable('email text, name text');
      const composite = await db.makeTable('a int, b int, email text, primary key (a, b)');
      const cases: Array<[string, string | undefined, RegExp]> = [
        [plain, 'member_id', /Key column "member_id" not found.*Fix `key:`/],
        [plain, undefined, /has no primary key.*Set `key:`/],
        [composite, undefined, /composite primary key \(a, b\).*Set `key:`/],
      ];
      for (const [table, key, expected] of cases) {
        const connector = db.open({ table: `${db.name()}.${table}`, key });
        expect(await failure(() => connector.describe(), 'source.invalid')).toMatch(expected);
      }
      expect(
        (await db.open({ table: `${db.name()}.${plain}`, key: 'email' }).describe()).columns,
      ).toHaveLength(2);
    });

    it('no right to read is source.invalid; no right to write fails the rows', async () => {
      const role = `usersync_t_role_${randomBytes(4).toString('hex')}`;
      const readable = await db.makeTable('id serial primary key, email text');
      const secret = await db.makeTable('id serial primary key, email text');
      await db.query(`insert into ${db.qualified(readable)} (email) values ('a@x.io')`);
      await db.query(`create role ${quoteIdent(role)} login`);
      try {
        await db.query(`grant usage on schema ${quoteIdent(db.name())} to ${quoteIdent(role)}`);
        await db.query(`grant select on ${db.qualified(readable)} to ${quoteIdent(role)}`);
        const url = new URL(postgresUrl({ password: PASSWORD }));
        url.username = role;
        const open = (table: string) => db.open({ source: url.toString(), table: `${db.name()}.${table}` });
        const denied = await failure(() => scanAll(open(secret), ['email']), 'source.invalid');
        expect(denied).toMatch(/permission denied.*Grant user/);
        const connector = open(readable);
        expect((await scanAll(connector, ['email'])).rows).toHaveLength(1);
        const [inserted] = await connector.insert([{ values: { email: 'b@x.io' }, fallbackKey: 'b' }]);
        expect(inserted).toMatchObject({
          status: 'failed',
          error: expect.stringMatching(/permission denied/),
        });
        await connector.close();
      } finally {
        await db.query(`drop owned by ${quoteIdent(role)}`);
        await db.query(`drop role ${quoteIdent(role)}`);
      }
    });
  });

  describe('rows the server rejects', () => {
    async function members(): Promise<{ connector: SourceConnector; qualified: string }> {
      const teams = await db.makeTable('id text primary key', 'teams');
      await db.query(`insert into ${db.qualified(teams)} values ('red')`);
      const table = await db.makeTable(
        `id serial primary key, email text not null unique, plan text check (plan in ('free', 'pro')),
         code varchar(5), age int, team text references ${db.qualified(teams)}`,
      );
      const qualified = db.qualified(table);
      await db.query(`insert into ${qualified} (email, plan) values ('a@x.io', 'free'), ('b@x.io', 'free')`);
      return { connector: db.open({ table: `${db.name()}.${table}` }), qualified };
    }

    it('each bad row of an insert batch fails alone with the server message; the rest commit', async () => {
      const { connector, qualified } = await members();
      const results = await connector.insert([
        { values: { email: 'c@x.io' }, fallbackKey: 'x' },
        { values: { email: 'a@x.io' }, fallbackKey: 'x' },
        { values: { email: null }, fallbackKey: 'x' },
        { values: { email: 'd@x.io', team: 'blue' }, fallbackKey: 'x' },
        { values: { email: 'e@x.io', age: 'forty' }, fallbackKey: 'x' },
        { values: { email: 'f@x.io', code: 'too long' }, fallbackKey: 'x' },
        { values: { email: 'g@x.io', plan: 'gold' }, fallbackKey: 'x' },
        { values: { email: 'h@x.io', team: 'red' }, fallbackKey: 'x' },
      ]);
      expect(results.map((r) => r.status)).toEqual([
        'ok',
        'failed',
        'failed',
        'failed',
        'failed',
        'failed',
        'failed',
        'ok',
      ]);
      const errors = results.map((r) => (r.status === 'failed' ? r.error : ''));
      expect(errors[1]).toMatch(
        /duplicate key value violates unique constraint.*Key \(email\)=\(a@x\.io\) already exists/,
      );
      expect(errors[2]).toMatch(/null value in column "email"/);
      expect(errors[3]).toMatch(/violates foreign key constraint/);
      expect(errors[4]).toMatch(/invalid input syntax for type integer: "forty"/);
      expect(errors[5]).toMatch(/value too long for type character varying\(5\)/);
      expect(errors[6]).toMatch(/violates check constraint/);
      const rows = await db.query<{ email: string }>(`select email from ${qualified} order by id`);
      expect(rows.map((row) => row.email)).toEqual(['a@x.io', 'b@x.io', 'c@x.io', 'h@x.io']);
      expect(results[7]).toEqual({ status: 'ok', key: expect.stringMatching(/^\d+$/) });
    });

    it('a CHECK violation on update fails that row alone; the other updates apply', async () => {
      const { connector, qualified } = await members();
      const results = await connector.update([
        { key: '1', set: { plan: 'gold' }, expect: { plan: 'free' } },
        { key: '2', set: { plan: 'pro' }, expect: { plan: 'free' } },
      ]);
      expect(results[0]).toMatchObject({
        status: 'failed',
        error: expect.stringMatching(/check constraint/),
      });
      expect(results[1]).toEqual({ status: 'ok' });
      expect(await db.query(`select id, plan from ${qualified} order by id`)).toEqual([
        { id: 1, plan: 'free' },
        { id: 2, plan: 'pro' },
      ]);
    });

    it('a key that cannot be of the key type fails its row alone', async () => {
      const { connector } = await members();
      const results = await connector.update([
        { key: 'not-a-number', set: { plan: 'pro' }, expect: {} },
        { key: '1', set: { plan: 'pro' }, expect: {} },
      ]);
      expect(results.map((r) => r.status)).toEqual(['failed', 'ok']);
      expect(await connector.delete(['dir-uuid', '2'])).toMatchObject([
        { status: 'failed' },
        { status: 'ok' },
      ]);
    });
  });
});
