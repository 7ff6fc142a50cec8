/** The users search of a PostgreSQL directory goes through pg_trgm indexes, not a read of every user. */
import { afterEach, expect, it } from 'vitest';
import { openDirectory } from '../../src/directory/open.js';
import type { DirectoryStore } from '../../src/directory/store.js';
import {
  postgresReachable,
  postgresUrl,
  quoteIdent,
  usePostgresSchemas,
} from '../support/postgres-directory.js';

const reachable = await postgresReachable();
const schemas = usePostgresSchemas();
const opened: DirectoryStore[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

it.skipIf(!reachable)('creates trigram indexes on emails and names, and a search uses them', async () => {
  const schema = schemas.newSchema();
  const store = await openDirectory(postgresUrl({ schema }));
  opened.push(store);
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
