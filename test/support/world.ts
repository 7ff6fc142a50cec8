/**
 * A small in-memory world (a source table, a directory, links) and a faithful applier of
 * sync plans, to test the pure planner's rules quickly and in bulk. The real runner over
 * real stores is tested separately (test/sync, test/cli).
 */
import type { SourceRow } from '../../src/connectors/connector.js';
import type { Mapping, MappedField } from '../../src/core/fields.js';
import type { LinkState } from '../../src/core/link.js';
import { planSync } from '../../src/core/plan-sync.js';
import type { PlanContext, SyncPlan } from '../../src/core/plan.js';
import * as digests from '../../src/core/quiet-row.js';
import type { DirectoryUser, UserPatch } from '../../src/core/user.js';
import { emailKey } from '../../src/core/normalize.js';

export type Row = Record<string, unknown>;

export interface World {
  rows: Map<string, Row>;
  users: Map<string, DirectoryUser>;
  links: Map<string, LinkState>;
  nextKey: number;
  nextUser: number;
}

export const FIELDS: MappedField[] = [
  { id: 'name', column: 'full_name', owner: 'both', kind: 'text' },
  { id: 'avatar', column: 'photo', owner: 'both', kind: 'url' },
  { id: 'userId', column: 'app_user_id', owner: 'app', kind: 'text' },
  { id: 'createdAt', column: 'signup_date', owner: 'app', kind: 'date' },
  { id: 'custom.plan', column: 'plan', owner: 'source', kind: 'custom' },
  { id: 'custom.company', column: 'company', owner: 'both', kind: 'custom' },
];

export const MAPPING: Mapping = { emailColumn: 'email', keyColumn: 'id', fields: FIELDS };

export function emptyWorld(): World {
  return { rows: new Map(), users: new Map(), links: new Map(), nextKey: 1, nextUser: 1 };
}

export function context(world: World, overrides: Partial<PlanContext> = {}): PlanContext {
  return {
    connection: 'crm',
    mode: 'two-way',
    conflict: 'source',
    mapping: MAPPING,
    filter: null,
    suspendedElsewhere: new Set(),
    createDefaults: {},
    createInSource: true,
    acceptEmailChanges: false,
    maxChange: 0.5,
    allowMassChange: false,
    totalUsers: [...world.users.values()].filter((u) => u.deletedAt === null).length,
    now: '2026-01-01T00:00:00.000Z',
    newUserId: () => `u${world.nextUser++}`,
    ...overrides,
  };
}

export function addRow(world: World, values: Row): string {
  const key = String(world.nextKey++);
  world.rows.set(key, { id: key, ...values });
  return key;
}

export function addUser(world: World, fields: Partial<DirectoryUser> & { email: string }): DirectoryUser {
  const user: DirectoryUser = {
    id: `u${world.nextUser++}`,
    name: null,
    avatar: null,
    createdAt: '2025-06-01T00:00:00.000Z',
    lastSeenAt: null,
    magicLink: null,
    externalId: null,
    status: 'active',
    custom: {},
    deletedAt: null,
    version: 1,
    ...fields,
  };
  world.users.set(user.id, user);
  return user;
}

/**
 * The plan as the runner makes it: rows that agree with their link reduced to quiet rows,
 * and only the users and links the planner needs (src/core/quiet-row.ts).
 */
export function planFromDigests(world: World, overrides: Partial<PlanContext> = {}): SyncPlan {
  const ctx = context(world, overrides);
  const users = [...world.users.values()];
  const links = [...world.links.values()];
  const byId = new Map(users.map((u) => [u.id, u]));
  const digest: digests.DirectoryDigest = {
    links: new Map(
      links.map((l) => [l.key, digests.pairDigest(l, byId.get(l.userId) ?? null, ctx.mapping.fields)]),
    ),
  };
  const split = { rows: [] as SourceRow[], quiet: { keys: new Set<string>(), again: [] as string[] } };
  digests.splitRows(
    ctx,
    [...world.rows].map(([key, values]) => ({ key, values })),
    digest,
    split,
  );
  // The runner looks these up in the directory for the rows that are not quiet.
  const live = users.filter((u) => u.deletedAt === null);
  const wanted = digests.factsToLookUp(ctx, split.rows);
  const facts = {
    owners: new Map(
      live.filter((u) => wanted.emails.includes(emailKey(u.email))).map((u) => [emailKey(u.email), u.id]),
    ),
    liveIds: new Set(live.filter((u) => wanted.ids.includes(u.id)).map((u) => u.id)),
  };
  const seen = new Set(world.rows.keys());
  // A world's rows have distinct keys (a Map): no key repeats.
  const { userIds, linkKeys } = digests.neededForPlan(ctx, split.rows, seen, new Set(), digest, facts);
  const linked = new Set(links.map((l) => l.userId));
  for (const user of live) if (!linked.has(user.id)) userIds.add(user.id);
  for (const link of links) if (userIds.has(link.userId)) linkKeys.add(link.key);
  const loaded = links.filter((l) => linkKeys.has(l.key));
  const quiet = digests.quietInput(ctx, split.quiet, new Set(), split.rows, facts, loaded);
  return planSync(ctx, {
    rows: split.rows,
    ...quiet,
    seenKeys: seen,
    users: users.filter((u) => userIds.has(u.id)),
    links: loaded,
  });
}

export function plan(world: World, overrides: Partial<PlanContext> = {}): SyncPlan {
  const rows: SourceRow[] = [...world.rows].map(([key, values]) => ({ key, values }));
  return planSync(context(world, overrides), {
    rows,
    users: [...world.users.values()],
    links: [...world.links.values()],
  });
}

/** Plans and applies one sync; returns the plan. */
export function sync(world: World, overrides: Partial<PlanContext> = {}): SyncPlan {
  const p = plan(world, overrides);
  if (!p.blocked) apply(world, p);
  return p;
}

export function apply(world: World, p: SyncPlan): void {
  for (const action of p.actions) {
    switch (action.type) {
      case 'import':
        world.users.set(action.user.id, {
          ...action.user,
          magicLink: null,
          externalId: null,
          deletedAt: null,
          version: 1,
        });
        world.links.set(action.key, action.link);
        if (action.writeBack) Object.assign(world.rows.get(action.key)!, action.writeBack.set);
        break;
      case 'export':
      case 'recreate': {
        const key = String(world.nextKey++);
        world.rows.set(key, { id: key, ...action.values });
        if (action.type === 'recreate') world.links.delete(action.oldKey);
        world.links.set(key, { ...action.link, key });
        break;
      }
      case 'update':
        if (action.sourceWrite) Object.assign(world.rows.get(action.key)!, action.sourceWrite.set);
        if (action.appPatch) patchUser(world, action.userId, action.appPatch);
        if (action.replaceKey !== undefined) world.links.delete(action.replaceKey);
        world.links.set(action.key, action.link);
        break;
      case 'deleteRow':
        world.rows.delete(action.key);
        world.links.delete(action.key);
        break;
      case 'unlink':
        world.links.delete(action.key);
        break;
    }
  }
}

export function patchUser(world: World, id: string, patch: UserPatch): void {
  const user = world.users.get(id)!;
  const custom = { ...user.custom };
  for (const [k, v] of Object.entries(patch.custom ?? {})) {
    if (v === null) delete custom[k];
    else custom[k] = v;
  }
  world.users.set(id, { ...user, ...patch, custom, version: user.version + 1 });
}

export function deleteUser(world: World, id: string): void {
  const user = world.users.get(id)!;
  world.users.set(id, { ...user, deletedAt: '2026-01-02T00:00:00.000Z', version: user.version + 1 });
}

export function userByEmail(world: World, email: string): DirectoryUser | undefined {
  return [...world.users.values()].find(
    (u) => u.deletedAt === null && u.email.toLowerCase() === email.toLowerCase(),
  );
}

export function rowByEmail(world: World, email: string): Row | undefined {
  return [...world.rows.values()].find((r) => String(r.email).trim().toLowerCase() === email.toLowerCase());
}

export function kinds(p: SyncPlan): string[] {
  return p.issues.map((i) => i.kind).sort();
}
