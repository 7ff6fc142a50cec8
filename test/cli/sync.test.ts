/**
 * `usersync sync` and `usersync plan` on the real binary (SPEC §3, appendix B): the JSON
 * contract, dry runs, and edits made in the sources flowing through the directory.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  changedNothing,
  CRM,
  crmRow,
  CSV,
  csvLines,
  emails,
  listIssues,
  listUsers,
  makeSqlite,
  showUser,
  sqlite,
  useSyncedSample,
  usersync,
  usersyncJson,
  writeText,
  type SyncJson,
} from '../support/cli.js';
import { useTempDir } from '../support/temp.js';

const tempDir = useTempDir('usersync-cli-sync-');
const syncedSample = useSyncedSample();

const counts = { created: expect.any(Number), updated: expect.any(Number), deleted: expect.any(Number) };

describe('sync --json', () => {
  it('prints appendix B: runs with connection, status, trigger, app and source counts, issues', async () => {
    const dir = tempDir();
    await usersync(dir, ['init']);
    const { runs } = await usersyncJson<SyncJson>(dir, ['sync']);
    for (const run of runs) {
      expect(run).toMatchObject({
        status: 'succeeded',
        app: counts,
        source: counts,
        issues: expect.any(Array),
      });
      for (const issue of run.issues)
        expect(issue).toEqual(
          expect.objectContaining({
            kind: expect.any(String),
            message: expect.any(String),
            rows: expect.any(Array),
          }),
        );
    }
    // One manual run per connection, then hub follow-ups (app_change): crm gets the CSV's users,
    // whose new rows bring a column default (plan) into the directory, so the newsletter is checked again.
    expect(runs.map((r) => `${r.connection}/${r.trigger}`)).toEqual([
      'crm/manual',
      'newsletter/manual',
      'crm/app_change',
      'newsletter/app_change',
    ]);
    const [crm, newsletter, followUp, last] = runs;
    expect(crm).toMatchObject({ app: { created: 5 }, source: { created: 0, updated: 5 } });
    expect(crm!.issues.map((i) => i.kind).sort()).toEqual([
      'duplicate_email',
      'invalid_email',
      'invalid_value',
    ]);
    expect(newsletter).toMatchObject({ app: { created: 2 }, source: { created: 4 }, issues: [] });
    expect(followUp).toMatchObject({ source: { created: 2 } });
    expect(changedNothing([last!])).toBe(true);
  });
});

describe('sync --dry-run and plan', () => {
  it('a dry run reports what a sync would do and changes nothing', async () => {
    const dir = tempDir();
    await usersync(dir, ['init']);
    const files = [CRM, CSV].map((f) => readFileSync(join(dir, f)));
    const { runs } = await usersyncJson<SyncJson>(dir, ['sync', '--dry-run']);
    expect(runs.map((r) => [r.connection, r.dryRun, r.status])).toEqual([
      ['crm', true, 'succeeded'],
      ['newsletter', true, 'succeeded'],
    ]);
    expect(runs[0]).toMatchObject({ app: { created: 5 }, source: { updated: 5 } });
    expect(runs[0]!.issues).toHaveLength(3);
    expect(runs[1]).toMatchObject({ app: { created: 3 } });
    [CRM, CSV].forEach((f, i) => expect(readFileSync(join(dir, f)).equals(files[i]!), f).toBe(true));
    expect(await listUsers(dir)).toEqual([]);
    expect(await listIssues(dir, '--all')).toEqual([]);
  });

  it('a dry run after a source edit counts the update and applies none of it', async () => {
    const dir = syncedSample();
    sqlite(join(dir, CRM), "UPDATE members SET full_name = 'Ada King' WHERE id = 1");
    const users = await listUsers(dir);
    const csv = readFileSync(join(dir, CSV));
    const { runs } = await usersyncJson<SyncJson>(dir, ['sync', 'crm', '--dry-run']);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ connection: 'crm', app: { created: 0, updated: 1, deleted: 0 } });
    expect(await listUsers(dir)).toEqual(users);
    expect(readFileSync(join(dir, CSV)).equals(csv)).toBe(true);
  });

  it('plan prints each action and issue, row by row, and changes nothing', async () => {
    const dir = tempDir();
    await usersync(dir, ['init']);
    const plan = await usersync(dir, ['plan']);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('+ user ada@example.com from row 1 (write back app_user_id)');
    expect(plan.stdout).toContain('+ user edsger@example.com from row edsger@example.com');
    expect(plan.stdout).toContain('! duplicate_email: 2 rows of crm have the email margaret@example.com');
    expect(plan.stdout).toContain('5 changes, 0 unchanged, 3 skipped');
    const json = await usersyncJson<{ runs: { connection: string; actions: { type: string }[] }[] }>(dir, [
      'plan',
      'crm',
    ]);
    expect(json.runs[0]!.actions.map((a) => a.type)).toEqual(Array(5).fill('import'));
    expect(await listUsers(dir)).toEqual([]);
    expect(crmRow(dir, 'ada@example.com')).toMatchObject({ app_user_id: null });
  });
});

describe('edits made in the sources', () => {
  it('a name edited in crm reaches the directory and, through it, the CSV', async () => {
    const dir = syncedSample();
    sqlite(join(dir, CRM), "UPDATE members SET full_name = 'Ada King' WHERE id = 1");
    const { runs } = await usersyncJson<SyncJson>(dir, ['sync']);
    expect(runs[0]).toMatchObject({ connection: 'crm', app: { updated: 1 } });
    expect((await showUser(dir, 'ada@example.com')).name).toBe('Ada King');
    expect(csvLines(dir)[1]).toBe('ada@example.com;Ada King;yes;website');
  });

  it('a row deleted in the source is re-created, and the user kept', async () => {
    const dir = syncedSample();
    const alan = crmRow(dir, 'alan@example.com')!;
    sqlite(join(dir, CRM), 'DELETE FROM members WHERE id = ?', alan.id);
    const { runs } = await usersyncJson<SyncJson>(dir, ['sync']);
    expect(runs[0]).toMatchObject({ connection: 'crm', source: { created: 1 }, app: { deleted: 0 } });
    expect(crmRow(dir, 'alan@example.com')).toMatchObject({
      full_name: 'Alan Turing',
      app_user_id: alan.app_user_id,
      company: 'Bletchley Park',
    });
    expect((await showUser(dir, 'alan@example.com')).status).toBe('active');
    expect(changedNothing((await usersyncJson<SyncJson>(dir, ['sync'])).runs)).toBe(true);
  });

  it('a row that stops matching the filter suspends its user; matching again reactivates it', async () => {
    const dir = syncedSample();
    sqlite(join(dir, CRM), "UPDATE members SET status = 'pending' WHERE email = 'grace@example.com'");
    expect((await usersync(dir, ['sync'])).code).toBe(0);
    expect(await showUser(dir, 'grace@example.com')).toMatchObject({ status: 'suspended' });
    expect(crmRow(dir, 'grace@example.com')).toBeDefined();
    sqlite(join(dir, CRM), "UPDATE members SET status = 'approved' WHERE email = 'grace@example.com'");
    await usersync(dir, ['sync']);
    expect(await showUser(dir, 'grace@example.com')).toMatchObject({ status: 'active' });
  });

  it('a name edited on both sides: conflict: source (the default) keeps the source value', async () => {
    const dir = syncedSample();
    // crm's edit reaches the directory first; the CSV's own edit then conflicts with it.
    sqlite(join(dir, CRM), "UPDATE members SET full_name = 'Grace CRM' WHERE email = 'grace@example.com'");
    editCsv(dir, 'grace@example.com;Grace Hopper;', 'grace@example.com;Grace CSV;');
    const { runs } = await usersyncJson<SyncJson>(dir, ['sync']);
    const newsletter = runs.find((r) => r.connection === 'newsletter')!;
    expect(newsletter.conflicts).toBe(1);
    expect(newsletter.issues.find((i) => i.kind === 'conflict')!.message).toContain(
      'the source value was kept',
    );
    expect((await showUser(dir, 'grace@example.com')).name).toBe('Grace CSV');
    expect(crmRow(dir, 'grace@example.com')).toMatchObject({ full_name: 'Grace CSV' });
    expect((await listIssues(dir, '--connection', 'newsletter')).map((i) => i.kind)).toEqual(['conflict']);
  });

  it('a name edited on both sides: conflict: app keeps the directory value', async () => {
    const dir = syncedSample();
    const config = join(dir, 'usersync.yaml');
    const yaml = readFileSync(config, 'utf8');
    const source = '    source: csv:./sample/newsletter.csv\n';
    expect(yaml).toContain(source);
    writeFileSync(config, yaml.replace(source, `${source}    conflict: app\n`));
    sqlite(join(dir, CRM), "UPDATE members SET full_name = 'Grace CRM' WHERE email = 'grace@example.com'");
    editCsv(dir, 'grace@example.com;Grace Hopper;', 'grace@example.com;Grace CSV;');
    const { runs } = await usersyncJson<SyncJson>(dir, ['sync']);
    const newsletter = runs.find((r) => r.connection === 'newsletter')!;
    expect(newsletter.issues.find((i) => i.kind === 'conflict')!.message).toContain('the app value was kept');
    expect((await showUser(dir, 'grace@example.com')).name).toBe('Grace CRM');
    expect(csvLines(dir)).toContain('grace@example.com;Grace CRM;;');
  });

  it('an email edited in the source opens email_changed: no rename, no new user', async () => {
    const dir = syncedSample();
    sqlite(
      join(dir, CRM),
      "UPDATE members SET email = 'kj@example.com' WHERE email = 'katherine@example.com'",
    );
    const { runs } = await usersyncJson<SyncJson>(dir, ['sync']);
    const issue = runs[0]!.issues.find((i) => i.kind === 'email_changed')!;
    expect(issue.message).toContain('kj@example.com');
    const list = emails(await listUsers(dir));
    expect(list).toContain('katherine@example.com');
    expect(list).not.toContain('kj@example.com');
  });
});

describe('the mass-change guard', () => {
  /** 12 users synced from people.db, whose `region` has no default, so rows for app-made users fail. */
  async function twelveUsers(): Promise<string> {
    const dir = tempDir();
    const db = join(dir, 'people.db');
    makeSqlite(
      db,
      'CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT, name TEXT, region TEXT NOT NULL)',
    );
    for (let i = 1; i <= 12; i++)
      sqlite(db, "INSERT INTO people (email, name, region) VALUES (?, ?, 'eu')", `u${i}@x.io`, `U ${i}`);
    writeText(
      dir,
      'usersync.yaml',
      'connections:\n  - name: people\n    source: sqlite:./people.db\n    table: people\n    fields: { email: email, name: name }\n',
    );
    await usersync(dir, ['sync']);
    return dir;
  }

  it('holds back a run that changes most users (exit 0) until --approve-mass-change', async () => {
    const dir = await twelveUsers();
    sqlite(join(dir, 'people.db'), "UPDATE people SET name = name || '!'");
    const held = await usersyncJson<SyncJson>(dir, ['sync']);
    expect(held.runs[0]).toMatchObject({ status: 'blocked', app: { updated: 0 } });
    expect(held.runs[0]!.issues.map((i) => i.kind)).toEqual(['mass_change']);
    expect((await showUser(dir, 'u1@x.io')).name).toBe('U 1');
    const approved = await usersyncJson<SyncJson>(dir, ['sync', 'people', '--approve-mass-change']);
    expect(approved.runs[0]).toMatchObject({ status: 'succeeded', app: { updated: 12 } });
    expect((await showUser(dir, 'u1@x.io')).name).toBe('U 1!');
    expect(await listIssues(dir)).toEqual([]);
  });

  // A blocked run applied (retried) nothing, so it must not resolve the issues it did not re-check.
  it('a held-back run leaves open the write_failed issues it could not re-check', async () => {
    const dir = await twelveUsers();
    const added = await usersync(dir, ['users', 'add', 'new@x.io']);
    expect(added.stdout).toContain('NOT NULL constraint failed: people.region');
    const [failed] = await listIssues(dir);
    expect(failed).toMatchObject({ kind: 'write_failed', status: 'open' });
    sqlite(join(dir, 'people.db'), "UPDATE people SET name = name || '!'");
    expect((await usersyncJson<SyncJson>(dir, ['sync'])).runs[0]!.status).toBe('blocked');
    const open = await listIssues(dir);
    expect(open.map((i) => [i.id, i.kind])).toContainEqual([failed!.id, 'write_failed']);
  });
});

function editCsv(dir: string, from: string, to: string): void {
  const path = join(dir, CSV);
  const text = readFileSync(path, 'utf8');
  expect(text).toContain(from);
  writeFileSync(path, text.replace(from, to));
}
