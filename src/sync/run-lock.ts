import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DirectoryStore, LockOwner } from '../directory/store.js';

export function newLockOwner(): LockOwner {
  return { id: randomUUID(), pid: process.pid, host: hostname() };
}

/**
 * SPEC §5: one run per connection at a time, across processes. Waits up to `waitMs` for
 * a run in progress to finish; false when it did not.
 */
export async function acquireRunLock(
  store: DirectoryStore,
  connection: string,
  owner: LockOwner,
  waitMs: number,
): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    if (await store.acquireRunLock(connection, owner)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(Math.min(250, Math.max(1, deadline - Date.now())));
  }
}

/** Keeps a held lock fresh during a long run, so no other host takes it over as stale. */
export function keepRunLock(store: DirectoryStore, connection: string, owner: LockOwner): () => void {
  const timer = setInterval(() => {
    store.acquireRunLock(connection, owner).catch(() => undefined);
  }, 60_000);
  timer.unref();
  return () => clearInterval(timer);
}
