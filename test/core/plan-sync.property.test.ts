/**
 * SPEC §3 invariants under random edits on both sides (fast-check): after every sync
 * the directory and the source agree wherever no issue holds a row back, nobody is lost
 * or duplicated, and a second sync changes nothing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emailKey, parseEmail, parseValue } from '../../src/core/normalize.js';
import type { PlanContext, SyncPlan } from '../../src/core/plan.js';
import { appCanonical } from '../../src/core/user-values.js';
import {
  addRow,
  addUser,
  deleteUser,
  emptyWorld,
  FIELDS,
  patchUser,
  plan,
  planFromDigests,
  sync,
  type World,
} from '../support/world.js';

const EMAILS = ['a@x.io', 'b@x.io', 'C@x.io', 'c@x.io ', 'd@x.io', 'e@x.io', 'f@x.io', 'not-an-email', ''];
const NAMES = ['Ann', 'Bo', null, 'Cy', ''];
const PLANS = ['free', 'pro', null, 7];
const COMPANIES = ['Acme', 'Globex', null];

type Edit =
  | {
      side: 'source';
      op: 'add' | 'delete' | 'name' | 'plan' | 'company' | 'email';
      target: number;
      value: number;
    }
  | { side: 'app'; op: 'add' | 'delete' | 'name' | 'company' | 'email'; target: number; value: number };

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({
    side: fc.constant('source' as const),
    op: fc.constantFrom('add', 'delete', 'name', 'plan', 'company', 'email'),
    target: fc.nat(20),
    value: fc.nat(20),
  }),
  fc.record({
    side: fc.constant('app' as const),
    op: fc.constantFrom('add', 'delete', 'name', 'company', 'email'),
    target: fc.nat(20),
    value: fc.nat(20),
  }),
);

const pickOf = <T>(items: readonly T[], n: number): T => items[n % items.length]!;

function applyEdit(world: World, e: Edit): void {
  const keys = [...world.rows.keys()];
  const live = [...world.users.values()].filter((u) => u.deletedAt === null);
  if (e.side === 'source') {
    if (e.op === 'add') {
      addRow(world, {
        email: pickOf(EMAILS, e.value),
        full_name: pickOf(NAMES, e.target),
        plan: pickOf(PLANS, e.value),
      });
      return;
    }
    if (keys.length === 0) return;
    const key = pickOf(keys, e.target);
    const row = world.rows.get(key)!;
    if (e.op === 'delete') world.rows.delete(key);
    else if (e.op === 'name') row.full_name = pickOf(NAMES, e.value);
    else if (e.op === 'plan') row.plan = pickOf(PLANS, e.value);
    else if (e.op === 'company') row.company = pickOf(COMPANIES, e.value);
    else row.email = pickOf(EMAILS, e.value);
    return;
  }
  if (e.op === 'add') {
    const email = pickOf(EMAILS.slice(0, 7), e.value).trim();
    if (!live.some((u) => emailKey(u.email) === emailKey(email)))
      addUser(world, { email, name: pickOf(NAMES, e.target) || null });
    return;
  }
  if (live.length === 0) return;
  const user = pickOf(live, e.target);
  if (e.op === 'delete') deleteUser(world, user.id);
  else if (e.op === 'name') patchUser(world, user.id, { name: pickOf(NAMES, e.value) || null });
  else if (e.op === 'company') patchUser(world, user.id, { custom: { company: pickOf(COMPANIES, e.value) } });
  else {
    const email = pickOf(EMAILS.slice(0, 7), e.value).trim();
    if (!live.some((u) => emailKey(u.email) === emailKey(email))) patchUser(world, user.id, { email });
  }
}

function checkInvariants(world: World, before: Set<string>, p: SyncPlan): void {
  const live = [...world.users.values()].filter((u) => u.deletedAt === null);
  const heldRows = new Set(p.issues.filter((i) => i.kind !== 'conflict').flatMap((i) => i.rows));
  const heldUsers = new Set(p.issues.filter((i) => i.kind !== 'conflict').flatMap((i) => i.users));
  // No user is lost (a sync never deletes a user) and no two users share an email.
  for (const id of before) expect(world.users.get(id)?.deletedAt).toBeNull();
  expect(new Set(live.map((u) => emailKey(u.email))).size).toBe(live.length);
  // Every link joins a live user to an existing row, one link per user.
  const linkedUsers = [...world.links.values()].map((l) => l.userId);
  expect(new Set(linkedUsers).size).toBe(linkedUsers.length);
  for (const [key, link] of world.links) {
    // A linked row is never missing after a sync, unless an issue holds its user back.
    if (!world.rows.has(key)) {
      expect(heldUsers.has(link.userId), `row ${key} of a link exists`).toBe(true);
      continue;
    }
    // A held row is left as it is, even when its user was deleted in the app.
    if (heldRows.has(key)) continue;
    const user = world.users.get(link.userId)!;
    expect(user.deletedAt, `linked user ${user.id} is live`).toBeNull();
    // Linked pairs agree on every mapped field.
    for (const field of FIELDS) {
      const source = parseValue(world.rows.get(key)![field.column], field.kind);
      expect(source.ok && source.value).toBe(appCanonical(user, field));
    }
  }
  // Every live user is in the source, unless an issue holds it back.
  for (const user of live) {
    if (heldUsers.has(user.id)) continue;
    expect(linkedUsers, `user ${user.email} is linked`).toContain(user.id);
  }
  // Every row with a valid email is linked to a user with that email, unless an issue holds it back.
  for (const [key, row] of world.rows) {
    const email = parseEmail(row.email);
    if (!email.ok || heldRows.has(key)) continue;
    const link = world.links.get(key);
    expect(link, `row ${key} (${email.email}) is linked`).toBeDefined();
  }
}

/** The runner plans from digests and quiet rows; it must plan exactly what the full planner plans. */
function expectSamePlanFromDigests(world: World, overrides: Partial<PlanContext>): void {
  const ids = () => {
    let n = 0;
    return () => `new-${n++}`;
  };
  const full = plan(world, { ...overrides, newUserId: ids() });
  const fromDigests = planFromDigests(world, { ...overrides, newUserId: ids() });
  const sorted = (q: SyncPlan) => ({
    ...q,
    actions: q.actions.map((a) => JSON.stringify(a)).sort(),
    issues: q.issues.map((i) => JSON.stringify(i)).sort(),
    conflicts: q.conflicts.map((c) => JSON.stringify(c)).sort(),
  });
  expect(sorted(fromDigests)).toEqual(sorted(full));
}

function checkRun(world: World, edits: Edit[], overrides: Partial<PlanContext>): void {
  const context = { allowMassChange: true, ...overrides };
  sync(world, context);
  for (const e of edits) {
    applyEdit(world, e);
    if (e.value % 3 !== 0) continue; // several edits between syncs
    const before = new Set([...world.users.values()].filter((u) => u.deletedAt === null).map((u) => u.id));
    expectSamePlanFromDigests(world, context);
    const p = sync(world, context);
    checkInvariants(world, before, p);
    const again = plan(world, context);
    expect(again.actions, 'a second sync plans nothing').toEqual([]);
    // The same problems are seen again (the users an issue names may shift after a rename in the first run).
    const problems = (q: SyncPlan) =>
      q.issues.filter((i) => i.kind !== 'conflict').map((i) => [i.fingerprint, i.rows]);
    expect(problems(again)).toEqual(problems(p));
  }
}

describe('two-way sync under random edits', () => {
  for (const conflict of ['source', 'app'] as const) {
    it(`holds the SPEC §3 invariants and is idempotent (conflict: ${conflict})`, () => {
      fc.assert(
        fc.property(fc.array(edit, { maxLength: 40 }), (edits) =>
          checkRun(emptyWorld(), edits, { conflict }),
        ),
        { numRuns: Number(process.env.PROPERTY_RUNS ?? 300) },
      );
    });
  }

  it('accepting email changes keeps the invariants', () => {
    fc.assert(
      fc.property(fc.array(edit, { maxLength: 40 }), (edits) =>
        checkRun(emptyWorld(), edits, { acceptEmailChanges: true }),
      ),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 200) },
    );
  });

  it('a both-owned field changed on both sides ends equal on both sides, the policy side winning', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('source', 'app'),
        fc.string(),
        fc.string(),
        (policy, fromApp, fromSource) => {
          const world = emptyWorld();
          const key = addRow(world, { email: 'z@x.io', full_name: 'Zed' });
          sync(world);
          const id = [...world.users.keys()][0]!;
          patchUser(world, id, { name: fromApp });
          world.rows.get(key)!.full_name = fromSource;
          sync(world, { conflict: policy as 'source' | 'app' });
          const winner = (policy === 'app' ? fromApp : fromSource).trim() || null;
          const loser = (policy === 'app' ? fromSource : fromApp).trim() || null;
          const name = world.users.get(id)!.name?.trim() || null;
          const expected =
            fromApp.trim() === 'Zed' ? fromSource : fromSource.trim() === 'Zed' ? fromApp : null;
          // One side unchanged: the other side's edit wins whatever the policy; both changed: the policy decides.
          expect(name).toBe(
            expected !== null ? expected.trim() || null : winner === null && loser === null ? null : winner,
          );
          expect(parseValue(world.rows.get(key)!.full_name, 'text')).toEqual({ ok: true, value: name });
        },
      ),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 300) },
    );
  });
});
