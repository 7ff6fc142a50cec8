/**
 * `usersync issues list|show|validate` (SPEC §4) and `usersync connections list|enable-two-way`
 * (SPEC §2) on the real binary.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CRM,
  crmRow,
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

const tempDir = useTempDir('usersync-cli-issues-');
const syncedSample = useSyncedSample();

describe('issues', () => {
  it('validate after a fix in the source resolves the issue and syncs the row', async () => {
    const dir = syncedSample();
    const before = (await listIssues(dir)).find((i) => i.kind === 'invalid_email')!;
    sqlite(join(dir, CRM), "UPDATE members SET email = 'barbara@example.com' WHERE id = 8");
    const validated = await usersync(dir, ['issues', 'validate', 'crm']);
    expect(validated.code).toBe(0);
    expect(validated.stdout).toContain('crm: succeeded; 1 issue(s) resolved, 2 still open.');
    const all = await listIssues(dir, '--all');
    expect(all.find((i) => i.id === before.id)).toMatchObject({
      status: 'resolved',
      resolvedAt: expect.any(String),
    });
    expect((await listIssues(dir)).map((i) => i.kind).sort()).toEqual(['duplicate_email', 'invalid_value']);
    const barbara = await showUser(dir, 'barbara@example.com');
    expect(crmRow(dir, 'barbara@example.com')).toMatchObject({ app_user_id: barbara.id });
  });

  it('validate --json reports the validate_fix run and what is still open', async () => {
    const dir = syncedSample();
    // Two rows for margaret: deleting the old one fixes the duplicate_email issue.
    sqlite(join(dir, CRM), 'DELETE FROM members WHERE id = 7');
    const result = await usersyncJson<SyncJson & { open: { kind: string }[] }>(dir, [
      'issues',
      'validate',
      'crm',
    ]);
    expect(result.runs[0]).toMatchObject({ connection: 'crm', trigger: 'validate_fix', app: { created: 1 } });
    expect(result.open.map((i) => i.kind).sort()).toEqual(['invalid_email', 'invalid_value']);
    expect(emails(await listUsers(dir))).toContain('margaret@example.com');
  });

  it('show takes an id prefix and prints the message and how to fix it', async () => {
    const dir = syncedSample();
    const issue = (await listIssues(dir)).find((i) => i.kind === 'duplicate_email')!;
    const shown = await usersync(dir, ['issues', 'show', issue.id.slice(0, 8)]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('duplicate_email on crm (open)');
    expect(shown.stdout).toContain(issue.message);
    expect(shown.stdout).toContain(`How to fix: ${issue.fix}`);
    expect(shown.stdout).toContain('Rows: 6, 7');
    expect(shown.stdout).toContain(`id ${issue.id}`);
    const unknown = await usersync(dir, ['issues', 'show', 'zzzz']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('No issue has the id "zzzz"');
  });

  it('list filters by connection; validate needs a known connection (exit 2)', async () => {
    const dir = syncedSample();
    expect(await listIssues(dir, '--connection', 'newsletter')).toEqual([]);
    expect(await listIssues(dir, '--connection', 'crm')).toHaveLength(3);
    const validated = await usersync(dir, ['issues', 'validate', 'nope']);
    expect(validated.code).toBe(2);
    expect(validated.stderr).toContain('There is no connection named "nope" (connections: crm, newsletter)');
  });
});

const ONE_WAY = `directory: sqlite:./directory.db
connections:
  - name: legacy
    source: sqlite:./legacy.db
    table: people
    mode: one-way
    fields: { email: email, name: full_name, userId: app_user_id }
`;

interface ConnectionJson {
  readonly name: string;
  readonly mode: string;
  readonly configuredMode: string;
  readonly lastRun: { status: string; trigger: string } | null;
  readonly openIssues: number;
}

describe('connections', () => {
  it('enable-two-way: the next sync imports the rows only a one-way source had', async () => {
    const dir = tempDir();
    const legacy = join(dir, 'legacy.db');
    makeSqlite(
      legacy,
      'CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT, full_name TEXT, app_user_id TEXT)',
    );
    sqlite(legacy, "INSERT INTO people (email, full_name) VALUES ('only@x.io', 'Only In Source')");
    writeText(dir, 'usersync.yaml', ONE_WAY);

    // One-way: source-only rows are ignored, app users are pushed.
    expect((await usersync(dir, ['sync'])).code).toBe(0);
    expect(await listUsers(dir)).toEqual([]);
    const app = (await usersyncJson<{ user: { id: string } }>(dir, ['users', 'add', 'app@x.io'])).user;
    expect(sqlite(legacy, 'SELECT email, app_user_id FROM people ORDER BY id')).toEqual([
      { email: 'only@x.io', app_user_id: null },
      { email: 'app@x.io', app_user_id: app.id },
    ]);
    const before = await usersyncJson<{ connections: ConnectionJson[] }>(dir, ['connections', 'list']);
    expect(before.connections).toEqual([
      expect.objectContaining({ name: 'legacy', mode: 'one-way', configuredMode: 'one-way' }),
    ]);

    const enabled = await usersync(dir, ['connections', 'enable-two-way', 'legacy']);
    expect(enabled.code).toBe(0);
    expect(enabled.stdout).toContain('legacy is now two-way');
    const after = await usersyncJson<{ connections: ConnectionJson[] }>(dir, ['connections', 'list']);
    expect(after.connections[0]).toMatchObject({ mode: 'two-way', configuredMode: 'one-way' });

    const { runs } = await usersyncJson<SyncJson>(dir, ['sync']);
    expect(runs[0]).toMatchObject({ connection: 'legacy', app: { created: 1 }, source: { updated: 1 } });
    const only = await showUser(dir, 'only@x.io');
    expect(only.name).toBe('Only In Source');
    expect(sqlite(legacy, "SELECT app_user_id FROM people WHERE email = 'only@x.io'")).toEqual([
      { app_user_id: only.id },
    ]);
    const again = await usersyncJson<{ changed: boolean }>(dir, ['connections', 'enable-two-way', 'legacy']);
    expect(again).toEqual({ connection: 'legacy', mode: 'two-way', changed: false });
  });

  it('enable-two-way refuses an import connection and an unknown name (exit 2)', async () => {
    const dir = tempDir();
    makeSqlite(
      join(dir, 'legacy.db'),
      'CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT, full_name TEXT)',
    );
    writeText(
      dir,
      'usersync.yaml',
      ONE_WAY.replace('mode: one-way', 'mode: import').replace(', userId: app_user_id', ''),
    );
    const importing = await usersync(dir, ['connections', 'enable-two-way', 'legacy']);
    expect(importing.code).toBe(2);
    expect(importing.stderr).toContain('legacy is an import connection');
    const unknown = await usersync(dir, ['connections', 'enable-two-way', 'crm']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('There is no connection named "crm"');
  });

  it('list shows each connection with its last run and open issues', async () => {
    const dir = syncedSample();
    const { connections } = await usersyncJson<{ connections: ConnectionJson[] }>(dir, [
      'connections',
      'list',
    ]);
    expect(connections.map((c) => [c.name, c.mode, c.lastRun?.status, c.openIssues])).toEqual([
      ['crm', 'two-way', 'succeeded', 3],
      ['newsletter', 'two-way', 'succeeded', 0],
    ]);
  });
});
