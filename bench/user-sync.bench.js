// `npm run bench:user`: the login-style single-user sync. A user's lastSeenAt changes and
// that one user is synced with the connection (rows looked up, not scanned), BENCH_LOGINS
// times (default 300) over a synced source of BENCH_ROWS rows (default 20,000); prints
// the latency percentiles. BENCH_SOURCE=sqlite|postgres as in sync.bench.js.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig } from '../dist/config.js';
import { openDirectory } from '../dist/directory/open.js';
import { SourcePool } from '../dist/sync/source-pool.js';
import { syncConnections } from '../dist/sync/sync-all.js';
import { syncUserEverywhere } from '../dist/sync/sync-user.js';
import { postgresSource, sqliteSource } from './sources.js';

const rows = Number(process.env.BENCH_ROWS ?? 20_000);
const logins = Number(process.env.BENCH_LOGINS ?? 300);
const dir = resolve('.bench');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const source = process.env.BENCH_SOURCE === 'postgres' ? await postgresSource(rows) : sqliteSource(dir, rows);
writeFileSync(
  join(dir, 'usersync.yaml'),
  `directory: sqlite:./directory.db
connections:
  - name: crm
${source.yaml}
    fields: { email: email, name: full_name, lastSeenAt: last_login, userId: app_user_id }
`,
);
const config = await loadConfig({ path: join(dir, 'usersync.yaml') });
const store = await openDirectory(config.directory, { baseDir: config.baseDir });
await syncConnections({ store, config }, undefined, { trigger: 'manual' });
const ids = [];
for await (const page of store.scanUsers(5000)) for (const user of page) ids.push(user.id);

const sources = new SourcePool(config);
const services = { store, config, sources };
const times = [];
for (let i = 0; i < logins; i++) {
  const id = ids[Math.floor(Math.random() * ids.length)];
  const started = performance.now();
  await store.updateUser(id, { lastSeenAt: new Date().toISOString() });
  const [run] = await syncUserEverywhere(services, id, 'login');
  times.push(performance.now() - started);
  if (run.status !== 'succeeded' || run.counts.source.updated !== 1)
    throw new Error(`login ${i}: ${JSON.stringify(run)}`);
}
await sources.close();
await store.close();
await source.close();

times.sort((a, b) => a - b);
const at = (p) => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))].toFixed(1);
console.log(
  `usersync login bench: ${logins} logins over ${rows.toLocaleString('en')} users, ${source.kind}, SQLite directory`,
);
console.log(
  `lastSeenAt + single-user sync, ms: p50 ${at(50)}  p95 ${at(95)}  p99 ${at(99)}  max ${times.at(-1).toFixed(1)}`,
);
