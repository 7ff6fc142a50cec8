/**
 * A run's progress goes to the caller (a terminal) and to the run's record, where any
 * process can follow it (the server's live progress). The record is written at most
 * every PROGRESS_EVERY_MS, and never waited for: progress must not slow the run.
 */
import type { DirectoryStore } from '../directory/store.js';
import type { SyncProgress } from './sync-result.js';

const PROGRESS_EVERY_MS = 500;

export function recordingProgress(
  store: DirectoryStore,
  runId: string,
  onProgress: ((event: SyncProgress) => void) | undefined,
): (event: SyncProgress) => void {
  let last = 0;
  let writing = false;
  return (event) => {
    onProgress?.(event);
    const now = Date.now();
    const final = event.phase === 'plan' || (event.phase === 'apply' && event.done === event.total);
    if (writing || (!final && now - last < PROGRESS_EVERY_MS)) return;
    last = now;
    writing = true;
    const { connection: _connection, ...progress } = event;
    store
      .setRunProgress(runId, progress)
      .catch(() => undefined) // progress is advisory; the run's result is what counts
      .finally(() => (writing = false));
  };
}
