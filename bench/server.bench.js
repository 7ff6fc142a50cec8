// `npm run bench:server`: the HTTP API under load (autocannon), over BENCH_USERS users
// (default 100,000) synced from a PostgreSQL source, SQLite directory (BENCH_DIRECTORY=postgres
// for PostgreSQL). Measures, against a real `usersync serve` process:
//   - POST /api/v1/login (lastSeenAt + that user's sync with the source), random users;
//   - GET /api/v1/users?limit=50&search=… (a page of 50, with a search).
// Prints requests/s and latency percentiles, and each as a ratio to the target.
//   BENCH_USERS=N  BENCH_SECONDS=S (per measurement, default 10)  BENCH_CONNECTIONS=C (default 10)
//   BENCH_ONLY=login|list  BENCH_PROFILE=1
import autocannon from 'autocannon';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { POSTGRES_URL, postgresSource } from './sources.js';

const users = Number(process.env.BENCH_USERS ?? 100_000);
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const dir = resolve('.bench-server');
const bin = resolve('bin/usersync.js');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });

const source = await postgresSource(users);
const directory =
  process.env.BENCH_DIRECTORY === 'postgres'
    ? `${POSTGRES_URL}?schema=usersync_bench_srv_${process.pid}`
    : 'sqlite:./directory.db';
writeFileSync(
  join(dir, 'usersync.yaml'),
  `directory: ${directory}
connections:
  - name: crm
${source.yaml}
    fields: { email: email, name: full_name, avatar: photo_url, createdAt: signup_date, lastSeenAt: last_login, userId: app_user_id }
    custom: { plan: plan, company: { column: company, owner: both } }
    maxChange: 1
`,
);
const cli = (...args) =>
  execFileSync(process.execPath, [bin, ...args], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 26 });

console.log(
  `usersync server bench: ${users.toLocaleString('en')} users, ${source.kind}, ${directory.split(':')[0]} directory`,
);
let started = performance.now();
cli('sync', '--json');
console.log(`initial sync: ${((performance.now() - started) / 1000).toFixed(1)} s`);
const key = JSON.parse(cli('api-keys', 'create', 'bench', '--json')).key;

// A free port, asked of the kernel, so the server can log at warn level (quiet) from the start.
const port = await new Promise((resolvePort) => {
  const probe = createServer().listen(0, '127.0.0.1', () => {
    const { port: free } = probe.address();
    probe.close(() => resolvePort(free));
  });
});
// BENCH_PROFILE=1: a CPU profile of the server in .bench-profile/ (open it in Chrome's devtools).
const profile = process.env.BENCH_PROFILE
  ? ['--cpu-prof', `--cpu-prof-dir=${resolve('.bench-profile')}`]
  : [];
const server = spawn(process.execPath, [...profile, bin, 'serve', '--port', String(port)], {
  cwd: dir,
  env: { ...process.env, USERSYNC_LOG_LEVEL: 'warn', USERSYNC_USERS_TAB_MAX_AGE_MS: String(3_600_000) },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const url = `http://127.0.0.1:${port}`;
for (let ready = false; !ready;) {
  await new Promise((wait) => setTimeout(wait, 100));
  ready = await fetch(`${url}/ready`).then(
    (r) => r.ok,
    () => false,
  );
}

const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
const random = (n) => Math.floor(Math.random() * n);

async function load(title, options) {
  const result = await autocannon({ url, connections, duration: seconds, headers, ...options });
  const errors = result.errors + result.timeouts + result.non2xx;
  if (errors > 0) console.error(`${title}: status codes ${JSON.stringify(result.statusCodeStats)}`);
  return {
    title,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors,
    total: result.requests.total,
  };
}

// Warm up (connectors opened, caches filled), then measure.
await load('warm-up', {
  duration: 2,
  requests: [{ method: 'POST', path: '/api/v1/login', body: JSON.stringify({ email: 'user1@example.com' }) }],
});
// BENCH_ONLY=login|list measures one of the two (with BENCH_PROFILE, a profile of it alone).
const only = process.env.BENCH_ONLY;
const skipped = { rps: 0, p50: 0, p99: 0, errors: 0, total: 0 };
const login =
  only === 'list'
    ? { title: 'POST /api/v1/login', ...skipped }
    : await load('POST /api/v1/login', {
        method: 'POST',
        path: '/api/v1/login',
        requests: [
          {
            method: 'POST',
            path: '/api/v1/login',
            setupRequest: (req) => ({
              ...req,
              body: JSON.stringify({ email: `user${random(users)}@example.com` }),
            }),
          },
        ],
      });
const list =
  only === 'login'
    ? { title: 'GET /api/v1/users (50, search)', ...skipped }
    : await load('GET /api/v1/users (50, search)', {
        requests: [
          {
            setupRequest: (req) => ({
              ...req,
              method: 'GET',
              path: `/api/v1/users?limit=50&search=user${random(users)}`,
            }),
          },
        ],
      });

server.kill('SIGTERM');
await new Promise((done) => server.on('exit', done));
await source.close();
rmSync(dir, { recursive: true, force: true });

const rows = [
  {
    ...login,
    target: 'p99 ≤ 25 ms, ≥ 500 req/s',
    ratio: `${(login.rps / 500).toFixed(2)}× the rate, p99 ${(login.p99 / 25).toFixed(2)}× the limit`,
  },
  { ...list, target: '≥ 2,000 req/s', ratio: `${(list.rps / 2000).toFixed(2)}× the rate` },
];
console.log(`${connections} connections, ${seconds} s each`);
for (const r of rows)
  console.log(
    `${r.title.padEnd(32)} ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${String(r.p50).padStart(4)} ms  p99 ${String(r.p99).padStart(4)} ms  errors ${r.errors}/${r.total}  target ${r.target}: ${r.ratio}`,
  );
if (rows.some((r) => r.errors > 0)) process.exitCode = 1;
