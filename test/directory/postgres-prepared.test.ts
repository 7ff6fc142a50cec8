/** The PostgreSQL directory prepares the statements it sends often (prepared-statements.ts). */
import pg from 'pg';
import { afterEach, expect, it } from 'vitest';
import { preparingPool, StatementNames } from '../../src/directory/postgres/prepared-statements.js';
import { POSTGRES_TEST_URL, postgresReachable } from '../support/postgres-directory.js';

const reachable = await postgresReachable();
const pools: pg.Pool[] = [];
afterEach(async () => {
  for (const pool of pools.splice(0)) await pool.end();
});

it('names a text on its third send, and gives it that name from then on', () => {
  const names = new StatementNames();
  const insert = 'insert into users (id) values ($1)';
  expect([names.nameOf(insert), names.nameOf(insert)]).toEqual([null, null]);
  const name = names.nameOf(insert);
  expect(name).toMatch(/^usersync_\d+$/);
  expect(names.nameOf(insert)).toBe(name);
  const other = 'select * from users where id = $1';
  for (let i = 0; i < 3; i += 1) names.nameOf(other);
  expect(names.nameOf(other)).not.toBe(name);
});

it.skipIf(!reachable)('runs a named text prepared on the server, each send with its own values', async () => {
  const pool = new pg.Pool({ connectionString: POSTGRES_TEST_URL, max: 1 });
  pools.push(pool);
  const preparing = preparingPool(pool);
  const client = await preparing.connect();
  const text = 'select $1::int + 1 as n';
  const sums: number[] = [];
  for (let i = 1; i <= 4; i += 1) {
    const { rows } = await client.query<{ n: number }>(text, [i]);
    sums.push(rows[0]!.n);
  }
  expect(sums).toEqual([2, 3, 4, 5]);
  // Without parameters: sent as it is, never named (begin, commit, set ...).
  const { rows: prepared } = await client.query<{ name: string; statement: string }>(
    'select name, statement from pg_prepared_statements',
    [],
  );
  expect(prepared).toEqual([{ name: expect.stringMatching(/^usersync_/), statement: text }]);
  client.release();
  // Kysely knows a connection by its client object: the same one comes back for the same connection.
  const again = await preparing.connect();
  expect(again).toBe(client);
  expect((await again.query<{ n: number }>(text, [41])).rows).toEqual([{ n: 42 }]);
  again.release();
});
