/**
 * The single-user fast path (SPEC §5 `app_change`, `login`): sync one user (or a few) with one
 * connection by looking its rows up, not by scanning. The planner is the same; it is given
 * the user, the rows found for its email and its link keys, and the links of those rows.
 * Absence is judged only among them, so nothing is inferred about anyone else.
 */
import type { ConnectionConfig } from '../config.js';
import type { SourceConnector, SourceRow } from '../connectors/connector.js';
import type { LinkState } from '../core/link.js';
import { planSync } from '../core/plan-sync.js';
import type { DirectoryUser } from '../core/user.js';
import type { DirectoryStore } from '../directory/store.js';
import { emptyCounts } from './counts.js';
import { effectiveMode, planContext } from './plan-context.js';
import { columnsToRead } from './read-plan.js';
import { leaseSource } from './source-pool.js';
import { acquireRunLock, newLockOwner } from './run-lock.js';
import { applyAndRecord, recordFailure } from './record-run.js';
import type { SyncServices } from './run-sync.js';
import type { SyncResult } from './sync-result.js';
import type { Trigger } from '../directory/store.js';

/** Pushes one user's change to every connection; a failing source never fails the change itself. */
export async function syncUserEverywhere(
  services: SyncServices,
  userId: string,
  trigger: Trigger,
): Promise<SyncResult[]> {
  const results: SyncResult[] = [];
  for (const connection of services.config.connections) {
    results.push(await syncUser(services, connection, userId, trigger));
  }
  return results;
}

export function syncUser(
  services: SyncServices,
  connection: ConnectionConfig,
  userId: string,
  trigger: Trigger,
): Promise<SyncResult> {
  return syncUsers(services, connection, [userId], trigger);
}

/** The same for several users in one run: how the server batches logins that arrive together. */
export async function syncUsers(
  services: SyncServices,
  connection: ConnectionConfig,
  userIds: readonly string[],
  trigger: Trigger,
): Promise<SyncResult> {
  const started = performance.now();
  const { store, config } = services;
  const base = {
    connection: connection.name,
    trigger,
    dryRun: false,
    scope: 'user' as const,
    plan: null,
    opened: 0,
    resolved: 0,
  };
  const owner = newLockOwner();
  if (!(await acquireRunLock(store, connection.name, owner, 10_000))) {
    const error = `another run of ${connection.name} is in progress; the change will be pushed by the next run`;
    return {
      ...base,
      status: 'skipped',
      runId: null,
      counts: emptyCounts(),
      issues: [],
      error,
      durationMs: 0,
    };
  }
  try {
    const run = await store.startRun(connection.name, trigger);
    try {
      const mode = effectiveMode(connection, await store.getConnectionState(connection.name));
      const { source, release } = await leaseSource(services, connection, mode);
      try {
        const check = () => columnsToRead(config, connection, source);
        const columns = services.sources
          ? await services.sources.columnsToRead(connection, check)
          : await check();
        const scope = await readScope(store, source, connection, userIds, columns);
        const ctx = planContext(connection, {
          mode,
          keyColumn: source.keyColumn,
          totalUsers: scope.users.length,
          // The guard is for whole-source runs; each user here was changed on purpose, one by one.
          approveMassChange: true,
          suspendedElsewhere: await store.suspendedElsewhere(
            connection.name,
            scope.users.map((u) => u.id),
          ),
        });
        const plan = planSync(ctx, scope);
        // A partial view: record what was seen, resolve nothing (only a full run can tell).
        const recorded = await applyAndRecord(store, source, { plan, ctx, columns }, run.id, {
          resolveUnseen: false,
        });
        const durationMs = Math.round(performance.now() - started);
        return { ...base, status: 'succeeded', runId: run.id, error: null, durationMs, ...recorded };
      } finally {
        await release();
      }
    } catch (error) {
      const { issue, ...recorded } = await recordFailure(
        store,
        connection.name,
        run.id,
        error,
        emptyCounts(),
      );
      const durationMs = Math.round(performance.now() - started);
      return { ...base, status: 'failed', runId: run.id, error: issue.message, durationMs, ...recorded };
    }
  } finally {
    await store.releaseRunLock(connection.name, owner);
  }
}

async function readScope(
  store: DirectoryStore,
  source: SourceConnector,
  connection: ConnectionConfig,
  userIds: readonly string[],
  columns: readonly string[],
): Promise<{ rows: SourceRow[]; users: DirectoryUser[]; links: LinkState[] }> {
  const found = await store.getUsers([...new Set(userIds)]);
  if (found.length === 0) return { rows: [], users: [], links: [] };
  const own = await store.linksOfUsers(
    connection.name,
    found.map((u) => u.id),
  );
  // Two independent lookups at once: on a server source, one round trip's wait instead of two.
  const [byEmail, byKey] = await Promise.all([
    source.lookup(
      connection.emailColumn,
      found.map((u) => u.email),
      columns,
      { caseInsensitive: true },
    ),
    own.length > 0
      ? source.lookup(
          source.keyColumn,
          own.map((l) => l.key),
          columns,
        )
      : [],
  ]);
  const rows = [...new Map([...byEmail, ...byKey].map((r) => [r.key, r])).values()];
  // Rows found by email may be linked to other users; the planner must know those links and users.
  const links = new Map(own.map((l) => [l.key, l]));
  for (const link of await store.findLinks(
    connection.name,
    rows.map((r) => r.key),
  ))
    links.set(link.key, link);
  const users = new Map(found.map((u) => [u.id, u]));
  const others = [...new Set([...links.values()].map((l) => l.userId).filter((id) => !users.has(id)))];
  for (const other of others.length > 0 ? await store.getUsers(others) : []) users.set(other.id, other);
  return { rows, users: [...users.values()], links: [...links.values()] };
}
