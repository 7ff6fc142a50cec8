/**
 * The runner's own guarantees: one run per connection at a time (SPEC §5), and a dry run
 * that predicts what the real run does while changing nothing (appendix B).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { LockOwner } from '../../src/directory/store.js';
import {
  CLUB_SCHEMA,
  expectNoChanges,
  runOf,
  useSyncFixture,
  type SyncWorld,
} from '../support/sync-fixture.js';

const { clubWorld } = useSyncFixture();

describe('one run per connection at a time', () => {
  it('a run finding the connection locked by a live process is skipped', async () => {
    const world = await clubWorld();
    world.addMember({ email: 'a@x.io' });
    const holder: LockOwner = { id: 'another-run', pid: process.pid, host: hostname() };
    expect(await world.store.acquireRunLock('crm', holder)).toBe(true);

    const skipped = await world.run('crm', { lockWaitMs: 200 });

    expect(skipped).toMatchObject({ status: 'skipped', runId: null });
    expect(skipped.error).toContain('in progress');
    expect(await world.runs()).toEqual([]);
    expect(await world.users()).toEqual([]);
    // The holder still holds it; once released, the next run goes ahead.
    expect(await world.store.acquireRunLock('crm', { ...holder, id: 'a-third-run' })).toBe(false);
    await world.store.releaseRunLock('crm', holder);
    expect((await world.run('crm', { lockWaitMs: 200 })).status).toBe('succeeded');
  });

  it('a lock held by a process that has exited is taken over', async () => {
    const world = await clubWorld();
    world.addMember({ email: 'a@x.io' });
    const child = spawnSync(process.execPath, ['-e', '']);
    expect(child.status).toBe(0);
    const dead: LockOwner = { id: 'crashed-run', pid: child.pid!, host: hostname() };
    expect(await world.store.acquireRunLock('crm', dead)).toBe(true);

    const run = await world.run('crm', { lockWaitMs: 200 });

    expect(run.status).toBe('succeeded');
    expect((await world.users()).map((u) => u.email)).toEqual(['a@x.io']);
    // The run released the lock it took over.
    const next: LockOwner = { id: 'next-run', pid: process.pid, host: hostname() };
    expect(await world.store.acquireRunLock('crm', next)).toBe(true);
  });

  it('the lock is released after a failed run', async () => {
    const world = await clubWorld();
    world.sql('drop table "Club Members"');

    expect((await world.run('crm', { lockWaitMs: 200 })).status).toBe('failed');
    expect((await world.run('crm', { lockWaitMs: 200 })).status).toBe('failed');
  });
});

describe('a dry run', () => {
  /** Everything a dry run must leave alone. */
  async function snapshot(world: SyncWorld) {
    return {
      source: readFileSync(world.path('crm.db')),
      users: await world.store.listUsers({ includeDeleted: true }),
      links: await world.links(),
      runs: await world.runs(),
      issues: await world.issues(),
    };
  }

  it('changes nothing in a fresh directory and records no run', async () => {
    const world = await clubWorld();
    world.addMember({ email: 'a@x.io', name: 'A' });
    world.addMember({ email: 'b@x.io', name: 'B' });
    world.addMember({ email: 'broken', name: 'Broken' });
    const before = await snapshot(world);

    const [dry] = await world.sync({ dryRun: true });

    expect(dry).toMatchObject({ status: 'succeeded', dryRun: true, runId: null });
    expect(dry!.counts.app.created).toBe(2);
    expect(dry!.counts.source.updated).toBe(2);
    expect(dry!.issues.map((i) => i.kind)).toEqual(['invalid_email']);
    expect(await snapshot(world)).toEqual(before);
    expect(await world.runs()).toEqual([]);
    expect(await world.users()).toEqual([]);
  });

  it('predicts the counts the real run then has, on both sides', async () => {
    const world = await clubWorld();
    const a = world.addMember({ email: 'a@x.io', name: 'A' });
    world.addMember({ email: 'b@x.io', name: 'B' });
    world.addMember({ email: 'c@x.io', name: 'C' });
    const d = world.addMember({ email: 'd@x.io', name: 'D' });
    await world.sync();
    world.setMember(a, 'Full-Name', 'Anna'); // app update
    await world.store.updateUser((await world.user('b@x.io')).id, { name: 'Bob' }); // source update
    await world.store.deleteUser((await world.user('c@x.io')).id); // source delete
    // Added before the delete, so SQLite does not hand d's key to the new row.
    world.addMember({ email: 'e@x.io', name: 'E' }); // import with write-back
    world.deleteMember(d); // re-create
    await world.store.createUser({ email: 'f@x.io', name: 'F' }); // export
    const before = await snapshot(world);

    const dry = runOf(await world.sync({ dryRun: true }));

    expect(await snapshot(world)).toEqual(before);
    expect(dry.counts).toMatchObject({
      app: { created: 1, updated: 1, deleted: 0 },
      source: { created: 2, updated: 2, deleted: 1 },
    });

    const real = runOf(await world.sync());

    expect(real.counts).toEqual(dry.counts);
    expectNoChanges(await world.sync());
  });

  it('of a blocked sync says blocked and changes nothing', async () => {
    const world = await clubWorld();
    const keys = Array.from({ length: 11 }, (_, i) => world.addMember({ email: `m${i}@x.io` }));
    await world.sync();
    for (const key of keys) world.setMember(key, 'Full-Name', 'Renamed');
    const before = await snapshot(world);

    const dry = runOf(await world.sync({ dryRun: true }));

    expect(dry.status).toBe('blocked');
    expect(await snapshot(world)).toEqual(before);
  });

  it('of an unreachable source reports the failure and records nothing', async () => {
    const world = await clubWorld();
    world.sql('drop table "Club Members"');

    const dry = runOf(await world.sync({ dryRun: true }));

    expect(dry.status).toBe('failed');
    expect(dry.issues.map((i) => i.kind)).toEqual(['connection_failed']);
    expect(await world.runs()).toEqual([]);
    expect(await world.issues()).toEqual([]);
  });

  // A known limitation (README "Good to know"): the database fills a mapped column with its
  // default; the real run copies it into the app, which a dry run cannot know. If a dry run
  // ever learns defaults from describe(), this starts passing: make it a plain it().
  it.fails('predicts the app update a column default causes on a created row', async () => {
    const world = await clubWorld({}, CLUB_SCHEMA.replace('plan text', "plan text default 'free'"));
    await world.store.createUser({ email: 'a@x.io' });

    const dry = runOf(await world.sync({ dryRun: true }));
    const real = runOf(await world.sync());

    expect(real.counts).toEqual(dry.counts);
  });
});
