/**
 * README "Quick start", end to end on the real binary: `usersync init` then `usersync sync`
 * in an empty folder, checked against the real SQLite and CSV files left behind.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  changedNothing,
  CRM,
  crmRow,
  CSV,
  csvLines,
  emails,
  listIssues,
  listUsers,
  SAMPLES,
  sqlite,
  usersync,
  usersyncJson,
  type CliResult,
  type SyncJson,
} from '../support/cli.js';

const IMPORTED = [
  'ada@example.com',
  'alan@example.com',
  'edsger@example.com',
  'frances@example.com',
  'grace@example.com',
  'katherine@example.com',
  'linus@example.com',
];

describe('the quick start: init, then sync, in an empty folder', () => {
  // These tests only read what init and sync left (or re-run commands that change nothing).
  let dir = '';
  let init: CliResult;
  let sync: CliResult;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'usersync-cli-quickstart-'));
    init = await usersync(dir, ['init']);
    sync = await usersync(dir, ['sync']);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('init writes the config and the two sample sources', () => {
    expect(init.code).toBe(0);
    expect(init.stdout).toContain('Wrote usersync.yaml, sample/crm.db, sample/newsletter.csv.');
    expect(readFileSync(join(dir, 'usersync.yaml'), 'utf8')).toBe(
      readFileSync(join(SAMPLES, 'usersync.yaml'), 'utf8'),
    );
  });

  it('sync exits 0 even with issues, and its summary announces them', () => {
    expect(sync.code).toBe(0);
    expect(sync.stdout).toMatch(/^crm\s+manual\s+succeeded/m);
    expect(sync.stdout).toMatch(/^newsletter\s+manual\s+succeeded/m);
    expect(sync.stdout).toContain('3 issues:');
    for (const kind of ['duplicate_email', 'invalid_email', 'invalid_value'])
      expect(sync.stdout).toContain(kind);
  });

  it('imports the users of both sources, without the problem rows', async () => {
    const users = await listUsers(dir);
    expect(emails(users)).toEqual(IMPORTED);
    const ada = users.find((u) => u.email === 'ada@example.com')!;
    // From crm: name, createdAt, custom fields; from the newsletter CSV: custom.newsletter.
    expect(ada).toMatchObject({
      name: 'Ada Lovelace',
      status: 'active',
      createdAt: '2023-01-15T00:00:00.000Z',
      custom: { plan: 'pro', company: 'Analytical Engines', newsletter: 'yes' },
      groups: ['pro', 'subscribers'],
    });
    expect(users.find((u) => u.email === 'edsger@example.com')).toMatchObject({
      name: 'Edsger Dijkstra',
      custom: { newsletter: 'yes' },
    });
  });

  it('writes each user id back to its crm row, and pushes the CSV-only users to crm', async () => {
    const users = await listUsers(dir);
    for (const user of users) expect(crmRow(dir, user.email)).toMatchObject({ app_user_id: user.id });
    // Edsger and Frances came from the CSV: crm got a row for each, with the column default for plan.
    expect(crmRow(dir, 'frances@example.com')).toMatchObject({
      full_name: 'Frances Allen',
      plan: 'free',
      status: 'approved',
    });
    // The problem rows and the filtered-out row are left as they were.
    const untouched = sqlite(
      join(dir, CRM),
      'SELECT id FROM members WHERE app_user_id IS NULL ORDER BY id',
    ).map((r) => r.id);
    expect(untouched).toEqual([6, 7, 8, 9]);
  });

  it("appends crm's users to the CSV, keeping its BOM, delimiter, CRLF and multi-line cell", () => {
    const original = readFileSync(join(SAMPLES, 'newsletter.csv'));
    const now = readFileSync(join(dir, CSV));
    expect([...now.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    // Rows are appended: the original bytes (quoted "conference\r\n(EWD 1000)" included) come first.
    expect(now.subarray(0, original.length).equals(original)).toBe(true);
    const text = now.toString('utf8');
    expect(text.endsWith('\r\n')).toBe(true);
    expect(text.replaceAll('\r\n', '')).not.toContain('\n');
    const added = csvLines(dir).slice(5, -1).sort();
    expect(added).toEqual([
      'alan@example.com;Alan Turing;;',
      'grace@example.com;Grace Hopper;;',
      'katherine@example.com;Katherine Johnson;;',
      'linus@example.com;Linus Torvalds;;',
    ]);
  });

  it('opens the three sample issues, each naming its rows', async () => {
    const issues = await listIssues(dir);
    const byKind = Object.fromEntries(issues.map((i) => [i.kind, i]));
    expect(Object.keys(byKind).sort()).toEqual(['duplicate_email', 'invalid_email', 'invalid_value']);
    expect(issues.every((i) => i.connection === 'crm' && i.status === 'open')).toBe(true);
    expect(byKind.duplicate_email!.rows).toEqual(['6', '7']);
    expect(byKind.duplicate_email!.message).toContain('margaret@example.com');
    expect(byKind.invalid_email!.rows).toEqual(['8']);
    expect(byKind.invalid_email!.message).toContain('barbara.example.com');
    expect(byKind.invalid_value!.rows).toEqual(['5']);
    expect(byKind.invalid_value!.message).toContain('photo_url');
  });

  it('a second sync changes nothing (idempotent) and opens no more issues', async () => {
    const crmBefore = sqlite(join(dir, CRM), 'SELECT * FROM members ORDER BY id');
    const csvBefore = readFileSync(join(dir, CSV));
    const { runs } = await usersyncJson<SyncJson>(dir, ['sync']);
    expect(runs.map((r) => r.connection)).toEqual(['crm', 'newsletter']);
    expect(changedNothing(runs)).toBe(true);
    expect(sqlite(join(dir, CRM), 'SELECT * FROM members ORDER BY id')).toEqual(crmBefore);
    expect(readFileSync(join(dir, CSV)).equals(csvBefore)).toBe(true);
    expect(await listIssues(dir)).toHaveLength(3);
  });

  it('init again without --force leaves every file as it is', async () => {
    const files = ['usersync.yaml', CRM, CSV, 'usersync.db'];
    const before = files.map((f) => readFileSync(join(dir, f)));
    const again = await usersync(dir, ['init']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already exists; left as it is');
    files.forEach((f, i) => expect(readFileSync(join(dir, f)).equals(before[i]!), f).toBe(true));
    expect(emails(await listUsers(dir))).toEqual(IMPORTED);
  });
});
