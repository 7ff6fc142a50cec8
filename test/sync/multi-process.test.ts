/**
 * SPEC §5: one run per connection at a time, across processes. Two real `usersync sync`
 * processes started at once on one connection of a shared PostgreSQL directory: their runs
 * never overlap, and the result is the one a single sync gives.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDirectory } from '../../src/directory/open.js';
import { usersync } from '../support/cli.js';
import {
  POSTGRES_TEST_URL,
  postgresReachable,
  quoteIdent,
  usePostgresSchemas,
} from '../support/postgres-directory.js';
import { useTempDir } from '../support/temp.js';

const reachable = await postgresReachable();
const schemas = usePostgresSchemas();
const temp = useTempDir('usersync-multi-');

const ROWS = 3000;

describe.skipIf(!reachable)('two sync processes on one connection', () => {
  it('never run at once: one waits for the other, and the result is correct', async () => {
    const source = schemas.newSchema('usersync_src_');
    const table = `${quoteIdent(source)}.members`;
    await schemas.admin.query(`create schema ${quoteIdent(source)}`);
    await schemas.admin.query(
      `create table ${table} (id serial primary key, email text not null, full_name text, app_user_id text)`,
    );
    await schemas.admin.query(
      `insert into ${table} (email, full_name) select 'u' || n || '@example.com', 'User ' || n from generate_series(1, $1) n`,
      [ROWS],
    );
    const directory = schemas.newDirectoryUrl();
    const dir = temp();
    writeFileSync(
      join(dir, 'usersync.yaml'),
      [
        `directory: ${directory}`,
        'connections:',
        '  - name: crm',
        `    source: ${POSTGRES_TEST_URL}`,
        `    table: ${source}.members`,
        '    fields: { email: email, name: full_name, userId: app_user_id }',
      ].join('\n'),
    );

    const [first, second] = await Promise.all([
      usersync(dir, ['sync', 'crm']),
      usersync(dir, ['sync', 'crm']),
    ]);

    expect([first.code, second.code], `${first.stderr}\n${second.stderr}`).toEqual([0, 0]);
    const store = await openDirectory(directory);
    try {
      const runs = (await store.listRuns({ connection: 'crm' })).sort((a, b) =>
        a.startedAt.localeCompare(b.startedAt),
      );
      expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
      // The second run started only after the first had finished (it waited for the lock).
      expect(runs[1]!.startedAt >= runs[0]!.finishedAt!).toBe(true);
      expect(runs[0]!.counts.app.created).toBe(ROWS);
      expect(runs[1]!.counts.app).toEqual({ created: 0, updated: 0, deleted: 0 });
      expect(await store.countUsers()).toBe(ROWS);
    } finally {
      await store.close();
    }
    // Every row holds the id of its own user, and no two rows share one.
    const { rows } = await schemas.admin.query<{ ids: string; distinct_ids: string; missing: string }>(
      `select count(app_user_id) as ids, count(distinct app_user_id) as distinct_ids,
              count(*) filter (where app_user_id is null) as missing from ${table}`,
    );
    expect(rows[0]).toEqual({ ids: String(ROWS), distinct_ids: String(ROWS), missing: '0' });
  }, 120_000);
});
