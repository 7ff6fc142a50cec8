// `npm run bench`: sync a generated SQLite source of BENCH_ROWS rows (default 100,000)
// with the embedded SQLite directory: first sync, no-op re-sync, sync after 1 % edits.
// Prints wall time, rows/s and peak memory of each phase (each in its own process).
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const rows = Number(process.env.BENCH_ROWS ?? 100_000);
const dir = resolve('.bench');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const config = join(dir, 'usersync.yaml');
writeFileSync(
  config,
  `directory: sqlite:./directory.db
connections:
  - name: crm
    source: sqlite:./source.db
    table: members
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

const source = new Database(join(dir, 'source.db'));
source.pragma('journal_mode = WAL');
source.exec(`CREATE TABLE members (
  id INTEGER PRIMARY KEY AUTOINCREMENT, email TEXT, full_name TEXT, photo_url TEXT,
  signup_date TEXT, last_login TEXT, app_user_id TEXT, plan TEXT, company TEXT)`);
const insert = source.prepare(
  'INSERT INTO members (email, full_name, photo_url, signup_date, plan, company) VALUES (?, ?, ?, ?, ?, ?)',
);
source.transaction(() => {
  for (let i = 0; i < rows; i++) {
    const day = new Date(Date.UTC(2020, 0, 1) + (i % 1500) * 86_400_000).toISOString().slice(0, 10);
    insert.run(
      `user${i}@example.com`,
      `User ${i}`,
      `https://example.com/a/${i}.png`,
      day,
      ['free', 'pro', 'team'][i % 3],
      `Company ${i % 500}`,
    );
  }
})();

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

const results = [phase('first sync (import + write-back)'), phase('no-op re-sync')];
const edits = Math.max(1, Math.round(rows / 100));
source
  .prepare(`UPDATE members SET full_name = full_name || ' (edited)' WHERE id % ? = 0`)
  .run(Math.round(rows / edits));
source.close();
results.push(phase(`sync after 1 % edits (${edits} rows)`));

console.log(
  `usersync bench: ${rows.toLocaleString('en')} rows, SQLite source, SQLite directory, node ${process.version}`,
);
console.log('phase                                  seconds    rows/s  peak RSS  app +/~     source +/~');
for (const r of results) {
  console.log(
    `${r.phase.padEnd(38)} ${r.seconds.toFixed(2).padStart(7)} ${String(r.rowsPerSecond).padStart(9)} ${`${r.maxRssMb} MB`.padStart(9)}  ` +
      `${`${r.app.created}/${r.app.updated}`.padEnd(11)} ${r.source.created}/${r.source.updated}`,
  );
}
const [first, noop, edited] = results;
console.log(
  `ratios: no-op / first = ${(noop.seconds / first.seconds).toFixed(2)}, edits / no-op = ${(edited.seconds / noop.seconds).toFixed(2)}`,
);
