/**
 * When things go wrong in the source (SPEC §3): a concurrent edit, a write the source
 * rejects, a source that cannot be read completely. Real files, real constraints.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { applyPlan } from '../../src/sync/apply-plan.js';
import { readAndPlan } from '../../src/sync/read-plan.js';
import {
  CLUB_SCHEMA,
  clubConnection,
  expectNoChanges,
  runOf,
  useSyncFixture,
  withSqlite,
  type SyncWorld,
} from '../support/sync-fixture.js';

const { clubWorld, makeWorld } = useSyncFixture();

describe('a concurrent edit', () => {
  it('a row edited after the sync read it is not overwritten, and the next run converges', async () => {
    const world = await clubWorld();
    const key = world.addMember({ email: 'quinn@x.io', name: 'Quinn', plan: 'free' });
    await world.sync();
    const quinn = await world.user('quinn@x.io');
    await world.store.updateUser(quinn.id, { name: 'Quinn (app)' });

    const { plan, source, release } = await readAndPlan(world.services, world.connection(), {});
    // Another program edits the row between the read and the write.
    world.setMember(key, 'plan', 'enterprise');
    const outcome = await applyPlan(plan, world.store, source);
    await release();

    expect(outcome.counts.stale).toBe(1);
    expect(outcome.counts.source.updated).toBe(0);
    expect(world.member(key)).toMatchObject({ plan: 'enterprise', 'Full-Name': 'Quinn' });

    const run = runOf(await world.sync());

    expect(run.counts).toMatchObject({ stale: 0, conflicts: 0 });
    expect(world.member(key)).toMatchObject({ plan: 'enterprise', 'Full-Name': 'Quinn (app)' });
    expect(await world.user('quinn@x.io')).toMatchObject({
      name: 'Quinn (app)',
      custom: { plan: 'enterprise' },
    });
    expectNoChanges(await world.sync());
  });
});

describe('a write the source rejects', () => {
  const SCHEMA = CLUB_SCHEMA.replace('"Full-Name" text', '"Full-Name" text check (length("Full-Name") < 20)');

  async function checkedWorld(): Promise<SyncWorld> {
    return makeWorld({ sqlite: { 'crm.db': SCHEMA }, connections: [clubConnection()] });
  }

  it('opens one write_failed issue naming that user; the other rows are written', async () => {
    const world = await checkedWorld();
    const long = await world.store.createUser({ email: 'long@x.io', name: 'A name far too long for it' });
    await world.store.createUser({ email: 'al@x.io', name: 'Al' });
    await world.store.createUser({ email: 'bea@x.io', name: 'Bea' });

    const run = runOf(await world.sync());

    expect(run.status).toBe('succeeded');
    expect(run.counts.source.created).toBe(2);
    expect(
      world
        .members()
        .map((r) => r.email)
        .sort(),
    ).toEqual(['al@x.io', 'bea@x.io']);
    const issues = await world.openIssues();
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ kind: 'write_failed', users: [long.id] });
    expect(issues[0]?.message).toContain('CHECK constraint failed');
    expect(await world.linkOf(long.id)).toBeUndefined();

    // Seen again: the same issue, no row. Fixed in the app: written, resolved.
    runOf(await world.sync());
    expect(await world.issues()).toHaveLength(1);
    await world.store.updateUser(long.id, { name: 'Shorter' });
    const fixed = runOf(await world.sync());

    expect(fixed.counts.source.created).toBe(1);
    expect(world.members().map((r) => r.email)).toContain('long@x.io');
    expect(await world.openIssues()).toEqual([]);
    expectNoChanges(await world.sync());
  });

  it('a rejected update of an existing row fails alone', async () => {
    const world = await checkedWorld();
    const a = world.addMember({ email: 'a@x.io', name: 'A' });
    const b = world.addMember({ email: 'b@x.io', name: 'B' });
    await world.sync();
    await world.store.updateUser((await world.user('a@x.io')).id, { name: 'An extremely long name' });
    await world.store.updateUser((await world.user('b@x.io')).id, { name: 'Bee' });

    const run = runOf(await world.sync());

    expect(run.counts.source.updated).toBe(1);
    expect(world.member(a)?.['Full-Name']).toBe('A');
    expect(world.member(b)?.['Full-Name']).toBe('Bee');
    expect(await world.openIssues('write_failed')).toMatchObject([{ rows: [a] }]);
  });
});

describe('a source that cannot be read completely', () => {
  async function expectFailedRun(world: SyncWorld, ...mentions: string[]) {
    const usersBefore = await world.store.listUsers({ includeDeleted: true });
    const linksBefore = await world.links();

    const run = runOf(await world.sync());

    expect(run.status).toBe('failed');
    expect((await world.runs('crm'))[0]).toMatchObject({ id: run.runId, status: 'failed' });
    const issues = await world.openIssues('connection_failed');
    expect(issues).toHaveLength(1);
    for (const mention of mentions) expect(issues[0]?.message).toContain(mention);
    expect(run.error).toBe(issues[0]?.message);
    // SPEC §3: nothing is inferred from a partial read.
    expect(await world.store.listUsers({ includeDeleted: true })).toEqual(usersBefore);
    expect(await world.links()).toEqual(linksBefore);
  }

  async function expectRecovery(world: SyncWorld) {
    const run = runOf(await world.sync());
    expect(run.status).toBe('succeeded');
    expect(await world.openIssues('connection_failed')).toEqual([]);
    expect(await world.issues('resolved')).toMatchObject([{ kind: 'connection_failed' }]);
  }

  it('a missing source file fails the run and creates nothing; when it comes back the issue resolves', async () => {
    const world = await makeWorld({ connections: [clubConnection()] });
    await world.store.createUser({ email: 'app@x.io' });

    await expectFailedRun(world, world.path('crm.db'));
    expect(existsSync(world.path('crm.db'))).toBe(false);

    withSqlite(world.path('crm.db'), (db) => db.exec(CLUB_SCHEMA));
    await expectRecovery(world);
    expect(world.members().map((r) => r.email)).toEqual(['app@x.io']);
  });

  it('a missing table fails the run; linked users are not re-created or touched', async () => {
    const world = await clubWorld();
    world.addMember({ email: 'a@x.io', name: 'A' });
    await world.sync();
    world.sql('alter table "Club Members" rename to "Old Members"');

    await expectFailedRun(world, 'Table "Club Members" not found', 'Old Members');

    world.sql('alter table "Old Members" rename to "Club Members"');
    await expectRecovery(world);
    expect(world.members()).toHaveLength(1);
  });

  it('a mapped column missing fails the run, naming the column and its config key', async () => {
    const world = await clubWorld({
      fields: {
        email: 'email',
        name: 'Full-Name',
        userId: 'app_user_id',
        avatar: 'Photo URL',
      },
    });
    world.addMember({ email: 'a@x.io', name: 'A' });
    await world.store.createUser({ email: 'app@x.io' });

    await expectFailedRun(world, 'connections[0].fields.avatar', 'column "Photo URL"', world.config.file);
    expect(world.members()).toHaveLength(1);

    world.sql('alter table "Club Members" add column "Photo URL" text');
    await expectRecovery(world);
    expect((await world.users()).map((u) => u.email)).toEqual(['a@x.io', 'app@x.io']);
  });
});
