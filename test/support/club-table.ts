/**
 * The club table ("Club Members") of the sync tests, wherever the source keeps it: a
 * SQLite file in the test's folder, a fresh PostgreSQL schema, or a fresh MariaDB/MySQL
 * database. The same edits on each, made with the plain driver as another program would
 * make them (never through the code under test); async, since pg and mysql2 are.
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createPool, type Pool, type ResultSetHeader } from 'mysql2/promise';
import pg from 'pg';
import { MYSQL_TEST_URL } from './mysql.js';
import { POSTGRES_TEST_URL } from './postgres-directory.js';

export type Row = Record<string, unknown>;

export interface Member {
  email: string | null;
  name?: string | null;
  plan?: string | null;
  company?: string | null;
  signup?: string | null;
  status?: string | null;
  userId?: string | null;
}

/** Where the club table lives. */
export type ClubSource = 'sqlite' | 'postgres' | 'mysql';

export interface ClubTable {
  readonly kind: ClubSource;
  /** The connection's `source:` and `table:` for this table. */
  readonly source: string;
  readonly table: string;
  /** Adds a row; returns its key as the sync sees it. */
  add(member: Member): Promise<string>;
  /** Sets one column of one row. */
  set(key: string, column: string, value: unknown): Promise<void>;
  remove(key: string): Promise<void>;
  /** Every row, by key. */
  rows(): Promise<Row[]>;
  /** Drops the schema or database made for it (kept with KEEP_TEST_SCHEMA=1 / KEEP_TEST_DB=1). */
  drop(): Promise<void>;
}

const TABLE = 'Club Members';
const COLUMNS = ['email', 'Full-Name', 'plan', 'company', 'signup_date', 'status', 'app_user_id'];

function valuesOf(member: Member): (string | null)[] {
  return [
    member.email,
    member.name ?? null,
    member.plan ?? null,
    member.company ?? null,
    member.signup ?? null,
    member.status ?? null,
    member.userId ?? null,
  ];
}

/** The table in `crm.db` of the test's folder, made by the fixture from CLUB_SCHEMA. */
export function sqliteClubTable(dir: string, file = 'crm.db'): ClubTable {
  const run = <T>(work: (db: Database.Database) => T): Promise<T> => {
    const db = new Database(join(dir, file));
    try {
      return Promise.resolve(work(db));
    } finally {
      db.close();
    }
  };
  const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
  return {
    kind: 'sqlite',
    source: `sqlite:./${file}`,
    table: TABLE,
    add: (member) =>
      run((db) => {
        const insert = `insert into ${quote(TABLE)} (${COLUMNS.map(quote).join(', ')}) values (?, ?, ?, ?, ?, ?, ?)`;
        return String(db.prepare(insert).run(...valuesOf(member)).lastInsertRowid);
      }),
    set: (key, column, value) =>
      run((db) => {
        db.prepare(`update ${quote(TABLE)} set ${quote(column)} = ? where id = ?`).run(value, Number(key));
      }),
    remove: (key) =>
      run((db) => {
        db.prepare(`delete from ${quote(TABLE)} where id = ?`).run(Number(key));
      }),
    rows: () => run((db) => db.prepare(`select * from ${quote(TABLE)} order by id`).all() as Row[]),
    drop: () => Promise.resolve(),
  };
}

/**
 * Admin connections to the test servers, opened on first use: one place that makes a
 * club table in a fresh schema or database per world, and closes the pools at the end.
 */
export class ClubServers {
  private pgPool: pg.Pool | undefined;
  private mysqlPool: Pool | undefined;

  create(kind: 'postgres' | 'mysql'): Promise<ClubTable> {
    return kind === 'postgres' ? this.createPostgres() : this.createMysql();
  }

  async end(): Promise<void> {
    const [pgPool, mysqlPool] = [this.pgPool, this.mysqlPool];
    this.pgPool = this.mysqlPool = undefined;
    await pgPool?.end();
    await mysqlPool?.end();
  }

  /**
   * `id serial`: PostgreSQL never hands out a deleted row's key again (SQLite may), so key
   * reuse is not exercised here. The connection names the table as `"schema"."Club Members"`.
   */
  private async createPostgres(): Promise<ClubTable> {
    const pool = (this.pgPool ??= new pg.Pool({ connectionString: POSTGRES_TEST_URL, max: 2 }));
    const schema = `usersync_src_${randomBytes(6).toString('hex')}`;
    const table = `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(TABLE)}`;
    await pool.query(`create schema ${pg.escapeIdentifier(schema)}`);
    await pool.query(`create table ${table} (
      id serial primary key, email text, "Full-Name" text, plan text, company text,
      app_user_id text, signup_date text, status text)`);
    const names = COLUMNS.map((c) => pg.escapeIdentifier(c)).join(', ');
    return {
      kind: 'postgres',
      source: POSTGRES_TEST_URL,
      table,
      add: async (member) => {
        const { rows } = await pool.query<{ id: number }>(
          `insert into ${table} (${names}) values ($1, $2, $3, $4, $5, $6, $7) returning id`,
          valuesOf(member),
        );
        return String(rows[0]!.id);
      },
      set: async (key, column, value) => {
        await pool.query(`update ${table} set ${pg.escapeIdentifier(column)} = $1 where id = $2`, [
          value,
          Number(key),
        ]);
      },
      remove: async (key) => {
        await pool.query(`delete from ${table} where id = $1`, [Number(key)]);
      },
      rows: async () => (await pool.query<Row>(`select * from ${table} order by id`)).rows,
      drop: async () => {
        if (process.env.KEEP_TEST_SCHEMA === '1') console.info(`kept source schema ${schema}`);
        else await pool.query(`drop schema if exists ${pg.escapeIdentifier(schema)} cascade`);
      },
    };
  }

  /**
   * `id int auto_increment`: never reused either. The database takes MariaDB's usual
   * case-insensitive collation (utf8mb4_general_ci) on purpose: it is what most real
   * tables have, and the harder case for the connector, which must not let the collation
   * decide what "the same value" is (its conditional writes compare with utf8mb4_bin, its
   * lookups keep only exact matches). The sync's own email comparisons happen in
   * JavaScript on emailKey, so the invariants do not depend on the collation.
   */
  private async createMysql(): Promise<ClubTable> {
    const pool = (this.mysqlPool ??= openMysqlPool());
    const database = `usersync_src_${randomBytes(6).toString('hex')}`;
    const table = `${quoteMysql(database)}.${quoteMysql(TABLE)}`;
    await pool.query(
      `create database ${quoteMysql(database)} character set utf8mb4 collate utf8mb4_general_ci`,
    );
    await pool.query(`create table ${table} (
      id int auto_increment primary key, email varchar(255), \`Full-Name\` varchar(255),
      plan varchar(255), company varchar(255), app_user_id varchar(255), signup_date varchar(255),
      status varchar(255))`);
    const url = new URL(MYSQL_TEST_URL);
    url.pathname = `/${database}`;
    const names = COLUMNS.map(quoteMysql).join(', ');
    return {
      kind: 'mysql',
      source: url.toString(),
      table: TABLE,
      add: async (member) => {
        const [result] = await pool.query<ResultSetHeader>(
          `insert into ${table} (${names}) values (?, ?, ?, ?, ?, ?, ?)`,
          valuesOf(member),
        );
        return String(result.insertId);
      },
      set: async (key, column, value) => {
        await pool.query(`update ${table} set ${quoteMysql(column)} = ? where id = ?`, [value, Number(key)]);
      },
      remove: async (key) => {
        await pool.query(`delete from ${table} where id = ?`, [Number(key)]);
      },
      rows: async () => {
        const [rows] = await pool.query(`select * from ${table} order by id`);
        return rows as Row[];
      },
      drop: async () => {
        if (process.env.KEEP_TEST_DB === '1') console.info(`kept source database ${database}`);
        else await pool.query(`drop database if exists ${quoteMysql(database)}`);
      },
    };
  }
}

function quoteMysql(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``;
}

function openMysqlPool(): Pool {
  const server = new URL(MYSQL_TEST_URL);
  return createPool({
    host: server.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: server.port === '' ? 3306 : Number(server.port),
    user: decodeURIComponent(server.username) || undefined,
    password: decodeURIComponent(server.password) || undefined,
    connectionLimit: 2,
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
  });
}
