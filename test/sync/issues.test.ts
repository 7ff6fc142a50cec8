/**
 * SPEC §4 issue lifecycle through the real runner: the same problem seen again updates
 * the open issue, a fixed problem is resolved by the next full run, a failed run resolves
 * nothing, and the single-user path never resolves what it did not look at.
 */
import { describe, expect, it } from 'vitest';
import { syncUser } from '../../src/sync/sync-user.js';
import { runOf, useSyncFixture } from '../support/sync-fixture.js';

const { clubWorld } = useSyncFixture();

describe('sync issues', () => {
  it('the same problem seen twice updates one open issue instead of opening another', async () => {
    const world = await clubWorld();
    const key = world.addMember({ email: 'broken', name: 'Broken' });

    const first = runOf(await world.sync());
    const [opened] = await world.openIssues();
    const second = runOf(await world.sync());

    expect(first.opened).toBe(1);
    expect(second.opened).toBe(0);
    const issues = await world.issues();
    expect(issues).toHaveLength(1);
    const [issue] = issues;
    expect(issue).toMatchObject({
      id: opened?.id,
      kind: 'invalid_email',
      status: 'open',
      connection: 'crm',
      rows: [key],
      firstSeenAt: opened?.firstSeenAt,
      runId: second.runId,
      resolvedAt: null,
    });
    expect(issue!.lastSeenAt >= opened!.lastSeenAt).toBe(true);
    expect(issue?.message).toContain('"broken" is not a valid email address');
    expect(issue?.fix).toContain('valid email');
  });

  it('fixing the source and running again resolves the issue', async () => {
    const world = await clubWorld();
    const key = world.addMember({ email: 'broken', name: 'Broken' });
    await world.sync();
    await world.sync();
    world.setMember(key, 'email', 'fixed@x.io');

    const run = runOf(await world.sync());

    expect(run.resolved).toBe(1);
    expect(await world.openIssues()).toEqual([]);
    const [issue] = await world.issues('resolved');
    expect(issue).toMatchObject({ kind: 'invalid_email', status: 'resolved', rows: [key] });
    expect(issue?.resolvedAt).toEqual(expect.any(String));
    expect(Date.parse(issue!.resolvedAt!)).not.toBeNaN();
    expect((await world.user('fixed@x.io')).name).toBe('Broken');
  });

  it('a problem that comes back after being resolved opens a new issue', async () => {
    const world = await clubWorld();
    const key = world.addMember({ email: 'broken', name: 'Broken' });
    await world.sync();
    world.setMember(key, 'email', 'fixed@x.io');
    await world.sync();
    world.addMember({ email: 'broken', name: 'Again' });

    await world.sync();

    expect(await world.openIssues('invalid_email')).toHaveLength(1);
    expect(await world.issues('resolved')).toHaveLength(1);
  });

  it('a failed run leaves the open issues of the connection as they are', async () => {
    const world = await clubWorld();
    world.addMember({ email: 'broken', name: 'Broken' });
    await world.sync();
    world.sql('alter table "Club Members" rename to "Gone"');

    const failed = runOf(await world.sync());

    expect(failed.status).toBe('failed');
    expect(failed.resolved).toBe(0);
    expect((await world.openIssues()).map((i) => i.kind).sort()).toEqual([
      'connection_failed',
      'invalid_email',
    ]);
  });

  it('the single-user path records what it sees but resolves nothing', async () => {
    const world = await clubWorld();
    world.addMember({ email: 'broken', name: 'Broken' });
    await world.sync();
    const user = await world.store.createUser({ email: 'pat@x.io', name: 'Pat' });

    const result = await syncUser(world.services, world.connection(), user.id, 'app_change');

    expect(result.status).toBe('succeeded');
    expect(result.resolved).toBe(0);
    expect(await world.openIssues('invalid_email')).toHaveLength(1);
  });
});
