/**
 * `usersync users add|update|delete` are app changes (SPEC §5 app_change, appendix B):
 * pushed to every source at once, without a sync.
 */
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  changedNothing,
  CRM,
  crmRow,
  csvLines,
  emails,
  listUsers,
  showUser,
  useSyncedSample,
  usersync,
  usersyncJson,
  type RunJson,
  type SyncJson,
  type UserJson,
} from '../support/cli.js';

const syncedSample = useSyncedSample();

interface UserChangeJson {
  readonly user: UserJson;
  readonly runs: RunJson[];
}

describe('users add', () => {
  it('creates the user and pushes a row to crm and the CSV at once (trigger app_change)', async () => {
    const dir = syncedSample();
    const { user, runs } = await usersyncJson<UserChangeJson>(dir, [
      'users',
      'add',
      'x@example.com',
      '--name',
      'X',
      '--custom',
      'plan=pro',
    ]);
    expect(user).toMatchObject({ email: 'x@example.com', name: 'X', custom: { plan: 'pro' } });
    expect(runs.map((r) => [r.connection, r.trigger, r.status, r.source.created])).toEqual([
      ['crm', 'app_change', 'succeeded', 1],
      ['newsletter', 'app_change', 'succeeded', 1],
    ]);
    expect(crmRow(dir, 'x@example.com')).toMatchObject({
      full_name: 'X',
      plan: 'pro',
      app_user_id: user.id,
      signup_date: user.createdAt,
    });
    expect(csvLines(dir).at(-2)).toBe('x@example.com;X;;');
    expect((await showUser(dir, 'x@example.com')).groups).toEqual(['pro']);
    // Already pushed: the next sync has nothing left to do.
    expect(changedNothing((await usersyncJson<SyncJson>(dir, ['sync'])).runs)).toBe(true);
  });

  it('says what it pushed, per connection', async () => {
    const dir = syncedSample();
    const added = await usersync(dir, ['users', 'add', 'y@example.com']);
    expect(added.code).toBe(0);
    expect(added.stdout).toContain('User y@example.com created.');
    expect(added.stdout).toContain('crm: row created');
    expect(added.stdout).toContain('newsletter: row created');
  });

  it('refuses an email that already exists, in any case, and changes nothing', async () => {
    const dir = syncedSample();
    const added = await usersync(dir, ['users', 'add', ' ADA@Example.com ']);
    expect(added.code).toBe(2);
    expect(added.stderr).toContain('already exists');
    expect(emails(await listUsers(dir)).filter((e) => e.startsWith('ada'))).toEqual(['ada@example.com']);
  });
});

describe('users update', () => {
  it("pushes a new name to the user's rows at once", async () => {
    const dir = syncedSample();
    const updated = await usersync(dir, ['users', 'update', 'ada@example.com', '--name', 'Ada King']);
    expect(updated.code).toBe(0);
    expect(updated.stdout).toContain('crm: row updated');
    expect(crmRow(dir, 'ada@example.com')).toMatchObject({ full_name: 'Ada King' });
    expect(csvLines(dir)[1]).toBe('ada@example.com;Ada King;yes;website');
    expect((await showUser(dir, 'ada@example.com')).name).toBe('Ada King');
  });

  it('pushes a custom field owned by both sides', async () => {
    const dir = syncedSample();
    const { runs } = await usersyncJson<UserChangeJson>(dir, [
      'users',
      'update',
      'ada@example.com',
      '--custom',
      'company=Babbage & Co',
    ]);
    expect(runs[0]).toMatchObject({ connection: 'crm', trigger: 'app_change', source: { updated: 1 } });
    expect(crmRow(dir, 'ada@example.com')).toMatchObject({ company: 'Babbage & Co' });
  });

  it('a field the source owns is set back by the push, and the output says so', async () => {
    const dir = syncedSample();
    // custom.plan is owned by crm (the default for custom fields): crm's value wins.
    const { user, runs } = await usersyncJson<UserChangeJson>(dir, [
      'users',
      'update',
      'ada@example.com',
      '--custom',
      'plan=team',
    ]);
    expect(runs[0]).toMatchObject({ connection: 'crm', app: { updated: 1 }, source: { updated: 0 } });
    expect(crmRow(dir, 'ada@example.com')).toMatchObject({ plan: 'pro' });
    expect(user.custom.plan).toBe('pro');
    const text = await usersync(dir, ['users', 'update', 'ada@example.com', '--custom', 'plan=free']);
    expect(text.stdout).toContain('crm: user updated from the source');
    const shown = await usersync(dir, ['users', 'show', 'ada@example.com']);
    expect(shown.stdout).toMatch(/^custom\s+\{"plan":"pro",/m);
    // Empty fields print as nothing, not as "null".
    expect(shown.stdout).toMatch(/^lastSeenAt\s*$/m);
  });

  it('needs something to change (exit 2), and an existing user (exit 2)', async () => {
    const dir = syncedSample();
    const nothing = await usersync(dir, ['users', 'update', 'ada@example.com']);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain('Nothing to change');
    const nobody = await usersync(dir, ['users', 'update', 'nobody@example.com', '--name', 'N']);
    expect(nobody.code).toBe(2);
    expect(nobody.stderr).toContain('No user has the email nobody@example.com');
  });
});

describe('users delete', () => {
  it('deletes the rows at once, and a later sync does not re-import them', async () => {
    const dir = syncedSample();
    await usersync(dir, ['users', 'add', 'x@example.com', '--name', 'X']);
    expect(crmRow(dir, 'x@example.com')).toBeDefined();
    const deleted = await usersyncJson<UserChangeJson>(dir, ['users', 'delete', 'x@example.com']);
    expect(deleted.runs.map((r) => [r.connection, r.trigger, r.source.deleted])).toEqual([
      ['crm', 'app_change', 1],
      ['newsletter', 'app_change', 1],
    ]);
    expect(crmRow(dir, 'x@example.com')).toBeUndefined();
    expect(csvLines(dir).some((line) => line.startsWith('x@example.com'))).toBe(false);
    const { runs } = await usersyncJson<SyncJson>(dir, ['sync']);
    expect(changedNothing(runs)).toBe(true);
    expect(emails(await listUsers(dir))).not.toContain('x@example.com');
    expect((await usersync(dir, ['users', 'show', 'x@example.com'])).code).toBe(2);
  });

  it('a row it could not delete (source down) is deleted by the next sync, not re-imported', async () => {
    const dir = syncedSample();
    const crm = join(dir, CRM);
    renameSync(crm, `${crm}.away`);
    const deleted = await usersync(dir, ['users', 'delete', 'alan@example.com']);
    // SPEC §5: a failing source never fails the app change itself.
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toMatch(/crm: not pushed yet .*the next sync will push it/);
    expect(deleted.stdout).toContain('newsletter: row deleted');
    renameSync(`${crm}.away`, crm);
    expect(crmRow(dir, 'alan@example.com')).toBeDefined();
    const { runs } = await usersyncJson<SyncJson>(dir, ['sync']);
    expect(runs[0]).toMatchObject({ connection: 'crm', status: 'succeeded', source: { deleted: 1 } });
    expect(crmRow(dir, 'alan@example.com')).toBeUndefined();
    expect(emails(await listUsers(dir))).not.toContain('alan@example.com');
  });
});
