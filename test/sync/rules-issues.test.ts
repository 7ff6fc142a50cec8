/**
 * SPEC §3 rules that hold rows back (email_changed, duplicate_email, invalid_email,
 * invalid_value), the filter, and the mass-change guard, through the real runner.
 */
import { describe, expect, it } from 'vitest';
import { CLUB_SCHEMA, expectNoChanges, runOf, useSyncFixture } from '../support/sync-fixture.js';

const { clubWorld } = useSyncFixture();

describe('rows held back by an issue', () => {
  it('a linked row whose email is edited in the source opens email_changed and renames nobody', async () => {
    const world = await clubWorld();
    const key = world.addMember({ email: 'kim@x.io', name: 'Kim' });
    await world.sync();
    const kim = await world.user('kim@x.io');
    world.setMember(key, 'email', 'kimberly@x.io');
    world.setMember(key, 'Full-Name', 'Kimberly');

    const run = runOf(await world.sync());

    expect(run.status).toBe('succeeded');
    expect(run.counts.skipped).toBe(1);
    expect(await world.users()).toMatchObject([{ id: kim.id, email: 'kim@x.io', name: 'Kim' }]);
    expect(world.members()).toHaveLength(1);
    const [issue] = await world.openIssues('email_changed');
    expect(issue).toMatchObject({ rows: [key], users: [kim.id] });
    expect(issue?.message).toContain('kimberly@x.io');
  });

  it('rows sharing one email open one duplicate_email issue naming every row, and none of them syncs', async () => {
    const world = await clubWorld();
    const first = world.addMember({ email: 'Dup@x.io', name: 'One' });
    const second = world.addMember({ email: ' dup@X.IO ', name: 'Two' });
    world.addMember({ email: 'solo@x.io', name: 'Solo' });

    const run = runOf(await world.sync());

    expect(run.counts.app.created).toBe(1);
    expect(run.counts.skipped).toBe(2);
    expect((await world.users()).map((u) => u.email)).toEqual(['solo@x.io']);
    const issues = await world.openIssues('duplicate_email');
    expect(issues).toHaveLength(1);
    expect([...issues[0]!.rows].sort()).toEqual([first, second].sort());
    expect(world.member(first)?.app_user_id).toBeNull();
    expect(world.member(second)?.app_user_id).toBeNull();

    world.deleteMember(second);
    await world.sync();

    expect((await world.user('dup@x.io')).name).toBe('One');
    expect(await world.openIssues('duplicate_email')).toEqual([]);
  });

  it('a row with a missing or invalid email is skipped with an invalid_email issue', async () => {
    const world = await clubWorld();
    const bad = world.addMember({ email: 'not-an-email', name: 'Bad' });
    const empty = world.addMember({ email: null, name: 'Empty' });
    world.addMember({ email: 'ok@x.io', name: 'Ok' });

    const run = runOf(await world.sync());

    expect(run.counts.skipped).toBe(2);
    expect((await world.users()).map((u) => u.email)).toEqual(['ok@x.io']);
    const issues = await world.openIssues('invalid_email');
    expect(issues.map((i) => i.rows[0]).sort()).toEqual([bad, empty].sort());
    expect(world.member(bad)?.app_user_id).toBeNull();
  });

  it('a value that cannot be converted opens invalid_value; the rest of the row syncs', async () => {
    const schema = CLUB_SCHEMA.replace('status text', 'status text, photo text');
    const fields = { email: 'email', name: 'Full-Name', avatar: 'photo', userId: 'app_user_id' };
    const world = await clubWorld({ fields }, schema);
    const key = world.addMember({ email: 'lu@x.io', name: 'Lu', plan: 'pro' });
    world.setMember(key, 'photo', 'lu.png');

    await world.sync();

    const lu = await world.user('lu@x.io');
    expect(lu).toMatchObject({ name: 'Lu', avatar: null, custom: { plan: 'pro' } });
    expect(world.member(key)).toMatchObject({ app_user_id: lu.id, photo: 'lu.png' });
    const [issue] = await world.openIssues('invalid_value');
    expect(issue).toMatchObject({ rows: [key] });
    expect(issue?.message).toContain('photo');

    // Seen again: skipped again, and the name change still flows.
    world.setMember(key, 'Full-Name', 'Lucy');
    await world.sync();
    expect((await world.user('lu@x.io')).name).toBe('Lucy');
    expect(await world.openIssues('invalid_value')).toHaveLength(1);
  });

  it('an unreadable value in an app-owned column is overwritten with the app value', async () => {
    const world = await clubWorld();
    const key = world.addMember({ email: 'mo@x.io', name: 'Mo', signup: 'last tuesday' });

    await world.sync();

    // A new user would take the source's createdAt; this one cannot be read, so it is reported once.
    const mo = await world.user('mo@x.io');
    expect(world.member(key)).toMatchObject({ signup_date: mo.createdAt });
    expect(await world.openIssues('invalid_value')).toHaveLength(1);

    world.setMember(key, 'signup_date', '2024-02-30');
    await world.sync();

    expect(world.member(key)).toMatchObject({ signup_date: mo.createdAt });
    expect(await world.openIssues('invalid_value')).toEqual([]);
  });
});

describe('the filter', () => {
  it('a row not matching the filter is not imported; a linked row that stops matching suspends its user', async () => {
    const world = await clubWorld({ filter: 'status eq "approved"' });
    const approved = world.addMember({ email: 'mo@x.io', name: 'Mo', status: 'approved' });
    const pending = world.addMember({ email: 'ned@x.io', name: 'Ned', status: 'pending' });

    await world.sync();

    expect((await world.users()).map((u) => u.email)).toEqual(['mo@x.io']);
    expect(world.member(pending)?.app_user_id).toBeNull();
    const mo = await world.user('mo@x.io');

    world.setMember(approved, 'status', 'left');
    const suspended = runOf(await world.sync());

    expect(suspended.counts.app.updated).toBe(1);
    expect(await world.store.getUser(mo.id)).toMatchObject({ status: 'suspended', deletedAt: null });
    expect((await world.linkOf(mo.id))?.suspended).toBe(true);
    expectNoChanges(await world.sync());

    world.setMember(approved, 'status', 'approved');
    await world.sync();

    expect(await world.store.getUser(mo.id)).toMatchObject({ status: 'active' });
    expect((await world.linkOf(mo.id))?.suspended).toBe(false);
    expectNoChanges(await world.sync());
  });

  it('a row usersync creates gets the values that make it match the filter', async () => {
    const world = await clubWorld({ filter: 'status eq "approved"' });
    await world.store.createUser({ email: 'oz@x.io' });

    await world.sync();

    expect(world.members()).toMatchObject([{ email: 'oz@x.io', status: 'approved' }]);
    expect((await world.user('oz@x.io')).status).toBe('active');
    expectNoChanges(await world.sync());
  });
});

describe('the mass-change guard', () => {
  async function twelveLinkedMembers() {
    const world = await clubWorld();
    const keys = Array.from({ length: 12 }, (_, i) =>
      world.addMember({ email: `m${i}@x.io`, name: `M${i}` }),
    );
    await world.sync();
    for (const key of keys) world.setMember(key, 'Full-Name', `Renamed ${key}`);
    return { world, keys };
  }

  it('a run that would change most users applies nothing and waits for approval', async () => {
    const { world } = await twelveLinkedMembers();

    const results = await world.sync();

    const run = runOf(results);
    expect(run.status).toBe('blocked');
    expect(run.counts.app).toEqual({ created: 0, updated: 0, deleted: 0 });
    expect((await world.users()).every((u) => !u.name?.startsWith('Renamed'))).toBe(true);
    expect((await world.runs('crm'))[0]).toMatchObject({ status: 'blocked' });
    const [issue] = await world.openIssues('mass_change');
    expect(issue?.message).toContain('12 of 12');

    // Seen again: still one open issue.
    expect(runOf(await world.sync()).status).toBe('blocked');
    expect(await world.openIssues('mass_change')).toHaveLength(1);
  });

  it('approveMassChange applies the change and resolves the mass_change issue', async () => {
    const { world } = await twelveLinkedMembers();
    await world.sync();

    const run = runOf(await world.sync({ approveMassChange: true }));

    expect(run.status).toBe('succeeded');
    expect(run.counts.app.updated).toBe(12);
    expect((await world.users()).every((u) => u.name?.startsWith('Renamed'))).toBe(true);
    expect(await world.openIssues('mass_change')).toEqual([]);
    expect((await world.issues('resolved')).map((i) => i.kind)).toContain('mass_change');
    expectNoChanges(await world.sync());
  });

  it('a truncated source table is not re-created row by row without approval', async () => {
    const world = await clubWorld();
    for (let i = 0; i < 12; i++) world.addMember({ email: `t${i}@x.io` });
    await world.sync();
    world.sql('delete from "Club Members"');

    const run = runOf(await world.sync());

    expect(run.status).toBe('blocked');
    expect(world.members()).toEqual([]);
    expect(await world.users()).toHaveLength(12);
    expect(await world.links()).toHaveLength(12);
  });
});

describe('the filter and the rows usersync creates', () => {
  it('a row made for an app user gets values from an or-filter, so the user stays active', async () => {
    const world = await clubWorld({ filter: 'status eq "approved" or status eq "vip"' });
    const user = await world.store.createUser({ email: 'pia@x.io' });

    await world.sync();
    await world.sync();

    expect(await world.store.getUser(user.id)).toMatchObject({ status: 'active' });
    expect(world.members().find((m) => m.email === 'pia@x.io')).toMatchObject({ status: 'approved' });
  });

  it('no row is made when the filter cannot be met by construction; an issue says why', async () => {
    const world = await clubWorld({ filter: 'status pr' });
    const user = await world.store.createUser({ email: 'quin@x.io' });

    await world.sync();

    expect(await world.store.getUser(user.id)).toMatchObject({ status: 'active' });
    expect(world.members().find((m) => m.email === 'quin@x.io')).toBeUndefined();
    const [issue] = await world.openIssues();
    expect(issue).toMatchObject({ kind: 'write_failed', users: [user.id] });
    expect(issue!.message).toContain("would not match the connection's filter");
  });

  it('a linked row replaced by one outside the filter suspends its user, leaving no dangling link', async () => {
    const world = await clubWorld({ filter: 'status eq "approved"' });
    const key = world.addMember({ email: 'ray@x.io', status: 'approved' });
    await world.sync();
    const ray = await world.user('ray@x.io');
    const again = world.addMember({ email: 'ray@x.io', status: 'pending' });
    world.deleteMember(key);

    await world.sync();

    expect(await world.linkOf(ray.id)).toMatchObject({ key: again, suspended: true });
    expect(await world.store.getUser(ray.id)).toMatchObject({ status: 'suspended' });
  });
});
