// One benchmark phase in its own process, so its peak memory is its own.
// Usage: node bench/phase.js CONFIG [--full]  → prints {"ms","maxRssMb","runs"} as JSON.
import { loadConfig } from '../dist/config.js';
import { openDirectory } from '../dist/directory/open.js';
import { syncConnections } from '../dist/sync/sync-all.js';

const config = await loadConfig({ path: process.argv[2] });
const full = process.argv.includes('--full');
const store = await openDirectory(config.directory, { baseDir: config.baseDir });
const started = performance.now();
const results = await syncConnections({ store, config }, undefined, { trigger: 'manual', full });
const ms = performance.now() - started;
await store.close();
const runs = results.map((r) => ({
  status: r.status,
  scope: r.scope,
  app: r.counts.app,
  source: r.counts.source,
  unchanged: r.counts.unchanged,
}));
process.stdout.write(JSON.stringify({ ms, maxRssMb: process.resourceUsage().maxRSS / 1024, runs }));
