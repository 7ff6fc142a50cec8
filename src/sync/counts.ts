import type { RunCounts } from '../directory/store.js';

export function emptyCounts(): RunCounts {
  return {
    app: { created: 0, updated: 0, deleted: 0 },
    source: { created: 0, updated: 0, deleted: 0 },
    unchanged: 0,
    skipped: 0,
    stale: 0,
    conflicts: 0,
  };
}

/** Directory changes a run made: what other connections must be told about (SPEC §3 hub rule). */
export function changedDirectory(counts: RunCounts): boolean {
  return counts.app.created + counts.app.updated + counts.app.deleted > 0;
}

export function addCounts(a: RunCounts, b: RunCounts): RunCounts {
  const side = (x: RunCounts['app'], y: RunCounts['app']) => ({
    created: x.created + y.created,
    updated: x.updated + y.updated,
    deleted: x.deleted + y.deleted,
  });
  return {
    app: side(a.app, b.app),
    source: side(a.source, b.source),
    unchanged: a.unchanged + b.unchanged,
    skipped: a.skipped + b.skipped,
    stale: a.stale + b.stale,
    conflicts: a.conflicts + b.conflicts,
  };
}
