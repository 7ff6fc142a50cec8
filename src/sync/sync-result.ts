import type { IssueReport } from '../core/issue.js';
import type { SyncPlan } from '../core/plan.js';
import type { RunCounts, Trigger } from '../directory/store.js';

/** What one run of one connection did (or, for a dry run, would do). */
export interface SyncResult {
  readonly connection: string;
  readonly trigger: Trigger;
  /** skipped: another process was running this connection. */
  readonly status: 'succeeded' | 'failed' | 'blocked' | 'skipped';
  readonly dryRun: boolean;
  /** full: every row read; incremental: rows changed since the last cursor; user: one user's rows. */
  readonly scope: 'full' | 'incremental' | 'user';
  readonly runId: string | null;
  readonly counts: RunCounts;
  /** Every issue this run saw. */
  readonly issues: readonly IssueReport[];
  readonly opened: number;
  readonly resolved: number;
  readonly error: string | null;
  readonly durationMs: number;
  /** The plan, for `usersync plan` and dry runs. */
  readonly plan: SyncPlan | null;
}

export type SyncProgress =
  | { readonly connection: string; readonly phase: 'read'; readonly rows: number }
  | { readonly connection: string; readonly phase: 'plan'; readonly actions: number }
  | { readonly connection: string; readonly phase: 'apply'; readonly done: number; readonly total: number };
