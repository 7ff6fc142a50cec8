/**
 * `schedule:` (SPEC §5): a cron per connection, asking the queue for a run at each tick.
 * Connections change through the API, so the schedules are refreshed from the catalog.
 */
import { Cron } from 'croner';
import type { LoadedConfig } from '../config.js';
import type { SyncQueue } from '../jobs/sync-queue.js';

export class Scheduler {
  private readonly jobs = new Map<string, { pattern: string; cron: Cron }>();

  constructor(
    private readonly queue: SyncQueue,
    private readonly onError: (error: unknown, connection: string) => void,
  ) {}

  refresh(config: LoadedConfig): void {
    const wanted = new Map(
      config.connections.flatMap((c) => (c.schedule ? [[c.name, c.schedule] as const] : [])),
    );
    for (const [name, job] of this.jobs) {
      if (wanted.get(name) === job.pattern) continue;
      job.cron.stop();
      this.jobs.delete(name);
    }
    for (const [name, pattern] of wanted) {
      if (this.jobs.has(name)) continue;
      const cron = new Cron(pattern, { protect: true }, () => {
        // Every process with a scheduler ticks; the slot makes the ticks of one minute one job.
        this.queue
          .request({ connection: name, trigger: 'schedule', full: false }, { slotSeconds: 60 })
          .catch((error: unknown) => this.onError(error, name));
      });
      this.jobs.set(name, { pattern, cron });
    }
  }

  /** When each scheduled connection runs next (for the API). */
  nextRuns(): Record<string, string | null> {
    return Object.fromEntries(
      [...this.jobs].map(([name, job]) => [name, job.cron.nextRun()?.toISOString() ?? null]),
    );
  }

  stop(): void {
    for (const job of this.jobs.values()) job.cron.stop();
    this.jobs.clear();
  }
}
