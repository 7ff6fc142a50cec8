/**
 * `usersync sync [NAME]`: runs connections one after another. SPEC §3: the directory is
 * the hub, so a directory change made by one connection's run is an app change for every
 * connection that ran before it; those run again (trigger app_change) until nothing changes.
 */
import type { ConnectionConfig } from '../config.js';
import { UsersyncError } from '../core/errors.js';
import { changedDirectory } from './counts.js';
import { runConnectionSync, type SyncOptions, type SyncServices } from './run-sync.js';
import type { SyncResult } from './sync-result.js';

/** Follow-up passes after the first; each normally only pushes, so this is ample. */
const MAX_FOLLOW_UPS = 3;

export async function syncConnections(
  services: SyncServices,
  names: readonly string[] | undefined,
  options: SyncOptions,
): Promise<SyncResult[]> {
  const all = services.config.connections;
  let pending = names?.length ? names.map((name) => findConnection(all, name)) : all;
  const results: SyncResult[] = [];
  for (let pass = 0; pass <= MAX_FOLLOW_UPS && pending.length > 0; pass++) {
    const passOptions = pass === 0 ? options : { ...options, trigger: 'app_change' as const };
    let upToDate = new Set<string>();
    let changed = false;
    for (const connection of pending) {
      const result = await runConnectionSync(services, connection, passOptions);
      results.push(result);
      if (result.status === 'succeeded' && changedDirectory(result.counts)) {
        upToDate = new Set();
        changed = true;
      }
      upToDate.add(connection.name);
    }
    // Dry runs change nothing, so nothing needs pushing.
    pending = options.dryRun || !changed ? [] : all.filter((c) => !upToDate.has(c.name));
  }
  return results;
}

export function findConnection(connections: readonly ConnectionConfig[], name: string): ConnectionConfig {
  const found = connections.find((c) => c.name === name);
  if (found) return found;
  const known = connections.map((c) => c.name).join(', ') || 'none';
  throw new UsersyncError('not_found', `There is no connection named "${name}" (connections: ${known}).`);
}
