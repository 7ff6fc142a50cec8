import { randomBytes } from 'node:crypto';
import { createConnection, type Connection } from 'mysql2/promise';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { ConnectorSettings, SourceConnector } from '../../src/connectors/connector.js';
import { createMysqlConnector } from '../../src/connectors/mysql/mysql-connector.js';

/**
 * The MySQL/MariaDB server the tests use: USERSYNC_TEST_MYSQL_URL, by default the local
 * MariaDB as root without a password. Each test file gets its own database
 * (`usersync_t_<random>`), dropped afterwards unless KEEP_TEST_DB=1, so parallel runs
 * never meet. Fixtures are built with plain mysql2, not the code under test.
 */
export const MYSQL_TEST_URL = process.env.USERSYNC_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

const server = new URL(MYSQL_TEST_URL);

function connect(database?: string): Promise<Connection> {
  return createConnection({
    host: server.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: server.port === '' ? 3306 : Number(server.port),
    user: decodeURIComponent(server.username) || undefined,
    password: decodeURIComponent(server.password) || undefined,
    database,
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    multipleStatements: true,
  });
}

/**
 * Whether the test server answers. Without one the MySQL tests are skipped on a
 * developer's machine, but in CI (CI=true) a missing server fails the run: a green CI
 * must mean the connector was tested.
 */
export async function mysqlAvailable(): Promise<boolean> {
  try {
    const connection = await connect();
    await connection.end();
    return true;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (process.env.CI === 'true') {
      throw new Error(`The MySQL test server at ${server.host} cannot be reached (${reason}); CI needs it.`, {
        cause: error,
      });
    }
    console.warn(`Skipping the MySQL tests: no server at ${server.host} (${reason}).`);
    return false;
  }
}

export interface MysqlFixture {
  /** This file's database. */
  readonly database: () => string;
  /** `mysql://…/<database>` for the connector. */
  readonly url: () => string;
  /** Runs SQL in this file's database, as another program would. */
  query<T = unknown>(statement: string, params?: unknown[]): Promise<T>;
  /** A fresh table name for one test (`t1`, `t2` …), unquoted. */
  tableName(prefix?: string): string;
  /** A connector on this database, closed after the test. */
  open(settings: Partial<ConnectorSettings> & { table: string }): SourceConnector;
}

/** Call inside a `describe`: creates the database before its tests and drops it after. */
export function useMysqlFixture(): MysqlFixture {
  const database = `usersync_t_${randomBytes(5).toString('hex')}`;
  const opened: SourceConnector[] = [];
  let admin: Connection | undefined;
  let tables = 0;

  beforeAll(async () => {
    const setup = await connect();
    await setup.query(`create database \`${database}\` character set utf8mb4 collate utf8mb4_general_ci`);
    await setup.end();
    admin = await connect(database);
  });

  afterEach(async () => {
    for (const connector of opened.splice(0)) await connector.close();
  });

  afterAll(async () => {
    if (!admin) return;
    if (process.env.KEEP_TEST_DB === '1') console.warn(`Kept the test database ${database}.`);
    else await admin.query(`drop database \`${database}\``);
    await admin.end();
  });

  const url = () => {
    const copy = new URL(MYSQL_TEST_URL);
    copy.pathname = `/${database}`;
    return copy.toString();
  };

  return {
    database: () => database,
    url,
    async query<T>(statement: string, params: unknown[] = []) {
      if (!admin)
        throw new Error('The MySQL fixture is not set up; call useMysqlFixture() inside describe().');
      const [result] = await admin.query(statement, params);
      return result as T;
    },
    tableName: (prefix = 't') => `${prefix}${++tables}`,
    open(settings) {
      const connector = createMysqlConnector({
        source: url(),
        emailColumn: 'email',
        baseDir: '/',
        readOnly: false,
        ...settings,
      });
      opened.push(connector);
      return connector;
    },
  };
}
