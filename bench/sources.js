// The benchmark's generated sources: the same members table in SQLite or PostgreSQL.
// Rows were last updated ten seconds apart, the latest a day ago; an edit sets
// `updated_at` to now, so a sync with `cursor: updated_at` reads only the edited rows
// (and the few within the cursor's minute of overlap).
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';

export const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const COLUMNS = 'email, full_name, photo_url, signup_date, plan, company, updated_at';
/** What a sync reads: the key, the mapped columns and the cursor. */
const READ =
  'id, email, full_name, photo_url, signup_date, last_login, app_user_id, plan, company, updated_at';

/** A SQLite file source. */
export function sqliteSource(dir, rows) {
  const db = new Database(join(dir, 'source.db'));
  db.pragma('journal_mode = WAL');
  const create = (table) =>
    db.exec(`CREATE TABLE ${table} (
      id INTEGER PRIMARY KEY AUTOINCREMENT, email TEXT, full_name TEXT, photo_url TEXT,
      signup_date TEXT, last_login TEXT, app_user_id TEXT, plan TEXT, company TEXT, updated_at TEXT)`);
  create('members');
  const insert = db.prepare(`INSERT INTO members (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`);
  const dayAgo = Date.now() - 86_400_000;
  db.transaction(() => {
    for (let i = 0; i < rows; i++) insert.run(...member(i), new Date(dayAgo - i * 10_000).toISOString());
  })();
  // The index docs/connectors.md recommends, so a single user's lookup by email is not a scan.
  db.exec('CREATE INDEX members_email ON members (lower(trim(email)))');
  return {
    kind: 'SQLite source',
    yaml: '    source: sqlite:./source.db\n    table: members',
    edit: async (every) =>
      void db
        .prepare(
          `UPDATE members SET full_name = full_name || ' (edited)', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
           WHERE id % ? = 0`,
        )
        .run(every),
    floor: async () => null,
    vacuum: async () => undefined,
    /** A copy of the first `n` rows for the naive baseline (bench/baseline.js). */
    sample: async (n) => {
      create('baseline');
      db.prepare(`INSERT INTO baseline SELECT * FROM members ORDER BY id LIMIT ?`).run(n);
      return { kind: 'sqlite', path: join(dir, 'source.db'), table: 'baseline' };
    },
    close: async () => db.close(),
  };
}

/** A table in a fresh PostgreSQL schema, filled with generate_series. */
export async function postgresSource(rows) {
  const schema = `usersync_bench_${process.pid}`;
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
  await pool.query(`drop schema if exists ${schema} cascade; create schema ${schema}`);
  await pool.query(`create table ${schema}.members (
    id serial primary key, email text, full_name text, photo_url text, signup_date timestamptz,
    last_login timestamptz, app_user_id text, plan text, company text, updated_at timestamptz)`);
  await pool.query(
    `insert into ${schema}.members (${COLUMNS})
     select 'user' || n || '@example.com', 'User ' || n, 'https://example.com/a/' || n || '.png',
            timestamptz '2020-01-01' + (n % 1500) * interval '1 day', (array['free','pro','team'])[n % 3 + 1], 'Company ' || (n % 500),
            now() - interval '1 day' - n * interval '10 seconds'
     from generate_series(0, $1 - 1) n`,
    [rows],
  );
  await pool.query(`create index on ${schema}.members (lower(btrim(email)))`);
  // What an updated_at column needs for `cursor:` to read changed rows without a scan.
  await pool.query(`create index on ${schema}.members (updated_at)`);
  await pool.query(`analyze ${schema}.members`);
  return {
    kind: 'PostgreSQL source',
    yaml: `    source: ${POSTGRES_URL}\n    table: ${schema}.members`,
    edit: async (every) =>
      void (await pool.query(
        `update ${schema}.members set full_name = full_name || ' (edited)', updated_at = now() where id % $1 = 0`,
        [every],
      )),
    // The floor: the server writing what a sync reads out, with nothing done to it.
    floor: async () => {
      const started = performance.now();
      try {
        execFileSync('psql', [
          POSTGRES_URL,
          '-q',
          '-c',
          `\\copy (select ${READ} from ${schema}.members) to '/dev/null'`,
        ]);
      } catch {
        return null; // no psql here
      }
      return (performance.now() - started) / 1000;
    },
    vacuum: async () => void (await pool.query(`vacuum analyze ${schema}.members`)),
    /** A copy of the first `n` rows for the naive baseline (bench/baseline.js). */
    sample: async (n) => {
      await pool.query(`create table ${schema}.baseline (like ${schema}.members including all)`);
      await pool.query(
        `insert into ${schema}.baseline select * from ${schema}.members order by id limit $1`,
        [n],
      );
      await pool.query(`analyze ${schema}.baseline`);
      return { kind: 'postgres', url: POSTGRES_URL, table: `${schema}.baseline` };
    },
    close: async () => {
      await pool.query(`drop schema if exists ${schema} cascade`);
      await pool.end();
    },
  };
}

function member(i) {
  const day = new Date(Date.UTC(2020, 0, 1) + (i % 1500) * 86_400_000).toISOString().slice(0, 10);
  return [
    `user${i}@example.com`,
    `User ${i}`,
    `https://example.com/a/${i}.png`,
    day,
    ['free', 'pro', 'team'][i % 3],
    `Company ${i % 500}`,
  ];
}

/**
 * VACUUM ANALYZE every table of a PostgreSQL schema, as autovacuum would after a bulk
 * load; this machine's server runs with autovacuum off, and without statistics the
 * planner sorts half a table for each keyset page.
 */
export async function vacuumSchema(url, schema) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query('select tablename from pg_tables where schemaname = $1', [schema]);
    for (const { tablename } of rows) await client.query(`vacuum analyze "${schema}"."${tablename}"`);
  } finally {
    await client.end();
  }
}
