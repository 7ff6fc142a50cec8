/**
 * Connectors kept open for reuse by a long-lived process (a server, a benchmark), so a
 * single-user sync costs its lookups and not a new connection to the source. A one-shot
 * command opens and closes its connectors per run instead.
 */
import type { ConnectionConfig, LoadedConfig } from '../config.js';
import type { SourceConnector } from '../connectors/connector.js';
import type { SyncMode } from '../core/plan.js';
import { openSource } from './read-plan.js';

/** How long a pooled source's checked columns are trusted before the mapping is checked again. */
const COLUMNS_TTL_MS = 60_000;

export class SourcePool {
  private readonly sources = new Map<string, { definition: string; source: Promise<SourceConnector> }>();
  private readonly checked = new Map<
    string,
    { at: number; definition: string; columns: readonly string[] }
  >();

  constructor(private readonly config: LoadedConfig) {}

  get(connection: ConnectionConfig, mode: SyncMode): Promise<SourceConnector> {
    // An import-only connection opens its source read-only: a different connector.
    const id = `${connection.name}\0${mode === 'import'}`;
    // A connection changed through the API gets a new connector; the old one is closed.
    const definition = JSON.stringify(connection);
    const pooled = this.sources.get(id);
    if (pooled?.definition === definition) return pooled.source;
    if (pooled) void closeQuietly(pooled.source);
    const source = openSource(this.config, connection, mode);
    this.sources.set(id, { definition, source });
    // A source that could not be opened is tried again next time.
    source.catch(() => {
      if (this.sources.get(id)?.source === source) this.sources.delete(id);
    });
    return source;
  }

  /**
   * The columns a sync of this connection reads, checked against the source (`check`) at
   * most once a minute: the single-user path then skips describing the source each time.
   */
  async columnsToRead(
    connection: ConnectionConfig,
    check: () => Promise<readonly string[]>,
  ): Promise<readonly string[]> {
    const definition = JSON.stringify(connection);
    const known = this.checked.get(connection.name);
    if (known?.definition === definition && Date.now() - known.at < COLUMNS_TTL_MS) return known.columns;
    const columns = await check();
    this.checked.set(connection.name, { at: Date.now(), definition, columns });
    return columns;
  }

  async close(): Promise<void> {
    const open = [...this.sources.values()];
    this.sources.clear();
    for (const { source } of open) await closeQuietly(source);
  }
}

async function closeQuietly(source: Promise<SourceConnector>): Promise<void> {
  await (await source.catch(() => null))?.close();
}

/** A source for one run: from the pool when there is one (kept open), else opened and closed. */
export interface SourceLease {
  readonly source: SourceConnector;
  release(): Promise<void>;
}

export async function leaseSource(
  services: { config: LoadedConfig; sources?: SourcePool | undefined },
  connection: ConnectionConfig,
  mode: SyncMode,
): Promise<SourceLease> {
  if (services.sources)
    return { source: await services.sources.get(connection, mode), release: async () => {} };
  const source = await openSource(services.config, connection, mode);
  return { source, release: () => source.close() };
}
