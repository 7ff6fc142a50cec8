/**
 * PostgreSQL for the source connector tests: the real server (127.0.0.1:5432, database
 * `test`, or $USERSYNC_TEST_POSTGRES_URL). Each test file works in its own schema
 * `usersync_t_<random>`, so parallel runs never collide; it is dropped after the file
 * (kept with KEEP_TEST_SCHEMA=1, to inspect a failure). Tables are edited here with plain
 * pg, not with the code under test.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { ConnectorSettings, SourceConnector } from '../../src/connectors/connector.js';

// The server, its reachability check and identifier quoting are the directory tests' too.
import { POSTGRES_TEST_URL, postgresReachable, quoteIdent } from './postgres-directory.js';
import { createPostgresConnector } from '../../src/connectors/postgres/postgres-connector.js';

export { POSTGRES_TEST_URL, postgresReachable, quoteIdent };

/** The test server's URL with other parts or query parameters, e.g. `{ port: '1' }`. */
export function postgresUrl(
  change: { port?: string; database?: string; password?: string; params?: Record<string, string> } = {},
): string {
  const url = new URL(POSTGRES_TEST_URL);
  if (change.port !== undefined) url.port = change.port;
  if (change.database !== undefined) url.pathname = `/${change.database}`;
  if (change.password !== undefined) url.password = change.password;
  for (const [name, value] of Object.entries(change.params ?? {})) url.searchParams.set(name, value);
  return url.toString();
}

export interface TestSchema {
  /** The schema's name (known once the file's tests start). */
  readonly name: () => string;
  /** A fresh table name, unique in the schema: `t7_members`. */
  readonly newTable: (base?: string) => string;
  /** `"schema"."table"`, for the tests' own SQL. */
  readonly qualified: (table: string) => string;
  /** Runs SQL as another program would. */
  readonly query: <R extends pg.QueryResultRow = Record<string, unknown>>(
    text: string,
    values?: readonly unknown[],
  ) => Promise<R[]>;
  /** A source URL whose search_path is the schema, so unqualified table names resolve there. */
  readonly urlOnSchema: () => string;
}

/** The file's own schema; call inside the suite that needs it. */
export function useTestSchema(): TestSchema {
  let schema = '';
  let pool: pg.Pool | undefined;
  let tables = 0;
  const admin = () => (pool ??= new pg.Pool({ connectionString: POSTGRES_TEST_URL, max: 2 }));

  beforeAll(async () => {
    schema = `usersync_t_${randomBytes(6).toString('hex')}`;
    await admin().query(`create schema ${quoteIdent(schema)}`);
  });

  afterAll(async () => {
    if (process.env.KEEP_TEST_SCHEMA === '1') console.info(`kept schema ${schema}`);
    else if (schema !== '') await admin().query(`drop schema if exists ${quoteIdent(schema)} cascade`);
    await pool?.end();
  });

  return {
    name: () => schema,
    newTable: (base = 'members') => `t${++tables}_${base}`,
    qualified: (table) => `${quoteIdent(schema)}.${quoteIdent(table)}`,
    query: async <R extends pg.QueryResultRow>(text: string, values: readonly unknown[] = []) =>
      (await admin().query<R>(text, [...values])).rows,
    urlOnSchema: () => postgresUrl({ params: { options: `-c search_path=${schema}` } }),
  };
}

export interface PostgresSources extends TestSchema {
  /** A connector on the test database (through the registry), closed after the test. */
  readonly open: (settings: Partial<ConnectorSettings> & { table: string }) => SourceConnector;
  /** Creates a table in the schema from its column list and returns the table's name. */
  readonly makeTable: (columns: string, base?: string) => Promise<string>;
}

/** The schema plus connectors on it; call inside the suite that needs them. */
export function usePostgresSources(): PostgresSources {
  const schema = useTestSchema();
  const opened: SourceConnector[] = [];
  afterEach(async () => {
    for (const connector of opened.splice(0)) await connector.close();
  });
  return {
    ...schema,
    open: (settings) => {
      const connector = createPostgresConnector({
        source: POSTGRES_TEST_URL,
        emailColumn: 'email',
        baseDir: '/',
        readOnly: false,
        ...settings,
      });
      opened.push(connector);
      return connector;
    },
    makeTable: async (columns, base) => {
      const table = schema.newTable(base);
      await schema.query(`create table ${schema.qualified(table)} (${columns})`);
      return table;
    },
  };
}
