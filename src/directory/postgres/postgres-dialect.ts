/**
 * The PostgreSQL directory: a pool of connections (several workers and API processes can
 * share one directory), every connection confined to the directory's schema.
 *
 * Transactions start with a plain `begin` (read committed). That is enough because every
 * write that can race another process is one conditional statement (`… where version =`,
 * `insert … on conflict`) or is refused by a unique index, which the store reports as a
 * conflict; no step relies on a snapshot staying unchanged between two statements.
 */
import type { DatabaseIntrospector, Kysely, PostgresDialectConfig } from 'kysely';
import { CompiledQuery, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { DirectoryDialect } from '../dialect.js';
import { isUniqueViolation, openError } from './postgres-errors.js';
import { schemaIntrospector } from './schema-introspector.js';
import { parsePostgresDirectoryUrl, type PostgresDirectoryTarget } from './postgres-url.js';
import { preparingPool } from './prepared-statements.js';
import { inBulk, restoreDeferred } from './in-bulk.js';

const POOL_SIZE = 10;
/** pg applies it both to opening a connection and to waiting for a free one in a busy pool. */
const CONNECT_TIMEOUT_MS = 15_000;

/** Builds the dialect for a `postgres://` (or `postgresql://`) URL; connects on first use. */
export function createPostgresDirectoryDialect(url: string): DirectoryDialect {
  const target = parsePostgresDirectoryUrl(url);
  const pool = new pg.Pool({
    connectionString: target.connectionString,
    max: POOL_SIZE,
    application_name: 'usersync',
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  // An idle pooled connection the server drops (restart, idle timeout) emits 'error' on the
  // pool; unheard, Node would exit. The pool discards that client and the next query reconnects.
  pool.on('error', () => {});
  const setSearchPath = CompiledQuery.raw(`set search_path to ${quoteIdentifier(target.schema)}`);
  return {
    name: 'postgres',
    kysely: new SchemaScopedPostgresDialect(target.schema, {
      pool: target.prepare ? preparingPool(pool) : pool,
      // Every new pooled connection, before its first query: unqualified names are the directory's.
      onCreateConnection: async (connection) => {
        await connection.executeQuery(setSearchPath);
      },
    }),
    migrationSchema: target.schema,
    prepare: (db) => prepare(db, target),
    afterMigrate: restoreDeferred,
    inBulk,
    isUniqueViolation,
    besideSource: (db, read) =>
      db.transaction().execute(async (trx) => {
        await sql`set local max_parallel_workers_per_gather = 0`.execute(trx);
        return read(trx);
      }),
    // Of a bigint array, a hash lookup (of an int array, the cross-type operator searches it for each row).
    oneOf: (value, values) => sql<boolean>`${value} = any(${values}::bigint[])`,
  };
}

/** Introspects the directory's schema only (see schema-introspector.ts). */
class SchemaScopedPostgresDialect extends PostgresDialect {
  constructor(
    private readonly schema: string,
    config: PostgresDialectConfig,
  ) {
    super(config);
  }

  override createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return schemaIntrospector(db, this.schema);
  }
}

/** `"name"`, with inner quotes doubled: safe for any schema name the URL carries. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

async function prepare(db: Kysely<unknown>, target: PostgresDirectoryTarget): Promise<void> {
  try {
    await ensureSchema(db, target.schema);
  } catch (error) {
    throw openError(error, target);
  }
}

/**
 * Creates the schema unless it exists. Checked first so a user without CREATE on the
 * database can still use a schema made for it; and checked again after a failure, since
 * `create schema if not exists` can still fail when another process creates it at the same time.
 */
async function ensureSchema(db: Kysely<unknown>, schema: string): Promise<void> {
  if (await schemaExists(db, schema)) return;
  try {
    await db.schema.createSchema(schema).ifNotExists().execute();
  } catch (error) {
    if (!(await schemaExists(db, schema))) throw error;
  }
}

async function schemaExists(db: Kysely<unknown>, schema: string): Promise<boolean> {
  const { rows } = await sql`select 1 from pg_namespace where nspname = ${schema}`.execute(db);
  return rows.length > 0;
}
