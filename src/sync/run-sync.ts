/**
 * One run of one connection (SPEC §1 "sync run"): lock, read, plan, apply, record.
 */
import type { ConnectionConfig, LoadedConfig } from '../config.js';
import type { SyncPlan } from '../core/plan.js';
import type { DirectoryStore, RunCounts, Trigger } from '../directory/store.js';
import { emptyCounts } from './counts.js';
import { saveFingerprints, vouchForFingerprints } from './fingerprints.js';
import { incrementalSince, recordCursor } from './read-incremental.js';
import { readAndPlan, type ReadPlanOptions } from './read-plan.js';
import { applyAndRecord, connectionFailed, recordFailure, tally } from './record-run.js';
import { recordingProgress } from './run-progress.js';
import type { SourcePool } from './source-pool.js';
import { acquireRunLock, keepRunLock, newLockOwner } from './run-lock.js';
import type { SyncResult } from './sync-result.js';

export interface SyncServices {
  readonly store: DirectoryStore;
  readonly config: LoadedConfig;
  /** Open connectors to reuse across runs (long-lived processes); without it each run opens its own. */
  readonly sources?: SourcePool | undefined;
}

export interface SyncOptions extends ReadPlanOptions {
  readonly trigger: Trigger;
  readonly dryRun?: boolean | undefined;
  /** How long to wait for a run of the same connection in another process (default 30 s). */
  readonly lockWaitMs?: number | undefined;
  /** Read every row even when the connection has a cursor (finds rows deleted in the source). */
  readonly full?: boolean | undefined;
}

export async function runConnectionSync(
  services: SyncServices,
  connection: ConnectionConfig,
  options: SyncOptions,
): Promise<SyncResult> {
  const started = performance.now();
  const { store } = services;
  const result = (fields: Partial<SyncResult> & Pick<SyncResult, 'status'>): SyncResult => ({
    connection: connection.name,
    trigger: options.trigger,
    dryRun: options.dryRun ?? false,
    scope: 'full',
    runId: null,
    counts: emptyCounts(),
    issues: [],
    opened: 0,
    resolved: 0,
    error: null,
    plan: null,
    durationMs: Math.round(performance.now() - started),
    ...fields,
  });

  if (options.dryRun) return dryRun(services, connection, options, result);

  const owner = newLockOwner();
  if (!(await acquireRunLock(store, connection.name, owner, options.lockWaitMs ?? 30_000))) {
    return result({ status: 'skipped', error: `another run of ${connection.name} is in progress` });
  }
  const stopKeeping = keepRunLock(store, connection.name, owner);
  try {
    await store.failInterruptedRuns(connection.name, 'the process running it stopped before it finished');
    const since = await incrementalSince(store, connection, options.full ?? false);
    const run = await store.startRun(connection.name, options.trigger);
    const onProgress = recordingProgress(store, run.id, options.onProgress);
    let counts: RunCounts = emptyCounts();
    try {
      const planned = await readAndPlan(services, connection, { ...options, since, onProgress });
      const { plan, source, scope } = planned;
      try {
        counts = {
          ...counts,
          unchanged: plan.unchanged,
          skipped: plan.skipped,
          conflicts: plan.conflicts.length,
        };
        if (plan.blocked) {
          // Nothing was applied, so nothing was re-checked (a failed write was not retried): resolve nothing.
          const recorded = await store.recordIssues(connection.name, run.id, plan.issues, {
            resolveUnseen: false,
          });
          await store.finishRun(run.id, 'blocked', counts, plan.blocked.message);
          return result({
            status: 'blocked',
            scope,
            runId: run.id,
            counts,
            issues: plan.issues,
            plan,
            ...tally(recorded),
            error: plan.blocked.message,
          });
        }
        await saveFingerprints(store, connection.name, planned.fingerprints);
        const recorded = await applyAndRecord(store, source, planned, run.id, {
          // An incremental run sees only part of the source: it cannot tell an issue is gone.
          resolveUnseen: scope === 'full',
          onProgress: (p) => onProgress({ connection: connection.name, phase: 'apply', ...p }),
        });
        await recordCursor(store, connection, planned, run.startedAt);
        await vouchForFingerprints(store, connection.name, planned.fingerprints, run.startedAt);
        return result({ status: 'succeeded', scope, runId: run.id, plan, ...recorded });
      } finally {
        await planned.release();
      }
    } catch (error) {
      // SPEC §3: nothing is inferred from a partial read; the run fails with connection_failed.
      const { issue, ...recorded } = await recordFailure(store, connection.name, run.id, error, counts);
      return result({ status: 'failed', runId: run.id, error: issue.message, ...recorded });
    }
  } finally {
    stopKeeping();
    await store.releaseRunLock(connection.name, owner);
  }
}

async function dryRun(
  services: SyncServices,
  connection: ConnectionConfig,
  options: SyncOptions,
  result: (fields: Partial<SyncResult> & Pick<SyncResult, 'status'>) => SyncResult,
): Promise<SyncResult> {
  try {
    const since = await incrementalSince(services.store, connection, options.full ?? false);
    const { plan, scope, release } = await readAndPlan(services, connection, {
      ...options,
      since,
      holdAllRows: true,
    });
    await release();
    return result({
      status: plan.blocked ? 'blocked' : 'succeeded',
      scope,
      counts: predictedCounts(plan),
      issues: plan.issues,
      plan,
    });
  } catch (error) {
    const issue = connectionFailed(connection.name, error);
    return result({ status: 'failed', issues: [issue], error: issue.message });
  }
}

/** What applying the plan would count, if every write landed. */
export function predictedCounts(plan: SyncPlan): RunCounts {
  const counts = emptyCounts();
  counts.unchanged = plan.unchanged;
  counts.skipped = plan.skipped;
  counts.conflicts = plan.conflicts.length;
  for (const action of plan.actions) {
    if (action.type === 'import') {
      counts.app.created += 1;
      if (action.writeBack) counts.source.updated += 1;
    } else if (action.type === 'export' || action.type === 'recreate') counts.source.created += 1;
    else if (action.type === 'deleteRow') counts.source.deleted += 1;
    else if (action.type === 'update') {
      if (action.appPatch) counts.app.updated += 1;
      if (action.sourceWrite) counts.source.updated += 1;
    }
  }
  return counts;
}
