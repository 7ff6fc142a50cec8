// The benchmark's generated sources: the same members table in SQLite or PostgreSQL.
// Rows were last updated ten seconds apart, the latest a day ago; an edit sets
// `updated_at` to now, so a sync with `cursor: updated_at` reads only the edited rows
// (and the few within the cursor's minute of overlap).
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';

export const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const MYSQL_URL = process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';
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

/** A table in a fresh MySQL/MariaDB database, filled from a cross join of digits. */
export async function mysqlSource(rows) {
  const database = `usersync_bench_${process.pid}`;
  const server = new URL(MYSQL_URL);
  const options = {
    host: server.hostname,
    port: server.port === '' ? 3306 : Number(server.port),
    user: decodeURIComponent(server.username),
    password: decodeURIComponent(server.password),
  };
  const admin = await mysql.createConnection(options);
  await admin.query(`drop database if exists ${database}`);
  await admin.query(`create database ${database}`);
  await admin.query(`use ${database}`);
  await admin.query(`create table members (
    id int auto_increment primary key, email varchar(200), full_name varchar(200), photo_url varchar(300),
    signup_date datetime, last_login datetime, app_user_id varchar(64), plan varchar(20), company varchar(100),
    updated_at datetime(3))`);
  const digits =
    '(select 0 d union all select 1 union all select 2 union all select 3 union all select 4 union all select 5 union all select 6 union all select 7 union all select 8 union all select 9)';
  const places = Array.from({ length: Math.max(1, Math.ceil(Math.log10(Math.max(rows, 2)))) }, (_, i) => i);
  await admin.query(
    `insert into members (${COLUMNS})
     select concat('user', n, '@example.com'), concat('User ', n), concat('https://example.com/a/', n, '.png'),
            timestamp('2020-01-01') + interval (n % 1500) day, elt(n % 3 + 1, 'free', 'pro', 'team'), concat('Company ', n % 500),
            utc_timestamp(3) - interval 1 day - interval n * 10 second
     from (select ${places.map((i) => `d${i}.d * ${10 ** i}`).join(' + ')} as n
           from ${places.map((i) => `${digits} d${i}`).join(', ')}) numbers
     where n < ?`,
    [rows],
  );
  // The index docs/connectors.md recommends under the default (_ci, PAD SPACE) collation.
  await admin.query('create index members_email on members (email)');
  await admin.query('create index members_updated_at on members (updated_at)');
  await admin.query('analyze table members');
  const url = `${MYSQL_URL}/${database}`;
  return {
    kind: 'MySQL source',
    yaml: `    source: ${url}\n    table: members`,
    edit: async (every) =>
      void (await admin.query(
        `update members set full_name = concat(full_name, ' (edited)'), updated_at = utc_timestamp(3) where id % ? = 0`,
        [every],
      )),
    // The floor: the server handing what a sync reads to its own client, which drops it.
    floor: async () => {
      const started = performance.now();
      try {
        execFileSync(
          'mysql',
          [
            `--host=${options.host}`,
            `--port=${options.port}`,
            `--user=${options.user}`,
            ...(options.password ? [`--password=${options.password}`] : []),
            '--quick',
            '--batch',
            '--skip-column-names',
            database,
            '-e',
            `select ${READ} from members`,
          ],
          { stdio: ['ignore', 'ignore', 'inherit'] },
        );
      } catch {
        return null; // no mysql client here
      }
      return (performance.now() - started) / 1000;
    },
    vacuum: async () => void (await admin.query('analyze table members')),
    sample: async (n) => {
      await admin.query('create table baseline like members');
      await admin.query(`insert into baseline (${READ}) select ${READ} from members order by id limit ?`, [
        n,
      ]);
      return { kind: 'mysql', url, table: 'baseline' };
    },
    close: async () => {
      await admin.query(`drop database if exists ${database}`);
      await admin.end();
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
