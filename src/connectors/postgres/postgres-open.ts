import { CompiledQuery, Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { typeParsers } from './postgres-type-parsers.js';
import type { PostgresTarget } from './postgres-url.js';

/** The connector only runs SQL it builds with `sql`, so it needs no table types. */
export type PgKysely = Kysely<Record<string, never>>;

/** A sync reads pages one after another and writes one batch at a time: a few connections suffice. */
const POOL_SIZE = 4;
/** How long to wait for the server to accept a connection before calling it unreachable. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * A Kysely over a small pg.Pool. Nothing connects until the first query, so the factory
 * can stay synchronous; connection errors surface on first use.
 */
export function openPostgres(target: PostgresTarget, readOnly: boolean): PgKysely {
  const pool = new pg.Pool({
    connectionString: target.connectionString,
    // A name the DBA sees in pg_stat_activity; an application_name in the URL wins.
    application_name: 'usersync',
    max: POOL_SIZE,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    types: typeParsers,
    // A forgotten close() must not keep the process alive.
    allowExitOnIdle: true,
  });
  // A connection the server drops (restart, pg_terminate_backend) emits 'error'; with no
  // listener that crashes the process. The query running then fails on its own (and the
  // call with it); an idle connection is discarded by the pool (its 'error' event), and one
  // that is checked out when it dies (which pg-pool leaves unheard) is discarded on release.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return new Kysely({
    dialect: new PostgresDialect({
      pool,
      onCreateConnection: async (connection) => {
        // Floats as text exactly, whatever the database's default: two different values must
        // never give one fingerprint (see scanFingerprints).
        await connection.executeQuery(CompiledQuery.raw('set extra_float_digits = 3'));
        // Import-only: the server itself refuses writes, whatever SQL runs (a session setting,
        // not a URL option, so `?options=` in the user's URL cannot drop it).
        if (readOnly) {
          await connection.executeQuery(
            CompiledQuery.raw('set session characteristics as transaction read only'),
          );
        }
      },
    }),
  });
}
