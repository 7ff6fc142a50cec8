/**
 * Crash safety (SPEC §3): a sync killed (SIGKILL) after any directory or source write of
 * its apply phase is followed by a run that converges to the same result as an
 * uninterrupted sync, with no user or row lost or duplicated.
 */
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openDirectory } from '../../src/directory/open.js';
import { useTempDir } from '../support/temp.js';

const BIN = resolve('bin/usersync.js');

const CONFIG = `
directory: sqlite:./dir.db
connections:
  - name: crm
    source: sqlite:./src.db
    table: members
    fields:
      email: email
      name: full_name
      userId: app_user_id
    custom:
      plan: plan
`;

function usersync(dir: string, args: string[], failpoint?: string) {
  const env = { ...process.env, USERSYNC_FAILPOINT: failpoint ?? '' };
  return spawnSync(process.execPath, [BIN, ...args], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
}

/** A synced source and directory, then edits on both sides that a sync must reconcile. */
async function makeWorld(dir: string): Promise<void> {
  writeFileSync(join(dir, 'usersync.yaml'), CONFIG);
  const db = new Database(join(dir, 'src.db'));
  db.exec(
    'CREATE TABLE members (id INTEGER PRIMARY KEY AUTOINCREMENT, email TEXT, full_name TEXT, plan TEXT, app_user_id TEXT)',
  );
  const insert = db.prepare('INSERT INTO members (email, full_name, plan) VALUES (?, ?, ?)');
  db.transaction(() => {
    for (let i = 0; i < 1500; i++) insert.run(`old${i}@example.com`, `Old ${i}`, i % 3 ? 'free' : 'pro');
  })();
  db.close();
  expect(usersync(dir, ['sync']).status).toBe(0);

  const src = new Database(join(dir, 'src.db'));
  src.transaction(() => {
    src.prepare("UPDATE members SET full_name = full_name || ' (source)' WHERE id <= 200").run();
    // Deleted in the source: the sync re-creates them. (AUTOINCREMENT: SQLite would otherwise
    // give the new rows below these keys again, and a reused key is an email change.)
    src.prepare('DELETE FROM members WHERE id > 1400').run();
    const add = src.prepare('INSERT INTO members (email, full_name, plan) VALUES (?, ?, ?)');
    for (let i = 0; i < 1000; i++) add.run(`new${i}@example.com`, `New ${i}`, 'team');
  })();
  src.close();
  const store = await openDirectory('sqlite:./dir.db', { baseDir: dir });
  try {
    for (let i = 0; i < 600; i++)
      await store.createUser({ email: `app${i}@example.com`, name: `App ${i}`, custom: { plan: 'pro' } });
    for (let i = 300; i < 500; i++) {
      const user = await store.findUserByEmail(`old${i}@example.com`);
      await store.updateUser(user!.id, { name: `Renamed ${i}` });
    }
    for (let i = 600; i < 650; i++) {
      const user = await store.findUserByEmail(`old${i}@example.com`);
      await store.deleteUser(user!.id);
    }
  } finally {
    await store.close();
  }
}

async function expectConvergence(dir: string, expected: Outcome): Promise<void> {
  const rerun = usersync(dir, ['sync', '--json']);
  expect(rerun.status, rerun.stderr).toBe(0);
  expect(JSON.parse(rerun.stdout).runs[0].status).toBe('succeeded');
  const outcome = await readOutcome(dir);
  expect(outcome.users).toEqual(expected.users);
  expect(outcome.rows).toEqual(expected.rows);
  const again = JSON.parse(usersync(dir, ['sync', '--json']).stdout).runs[0];
  expect([again.app, again.source], 'a further sync changes nothing').toEqual([
    { created: 0, updated: 0, deleted: 0 },
    { created: 0, updated: 0, deleted: 0 },
  ]);
}

interface Outcome {
  users: string[];
  rows: string[];
}

async function readOutcome(dir: string): Promise<Outcome> {
  const store = await openDirectory('sqlite:./dir.db', { baseDir: dir });
  const users = new Map<string, string>();
  try {
    for await (const page of store.scanUsers(1000)) {
      for (const u of page) users.set(u.id, `${u.email}|${u.name}|${u.custom.plan}`);
    }
  } finally {
    await store.close();
  }
  const db = new Database(join(dir, 'src.db'), { readonly: true });
  const rows = db.prepare('SELECT email, full_name, plan, app_user_id FROM members').all() as Array<
    Record<string, string>
  >;
  db.close();
  // Every row names its user, and that user has the row's values: the join is exact.
  for (const row of rows)
    expect(users.get(row.app_user_id!)).toBe(`${row.email}|${row.full_name}|${row.plan}`);
  return {
    users: [...users.values()].sort(),
    rows: rows.map((r) => `${r.email}|${r.full_name}|${r.plan}`).sort(),
  };
}

it('a first sync killed after importing users, before writing their ids back, is not held by the mass-change guard', async () => {
  const dir = useTempDir('usersync-crash-first-')();
  writeFileSync(join(dir, 'usersync.yaml'), CONFIG);
  const db = new Database(join(dir, 'src.db'));
  db.exec(
    'CREATE TABLE members (id INTEGER PRIMARY KEY AUTOINCREMENT, email TEXT, full_name TEXT, plan TEXT, app_user_id TEXT)',
  );
  const insert = db.prepare('INSERT INTO members (email, full_name, plan) VALUES (?, ?, ?)');
  for (let i = 0; i < 1200; i++) insert.run(`m${i}@example.com`, `Member ${i}`, 'free');
  db.close();
  const reference = join(dir, 'reference');
  mkdirSync(reference);
  cpSync(join(dir, 'usersync.yaml'), join(reference, 'usersync.yaml'));
  cpSync(join(dir, 'src.db'), join(reference, 'src.db'));
  expect(usersync(reference, ['sync']).status).toBe(0);

  // The first directory batch (users imported and linked) lands; no id is written back yet.
  expect(usersync(dir, ['sync'], 'directory-write:1').signal).toBe('SIGKILL');
  await expectConvergence(dir, await readOutcome(reference));
}, 120_000);

describe('a sync killed during apply converges on the next run', () => {
  const temp = useTempDir('usersync-crash-');
  let initial: string;
  let expected: Outcome;

  beforeAll(async () => {
    // Outlives each test (useTempDir cleans up after every one).
    const shared = mkdtempSync(join(tmpdir(), 'usersync-crash-initial-'));
    initial = join(shared, 'initial');
    mkdirSync(initial);
    await makeWorld(initial);
    const reference = join(shared, 'reference');
    cpSync(initial, reference, { recursive: true });
    expect(usersync(reference, ['sync']).status).toBe(0);
    expected = await readOutcome(reference);
    // 1500 - 50 deleted in the app + 1000 new rows + 600 new app users.
    expect(expected.users).toHaveLength(3050);
    expect(expected.rows).toHaveLength(3050);
    return () => rmSync(shared, { recursive: true, force: true });
  }, 120_000);

  // Every write of the apply phase, in turn, until the sync gets past the last one.
  for (const point of ['source-write', 'directory-write']) {
    it(`killed after any ${point}`, async () => {
      let crashes = 0;
      for (let n = 1; ; n++) {
        const dir = temp();
        cpSync(initial, dir, { recursive: true });
        const crashed = usersync(dir, ['sync'], `${point}:${n}`);
        if (crashed.signal !== 'SIGKILL') {
          expect(crashed.status, crashed.stderr).toBe(0);
          break;
        }
        crashes += 1;
        await expectConvergence(dir, expected);
      }
      expect(crashes, 'the apply phase has several writes of each kind').toBeGreaterThanOrEqual(5);
    }, 300_000);
  }
});
