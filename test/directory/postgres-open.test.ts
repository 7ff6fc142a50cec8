import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATION_NAMES } from '../../src/directory/migrations/index.js';
import { openDirectory } from '../../src/directory/open.js';
import type { DirectoryStore } from '../../src/directory/store.js';
import {
  POSTGRES_TEST_URL,
  postgresReachable,
  postgresUrl,
  quoteIdent,
  uniqueName,
  usePostgresSchemas,
} from '../support/postgres-directory.js';

const reachable = await postgresReachable();
const schemas = usePostgresSchemas();
const TABLES = [
  'api_keys',
  'connection_state',
  'issues',
  'links',
  'run_locks',
  'runs',
  'stored_connections',
  'users',
];

const opened: DirectoryStore[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

async function open(url: string): Promise<DirectoryStore> {
  const store = await openDirectory(url);
  opened.push(store);
  return store;
}

async function tablesIn(schema: string): Promise<string[]> {
  const { rows } = await schemas.admin.query<{ table_name: string }>(
    "select table_name from information_schema.tables where table_schema = $1 and table_type = 'BASE TABLE' order by 1",
    [schema],
  );
  return rows.map((row) => row.table_name);
}

async function appliedMigrations(schema: string): Promise<string[]> {
  const { rows } = await schemas.admin.query<{ name: string }>(
    `select name from ${quoteIdent(schema)}.usersync_migration order by name`,
  );
  return rows.map((row) => row.name);
}

async function openingError(url: string): Promise<Error> {
  return (await openDirectory(url).catch((e: unknown) => e)) as Error;
}

describe.skipIf(!reachable)('opening a PostgreSQL directory', () => {
  it('creates the schema, migrates it once, and keeps the migration tables in it', async () => {
    const schema = schemas.newSchema();
    const url = postgresUrl({ schema }).replace(/^postgres:/, 'postgresql:');
    const store = await open(url);
    expect(store.dialect).toBe('postgres');
    await store.createUser({ email: 'ann@example.com' });
    await store.close();
    const again = await open(url);
    expect(await again.countUsers()).toBe(1);
    expect(await tablesIn(schema)).toEqual(
      [...TABLES, 'usersync_migration', 'usersync_migration_lock'].sort(),
    );
    expect(await appliedMigrations(schema)).toEqual(MIGRATION_NAMES);
  });

  it('two directories in two schemas of one database are separate, each with its own migrations', async () => {
    const [first, second] = [schemas.newSchema(), schemas.newSchema()];
    const one = await open(postgresUrl({ schema: first }));
    await one.createUser({ email: 'ann@example.com' });
    const two = await open(postgresUrl({ schema: second }));
    expect(await two.countUsers()).toBe(0);
    await two.createUser({ email: 'ann@example.com' });
    expect(await one.countUsers()).toBe(1);
    expect(await appliedMigrations(second)).toEqual(MIGRATION_NAMES);
  });

  it('a schema name is quoted: mixed case, a hyphen, a space and a double quote', async () => {
    const schema = schemas.newSchema('Usersync Dir-"q"-');
    const store = await open(postgresUrl({ schema }));
    await store.createUser({ email: 'ann@example.com' });
    expect(await tablesIn(schema)).toEqual(expect.arrayContaining(TABLES));
    const { rows } = await schemas.admin.query(`select email from ${quoteIdent(schema)}.users`);
    expect(rows).toEqual([{ email: 'ann@example.com' }]);
  });

  it('every pooled connection works in the schema', async () => {
    const schema = schemas.newSchema();
    const application = uniqueName('usersync_test_');
    const store = await open(postgresUrl({ schema, application_name: application }));
    // Concurrent transactions make the pool open several connections.
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.createUser({ email: `user${i}@example.com` })),
    );
    expect(await store.countUsers()).toBe(20);
    const { rows } = await schemas.admin.query<{ n: string }>(
      'select count(*) as n from pg_stat_activity where application_name = $1',
      [application],
    );
    expect(Number(rows[0]?.n)).toBeGreaterThan(1);
    expect(Number(rows[0]?.n)).toBeLessThanOrEqual(10);
  });

  it('three processes opening a new directory at once all succeed and migrate it once', async () => {
    const schema = schemas.newSchema();
    const url = postgresUrl({ schema });
    const stores = await Promise.all([open(url), open(url), open(url)]);
    await stores[0]!.createUser({ email: 'ann@example.com' });
    expect(await stores[2]!.findUserByEmail('ann@example.com')).not.toBeNull();
    expect(await appliedMigrations(schema)).toEqual(MIGRATION_NAMES);
  });

  it('without a schema parameter the directory is the public schema', async () => {
    // A database of its own: the shared test database's public schema belongs to other tests.
    const database = uniqueName('usersync_dir_db_');
    await schemas.admin.query(`create database ${quoteIdent(database)}`);
    try {
      const url = new URL(POSTGRES_TEST_URL);
      url.pathname = `/${database}`;
      const store = await open(url.toString());
      await store.createUser({ email: 'ann@example.com' });
      await store.close();
      const client = new pg.Client({ connectionString: url.toString() });
      await client.connect();
      const { rows } = await client.query('select email from public.users');
      await client.end();
      expect(rows).toEqual([{ email: 'ann@example.com' }]);
    } finally {
      await schemas.admin.query(`drop database if exists ${quoteIdent(database)} with (force)`);
    }
  });

  it('an unreachable server is refused with directory.unreachable, naming where, never the password', async () => {
    const error = await openingError('postgres://usersync:s3cr%40t@127.0.0.1:1/app?schema=x');
    expect(error).toMatchObject({ code: 'directory.unreachable' });
    expect(error.message).toContain('usersync@127.0.0.1:1/app');
    expect(error.message).toContain('Check that the server is running');
    expect(error.message).not.toMatch(/s3cr/);
  });

  it('a database that does not exist is named, with how to create it', async () => {
    const url = new URL(POSTGRES_TEST_URL);
    url.pathname = '/usersync_no_such_database';
    const error = await openingError(url.toString());
    expect(error).toMatchObject({ code: 'directory.invalid' });
    expect(error.message).toContain('"usersync_no_such_database" does not exist');
    expect(error.message).toContain('createdb usersync_no_such_database');
  });

  it('an empty or too long schema, or a URL that cannot be read, is a config error that does not echo the URL', async () => {
    await expect(openDirectory(postgresUrl({ schema: '' }))).rejects.toMatchObject({
      code: 'config.invalid',
    });
    await expect(openDirectory(postgresUrl({ schema: 'x'.repeat(64) }))).rejects.toMatchObject({
      code: 'config.invalid',
      message: expect.stringContaining('63-byte'),
    });
    const error = await openingError('postgres://usersync:s3cret@[not-a-host/app');
    expect(error).toMatchObject({ code: 'config.invalid' });
    expect(error.message).not.toContain('s3cret');
  });

  it('prepare=false (a pooler that cannot keep prepared statements) works; another value is a config error', async () => {
    const store = await open(postgresUrl({ schema: schemas.newSchema(), prepare: 'false' }));
    for (let i = 0; i < 5; i += 1) await store.createUser({ email: `user${i}@example.com` });
    expect(await store.countUsers()).toBe(5);
    await expect(
      openDirectory(postgresUrl({ schema: schemas.newSchema(), prepare: 'no' })),
    ).rejects.toMatchObject({
      code: 'config.invalid',
      message: expect.stringContaining('prepare=false'),
    });
  });
});
