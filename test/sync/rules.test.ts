/**
 * SPEC §3 two-way rules through the real runner: a SQLite source with an awkward table
 * and column name ("Club Members", "Full-Name"), the SQLite directory, no mocks.
 */
import { describe, expect, it } from 'vitest';
import { expectNoChanges, runOf, useSyncFixture } from '../support/sync-fixture.js';

const { clubWorld } = useSyncFixture();

describe('two-way rules on a SQLite source', () => {
  it('a source row with no user is imported, and userId and createdAt are written back', async () => {
    const world = await clubWorld();
    const dated = world.addMember({ email: 'Ann@X.io', name: 'Ann', plan: 'pro', signup: '2024-01-02' });
    const undated = world.addMember({ email: 'bo@x.io', name: 'Bo' });

    const results = await world.sync();

    const run = runOf(results);
    expect(run.status).toBe('succeeded');
    expect(run.counts.app.created).toBe(2);
    const ann = await world.user('ann@x.io');
    expect(ann).toMatchObject({ email: 'Ann@X.io', name: 'Ann', custom: { plan: 'pro' } });
    // SPEC §1: a new user imported from the source takes the source's createdAt.
    expect(ann.createdAt).toBe('2024-01-02T00:00:00.000Z');
    expect(world.member(dated)).toMatchObject({ app_user_id: ann.id, signup_date: '2024-01-02' });
    const bo = await world.user('bo@x.io');
    expect(world.member(undated)).toMatchObject({ app_user_id: bo.id, signup_date: bo.createdAt });
    expect((await world.links()).map((l) => [l.key, l.userId]).sort()).toEqual(
      [
        [dated, ann.id],
        [undated, bo.id],
      ].sort(),
    );
    expectNoChanges(await world.sync());
  });

  it('an app user with no row gets a row in the source', async () => {
    const world = await clubWorld();
    const user = await world.store.createUser({ email: 'cy@x.io', name: 'Cy', custom: { company: 'Acme' } });

    const run = runOf(await world.sync());

    expect(run.counts.source.created).toBe(1);
    const rows = world.members();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      email: 'cy@x.io',
      'Full-Name': 'Cy',
      company: 'Acme',
      app_user_id: user.id,
      signup_date: user.createdAt,
    });
    expect(await world.links()).toMatchObject([{ key: String(rows[0]!.id), userId: user.id }]);
    expectNoChanges(await world.sync());
  });

  it('a user deleted in the app has its row deleted, and the row is never re-imported', async () => {
    const world = await clubWorld();
    const key = world.addMember({ email: 'dee@x.io', name: 'Dee' });
    await world.sync();
    const dee = await world.user('dee@x.io');
    // The source refuses the first delete, so the row outlives the user for one run.
    world.sql(`create trigger keep before delete on "Club Members" begin select raise(abort, 'kept'); end`);
    await world.store.deleteUser(dee.id);

    const refused = runOf(await world.sync());

    expect(refused.status).toBe('succeeded');
    expect(world.member(key)).toBeDefined();
    expect(await world.users()).toEqual([]);
    expect(await world.openIssues('write_failed')).toMatchObject([{ rows: [key], users: [dee.id] }]);

    world.sql('drop trigger keep');
    const deleted = runOf(await world.sync());

    expect(deleted.counts.source.deleted).toBe(1);
    expect(world.members()).toEqual([]);
    expect(await world.links()).toEqual([]);
    expect(await world.users()).toEqual([]);
    expect(await world.openIssues()).toEqual([]);
    expectNoChanges(await world.sync());
  });

  it('a linked row deleted in the source is re-created', async () => {
    const world = await clubWorld();
    const key = world.addMember({ email: 'eve@x.io', name: 'Eve', plan: 'pro' });
    world.addMember({ email: 'fay@x.io', name: 'Fay' });
    await world.sync();
    const eve = await world.user('eve@x.io');
    world.deleteMember(key);

    const run = runOf(await world.sync());

    expect(run.counts.source.created).toBe(1);
    expect(run.counts.app.deleted).toBe(0);
    expect(await world.user('eve@x.io')).toMatchObject({ id: eve.id, name: 'Eve' });
    const again = world.members().filter((r) => r.email === 'eve@x.io');
    expect(again).toHaveLength(1);
    expect(again[0]).toMatchObject({ 'Full-Name': 'Eve', plan: 'pro', app_user_id: eve.id });
    const link = await world.linkOf(eve.id);
    expect(link?.key).toBe(String(again[0]!.id));
    expect(await world.links()).toHaveLength(2);
    expectNoChanges(await world.sync());
  });

  it('field changes flow both ways, each field respecting its owner', async () => {
    const world = await clubWorld();
    const key = world.addMember({ email: 'gil@x.io', name: 'Gil', plan: 'free', company: 'Acme' });
    await world.sync();
    const gil = await world.user('gil@x.io');

    // Source side: a both field and a source-owned field.
    world.setMember(key, 'Full-Name', 'Gilbert');
    world.setMember(key, 'plan', 'pro');
    const fromSource = runOf(await world.sync());
    expect(fromSource.counts.app.updated).toBe(1);
    expect(await world.user('gil@x.io')).toMatchObject({ name: 'Gilbert', custom: { plan: 'pro' } });

    // App side: a both field flows to the row; the source-owned plan is put back from the source.
    await world.store.updateUser(gil.id, { custom: { company: 'Globex', plan: 'hacked' } });
    const fromApp = runOf(await world.sync());
    expect(fromApp.counts.source.updated).toBe(1);
    expect(world.member(key)).toMatchObject({ company: 'Globex', plan: 'pro', 'Full-Name': 'Gilbert' });
    expect((await world.user('gil@x.io')).custom).toEqual({ plan: 'pro', company: 'Globex' });
    expectNoChanges(await world.sync());
  });

  it('a field changed on both sides follows the default source policy and records a conflict', async () => {
    const world = await clubWorld();
    const key = world.addMember({ email: 'hal@x.io', name: 'Hal' });
    await world.sync();
    const hal = await world.user('hal@x.io');
    world.setMember(key, 'Full-Name', 'Hal (source)');
    await world.store.updateUser(hal.id, { name: 'Hal (app)' });

    const run = runOf(await world.sync());

    expect(run.counts.conflicts).toBe(1);
    expect((await world.user('hal@x.io')).name).toBe('Hal (source)');
    expect(world.member(key)?.['Full-Name']).toBe('Hal (source)');
    const [conflict] = await world.openIssues('conflict');
    expect(conflict).toMatchObject({ rows: [key], users: [hal.id] });
    expect(conflict?.message).toContain('source value was kept');
    expect((await world.runs('crm'))[0]?.counts.conflicts).toBe(1);
    expectNoChanges(await world.sync());
  });

  it('with conflict: app, the app value of a field changed on both sides wins', async () => {
    const world = await clubWorld({ conflict: 'app' });
    const key = world.addMember({ email: 'ida@x.io', company: 'Acme' });
    await world.sync();
    const ida = await world.user('ida@x.io');
    world.setMember(key, 'company', 'Initech');
    await world.store.updateUser(ida.id, { custom: { company: 'Umbrella' } });

    const run = runOf(await world.sync());

    expect(run.counts.conflicts).toBe(1);
    expect(world.member(key)?.company).toBe('Umbrella');
    expect((await world.user('ida@x.io')).custom.company).toBe('Umbrella');
    expect(await world.openIssues('conflict')).toMatchObject([{ rows: [key], users: [ida.id] }]);
    expect((await world.openIssues('conflict'))[0]?.message).toContain('app value was kept');
    expectNoChanges(await world.sync());
  });

  it('app-owned fields edited in the source are overwritten with the app values', async () => {
    const world = await clubWorld();
    const key = world.addMember({ email: 'jo@x.io', name: 'Jo', signup: '2023-05-06' });
    await world.sync();
    const jo = await world.user('jo@x.io');
    world.setMember(key, 'app_user_id', 'someone-else');
    world.setMember(key, 'signup_date', '1999-12-31');

    const run = runOf(await world.sync());

    expect(run.counts.source.updated).toBe(1);
    expect(run.counts.app.updated).toBe(0);
    expect(world.member(key)).toMatchObject({ app_user_id: jo.id, signup_date: '2023-05-06T00:00:00.000Z' });
    expect((await world.user('jo@x.io')).createdAt).toBe('2023-05-06T00:00:00.000Z');
    expectNoChanges(await world.sync());
  });

  // BUG: fails until fixed (see the test report). SQLite hands the highest deleted rowid to
  // the next insert; the exported row's link then loses to the re-created row's replaceKey.
  it('a new row that takes the key of a deleted row keeps its own link', async () => {
    const world = await clubWorld();
    const key = world.addMember({ email: 'ann@x.io', name: 'Ann' });
    await world.sync();
    const ann = await world.user('ann@x.io');
    world.deleteMember(key);
    const bo = await world.store.createUser({ email: 'bo@x.io', name: 'Bo' });

    await world.sync();

    const byEmail = new Map(world.members().map((r) => [r.email, String(r.id)]));
    expect(await world.linkOf(bo.id)).toMatchObject({ key: byEmail.get('bo@x.io') });
    expect(await world.linkOf(ann.id)).toMatchObject({ key: byEmail.get('ann@x.io') });
    // Bo deleted in the app: its row goes, and Bo is not re-imported from it.
    await world.store.deleteUser(bo.id);
    await world.sync();
    expect(world.members().map((r) => r.email)).toEqual(['ann@x.io']);
    expect((await world.users()).map((u) => u.email)).toEqual(['ann@x.io']);
  });
});
