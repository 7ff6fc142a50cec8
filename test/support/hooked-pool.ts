/**
 * A SourcePool (sync/source-pool.ts) whose connectors are the real ones with some methods
 * replaced: a test counts what a run reads, records its writes or makes one fail.
 */
import type { ConnectionConfig } from '../../src/config.js';
import type { SourceConnector } from '../../src/connectors/connector.js';
import type { SyncMode } from '../../src/core/plan.js';
import { SourcePool } from '../../src/sync/source-pool.js';

export abstract class HookedPool extends SourcePool {
  /** The methods to replace on `source` (each may call `source`'s own). */
  protected abstract hooks(source: SourceConnector): Partial<SourceConnector>;

  override async get(connection: ConnectionConfig, mode: SyncMode): Promise<SourceConnector> {
    const source = await super.get(connection, mode);
    const hooks: Partial<Record<PropertyKey, unknown>> = this.hooks(source);
    return new Proxy(source, {
      get: (target, property, receiver) =>
        property in hooks ? hooks[property] : (Reflect.get(target, property, receiver) as unknown),
    });
  }
}
