/**
 * What a PostgreSQL source's fingerprints tell apart. A full sync trusts a row whose
 * fingerprint is as it was, so every change of what the sync reads must move it: also a
 * change between values the column's type calls equal but that read differently.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { openPostgres } from '../../src/connectors/postgres/postgres-open.js';
import { fingerprintOver, loadTableInfo } from '../../src/connectors/postgres/postgres-schema.js';
import { selectRows } from '../../src/connectors/postgres/postgres-statements.js';
import { parsePostgresUrl } from '../../src/connectors/postgres/postgres-url.js';
import { POSTGRES_TEST_URL, postgresReachable, usePostgresSources } from '../support/postgres.js';

const reachable = await postgresReachable();

describe.runIf(reachable)('postgres source fingerprints', () => {
  const db = usePostgresSources();

  it('move with every change of a value as read, also between values its type calls equal', async () => {
    await db.query(
      `create collation ${db.name()}.anycase (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`,
    );
    await db.query(`create domain ${db.name()}.points as int4 check (value >= 0)`);
    const table = await db.makeTable(`id int primary key, amount numeric, score float8, span interval,
      doc jsonb, nick text collate ${db.name()}.anycase, opens timetz, points ${db.name()}.points,
      active bool, token uuid, seen timestamptz, day date, code varchar(10), big int8, note text`);
    const qualified = db.qualified(table);
    await db.query(`insert into ${qualified} (id) values (1)`);
    const connector = db.open({ table: `${db.name()}.${table}` });
    const columns = [
      'amount',
      'score',
      'span',
      'doc',
      'nick',
      'opens',
      'points',
      'active',
      'token',
      'seen',
      'day',
      'code',
      'big',
      'note',
    ];
    const fingerprint = async () => {
      const all = [];
      for await (const page of connector.scanFingerprints!({ columns, pageSize: 10 })) all.push(...page);
      expect(all).toHaveLength(1);
      return all[0]!.fingerprint;
    };
    const set = (column: string, value: string | null) =>
      db.query(`update ${qualified} set ${column} = $1 where id = 1`, [value]);

    const changes: [string, string | null, string][] = [
      ['amount', '1.0', '1.00'],
      ['score', '0', '-0'],
      ['span', '1 day', '24 hours'],
      ['doc', '{"a": 1.0}', '{"a": 1.00}'],
      ['nick', 'ann', 'ANN'],
      ['opens', '12:00+01', '11:00+00'],
      ['points', '1', '2'],
      ['active', 'false', 'true'],
      ['token', '00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-000000000002'],
      ['seen', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00.000001Z'],
      ['day', '2024-01-01', '2024-01-02'],
      ['code', 'a', 'b'],
      ['big', '9007199254740993', '9007199254740992'],
      ['note', null, ''],
    ];
    for (const [column, from, to] of changes) {
      await set(column, from);
      const before = await fingerprint();
      await set(column, to);
      const after = await fingerprint();
      expect([column, after]).not.toEqual([column, before]);
      await set(column, from);
      expect([column, await fingerprint()]).toEqual([column, before]);
    }
  });

  it('servers before PostgreSQL 14 (no hash_record_extended) hash the text of the row', async () => {
    const table = await db.makeTable('id int primary key, email text, seen timestamptz, amount numeric');
    const qualified = db.qualified(table);
    await db.query(
      `insert into ${qualified} values (1, 'a@x.io', '2024-01-01T00:00:00Z', 1.5), (2, null, null, null)`,
    );
    const kysely = openPostgres(parsePostgresUrl(POSTGRES_TEST_URL), true);
    try {
      const info = await loadTableInfo(kysely, `${db.name()}.${table}`, 'the test table');
      expect(info.serverVersion).toBeGreaterThanOrEqual(140000);
      const columns = ['email', 'seen', 'amount'];
      const read = async (serverVersion: number) => {
        const over = fingerprintOver({ ...info, serverVersion }, 'id', columns);
        const query = selectRows({
          ref: info.ref,
          key: 'id',
          columns: [],
          conditions: [],
          fingerprintOf: over,
        });
        return (await query.execute(kysely)).rows.map((row) => String(row.f));
      };
      const { rows: expected } = await sql<{ f: string }>`select
        hashtextextended(row(id, email, seen, amount)::text, 0)::text as f from ${sql.raw(qualified)} order by id`.execute(
        kysely,
      );
      expect(await read(130000)).toEqual(expected.map((row) => row.f));
      // PostgreSQL 14 and later: another hash, as many apart.
      const byRecord = await read(info.serverVersion);
      expect(new Set([...byRecord, ...expected.map((row) => row.f)]).size).toBe(4);
    } finally {
      await kysely.destroy();
    }
  });
});
