/**
 * The single-user path (SPEC §5 app_change): one user's change pushed to one connection
 * by looking its rows up. Correctness on a real SQLite source; a source that is down
 * gives a failed run, never an exception.
 */
import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { syncUser, syncUserEverywhere } from '../../src/sync/sync-user.js';
import { expectNoChanges, useSyncFixture, type SyncWorld } from '../support/sync-fixture.js';

const { clubWorld } = useSyncFixture();

function push(world: SyncWorld, userId: string) {
  return syncUser(world.services, world.connection(), userId, 'app_change');
}

describe('syncing one user', () => {
  it('creates the row of a new user, updates it after an app edit, deletes it after an app delete', async () => {
    const world = await clubWorld();
    world.addMember({ email: 'other@x.io', name: 'Other' });
    const user = await world.store.createUser({
      email: 'rae@x.io',
      name: 'Rae',
      custom: { company: 'Acme' },
    });

    const created = await push(world, user.id);

    expect(created).toMatchObject({ status: 'succeeded', trigger: 'app_change' });
    expect(created.counts.source.created).toBe(1);
    const row = world.members().find((r) => r.email === 'rae@x.io');
    expect(row).toMatchObject({ 'Full-Name': 'Rae', company: 'Acme', app_user_id: user.id });
    expect(await world.linkOf(user.id)).toMatchObject({ key: String(row!.id) });
    // Only that user: the other row was not imported.
    expect((await world.users()).map((u) => u.email)).toEqual(['rae@x.io']);

    await world.store.updateUser(user.id, { name: 'Rachel', custom: { company: 'Globex' } });
    const updated = await push(world, user.id);

    expect(updated.counts.source.updated).toBe(1);
    expect(world.member(String(row!.id))).toMatchObject({ 'Full-Name': 'Rachel', company: 'Globex' });

    await world.store.deleteUser(user.id);
    const deleted = await push(world, user.id);

    expect(deleted.counts.source.deleted).toBe(1);
    expect(world.member(String(row!.id))).toBeUndefined();
    expect(await world.linkOf(user.id)).toBeUndefined();
    expect((await world.runs('crm')).map((r) => [r.trigger, r.status])).toEqual([
      ['app_change', 'succeeded'],
      ['app_change', 'succeeded'],
      ['app_change', 'succeeded'],
    ]);
  });

  it('links an existing row whose email differs only in case and spaces, without a second row', async () => {
    const world = await clubWorld();
    const key = world.addMember({ email: '  Sam@X.IO ', name: 'Samuel', plan: 'pro' });
    const user = await world.store.createUser({ email: 'sam@x.io' });

    const result = await push(world, user.id);

    expect(result.status).toBe('succeeded');
    expect(result.counts.source.created).toBe(0);
    expect(world.members()).toHaveLength(1);
    expect(world.member(key)).toMatchObject({ app_user_id: user.id });
    expect(await world.linkOf(user.id)).toMatchObject({ key });
    expect(await world.user('sam@x.io')).toMatchObject({ name: 'Samuel', custom: { plan: 'pro' } });
    // The full sync then agrees: nothing more to do for that pair.
    const [full] = await world.sync();
    expect(full!.counts.unchanged).toBe(1);
    expectNoChanges(await world.sync());
  });

  it('re-creates a linked row deleted in the source', async () => {
    const world = await clubWorld();
    const key = world.addMember({ email: 'tia@x.io', name: 'Tia' });
    world.addMember({ email: 'last@x.io' });
    await world.sync();
    const tia = await world.user('tia@x.io');
    world.deleteMember(key);

    const result = await push(world, tia.id);

    expect(result.counts.source.created).toBe(1);
    expect(world.members().filter((r) => r.email === 'tia@x.io')).toMatchObject([
      { 'Full-Name': 'Tia', app_user_id: tia.id },
    ]);
    expectNoChanges(await world.sync());
  });

  it('records a failed run, not an exception, when the source is unreachable', async () => {
    const world = await clubWorld();
    const user = await world.store.createUser({ email: 'uma@x.io' });
    rmSync(world.path('crm.db'));

    const result = await push(world, user.id);

    expect(result.status).toBe('failed');
    expect(result.error).toContain('crm.db');
    expect((await world.runs('crm'))[0]).toMatchObject({ id: result.runId, status: 'failed' });
    expect(await world.openIssues('connection_failed')).toHaveLength(1);
    expect(await world.store.getUser(user.id)).toMatchObject({ email: 'uma@x.io', deletedAt: null });
  });

  it('a user id that does not exist changes nothing', async () => {
    const world = await clubWorld();
    world.addMember({ email: 'vic@x.io' });

    const result = await push(world, 'no-such-user');

    expect(result.status).toBe('succeeded');
    expectNoChanges([result]);
    expect(world.members()).toHaveLength(1);
  });

  it('pushes a change to every connection', async () => {
    const world = await clubWorld();
    const user = await world.store.createUser({ email: 'wes@x.io', name: 'Wes' });

    const results = await syncUserEverywhere(world.services, user.id, 'app_change');

    expect(results.map((r) => [r.connection, r.status])).toEqual([['crm', 'succeeded']]);
    expect(world.members()).toMatchObject([{ email: 'wes@x.io', 'Full-Name': 'Wes' }]);
  });
});
