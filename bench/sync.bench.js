// `npm run bench`: sync a generated source of BENCH_ROWS rows (default 100,000) with a
// directory: first sync, incremental sync (cursor) with nothing changed, no-op full re-sync
// (twice), incremental sync after 1,000 edits (the incremental ones timed as the whole
// `usersync sync` command), full sync after 1 % edits. Prints wall time,
// rows/s and peak memory of each phase (each in its own process), each as a multiple of
// the naive baseline's speed (bench/baseline.js, on the first BENCH_BASELINE_ROWS rows,
// default 20,000) and, for a PostgreSQL source, of the floor (COPY of what a sync reads).
//   BENCH_SOURCE=sqlite|postgres|mysql   BENCH_DIRECTORY=sqlite|postgres   BENCH_ROWS=N   BENCH_BASELINE_ROWS=N
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { mysqlSource, POSTGRES_URL, postgresSource, sqliteSource, vacuumSchema } from './sources.js';

const rows = Number(process.env.BENCH_ROWS ?? 100_000);
const sampleRows = Math.min(rows, Number(process.env.BENCH_BASELINE_ROWS ?? 20_000));
const dir = resolve('.bench');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const sources = {
  sqlite: () => sqliteSource(dir, rows),
  postgres: () => postgresSource(rows),
  mysql: () => mysqlSource(rows),
};
const source = await (sources[process.env.BENCH_SOURCE ?? 'sqlite'] ?? sources.sqlite)();
const onPostgres = process.env.BENCH_DIRECTORY === 'postgres';
const directoryUrl = (name) =>
  onPostgres ? `${POSTGRES_URL}?schema=usersync_bench_${name}_${process.pid}` : `sqlite:./${name}.db`;
const directory = directoryUrl('directory');
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
    cursor: updated_at
    maxChange: 1
`,
);

/** A sync in its own process, through the library (the runner's time, without process start). */
function phase(name, ...flags) {
  const out = JSON.parse(
    execFileSync(process.execPath, ['bench/phase.js', config, ...flags], {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    }),
  );
  return result(name, out.ms / 1000, out.maxRssMb, out.runs[0]);
}

/** `usersync sync` as a user runs it: wall time of the whole command, process start included. */
function command(name) {
  const args = ['bin/usersync.js', 'sync', '--config', config, '--json'];
  // GNU time reports the peak RSS of the command it runs.
  const timed = existsSync('/usr/bin/time');
  const started = performance.now();
  const out = timed
    ? spawnSync('/usr/bin/time', ['-f', 'max-rss-kb %M', process.execPath, ...args], { encoding: 'utf8' })
    : spawnSync(process.execPath, args, { encoding: 'utf8' });
  const seconds = (performance.now() - started) / 1000;
  if (out.status !== 0) throw new Error(`usersync sync failed (${out.status}): ${out.stderr}`);
  const rss = /max-rss-kb (\d+)/.exec(out.stderr)?.[1];
  return result(name, seconds, rss === undefined ? null : Number(rss) / 1024, JSON.parse(out.stdout).runs[0]);
}

function result(name, seconds, maxRssMb, run) {
  return { phase: name, seconds, rowsPerSecond: Math.round(rows / seconds), maxRssMb, ...run };
}

/** The naive approach on a sample of the rows, with its own fresh directory. */
function baseline() {
  const out = JSON.parse(
    execFileSync(
      process.execPath,
      [
        'bench/baseline.js',
        JSON.stringify({ directory: directoryUrl('baseline'), baseDir: dir, source: sampleSource }),
      ],
      { encoding: 'utf8' },
    ),
  );
  return { rows: out.rows, seconds: out.ms / 1000, rowsPerSecond: out.rows / (out.ms / 1000) };
}

const floor = await source.floor();
const sampleSource = await source.sample(sampleRows);
const naive = baseline();
const results = [phase('first sync (import + write-back)')];
// What autovacuum would do after a million-row load (this machine's server has it off).
await source.vacuum();
if (onPostgres) await vacuumSchema(POSTGRES_URL, new URL(directory).searchParams.get('schema'));
// The next scheduled sync: incremental, with nothing changed; it must not take the
// import's own writes for app changes to push.
results.push(command('incremental after the import (cursor)'));
// Both bench sources give fingerprints (see src/sync/fingerprints.ts), and the import kept
// every row's: from the first no-op on, rows whose fingerprint is unchanged are not read.
// (A MariaDB source's import keeps none: its first no-op reads every row and takes them.)
results.push(phase('first no-op full re-sync after the import', '--full'));
results.push(phase('no-op full re-sync', '--full'));
const fewEdits = Math.min(rows, 1000);
await source.edit(Math.max(1, Math.floor(rows / fewEdits)));
results.push(command(`incremental after ${fewEdits.toLocaleString('en')} edits (cursor)`));
const edits = Math.max(1, Math.round(rows / 100));
await source.edit(Math.round(rows / edits));
results.push(phase(`full sync after 1 % edits (${edits.toLocaleString('en')} rows)`, '--full'));
await source.close();
if (onPostgres) {
  for (const name of ['directory', 'baseline']) {
    const schema = new URL(directoryUrl(name)).searchParams.get('schema');
    execFileSync('psql', [POSTGRES_URL, '-q', '-c', `drop schema if exists ${schema} cascade`], {
      stdio: 'ignore',
    });
  }
}

const where = `${source.kind}, ${onPostgres ? 'PostgreSQL' : 'SQLite'} directory`;
const n = (x) => Math.round(x).toLocaleString('en');
console.log(`usersync bench: ${n(rows)} rows, ${where}, node ${process.version}`);
if (floor !== null || onPostgres)
  console.log('after the first sync: VACUUM ANALYZE of the PostgreSQL source table and directory schema');
if (floor !== null)
  console.log(
    `floor: the server's own client reading what a sync reads (key, mapped columns, cursor) ${floor.toFixed(2)} s`,
  );
console.log(
  `naive baseline (one statement at a time) on the first ${n(naive.rows)} rows: ${naive.seconds.toFixed(2)} s, ` +
    `${n(naive.rowsPerSecond)} rows/s (${n(rows / naive.rowsPerSecond)} s at that speed for ${n(rows)} rows)`,
);
console.log(
  'phase                                      seconds    rows/s  peak RSS  scope        app +/~     source +/~  × baseline  × floor',
);
for (const r of results) {
  console.log(
    `${r.phase.padEnd(42)} ${r.seconds.toFixed(2).padStart(7)} ${String(r.rowsPerSecond).padStart(9)} ` +
      `${(r.maxRssMb === null ? '–' : `${Math.round(r.maxRssMb)} MB`).padStart(9)}  ${r.scope.padEnd(12)} ` +
      `${`${r.app.created}/${r.app.updated}`.padEnd(11)} ${`${r.source.created}/${r.source.updated}`.padEnd(11)} ` +
      `${(r.rowsPerSecond / naive.rowsPerSecond).toFixed(1).padStart(10)}  ` +
      (floor === null ? '' : (r.seconds / floor).toFixed(1).padStart(7)),
  );
}
const first = results[0];
const noop = results.find((r) => r.phase === 'no-op full re-sync');
console.log(`ratios: no-op / first = ${(noop.seconds / first.seconds).toFixed(2)}`);
