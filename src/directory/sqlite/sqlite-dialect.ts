/**
 * The SQLite directory: one better-sqlite3 connection per process, WAL so readers never
 * wait for the writer, and write transactions that take the write lock up front.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { DatabaseConnection, Driver, SqliteDialectConfig } from 'kysely';
import { CompiledQuery, SqliteDialect, SqliteDriver, sql } from 'kysely';
import type { DirectoryDialect } from '../dialect.js';
import { withStatementCache } from './statement-cache.js';
import { createUserSearch, inBulk, sqliteUserSearch } from './user-search.js';

const PRAGMAS = [
  'journal_mode = WAL',
  // Another process (the server while the CLI syncs) may hold the write lock briefly.
  'busy_timeout = 5000',
  'foreign_keys = ON',
  // Safe with WAL: a power loss may lose the last commits, never corrupt the file.
  'synchronous = NORMAL',
];

/**
 * Kysely begins SQLite transactions with a plain (deferred) `begin`: the write lock is
 * taken at the first write, and if another process committed since this transaction's
 * first read, SQLite fails at once with SQLITE_BUSY instead of waiting. Every directory
 * transaction writes, so take the lock at `begin`, where busy_timeout applies.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class DirectorySqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;
  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
}

/** Opens (creating it and its folder if needed) the SQLite file at `path`, or `:memory:`. */
export function createSqliteDirectoryDialect(path: string): DirectoryDialect {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const database = new BetterSqlite3(path);
  try {
    // The first statement that reads the file: fails here when it is not a SQLite database.
    for (const pragma of PRAGMAS) database.pragma(pragma);
  } catch (error) {
    database.close();
    throw error;
  }
  return {
    name: 'sqlite',
    kysely: new DirectorySqliteDialect({ database: withStatementCache(database) }),
    afterMigrate: createUserSearch,
    userSearch: sqliteUserSearch,
    inBulk,
    isUniqueViolation,
    oneOf: (value, values) =>
      sql<boolean>`${value} in (select value from json_each(${JSON.stringify(values)}))`,
  };
}

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  // Not SQLITE_CONSTRAINT_PRIMARYKEY: a reused id is a bug to surface, not a lost race.
  return code === 'SQLITE_CONSTRAINT_UNIQUE';
}
