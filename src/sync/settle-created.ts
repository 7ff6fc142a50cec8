/**
 * Rows usersync creates may come back with more than it wrote: column defaults, triggers,
 * generated values. Reading them back once and merging them in the same run keeps a sync
 * idempotent: the next run finds nothing new.
 */
import type { SourceConnector } from '../connectors/connector.js';
import { planSync } from '../core/plan-sync.js';
import type { PlanContext } from '../core/plan.js';
import type { DirectoryUser } from '../core/user.js';
import type { DirectoryStore } from '../directory/store.js';
import { applyPlan, type ApplyOutcome } from './apply-plan.js';

export async function settleCreatedRows(
  store: DirectoryStore,
  source: SourceConnector,
  ctx: PlanContext,
  columns: readonly string[],
  keys: readonly string[],
): Promise<ApplyOutcome | null> {
  if (keys.length === 0) return null;
  const rows = await source.lookup(source.keyColumn, keys, columns);
  const links = await store.findLinks(ctx.connection, keys);
  const users: DirectoryUser[] = [];
  for (const link of links) {
    const user = await store.getUser(link.userId);
    if (user) users.push(user);
  }
  return applyPlan(planSync(ctx, { rows, users, links }), store, source);
}

/** Adds what settling changed to the run's outcome (its created rows are already counted). */
export function withSettled(outcome: ApplyOutcome, settled: ApplyOutcome | null): ApplyOutcome {
  if (!settled) return outcome;
  const counts = structuredClone(outcome.counts);
  counts.app.updated += settled.counts.app.updated;
  counts.source.updated += settled.counts.source.updated;
  counts.stale += settled.counts.stale;
  return { counts, issues: [...outcome.issues, ...settled.issues], createdKeys: outcome.createdKeys };
}
