/**
 * The in-process queue: one run per connection at a time, requests during a run coalesce
 * into one follow-up, failed runs are retried with backoff, stop waits for the runs.
 */
import { describe, expect, it } from 'vitest';
import { LocalSyncQueue } from '../../src/jobs/local-queue.js';
import type { SyncRequest } from '../../src/jobs/sync-queue.js';
import { emptyCounts } from '../../src/sync/counts.js';
import type { SyncResult } from '../../src/sync/sync-result.js';

function result(request: SyncRequest, status: SyncResult['status']): SyncResult {
  return {
    connection: request.connection,
    trigger: request.trigger,
    status,
    dryRun: false,
    scope: request.full ? 'full' : 'incremental',
    runId: null,
    counts: emptyCounts(),
    issues: [],
    opened: 0,
    resolved: 0,
    error: null,
    durationMs: 0,
    plan: null,
  };
}

/** A run that takes `ms` and records what ran and whether two overlapped. */
function recorder(ms: number, statuses: SyncResult['status'][] = []) {
  const ran: SyncRequest[] = [];
  let active = 0;
  let overlapped = false;
  const run = async (request: SyncRequest) => {
    active += 1;
    if (active > 1) overlapped = true;
    ran.push(request);
    await new Promise((resolve) => setTimeout(resolve, ms));
    active -= 1;
    return result(request, statuses.shift() ?? 'succeeded');
  };
  return { run, ran, overlapped: () => overlapped };
}

const request = (trigger: SyncRequest['trigger'], full = false): SyncRequest => ({
  connection: 'crm',
  trigger,
  full,
});

describe('LocalSyncQueue', () => {
  it('runs a connection once at a time and coalesces a burst into one follow-up', async () => {
    const r = recorder(30);
    const queue = new LocalSyncQueue(r.run);
    await queue.work();
    await queue.request(request('manual'));
    await new Promise((resolve) => setTimeout(resolve, 5));
    for (let i = 0; i < 20; i++) await queue.request(request('source_webhook', i === 7));
    await queue.idle();
    expect(r.overlapped()).toBe(false);
    // The first request, then one follow-up for the 20 that came during it: full, since one asked for it.
    expect(r.ran).toEqual([request('manual'), request('source_webhook', true)]);
    await queue.stop();
  });

  it('runs different connections side by side', async () => {
    const r = recorder(20);
    const queue = new LocalSyncQueue(r.run);
    await queue.work();
    await queue.request(request('manual'));
    await queue.request({ connection: 'billing', trigger: 'manual', full: false });
    await queue.idle();
    expect(r.ran.map((q) => q.connection).sort()).toEqual(['billing', 'crm']);
    await queue.stop();
  });

  it('retries a failed run with growing delays, up to the limit', async () => {
    const r = recorder(1, ['failed', 'failed', 'failed', 'failed']);
    const started: number[] = [];
    const queue = new LocalSyncQueue(
      async (q) => {
        started.push(Date.now());
        return r.run(q);
      },
      { limit: 2, delayMs: 40 },
    );
    await queue.work();
    await queue.request(request('schedule'));
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(r.ran).toHaveLength(3); // the run and two retries, not a fourth
    expect(started[1]! - started[0]!).toBeGreaterThanOrEqual(38);
    expect(started[2]! - started[1]!).toBeGreaterThanOrEqual(78);
    await queue.stop();
  });

  it('asks again while another process holds the connection, without using up retries', async () => {
    const r = recorder(1, ['skipped', 'skipped', 'skipped', 'skipped', 'succeeded']);
    const queue = new LocalSyncQueue(r.run, { limit: 1, delayMs: 10 });
    await queue.work();
    await queue.request(request('source_webhook'));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(r.ran).toHaveLength(5); // four times busy, then the run: a retry limit of 1 did not stop it
    await queue.stop();
  });

  it('keeps requests until work starts, and stop waits for the run in progress', async () => {
    const r = recorder(50);
    const queue = new LocalSyncQueue(r.run);
    await queue.request(request('manual'));
    expect(r.ran).toEqual([]);
    await queue.work();
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.ran).toHaveLength(1);
    const stopped = Date.now();
    await queue.stop();
    expect(Date.now() - stopped).toBeGreaterThanOrEqual(40);
  });
});
