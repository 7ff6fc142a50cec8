/**
 * The read side of a sync: open the source, check the mapping against its columns, read
 * every row, user and link, and plan. Nothing is written here, so a dry run is just this.
 */
import type { ConnectionConfig, LoadedConfig } from '../config.js';
import type { SourceConnector, SourceDescription, SourceRow } from '../connectors/connector.js';
import { createConnector } from '../connectors/index.js';
import { UsersyncError } from '../core/errors.js';
import { mappedColumns, type MappedField } from '../core/fields.js';
import type { LinkState } from '../core/link.js';
import { planSync } from '../core/plan-sync.js';
import type { PlanContext, SyncMode, SyncPlan } from '../core/plan.js';
import type { DirectoryUser } from '../core/user.js';
import type { DirectoryStore } from '../directory/store.js';
import { effectiveMode, mappingOf, planContext } from './plan-context.js';
import type { SyncProgress } from './sync-result.js';

const PAGE_SIZE = 5000;

export interface ReadPlanOptions {
  readonly approveMassChange?: boolean | undefined;
  readonly onProgress?: ((event: SyncProgress) => void) | undefined;
}

export interface PlannedSync {
  readonly plan: SyncPlan;
  readonly ctx: PlanContext;
  /** The columns read from each row. */
  readonly columns: readonly string[];
  readonly mode: SyncMode;
  /** Open; the caller closes it. */
  readonly source: SourceConnector;
}

export async function openSource(
  config: LoadedConfig,
  connection: ConnectionConfig,
  mode: SyncMode,
): Promise<SourceConnector> {
  return createConnector({
    source: connection.source,
    table: connection.table,
    key: connection.key,
    emailColumn: connection.emailColumn,
    baseDir: config.baseDir,
    readOnly: mode === 'import',
  });
}

export async function readAndPlan(
  store: DirectoryStore,
  config: LoadedConfig,
  connection: ConnectionConfig,
  options: ReadPlanOptions,
): Promise<PlannedSync> {
  const mode = effectiveMode(connection, await store.getConnectionState(connection.name));
  const source = await openSource(config, connection, mode);
  try {
    const description = await source.describe();
    checkColumns(config, connection, description, source.keyColumn);
    // A filter may name any column, so read them all then; otherwise just the mapped ones.
    const columns = connection.filter
      ? description.columns.map((c) => c.name)
      : mappedColumns(mappingOf(connection, source.keyColumn));
    const rows = await readRows(source, columns, (rowsRead) =>
      options.onProgress?.({ connection: connection.name, phase: 'read', rows: rowsRead }),
    );
    const users = await collect(store.scanUsers(PAGE_SIZE, { includeDeleted: true }));
    const links: LinkState[] = await collect(store.scanLinks(connection.name, PAGE_SIZE));
    const ctx = planContext(connection, {
      mode,
      keyColumn: source.keyColumn,
      totalUsers: countLive(users),
      approveMassChange: options.approveMassChange ?? false,
      suspendedElsewhere: await store.suspendedElsewhere(connection.name),
    });
    const plan = planSync(ctx, { rows, users, links });
    options.onProgress?.({ connection: connection.name, phase: 'plan', actions: plan.actions.length });
    return { plan, ctx, columns, mode, source };
  } catch (error) {
    await source.close();
    throw error;
  }
}

async function readRows(
  source: SourceConnector,
  columns: string[],
  onPage: (rows: number) => void,
): Promise<SourceRow[]> {
  const rows: SourceRow[] = [];
  for await (const page of source.scan({ columns, pageSize: PAGE_SIZE })) {
    for (const row of page) rows.push(row);
    onPage(rows.length);
  }
  return rows;
}

/** Appendix A: a column the source does not have is a clear error naming the file and the key. */
export function checkColumns(
  config: LoadedConfig,
  connection: ConnectionConfig,
  description: SourceDescription,
  keyColumn: string,
): void {
  const have = new Set(description.columns.map((c) => c.name));
  const wanted: Array<[string, string]> = [
    ['key', keyColumn],
    ['fields.email', connection.emailColumn],
    ...connection.fields.map((f): [string, string] => [configKey(f), f.column]),
  ];
  if (connection.cursor) wanted.push(['cursor', connection.cursor]);
  const missing = wanted.filter(([, column]) => !have.has(column));
  if (missing.length === 0) return;
  const lines = missing.map(
    ([key, column]) =>
      `${config.file}: ${connection.configPath}.${key}: column "${column}" is not in ${description.location}`,
  );
  throw new UsersyncError(
    'source.invalid',
    `${lines.join('\n')}\nIts columns are: ${[...have].join(', ')}. Fix the mapping in ${config.file}, or add the column to the source.`,
  );
}

function configKey(field: MappedField): string {
  return field.id.startsWith('custom.') ? field.id : `fields.${field.id}`;
}

async function collect<T>(pages: AsyncIterable<T[]>): Promise<T[]> {
  const all: T[] = [];
  for await (const page of pages) for (const item of page) all.push(item);
  return all;
}

function countLive(users: readonly DirectoryUser[]): number {
  let n = 0;
  for (const user of users) if (user.deletedAt === null) n += 1;
  return n;
}
