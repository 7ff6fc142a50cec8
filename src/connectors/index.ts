import { UsersyncError } from '../core/errors.js';
import type { ConnectorFactory, ConnectorSettings, SourceConnector } from './connector.js';
import { createCsvConnector } from './csv/csv-connector.js';
import { createMysqlConnector } from './mysql/mysql-connector.js';
import { createPostgresConnector } from './postgres/postgres-connector.js';
import { createSqliteConnector } from './sqlite/sqlite-connector.js';

/**
 * The one place that knows every kind of source: a `source:` URL scheme and the
 * factory for it. A new connector is one folder and one line here.
 */
const factories: ReadonlyMap<string, ConnectorFactory> = new Map([
  ['sqlite', createSqliteConnector],
  ['csv', createCsvConnector],
  ['mysql', createMysqlConnector],
  ['mariadb', createMysqlConnector],
  ['postgres', createPostgresConnector],
  ['postgresql', createPostgresConnector],
]);

/** The kinds `createConnector` accepts, e.g. `['sqlite', 'csv', …]`. */
export const sourceKinds: readonly string[] = [...factories.keys()];

/**
 * The scheme of a `source:` value, lower-case and without the colon
 * (`sqlite:./crm.db` → `sqlite`, `postgres://…` → `postgres`); undefined when it has none.
 */
export function sourceKind(source: string): string | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(source.trim())?.[1];
  // One letter is a Windows drive (`C:\users.csv`), not a scheme.
  return scheme && scheme.length > 1 ? scheme.toLowerCase() : undefined;
}

export function createConnector(settings: ConnectorSettings): SourceConnector {
  const kind = sourceKind(settings.source);
  const factory = kind === undefined ? undefined : factories.get(kind);
  if (factory) return factory({ ...settings, source: settings.source.trim() });
  const supported = sourceKinds.map((k) => `${k}:`).join(', ');
  // Not echoing an unsupported URL: it may carry a password.
  const problem =
    kind === undefined ? `"${settings.source}" has no kind` : `kind "${kind}:" is not supported`;
  throw new UsersyncError(
    'config.invalid',
    `The source ${problem}. Supported: ${supported} ` +
      `(e.g. sqlite:./crm.db, csv:./users.csv, postgres://user@host/db, mysql://user@host/db).`,
  );
}

export type { ConnectorFactory, ConnectorSettings, SourceConnector } from './connector.js';
