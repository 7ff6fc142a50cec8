import { UsersyncError } from '../core/errors.js';
import type { ConnectorFactory, ConnectorSettings, SourceConnector } from './connector.js';

const sqlite = async () => (await import('./sqlite/sqlite-connector.js')).createSqliteConnector;
const csv = async () => (await import('./csv/csv-connector.js')).createCsvConnector;
const mysql = async () => (await import('./mysql/mysql-connector.js')).createMysqlConnector;
const postgres = async () => (await import('./postgres/postgres-connector.js')).createPostgresConnector;

/**
 * The one place that knows every kind of source: a `source:` URL scheme and the
 * factory for it. A new connector is one folder and one line here. Each is loaded when
 * first used: a command that syncs a SQLite file never loads mysql2 or pg (0.2–0.3 s each).
 */
const factories: ReadonlyMap<string, () => Promise<ConnectorFactory>> = new Map([
  ['sqlite', sqlite],
  ['csv', csv],
  ['mysql', mysql],
  ['mariadb', mysql],
  ['postgres', postgres],
  ['postgresql', postgres],
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

export async function createConnector(settings: ConnectorSettings): Promise<SourceConnector> {
  const kind = sourceKind(settings.source);
  const load = kind === undefined ? undefined : factories.get(kind);
  if (load) return (await load())({ ...settings, source: settings.source.trim() });
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
