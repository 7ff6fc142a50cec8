/**
 * What a PostgreSQL directory keeps up row by row besides its rows: the users' trigram
 * indexes, which a search goes through instead of reading every user, and the links'
 * foreign key to users. A large import puts both off to one pass at the end.
 */
import { afterEach, expect, it } from 'vitest';
import { openDirectory } from '../../src/directory/open.js';
import type { DirectoryStore } from '../../src/directory/store.js';
import {
  postgresReachable,
  postgresUrl,
  quoteIdent,
  uniqueName,
  usePostgresSchemas,
} from '../support/postgres-directory.js';

const reachable = await postgresReachable();
const schemas = usePostgresSchemas();
const opened: DirectoryStore[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

const ALL = ['links_user_id_fkey (valid)', 'users_search_email', 'users_search_name'];

/** The search indexes and the links' key to users, as the catalog has them. */
async function deferred(schema: string): Promise<string[]> {
  const { rows } = await schemas.admin.query<{ name: string }>(
    `select indexname as name from pg_indexes where schemaname = $1 and indexname like 'users_search_%'
     union all
     select conname || case when convalidated then ' (valid)' else ' (not valid)' end from pg_constraint
      where conrelid = (quote_ident($1) || '.links')::regclass and contype = 'f'
     order by 1`,
    [schema],
  );
  return rows.map((r) => r.name);
}

async function open(schema: string): Promise<DirectoryStore> {
  const store = await openDirectory(postgresUrl({ schema }));
  opened.push(store);
  return store;
}

it.skipIf(!reachable)('creates trigram indexes on emails and names, and a search uses them', async () => {
  const schema = schemas.newSchema();
  await open(schema);
  const { rows: indexes } = await schemas.admin.query<{ indexname: string }>(
    'select indexname from pg_indexes where schemaname = $1 and indexname like $2 order by 1',
    [schema, 'users_search_%'],
  );
  expect(indexes.map((i) => i.indexname)).toEqual(['users_search_email', 'users_search_name']);

  const client = await schemas.admin.connect();
  try {
    await client.query(`set search_path to ${quoteIdent(schema)}, public`);
    // Too few users for the planner to prefer an index on its own: forbid the full scan.
    await client.query('set enable_seqscan = off');
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(
      `explain select * from users where lower(email) like lower($1) escape '\\' or lower(name) like lower($1) escape '\\'`,
      ['%smith%'],
    );
    const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(plan).toContain('users_search_email');
    expect(plan).toContain('users_search_name');
  } finally {
    await client.query('reset all');
    client.release();
  }
});

it.skipIf(!reachable)(
  'puts the upkeep off for a large import and back after it, even when it fails',
  async () => {
    const schema = schemas.newSchema();
    const store = await open(schema);
    expect(await deferred(schema)).toEqual(ALL);
    const emails = async (search: string) => (await store.listUsers({ search })).map((u) => u.email).sort();
    await store.createUser({ email: 'ann@acme.com', name: 'Ann Smith' });

    const importing = async (email: string, fail: boolean) => {
      expect(await deferred(schema)).toEqual([]);
      await store.createUser({ email, name: 'Bo Smithers' });
      // The search still finds users meanwhile, by reading them all.
      expect(await emails('smithers')).toContain(email);
      if (fail) throw new Error('the source went away');
      return 'imported';
    };
    expect(await store.importInBulk(10_000, () => importing('bo@x.io', false))).toBe('imported');
    expect(await deferred(schema)).toEqual(ALL);
    await expect(store.importInBulk(10_000, () => importing('cy@x.io', true))).rejects.toThrow(/went away/);
    expect(await deferred(schema)).toEqual(ALL);
    expect(await emails('smith')).toEqual(['ann@acme.com', 'bo@x.io', 'cy@x.io']);
    // Few users, or fewer than the directory has: nothing is put off.
    await store.importInBulk(9_999, async () => expect(await deferred(schema)).toEqual(ALL));

    // A link to no user written meanwhile (by hand: nothing here does): the key comes back
    // not valid, and the directory still opens.
    const orphan = (key: string) =>
      schemas.admin.query(
        `insert into ${quoteIdent(schema)}.links (connection, source_key, user_id, source_email, updated_at)
       values ('crm', $1, 'no-such-user-' || $1, 'x@x.io', '2024-01-01')`,
        [key],
      );
    await store.importInBulk(10_000, () => orphan('1'));
    const notValid = ['links_user_id_fkey (not valid)', 'users_search_email', 'users_search_name'];
    expect(await deferred(schema)).toEqual(notValid);
    await open(schema);
    expect(await deferred(schema)).toEqual(notValid);
    // Not valid still checks every new link.
    await expect(orphan('2')).rejects.toThrow(/links_user_id_fkey/);
  },
);

it.skipIf(!reachable)('an import a process left unfinished is put back by the next open', async () => {
  const schema = schemas.newSchema();
  const store = await open(schema);
  void store.importInBulk(10_000, () => new Promise<never>(() => undefined));
  await expect.poll(() => deferred(schema)).toEqual([]);
  await open(schema);
  expect(await deferred(schema)).toEqual(ALL);
});

it.skipIf(!reachable)(
  'an import waits only so long for the locks to put the upkeep off, then keeps it',
  async () => {
    const schema = schemas.newSchema();
    const store = await open(schema);
    const reader = await schemas.admin.connect();
    try {
      // A long transaction that has read users holds a lock that DROP INDEX must wait for.
      await reader.query('begin');
      await reader.query(`select count(*) from ${quoteIdent(schema)}.users`);
      const result = await store.importInBulk(10_000, async () => {
        expect(await deferred(schema)).toEqual(ALL);
        return (await store.createUser({ email: 'bo@x.io' })).email;
      });
      expect(result).toBe('bo@x.io');
    } finally {
      await reader.query('rollback');
      reader.release();
    }
    expect(await deferred(schema)).toEqual(ALL);
  },
  20_000,
);

it.skipIf(!reachable)('a role that does not own the tables imports with the upkeep as usual', async () => {
  const schema = schemas.newSchema();
  await (await open(schema)).close();
  opened.splice(0);
  const role = uniqueName('usersync_writer_');
  const quoted = quoteIdent(schema);
  await schemas.admin.query(`create role ${role} login`);
  try {
    await schemas.admin.query(`grant usage on schema ${quoted} to ${role};
      grant select, insert, update, delete on all tables in schema ${quoted} to ${role}`);
    const url = new URL(postgresUrl({ schema }));
    url.username = role;
    const store = await openDirectory(url.toString());
    opened.push(store);
    const imported = await store.importInBulk(10_000, async () => {
      expect(await deferred(schema)).toEqual(ALL);
      return (await store.createUser({ email: 'bo@x.io', name: 'Bo' })).email;
    });
    expect(imported).toBe('bo@x.io');
    expect(await deferred(schema)).toEqual(ALL);

    // An import by the owner that stopped midway: this role's open leaves the upkeep to the owner's.
    const owner = await openDirectory(postgresUrl({ schema }));
    void owner.importInBulk(10_000, () => new Promise<never>(() => undefined));
    await expect.poll(() => deferred(schema)).toEqual([]);
    opened.push(await openDirectory(url.toString()));
    expect(await deferred(schema)).toEqual([]);
    opened.push(await openDirectory(postgresUrl({ schema })));
    expect(await deferred(schema)).toEqual(ALL);
    opened.push(owner);
  } finally {
    await schemas.admin.query(`drop owned by ${role}; drop role ${role}`);
  }
});
