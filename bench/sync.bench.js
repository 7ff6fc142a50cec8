// `npm run bench`: sync a generated source of BENCH_ROWS rows (default 100,000) with a
// directory: first sync, no-op re-sync, sync after 1 % edits. Prints wall time, rows/s and
// peak memory of each phase (each in its own process), and for a PostgreSQL source the
// floor (COPY of the same columns) with every phase as a multiple of it.
//   BENCH_SOURCE=sqlite|postgres   BENCH_DIRECTORY=sqlite|postgres   BENCH_ROWS=N
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { POSTGRES_URL, postgresSource, sqliteSource } from './sources.js';

const rows = Number(process.env.BENCH_ROWS ?? 100_000);
const dir = resolve('.bench');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const source = process.env.BENCH_SOURCE === 'postgres' ? await postgresSource(rows) : sqliteSource(dir, rows);
const directory =
  process.env.BENCH_DIRECTORY === 'postgres'
    ? `${POSTGRES_URL}?schema=usersync_bench_dir_${process.pid}`
    : 'sqlite:./directory.db';
const config = join(dir, 'usersync.yaml');
writeFileSync(
  config,
  `directory: ${directory}
connections:
  - name: crm
${source.yaml}
    fields:
      email: email
      name: full_name
      avatar: photo_url
      createdAt: signup_date
      lastSeenAt: last_login
      userId: app_user_id
    custom:
      plan: plan
      company: { column: company, owner: both }
    maxChange: 1
`,
);

function phase(name) {
  const out = JSON.parse(
    execFileSync(process.execPath, ['bench/phase.js', config], { encoding: 'utf8', maxBuffer: 1 << 20 }),
  );
  const seconds = out.ms / 1000;
  const run = out.runs[0];
  return {
    phase: name,
    seconds,
    rowsPerSecond: Math.round(rows / seconds),
    maxRssMb: Math.round(out.maxRssMb),
    app: run.app,
    source: run.source,
  };
}

const floor = await source.floor();
const results = [phase('first sync (import + write-back)'), phase('no-op re-sync')];
const edits = Math.max(1, Math.round(rows / 100));
await source.edit(Math.round(rows / edits));
results.push(phase(`sync after 1 % edits (${edits} rows)`));
await source.close();
if (directory.startsWith('postgres')) {
  const schema = new URL(directory).searchParams.get('schema');
  execFileSync('psql', [POSTGRES_URL, '-q', '-c', `drop schema if exists ${schema} cascade`]);
}

const where = `${source.kind}, ${directory.startsWith('postgres') ? 'PostgreSQL' : 'SQLite'} directory`;
console.log(`usersync bench: ${rows.toLocaleString('en')} rows, ${where}, node ${process.version}`);
if (floor !== null) console.log(`floor: COPY of the mapped columns ${floor.toFixed(2)} s`);
console.log(
  'phase                                  seconds    rows/s  peak RSS  app +/~     source +/~  × floor',
);
for (const r of results) {
  console.log(
    `${r.phase.padEnd(38)} ${r.seconds.toFixed(2).padStart(7)} ${String(r.rowsPerSecond).padStart(9)} ${`${r.maxRssMb} MB`.padStart(9)}  ` +
      `${`${r.app.created}/${r.app.updated}`.padEnd(11)} ${`${r.source.created}/${r.source.updated}`.padEnd(11)} ` +
      (floor === null ? '' : (r.seconds / floor).toFixed(1)),
  );
}
const [first, noop, edited] = results;
console.log(
  `ratios: no-op / first = ${(noop.seconds / first.seconds).toFixed(2)}, edits / no-op = ${(edited.seconds / noop.seconds).toFixed(2)}`,
);
