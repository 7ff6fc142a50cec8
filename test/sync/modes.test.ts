/**
 * SPEC §2 sync modes and the connection options that change the two-way rules
 * (createInSource, acceptEmailChanges), through the real runner on a SQLite source.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { expectNoChanges, runOf, useSyncFixture } from '../support/sync-fixture.js';

const { clubWorld } = useSyncFixture();

describe('one-way mode', () => {
  it('writes app users to the source, ignores source-only rows and overwrites source edits', async () => {
    const world = await clubWorld({ mode: 'one-way' });
    const only = world.addMember({ email: 'src@x.io', name: 'Source only' });
    const shared = world.addMember({ email: 'both@x.io', name: 'Source name' });
    const app = await world.store.createUser({ email: 'app@x.io', name: 'App' });
    const both = await world.store.createUser({ email: 'both@x.io', name: 'App name' });

    await world.sync();

    expect((await world.users()).map((u) => u.email)).toEqual(['app@x.io', 'both@x.io']);
    expect(world.member(only)?.app_user_id).toBeNull();
    expect(world.member(shared)).toMatchObject({ 'Full-Name': 'App name', app_user_id: both.id });
    expect(world.members().find((r) => r.email === 'app@x.io')).toMatchObject({ app_user_id: app.id });

    world.setMember(shared, 'Full-Name', 'Edited in the source');
    await world.store.updateUser(app.id, { name: 'App renamed' });
    await world.sync();

    expect(world.member(shared)?.['Full-Name']).toBe('App name');
    expect((await world.user('both@x.io')).name).toBe('App name');
    expect(world.members().find((r) => r.email === 'app@x.io')?.['Full-Name']).toBe('App renamed');

    await world.store.deleteUser(app.id);
    await world.sync();

    expect(world.members().map((r) => r.email)).toEqual(['src@x.io', 'both@x.io']);
    expectNoChanges(await world.sync());
  });

  it('switched to two-way, the next sync imports the source-only rows', async () => {
    const world = await clubWorld({ mode: 'one-way' });
    world.addMember({ email: 'src@x.io', name: 'Source only' });
    await world.sync();
    expect(await world.users()).toEqual([]);

    await world.store.setConnectionState('crm', { twoWayEnabledAt: new Date().toISOString() });
    const run = runOf(await world.sync());

    expect(run.counts.app.created).toBe(1);
    expect((await world.user('src@x.io')).name).toBe('Source only');
  });
});

describe('import mode', () => {
  it('imports and follows source changes but never writes to the source', async () => {
    const world = await clubWorld({ mode: 'import' });
    const key = world.addMember({ email: 'imp@x.io', name: 'Imp', plan: 'pro' });
    await world.store.createUser({ email: 'app@x.io', name: 'App' });
    const bytes = () => readFileSync(world.path('crm.db'));
    const before = bytes();

    const run = runOf(await world.sync());

    expect(run.counts.app.created).toBe(1);
    expect(run.counts.source).toEqual({ created: 0, updated: 0, deleted: 0 });
    expect(bytes().equals(before)).toBe(true);
    const imp = await world.user('imp@x.io');
    expect(imp).toMatchObject({ name: 'Imp', custom: { plan: 'pro' } });

    world.setMember(key, 'Full-Name', 'Impy');
    await world.sync();
    expect((await world.user('imp@x.io')).name).toBe('Impy');

    // A row deleted in a read-only source is not re-created, and its user stays.
    world.deleteMember(key);
    const afterDelete = bytes();
    await world.sync();
    expect(bytes().equals(afterDelete)).toBe(true);
    expect(await world.store.getUser(imp.id)).toMatchObject({ deletedAt: null });
    expectNoChanges(await world.sync());
  });
});

describe('connection options', () => {
  it('createInSource: false keeps app-made users out of the source', async () => {
    const world = await clubWorld({ createInSource: false });
    await world.store.createUser({ email: 'app@x.io' });
    world.addMember({ email: 'src@x.io' });

    await world.sync();

    expect(world.members().map((r) => r.email)).toEqual(['src@x.io']);
    expect((await world.users()).map((u) => u.email)).toEqual(['app@x.io', 'src@x.io']);
    expectNoChanges(await world.sync());
  });

  it('acceptEmailChanges: true follows an email edited in the source', async () => {
    const world = await clubWorld({ acceptEmailChanges: true });
    const key = world.addMember({ email: 'old@x.io', name: 'Val' });
    await world.sync();
    const val = await world.user('old@x.io');
    world.setMember(key, 'email', 'New@x.io');

    await world.sync();

    expect(await world.store.getUser(val.id)).toMatchObject({ email: 'New@x.io', name: 'Val' });
    expect(await world.users()).toHaveLength(1);
    expect(await world.openIssues()).toEqual([]);
    expect((await world.linkOf(val.id))?.sourceEmail).toBe('new@x.io');
    expectNoChanges(await world.sync());
  });

  it('acceptEmailChanges does not take an email another user has', async () => {
    const world = await clubWorld({ acceptEmailChanges: true });
    const key = world.addMember({ email: 'wil@x.io' });
    world.addMember({ email: 'xan@x.io' });
    await world.sync();
    world.setMember(key, 'email', 'xan@x.io');

    await world.sync();

    expect((await world.users()).map((u) => u.email)).toEqual(['wil@x.io', 'xan@x.io']);
    expect((await world.openIssues()).map((i) => i.kind).sort()).toEqual(['duplicate_email']);
  });
});
