import { CompiledQuery, Kysely, MysqlDialect, sql } from 'kysely';
import { createPool } from 'mysql2';
import type { MysqlTarget } from './mysql-url.js';

/** The connector only runs SQL it builds with `sql`, so it needs no table types. */
export type MysqlKysely = Kysely<Record<string, never>>;

/** Few connections: the connector reads page by page and writes in one transaction at a time. */
const CONNECTION_LIMIT = 4;
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * The session's SQL mode, set whole rather than added to the server's: strict, so a
 * value that does not fit fails its row instead of being silently truncated, and
 * without ANSI_QUOTES or NO_BACKSLASH_ESCAPES, which would change how the driver's
 * escaped parameters and Kysely's backtick-quoted names are read.
 */
export const SESSION_SQL_MODE =
  'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION';

/**
 * A Kysely over a mysql2 pool. Nothing connects until the first query, so a wrong host
 * fails there (the connector factory is synchronous).
 */
export function openMysql(target: MysqlTarget, readOnly: boolean): MysqlKysely {
  const pool = createPool({
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database: target.database,
    connectionLimit: CONNECTION_LIMIT,
    maxIdle: CONNECTION_LIMIT,
    connectTimeout: CONNECT_TIMEOUT_MS,
    charset: 'utf8mb4',
    // Values come back as the server prints them: DATETIME/DATE/TIMESTAMP as text (the core
    // reads a zone-less time as UTC, hence the session time zone below), BIGINT and DECIMAL as
    // text so no digit is lost, JSON as its text.
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: false,
    jsonStrings: true,
    // Date parameters (none are passed, see mysql-value.ts) would be written in UTC too.
    timezone: 'Z',
    // "Affected rows" counts the rows an UPDATE matched, not the ones it changed: an update
    // to the values already there is a success, not a stale row. (mysql2's default too.)
    flags: ['FOUND_ROWS'],
    // A batch of updates goes as one query of a statement a row (mysql-writes.ts): one
    // round trip instead of a thousand. Every value is a parameter the driver escapes and
    // every name is quoted by Kysely, so no text from outside is ever read as SQL.
    multipleStatements: true,
  });
  return new Kysely({
    dialect: new MysqlDialect({
      pool,
      onCreateConnection: async (connection) => {
        await connection.executeQuery(
          CompiledQuery.raw('set session sql_mode = ?, time_zone = ?', [SESSION_SQL_MODE, '+00:00']),
        );
        // The server enforces an import-only connection too, not just the connector.
        if (readOnly) await connection.executeQuery(CompiledQuery.raw('set session transaction read only'));
      },
    }),
  });
}

/** MariaDB 10.5 added `INSERT … RETURNING`; MySQL has none. */
export async function supportsReturning(db: MysqlKysely): Promise<boolean> {
  const { rows } = await sql<{ v: string }>`select version() as v`.execute(db);
  const version = rows[0]?.v ?? '';
  const match = /^(\d+)\.(\d+)/.exec(version);
  if (!match || !/mariadb/i.test(version)) return false;
  const [major, minor] = [Number(match[1]), Number(match[2])];
  return major > 10 || (major === 10 && minor >= 5);
}
