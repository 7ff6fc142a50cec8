/**
 * PostgreSQL for the directory tests: the real server (127.0.0.1:5432, database `test`,
 * or $USERSYNC_TEST_POSTGRES_URL), each test on its own schema `usersync_dir_<random>`,
 * dropped after the test (kept with KEEP_TEST_SCHEMA=1, to inspect a failure).
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, afterEach } from 'vitest';

export const POSTGRES_TEST_URL =
  process.env.USERSYNC_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * Whether the test server answers. Outside CI a missing server skips the PostgreSQL tests
 * (with a warning); in CI it fails them, so a broken setup is never a silent green.
 */
export async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: POSTGRES_TEST_URL, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch (error) {
    const why = `PostgreSQL is not reachable at ${withoutPassword(POSTGRES_TEST_URL)} (${(error as Error).message || String(error)})`;
    if (process.env.CI === 'true') throw new Error(`${why}; CI needs it (see .ci/run).`, { cause: error });
    console.warn(`${why}: skipping the PostgreSQL tests.`);
    return false;
  }
}

function withoutPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString();
}

/** The test server's URL with these query parameters set. */
export function postgresUrl(params: Record<string, string> = {}, base = POSTGRES_TEST_URL): string {
  const url = new URL(base);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return url.toString();
}

export function uniqueName(prefix: string): string {
  return `${prefix}${randomBytes(6).toString('hex')}`;
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export interface PostgresSchemas {
  /** A new schema name (not created: opening the directory creates it), dropped after the test. */
  newSchema(prefix?: string): string;
  /** A directory URL on a new schema. */
  newDirectoryUrl(params?: Record<string, string>): string;
  /** A pool on the test database for inspecting and racing (its own connections, not the store's). */
  readonly admin: pg.Pool;
}

/** Gives each test its own schemas; call at the top of a test file. */
export function usePostgresSchemas(): PostgresSchemas {
  const made: string[] = [];
  let pool: pg.Pool | undefined;
  const admin = () => (pool ??= new pg.Pool({ connectionString: POSTGRES_TEST_URL, max: 4 }));
  afterEach(async (context) => {
    const schemas = made.splice(0);
    if (process.env.KEEP_TEST_SCHEMA === '1') {
      if (schemas.length > 0) console.info(`kept schemas: ${schemas.join(', ')}`);
      return;
    }
    if (context.task.result?.state === 'fail' && schemas.length > 0) {
      console.info(`dropping ${schemas.join(', ')}: rerun with KEEP_TEST_SCHEMA=1 to inspect them`);
    }
    for (const schema of schemas) await admin().query(`drop schema if exists ${quoteIdent(schema)} cascade`);
  });
  afterAll(async () => {
    await pool?.end();
  });
  const newSchema = (prefix = 'usersync_dir_') => {
    const schema = uniqueName(prefix);
    made.push(schema);
    return schema;
  };
  return {
    newSchema,
    newDirectoryUrl: (params = {}) => postgresUrl({ schema: newSchema(), ...params }),
    get admin() {
      return admin();
    },
  };
}

/** Waits until a session of `applicationName` is blocked on a lock (a row or index entry another transaction holds). */
export async function waitUntilBlocked(admin: pg.Pool, applicationName: string): Promise<void> {
  for (let i = 0; i < 250; i++) {
    const { rows } = await admin.query<{ n: string }>(
      "select count(*) as n from pg_stat_activity where application_name = $1 and wait_event_type = 'Lock'",
      [applicationName],
    );
    if (Number(rows[0]?.n) > 0) return;
    await sleep(20);
  }
  throw new Error(`No session of ${applicationName} got blocked within 5 s.`);
}
