/**
 * How a run ends, for every kind of run (full, incremental, single user): the plan
 * applied and its issues and counts recorded, or the failure recorded.
 */
import type { SourceConnector } from '../connectors/connector.js';
import { isUsersyncError } from '../core/errors.js';
import type { IssueReport } from '../core/issue.js';
import type { PlanContext, SyncPlan } from '../core/plan.js';
import type { DirectoryStore, RunCounts } from '../directory/store.js';
import { applyPlan, type ApplyProgress } from './apply-plan.js';
import type { FingerprintChanges } from './fingerprints.js';
import { addOutcome, importNewRows, type StreamedNewRows } from './new-rows.js';
import { settleCreatedRows, withSettled } from './settle-created.js';

export interface RecordedRun {
  readonly counts: RunCounts;
  readonly issues: IssueReport[];
  readonly opened: number;
  readonly resolved: number;
}

/** Applies the plan, reads the rows it created back, records the issues and finishes the run. */
export async function applyAndRecord(
  store: DirectoryStore,
  source: SourceConnector,
  planned: {
    plan: SyncPlan;
    ctx: PlanContext;
    columns: readonly string[];
    streamed?: StreamedNewRows | null | undefined;
    /** Set when the source gives fingerprints (see fingerprints.ts). */
    fingerprints?: FingerprintChanges | null | undefined;
  },
  runId: string,
  options: { resolveUnseen: boolean; onProgress?: ((progress: ApplyProgress) => void) | undefined },
): Promise<RecordedRun> {
  const { plan, ctx, columns, streamed } = planned;
  const total = plan.actions.length + (streamed?.keyByEmailHash.size ?? 0);
  const fingerprints = planned.fingerprints?.over ?? null;
  let applied = await applyPlan(plan, store, source, {
    onProgress: (p) => options.onProgress?.({ ...p, total }),
    fingerprints,
  });
  if (streamed) {
    const imported = await store.importInBulk(streamed.keyByEmailHash.size, () =>
      importNewRows(streamed, ctx, columns, store, source, {
        onProgress: (p: ApplyProgress) => options.onProgress?.({ done: plan.actions.length + p.done, total }),
        fingerprints,
      }),
    );
    applied = addOutcome(applied, imported);
  }
  const outcome = withSettled(
    applied,
    await settleCreatedRows(store, source, ctx, columns, applied.createdKeys),
  );
  const issues = [...plan.issues, ...outcome.issues];
  const recorded = await store.recordIssues(plan.connection, runId, issues, {
    resolveUnseen: options.resolveUnseen,
  });
  await store.finishRun(runId, 'succeeded', outcome.counts);
  return { counts: outcome.counts, issues, ...tally(recorded) };
}

/** SPEC §3: a run that could not read or write its source fails with connection_failed; nothing else is resolved. */
export async function recordFailure(
  store: DirectoryStore,
  connection: string,
  runId: string,
  error: unknown,
  counts: RunCounts,
): Promise<RecordedRun & { issue: IssueReport }> {
  const issue = connectionFailed(connection, error);
  const recorded = await store.recordIssues(connection, runId, [issue], { resolveUnseen: false });
  await store.finishRun(runId, 'failed', counts, issue.message);
  return { issue, counts, issues: [issue], ...tally(recorded) };
}

export function connectionFailed(connection: string, error: unknown): IssueReport {
  const reason = error instanceof Error ? error.message : String(error);
  const fix = isUsersyncError(error, 'source.invalid')
    ? 'Correct the table or column names in the config (or the source), then validate the fix.'
    : 'Check that the source is reachable and its credentials and permissions are right, then validate the fix.';
  return {
    kind: 'connection_failed',
    fingerprint: 'connection_failed',
    message: `${connection} could not be read completely, so nothing was changed: ${reason}`,
    fix,
    rows: [],
    users: [],
  };
}

export function tally(recorded: { opened: readonly unknown[]; resolved: readonly unknown[] }): {
  opened: number;
  resolved: number;
} {
  return { opened: recorded.opened.length, resolved: recorded.resolved.length };
}
