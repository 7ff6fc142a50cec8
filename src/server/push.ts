/**
 * An app change or a login is pushed to the sources at once (SPEC §5), but the caller
 * waits only so long: a slow or down source never holds a request up. What did not finish
 * in time goes on in the background (and is retried by the pusher).
 */
import type { Trigger } from '../directory/store.js';
import type { Runtime } from '../services/runtime.js';
import type { SyncResult } from '../sync/sync-result.js';

export interface PushView {
  connection: string;
  status: SyncResult['status'] | 'pending';
  runId: string | null;
  error: string | null;
}

export async function pushWithin(
  runtime: Runtime,
  userIds: readonly string[],
  trigger: Trigger,
  budgetMs: number,
): Promise<PushView[]> {
  const pushing = runtime.pusher.push(userIds, trigger);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), budgetMs)));
  try {
    const results = await Promise.race([pushing, late]);
    if (results !== null)
      return results.map((r) => ({
        connection: r.connection,
        status: r.status,
        runId: r.runId,
        error: r.error,
      }));
    const { connections } = await runtime.catalog.config();
    return connections.map((c) => ({ connection: c.name, status: 'pending', runId: null, error: null }));
  } finally {
    clearTimeout(timer);
  }
}
