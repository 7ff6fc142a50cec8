import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { ConnectorSettings } from '../../src/connectors/connector.js';
import { createConnector } from '../../src/connectors/index.js';
import { openMysql } from '../../src/connectors/mysql/mysql-open.js';
import { parseMysqlUrl } from '../../src/connectors/mysql/mysql-url.js';
import { isUsersyncError } from '../../src/core/errors.js';
import { mysqlAvailable, useMysqlFixture } from '../support/mysql.js';
import { scanAll } from './contract.js';
import { errorOf } from '../support/error-of.js';

const available = await mysqlAvailable();

const SECRET = 'hunter2-Sup3rSecret';

function settings(source: string, overrides: Partial<ConnectorSettings> = {}): ConnectorSettings {
  return { source, table: 'members', emailColumn: 'email', baseDir: '/', readOnly: false, ...overrides };
}

/** The error, checked for its code and that it never shows the password. */
function expectError(error: unknown, code: string, ...fragments: (string | RegExp)[]): void {
  expect(isUsersyncError(error) ? error.code : error).toBe(code);
  const { message } = error as Error;
  for (const fragment of fragments) expect(message).toMatch(fragment);
  expect(message).not.toContain(SECRET);
  expect(message).not.toContain(encodeURIComponent(SECRET));
}

describe('mysql connector settings', () => {
  it('a source that is not a usable URL is config.invalid, without echoing it', async () => {
    for (const source of [
      `mysql://root:${SECRET}@`,
      `mysql:root:${SECRET}@localhost/db`,
      `mysql://root:${SECRET}@localhost/db?ssl=true`,
      `mysql://root:${SECRET}@localhost/db/extra`,
      `mysql://root:%E0%A4%A${SECRET}@localhost/db`,
    ]) {
      expectError(
        await errorOf(() => createConnector(settings(source))),
        'config.invalid',
        'mysql://USER:PASSWORD@HOST:3306/DATABASE',
      );
    }
  });

  it('needs `table:`, and a database in the URL or in `table:`', async () => {
    expectError(
      await errorOf(() =>
        createConnector(settings(`mysql://root:${SECRET}@localhost/crm`, { table: undefined })),
      ),
      'config.invalid',
      /needs `table:`/,
    );
    expectError(
      await errorOf(() => createConnector(settings(`mariadb://root:${SECRET}@localhost`))),
      'config.invalid',
      /names no database.*DATABASE\.members/,
    );
  });

  it('parses user, password, host, port and database, percent-decoded, and shows no password', () => {
    expect(parseMysqlUrl(`mariadb://crm%40app:${encodeURIComponent(SECRET)}@[::1]:3307/my%20db`)).toEqual({
      host: '::1',
      port: 3307,
      user: 'crm@app',
      password: SECRET,
      database: 'my db',
      shown: 'mariadb://crm%40app@[::1]:3307/my%20db',
      address: '[::1]:3307',
    });
    expect(parseMysqlUrl('mysql://db.example.com/crm')).toMatchObject({ port: 3306, user: undefined });
  });
});

describe.skipIf(!available)('mysql connector errors', () => {
  const db = useMysqlFixture();
  const url = (change: (url: URL) => void) => {
    const copy = new URL(db.url());
    change(copy);
    return copy.toString();
  };

  async function members(): Promise<string> {
    const table = db.tableName('members');
    await db.query(`create table ${table} (id int primary key, email varchar(50))`);
    await db.query(`insert into ${table} values (1, 'a@x.io')`);
    return table;
  }

  it('an unreachable server is source.unreachable naming host and port, on first use', async () => {
    const source = `mysql://root:${SECRET}@127.0.0.1:1/${db.database()}`;
    const connector = db.open({ source, table: 'members' });
    expect(connector.capabilities.writeBatchSize).toBe(1000);
    expectError(
      await errorOf(() => connector.describe()),
      'source.unreachable',
      'Cannot reach MySQL at 127.0.0.1:1',
    );
    // Every call tries again rather than remembering the failure.
    expectError(await errorOf(() => scanAll(connector)), 'source.unreachable', /ECONNREFUSED/);
  });

  it('a wrong password is source.unreachable saying access was denied, without the password', async () => {
    const source = url((u) => (u.password = SECRET));
    const error = await errorOf(() => db.open({ source, table: 'members' }).describe());
    expectError(error, 'source.unreachable', /refused the login of user "root"/, /Access denied/);
  });

  it('a database that does not exist is source.unreachable naming it', async () => {
    const source = url((u) => {
      u.password = SECRET;
      u.pathname = '/usersync_no_such_db';
    });
    const error = await errorOf(() => db.open({ source, table: 'members' }).describe());
    // The server checks the password before the database: the right one is needed to get this far.
    expect(isUsersyncError(error, 'source.unreachable')).toBe(true);
    const plain = await errorOf(() =>
      db.open({ source: url((u) => (u.pathname = '/usersync_no_such_db')), table: 'members' }).describe(),
    );
    expectError(plain, 'source.unreachable', /Database "usersync_no_such_db" does not exist/);
  });

  it('a missing table is source.invalid listing the tables there', async () => {
    const table = await members();
    const error = await errorOf(() => db.open({ table: 'nope' }).describe());
    expectError(error, 'source.invalid', /Table "nope" not found/, new RegExp(`tables there: .*${table}`));
  });

  it('a missing column is source.invalid naming it, whether known before or dropped meanwhile', async () => {
    const table = await members();
    await db.query(`alter table ${table} add column phone varchar(20)`);
    const connector = db.open({ table });
    expectError(
      await errorOf(() => scanAll(connector, ['email', 'fax'])),
      'source.invalid',
      /"fax" not found/,
    );
    expectError(
      await errorOf(() => connector.update([{ key: '1', set: { fax: '1' }, expect: {} }])),
      'source.invalid',
      /"fax" not found/,
    );
    await db.query(`alter table ${table} drop column phone`);
    expectError(
      await errorOf(() => scanAll(connector, ['phone'])),
      'source.invalid',
      /Unknown column 'phone'/,
    );
  });

  it('a table without a single-column primary key needs `key:`', async () => {
    const none = db.tableName();
    await db.query(`create table ${none} (email varchar(50))`);
    expectError(
      await errorOf(() => db.open({ table: none }).describe()),
      'source.invalid',
      /no primary key.*`key:`/,
    );
    const composite = db.tableName();
    await db.query(`create table ${composite} (a int, b int, email varchar(50), primary key (a, b))`);
    expectError(
      await errorOf(() => db.open({ table: composite }).describe()),
      'source.invalid',
      /composite primary key \(a, b\).*`key:`/,
    );
    expectError(await errorOf(() => db.open({ table: composite, key: 'nope' }).describe()), 'source.invalid');
    const keyed = db.open({ table: none, key: 'email' });
    expect(() => keyed.keyColumn).not.toThrow();
    expect((await keyed.describe()).columns).toHaveLength(1);
  });

  it('read-only: the connector refuses writes, and the session refuses them too', async () => {
    const table = await members();
    const connector = db.open({ table, readOnly: true });
    expect(connector.capabilities.readOnly).toBe(true);
    expectError(
      await errorOf(() => connector.delete(['1'])),
      'source.read_only',
      /read-only \(import mode\)/,
    );
    const kysely = openMysql(parseMysqlUrl(db.url()), true);
    try {
      const error = await errorOf(() => sql`delete from ${sql.id(table)}`.execute(kysely));
      expect((error as { errno?: number }).errno).toBe(1792);
    } finally {
      await kysely.destroy();
    }
    expect((await scanAll(connector, ['email'])).rows).toHaveLength(1);
  });

  it('a write the account may not do fails its rows; reading still works', async () => {
    const table = await members();
    const user = `${db.database().slice(-12)}_ro`;
    await db.query(`create user ?@'%' identified by ?`, [user, SECRET]);
    try {
      await db.query(`grant select, insert on ${db.database()}.${table} to ?@'%'`, [user]);
      const source = url((u) => {
        u.username = user;
        u.password = SECRET;
      });
      const connector = db.open({ source, table });
      expect(await connector.update([{ key: '1', set: { email: 'b@x.io' }, expect: {} }])).toEqual([
        { status: 'failed', error: expect.stringMatching(/UPDATE command denied/) },
      ]);
      expect(await connector.insert([{ values: { id: 2, email: 'c@x.io' }, fallbackKey: 'x' }])).toEqual([
        { status: 'ok', key: '2' },
      ]);
      expect((await scanAll(connector, ['email'])).rows).toHaveLength(2);
    } finally {
      await db.query(`drop user ?@'%'`, [user]);
    }
  });
});
