/**
 * The job layer (SPEC §5): triggers ask for runs; a queue runs them. Requests for a
 * connection that already has one waiting coalesce into it, so a burst of triggers during
 * a run makes one follow-up run, not a pile. Runs that fail are retried with backoff.
 * On SQLite the queue lives in the server process (local-queue); on PostgreSQL it is
 * pg-boss, shared by every API process and `usersync worker` (pg-boss-queue).
 */
import type { Trigger } from '../directory/store.js';
import type { SyncResult } from '../sync/sync-result.js';

export interface SyncRequest {
  readonly connection: string;
  readonly trigger: Trigger;
  /** Read every row even when the connection has a cursor (publish, manual, validate fix). */
  readonly full: boolean;
}

export interface SyncQueue {
  readonly kind: 'local' | 'pg-boss';
  /**
   * Asks for a run; resolves once the request is queued (not run). `slotSeconds`: requests
   * made by several processes for the same tick (a schedule) count once per slot.
   */
  request(request: SyncRequest, options?: { slotSeconds?: number }): Promise<void>;
  /** Starts taking requests off the queue and running them in this process. */
  work(): Promise<void>;
  /** Stops taking requests and waits for the runs in progress to finish. */
  stop(): Promise<void>;
}

/** Runs one request (see run-request.ts); the queue retries it when it did not succeed. */
export type RunRequest = (request: SyncRequest) => Promise<SyncResult | null>;

export interface RetryPolicy {
  /** Attempts after the first. */
  readonly limit: number;
  /** Delay before the first retry; doubled for each next one. */
  readonly delayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { limit: 5, delayMs: 5_000 };

/** A run worth retrying: failed (the source was down) or skipped (another process held the connection). */
export function needsRetry(result: SyncResult | null): boolean {
  return result !== null && (result.status === 'failed' || result.status === 'skipped');
}

/** Two requests for one connection as one: full if either is, the first's trigger. */
export function coalesce(waiting: SyncRequest, next: SyncRequest): SyncRequest {
  return { ...waiting, full: waiting.full || next.full };
}
