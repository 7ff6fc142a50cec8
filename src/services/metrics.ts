/** Prometheus metrics (SPEC §9 operations): runs, rows synced, run durations, open issues by kind. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DirectoryStore } from '../directory/store.js';
import type { SyncResult } from '../sync/sync-result.js';

export class Metrics {
  readonly registry = new Registry();
  private readonly runs: Counter<'connection' | 'trigger' | 'status' | 'scope'>;
  private readonly rows: Counter<'connection' | 'side' | 'change'>;
  private readonly durations: Histogram<'connection' | 'scope'>;
  readonly requests: Histogram<'method' | 'route' | 'status'>;

  constructor(store: DirectoryStore) {
    collectDefaultMetrics({ register: this.registry, prefix: 'usersync_' });
    const registers = [this.registry];
    this.runs = new Counter({
      name: 'usersync_sync_runs_total',
      help: 'Sync runs finished by this process',
      labelNames: ['connection', 'trigger', 'status', 'scope'],
      registers,
    });
    this.rows = new Counter({
      name: 'usersync_sync_rows_total',
      help: 'Rows and users changed by sync runs of this process',
      labelNames: ['connection', 'side', 'change'],
      registers,
    });
    this.durations = new Histogram({
      name: 'usersync_sync_run_duration_seconds',
      help: 'How long sync runs took',
      labelNames: ['connection', 'scope'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30, 120, 600],
      registers,
    });
    this.requests = new Histogram({
      name: 'usersync_http_request_duration_seconds',
      help: 'HTTP requests served',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2],
      registers,
    });
    new Gauge({
      name: 'usersync_open_issues',
      help: 'Open sync issues, by connection and kind (read from the directory when scraped)',
      labelNames: ['connection', 'kind'],
      registers,
      async collect() {
        this.reset();
        for (const issue of await store.listIssues({ status: 'open' }))
          this.inc({ connection: issue.connection, kind: issue.kind });
      },
    });
  }

  recordRun(result: SyncResult): void {
    if (result.dryRun) return;
    const { connection, trigger, status, scope } = result;
    this.runs.inc({ connection, trigger, status, scope });
    this.durations.observe({ connection, scope }, result.durationMs / 1000);
    for (const side of ['app', 'source'] as const)
      for (const change of ['created', 'updated', 'deleted'] as const) {
        const n = result.counts[side][change];
        if (n > 0) this.rows.inc({ connection, side, change }, n);
      }
  }
}
