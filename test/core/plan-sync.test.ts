import { describe, expect, it } from 'vitest';
import {
  addRow,
  addUser,
  deleteUser,
  emptyWorld,
  kinds,
  patchUser,
  plan,
  rowByEmail,
  sync,
  userByEmail,
  type World,
} from '../support/world.js';

/** A world where row "ann" and its user are linked and agree. */
function linkedWorld(): { world: World; key: string; userId: string } {
  const world = emptyWorld();
  const key = addRow(world, { email: 'ann@example.com', full_name: 'Ann', plan: 'free', company: 'Acme' });
  sync(world);
  return { world, key, userId: userByEmail(world, 'ann@example.com')!.id };
}

describe('SPEC §3 two-way rules', () => {
  it('a source row with no user is imported and app-owned fields are written back', () => {
    const world = emptyWorld();
    const key = addRow(world, {
      email: ' Ann@Example.com ',
      full_name: 'Ann',
      plan: 'pro',
      signup_date: '2024-03-01',
    });
    const p = sync(world);
    const user = userByEmail(world, 'ann@example.com')!;
    expect(user).toMatchObject({ email: 'Ann@Example.com', name: 'Ann', custom: { plan: 'pro' } });
    expect(user.createdAt).toBe('2024-03-01T00:00:00.000Z'); // a new user takes the source's createdAt
    expect(world.rows.get(key)!.app_user_id).toBe(user.id);
    expect(world.rows.get(key)!.signup_date).toBe('2024-03-01'); // same date: not rewritten
    expect(p.actions.map((a) => a.type)).toEqual(['import']);
  });

  it('a new user without a source createdAt gets now, written back', () => {
    const world = emptyWorld();
    const key = addRow(world, { email: 'bo@example.com' });
    sync(world);
    expect(world.rows.get(key)!.signup_date).toBe('2026-01-01T00:00:00.000Z');
  });

  it('a user with no row is created in the source', () => {
    const world = emptyWorld();
    const user = addUser(world, { email: 'cy@example.com', name: 'Cy', custom: { company: 'Initech' } });
    const p = sync(world);
    expect(p.actions.map((a) => a.type)).toEqual(['export']);
    expect(rowByEmail(world, 'cy@example.com')).toMatchObject({
      full_name: 'Cy',
      app_user_id: user.id,
      company: 'Initech',
    });
    expect(world.links.size).toBe(1);
  });

  it('createInSource: false leaves app-made users out of the source', () => {
    const world = emptyWorld();
    addUser(world, { email: 'cy@example.com' });
    expect(sync(world, { createInSource: false }).actions).toEqual([]);
    expect(world.rows.size).toBe(0);
  });

  it('a user deleted in the app has its linked row deleted and is never re-imported', () => {
    const { world, key, userId } = linkedWorld();
    deleteUser(world, userId);
    const p = sync(world);
    expect(p.actions).toEqual([{ type: 'deleteRow', key, userId }]);
    expect(world.rows.has(key)).toBe(false);
    expect(world.links.size).toBe(0);
    expect(userByEmail(world, 'ann@example.com')).toBeUndefined();
    expect(sync(world).actions).toEqual([]);
  });

  it('an import-only connection keeps the row of a deleted user and does not re-import it', () => {
    const { world, key, userId } = linkedWorld();
    deleteUser(world, userId);
    expect(sync(world, { mode: 'import' }).actions).toEqual([]);
    expect(world.rows.has(key)).toBe(true);
    expect(userByEmail(world, 'ann@example.com')).toBeUndefined();
  });

  it('a linked row deleted in the source is re-created and the user kept', () => {
    const { world, key, userId } = linkedWorld();
    world.rows.delete(key);
    const p = sync(world);
    expect(p.actions.map((a) => a.type)).toEqual(['recreate']);
    const row = rowByEmail(world, 'ann@example.com')!;
    expect(row).toMatchObject({ full_name: 'Ann', app_user_id: userId, plan: 'free' });
    expect(world.users.get(userId)!.deletedAt).toBeNull();
    expect(sync(world).actions).toEqual([]);
  });

  it('a change on one side is copied to the other, respecting owners', () => {
    const { world, key, userId } = linkedWorld();
    world.rows.get(key)!.full_name = 'Ann Source';
    world.rows.get(key)!.plan = 'pro';
    sync(world);
    expect(world.users.get(userId)).toMatchObject({
      name: 'Ann Source',
      custom: { plan: 'pro', company: 'Acme' },
    });
    patchUser(world, userId, { name: 'Ann App', custom: { company: 'Globex' } });
    sync(world);
    expect(world.rows.get(key)).toMatchObject({ full_name: 'Ann App', company: 'Globex' });
  });

  it('an app edit of a source-owned custom field is overwritten by the source', () => {
    const { world, key, userId } = linkedWorld();
    patchUser(world, userId, { custom: { plan: 'hacked' } });
    sync(world);
    expect(world.users.get(userId)!.custom.plan).toBe('free');
    expect(world.rows.get(key)!.plan).toBe('free');
  });

  it('a both-owned field changed on both sides follows the conflict policy and records the conflict', () => {
    for (const policy of ['source', 'app'] as const) {
      const { world, key, userId } = linkedWorld();
      world.rows.get(key)!.full_name = 'From Source';
      patchUser(world, userId, { name: 'From App' });
      const p = sync(world, { conflict: policy });
      const expected = policy === 'source' ? 'From Source' : 'From App';
      expect(world.users.get(userId)!.name).toBe(expected);
      expect(world.rows.get(key)!.full_name).toBe(expected);
      expect(p.conflicts).toEqual([
        { key, userId, field: 'name', app: 'From App', source: 'From Source', winner: policy },
      ]);
      expect(kinds(p)).toEqual(['conflict']);
    }
  });

  it('an app-owned field edited in the source is overwritten with the app value', () => {
    const { world, key, userId } = linkedWorld();
    world.rows.get(key)!.app_user_id = 'tampered';
    world.rows.get(key)!.signup_date = '1999-01-01';
    sync(world);
    expect(world.rows.get(key)!.app_user_id).toBe(userId);
    expect(world.rows.get(key)!.signup_date).toBe(world.users.get(userId)!.createdAt);
  });

  it("a linked row's email edited in the source opens email_changed; no rename, no new user", () => {
    const { world, key, userId } = linkedWorld();
    world.rows.get(key)!.email = 'ann.new@example.com';
    world.rows.get(key)!.full_name = 'Ignored';
    const p = sync(world);
    expect(kinds(p)).toEqual(['email_changed']);
    expect(p.issues[0]!.rows).toEqual([key]);
    expect(world.users.size).toBe(1);
    expect(world.users.get(userId)).toMatchObject({ email: 'ann@example.com', name: 'Ann' });
    expect(p.actions).toEqual([]);
  });

  it('an email edit is accepted when the connection opts in', () => {
    const { world, key, userId } = linkedWorld();
    world.rows.get(key)!.email = 'ann.new@example.com';
    sync(world, { acceptEmailChanges: true });
    expect(world.users.get(userId)!.email).toBe('ann.new@example.com');
    expect(sync(world, { acceptEmailChanges: true }).actions).toEqual([]);
  });

  it('email_changed is fixed by changing the app email to match', () => {
    const { world, key, userId } = linkedWorld();
    world.rows.get(key)!.email = 'ann.new@example.com';
    sync(world);
    patchUser(world, userId, { email: 'ann.new@example.com' });
    const p = sync(world);
    expect(p.issues).toEqual([]);
    expect(world.links.get(key)!.sourceEmail).toBe('ann.new@example.com');
  });

  it('rows sharing one email open duplicate_email naming every row, and none syncs', () => {
    const world = emptyWorld();
    const a = addRow(world, { email: 'dup@example.com', full_name: 'A' });
    const b = addRow(world, { email: ' DUP@example.com', full_name: 'B' });
    addUser(world, { email: 'dup@example.com' }); // would otherwise get a third row
    const p = sync(world);
    expect(kinds(p)).toEqual(['duplicate_email']);
    expect(p.issues[0]!.rows).toEqual([a, b]);
    expect(p.actions).toEqual([]);
    expect(world.rows.size).toBe(2);
  });

  it('a row with a missing or invalid email opens invalid_email and is skipped', () => {
    const world = emptyWorld();
    const a = addRow(world, { email: '' });
    const b = addRow(world, { email: 'not-an-email' });
    const p = sync(world);
    expect(kinds(p)).toEqual(['invalid_email', 'invalid_email']);
    expect(p.issues.map((i) => i.rows[0])).toEqual([a, b]);
    expect(world.users.size).toBe(0);
    expect(p.skipped).toBe(2);
  });

  it('a value that cannot be converted opens invalid_value; the rest of the row syncs', () => {
    const { world, key, userId } = linkedWorld();
    world.rows.get(key)!.photo = 'not a url';
    world.rows.get(key)!.full_name = 'Ann B';
    const p = sync(world);
    expect(kinds(p)).toEqual(['invalid_value']);
    expect(p.issues[0]!.message).toContain('photo');
    expect(world.users.get(userId)).toMatchObject({ name: 'Ann B', avatar: null });
    expect(world.rows.get(key)!.photo).toBe('not a url');
  });

  it('an unreadable value in an app-owned column is overwritten like any source edit', () => {
    const { world, key, userId } = linkedWorld();
    world.rows.get(key)!.signup_date = 'last tuesday';
    const p = sync(world);
    expect(p.issues).toEqual([]);
    expect(world.rows.get(key)!.signup_date).toBe(world.users.get(userId)!.createdAt);
  });

  it('an unlinked row that does not match the filter is not a user', () => {
    const world = emptyWorld();
    addRow(world, { email: 'p@example.com', status: 'pending' });
    const filter = (v: Readonly<Record<string, unknown>>) => v.status === 'approved';
    expect(sync(world, { filter }).actions).toEqual([]);
    expect(world.users.size).toBe(0);
  });

  it('a linked row that stops matching the filter suspends the user; matching again reactivates', () => {
    const world = emptyWorld();
    const key = addRow(world, { email: 'f@example.com', status: 'approved' });
    const filter = (v: Readonly<Record<string, unknown>>) => v.status === 'approved';
    sync(world, { filter });
    const id = userByEmail(world, 'f@example.com')!.id;
    world.rows.get(key)!.status = 'banned';
    sync(world, { filter });
    expect(world.users.get(id)!.status).toBe('suspended');
    expect(world.users.get(id)!.deletedAt).toBeNull();
    expect(sync(world, { filter }).actions).toEqual([]);
    world.rows.get(key)!.status = 'approved';
    sync(world, { filter });
    expect(world.users.get(id)!.status).toBe('active');
  });

  it("a user another connection's filter suspends stays suspended when this row matches again", () => {
    const world = emptyWorld();
    const key = addRow(world, { email: 'g@example.com', status: 'approved' });
    const filter = (v: Readonly<Record<string, unknown>>) => v.status === 'approved';
    sync(world, { filter });
    const id = userByEmail(world, 'g@example.com')!.id;
    world.rows.get(key)!.status = 'left';
    sync(world, { filter });
    world.rows.get(key)!.status = 'approved';
    sync(world, { filter, suspendedElsewhere: new Set([id]) });
    expect(world.users.get(id)!.status).toBe('suspended');
    expect(world.links.get(key)!.suspended).toBe(false);
  });

  it('rows created for app users get the filter defaults so they count as users', () => {
    const world = emptyWorld();
    addUser(world, { email: 'n@example.com' });
    const filter = (v: Readonly<Record<string, unknown>>) => v.status === 'approved';
    sync(world, { filter, createDefaults: { status: 'approved' } });
    expect(rowByEmail(world, 'n@example.com')!.status).toBe('approved');
    expect(sync(world, { filter, createDefaults: { status: 'approved' } }).actions).toEqual([]);
  });

  it('a run that would change more than maxChange of the users is blocked with mass_change', () => {
    const world = emptyWorld();
    const keys = Array.from({ length: 20 }, (_, i) =>
      addRow(world, { email: `m${i}@example.com`, full_name: 'x' }),
    );
    sync(world);
    for (const key of keys.slice(0, 12)) world.rows.get(key)!.full_name = 'bulk edit';
    const p = sync(world);
    expect(p.blocked?.kind).toBe('mass_change');
    expect(p.massChange).toEqual({ changed: 12, total: 20, share: 0.6 });
    expect(userByEmail(world, 'm0@example.com')!.name).toBe('x');
    sync(world, { allowMassChange: true });
    expect(userByEmail(world, 'm0@example.com')!.name).toBe('bulk edit');
  });

  it('a truncated source trips the guard instead of re-creating every row', () => {
    const world = emptyWorld();
    for (let i = 0; i < 15; i++) addRow(world, { email: `t${i}@example.com` });
    sync(world);
    world.rows.clear();
    expect(sync(world).blocked?.kind).toBe('mass_change');
    expect(world.rows.size).toBe(0);
  });

  it('an existing user matched by email for the first time is linked, app values win for app-owned fields', () => {
    const world = emptyWorld();
    const user = addUser(world, {
      email: 'ex@example.com',
      name: null,
      createdAt: '2020-01-01T00:00:00.000Z',
    });
    const key = addRow(world, { email: 'EX@example.com', full_name: 'Ex', signup_date: '2023-01-01' });
    sync(world);
    expect(world.users.get(user.id)!.name).toBe('Ex'); // empty side takes the other's value
    expect(world.rows.get(key)).toMatchObject({
      app_user_id: user.id,
      signup_date: '2020-01-01T00:00:00.000Z',
    });
    expect(world.users.size).toBe(1);
  });

  it('a row re-created by hand (or by a run that stopped) is linked again, not duplicated', () => {
    const { world, key, userId } = linkedWorld();
    world.rows.delete(key);
    const again = addRow(world, {
      email: 'ann@example.com',
      full_name: 'Ann',
      plan: 'free',
      company: 'Acme',
    });
    const p = sync(world);
    expect(p.actions.map((a) => a.type)).toEqual(['update']);
    expect(world.links.get(again)!.userId).toBe(userId);
    expect(world.links.has(key)).toBe(false);
    expect(world.rows.size).toBe(1);
  });
});

describe('SPEC §2 modes', () => {
  it('one-way ignores source-only rows and overwrites source edits with app values', () => {
    const { world, key, userId } = linkedWorld();
    addRow(world, { email: 'only-in-source@example.com' });
    world.rows.get(key)!.full_name = 'Source Edit';
    world.rows.get(key)!.plan = 'pro';
    sync(world, { mode: 'one-way' });
    expect(userByEmail(world, 'only-in-source@example.com')).toBeUndefined();
    expect(world.rows.get(key)).toMatchObject({ full_name: 'Ann', plan: 'free' });
    expect(world.users.get(userId)!.name).toBe('Ann');
  });

  it('switching one-way to two-way imports the source-only rows', () => {
    const { world } = linkedWorld();
    addRow(world, { email: 'late@example.com' });
    sync(world, { mode: 'one-way' });
    expect(userByEmail(world, 'late@example.com')).toBeUndefined();
    sync(world, { mode: 'two-way' });
    expect(userByEmail(world, 'late@example.com')).toBeDefined();
  });

  it('import never writes to the source', () => {
    const world = emptyWorld();
    const key = addRow(world, { email: 'i@example.com', full_name: 'I' });
    addUser(world, { email: 'app-only@example.com' });
    const before = JSON.stringify([...world.rows]);
    const p = sync(world, { mode: 'import' });
    expect(JSON.stringify([...world.rows])).toBe(before);
    expect(p.actions.every((a) => a.type === 'import' && a.writeBack === null)).toBe(true);
    const userId = userByEmail(world, 'i@example.com')!.id;
    world.rows.delete(key);
    expect(sync(world, { mode: 'import' }).actions).toEqual([]);
    expect(world.users.get(userId)!.deletedAt).toBeNull();
  });
});

describe('idempotence', () => {
  it('a second sync plans nothing', () => {
    const world = emptyWorld();
    addRow(world, { email: 'a@example.com', full_name: 'A', plan: 3, signup_date: 1700000000 });
    addUser(world, { email: 'b@example.com', custom: { plan: 'x' } });
    sync(world);
    const second = plan(world);
    expect(second.actions).toEqual([]);
    expect(second.unchanged).toBe(2);
  });
});

describe('what is recorded before a source write', () => {
  it('nothing, when the stored link already holds the old values (an app change to push); the link, when the user changes too', () => {
    const { world, userId } = linkedWorld();
    patchUser(world, userId, { name: 'Ann B.' });
    const push = plan(world).actions[0]!;
    expect(push).toMatchObject({ type: 'update', appPatch: null, beforeWriteStored: true });

    const { world: other, key } = linkedWorld();
    patchUser(other, userByEmail(other, 'ann@example.com')!.id, { name: 'Ann B.' });
    other.rows.get(key)!.plan = 'pro'; // the source changed a field the user must take
    const both = plan(other).actions[0]!;
    expect(both).toMatchObject({ type: 'update', beforeWriteStored: false });
    expect(both.type === 'update' && both.appPatch).toMatchObject({ custom: { plan: 'pro' } });
  });
});
