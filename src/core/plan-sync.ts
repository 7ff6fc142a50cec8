/**
 * The two-way planner (SPEC §3): given a connection's rows, the directory's users and
 * the connection's links, decide what to create, update and delete on each side, and
 * which issues to report. Pure: no I/O, the same input gives the same plan.
 */
import type { SourceRow } from './source-row.js';
import { mappedColumns, type MappedField } from './fields.js';
import type { IssueReport } from './issue.js';
import type { Baseline, LinkState } from './link.js';
import { mergeFields, type FieldMerge } from './merge-fields.js';
import { emailKey, parseEmail, type Canonical, type EmailParse } from './normalize.js';
import * as issues from './plan-issues.js';
import type {
  FieldConflict,
  KeySet,
  PlanAction,
  PlanContext,
  PlanInput,
  QuietRow,
  RowCreate,
  SyncPlan,
} from './plan.js';
import { asDirectoryUser, newUserFromRow } from './plan-import.js';
import { appCanonical, appValue, isEmptyPatch } from './user-values.js';
import type { DirectoryUser, UserPatch } from './user.js';

/** The guard ignores runs that change fewer users than this, whatever the share. */
export const MASS_CHANGE_MINIMUM = 10;

interface Email {
  readonly email: string;
  readonly key: string;
}

/** Working state of one planning pass. */
interface Pass {
  readonly ctx: PlanContext;
  readonly linksByKey: Map<string, LinkState>;
  readonly linkByUser: Map<string, LinkState>;
  readonly usersById: Map<string, DirectoryUser>;
  readonly liveByEmail: Map<string, DirectoryUser>;
  readonly seenKeys: KeySet;
  /** Quiet rows' keys → their linked users. */
  readonly quietUsers: Map<string, string>;
  /** Links whose row this pass found (by key or, for a re-created row, by email). */
  readonly handledLinks: Set<string>;
  /** Users that have a row in this source (or are held back by an issue): never exported. */
  readonly claimed: Set<string>;
  /** Users whose email is on some row: never given a second row with it. */
  readonly emailOnRow: Set<string>;
  /** Existing users whose data this run changes (the mass-change guard). */
  readonly changed: Set<string>;
  readonly actions: PlanAction[];
  readonly issues: IssueReport[];
  readonly conflicts: FieldConflict[];
  unchanged: number;
  skipped: number;
}

export function planSync(ctx: PlanContext, input: PlanInput): SyncPlan {
  const pass = startPass(ctx, input);
  const unique = readRows(pass, input.rows, input.quietRows ?? []);
  planRows(pass, unique);
  planMissingRows(pass, input.links);
  planAppOnlyUsers(pass, input.users);
  return finishPass(pass);
}

function startPass(ctx: PlanContext, input: PlanInput): Pass {
  const live = input.users.filter((u) => u.deletedAt === null);
  return {
    ctx,
    linksByKey: new Map(input.links.map((l) => [l.key, l])),
    linkByUser: new Map(input.links.map((l) => [l.userId, l])),
    usersById: new Map(input.users.map((u) => [u.id, u])),
    liveByEmail: new Map(live.map((u) => [emailKey(u.email), u])),
    seenKeys:
      input.seenKeys ??
      new Set([...input.rows.map((r) => r.key), ...(input.quietRows ?? []).map((q) => q.key)]),
    quietUsers: new Map((input.quietRows ?? []).map((q) => [q.key, q.userId])),
    handledLinks: new Set(),
    claimed: new Set(),
    emailOnRow: new Set(),
    changed: new Set(),
    actions: [],
    issues: [],
    conflicts: [],
    unchanged: input.quietAlone ?? 0,
    skipped: 0,
  };
}

/** A row as the planner reads it: in full, or quiet (known to agree with its link: see QuietRow). */
interface Entry {
  readonly key: string;
  readonly row: SourceRow | null;
  readonly quiet: QuietRow | null;
}

/** Valid rows with an email no other row has; everything else becomes an issue. */
function readRows(
  pass: Pass,
  rows: readonly SourceRow[],
  quietRows: readonly QuietRow[],
): Array<[SourceRow, Email]> {
  const { ctx } = pass;
  const entries: Entry[] = rows.map((row) => ({ key: row.key, row, quiet: null }));
  for (const quiet of quietRows) entries.push({ key: quiet.key, row: null, quiet });
  const byEmail = new Map<string, Array<[Entry, Email]>>();
  for (const [key, group] of groupBy(entries, (e) => e.key)) {
    const parsed = group.map((e) => emailOf(ctx, e));
    // A user whose email is on any row already has its row: never create a second one.
    for (const email of parsed) claimEmailOwner(pass, email);
    if (group.length > 1) {
      hold(pass, issues.duplicateKey(ctx.connection, key, group.length), group.length, key);
      continue;
    }
    const email = parsed[0]!;
    if (!email.ok) {
      const userId = pass.linksByKey.get(key)?.userId ?? null;
      hold(pass, issues.invalidEmail(ctx.connection, key, email.reason, userId), 1, key);
      continue;
    }
    const entry = byEmail.get(email.key) ?? [];
    entry.push([group[0]!, email]);
    byEmail.set(email.key, entry);
  }
  const unique: Array<[SourceRow, Email]> = [];
  for (const [email, group] of byEmail) {
    if (group.length === 1) {
      const [entry, parsed] = group[0]!;
      if (entry.row) unique.push([entry.row, parsed]);
      else planQuietRow(pass, entry.quiet!);
      continue;
    }
    // SPEC §3: several rows share one email → none of them syncs.
    const keys = group.map(([e]) => e.key).sort(naturalOrder);
    const users = new Set(keys.map((k) => linkedUserOf(pass, k)).filter((id) => id !== undefined));
    const owner = pass.liveByEmail.get(email);
    if (owner) users.add(owner.id);
    hold(pass, issues.duplicateEmail(ctx.connection, email, keys, [...users]), keys.length, ...keys);
  }
  return unique;
}

function emailOf(ctx: PlanContext, entry: Entry): EmailParse {
  if (entry.quiet) return { ok: true, email: entry.quiet.emailKey, key: entry.quiet.emailKey };
  return parseEmail(entry.row!.values[ctx.mapping.emailColumn]);
}

/** A quiet row with an email of its own agrees with its user on every field: nothing to do. */
function planQuietRow(pass: Pass, quiet: QuietRow): void {
  pass.unchanged += 1;
  pass.claimed.add(quiet.userId);
  pass.handledLinks.add(quiet.key);
}

function linkedUserOf(pass: Pass, key: string): string | undefined {
  return pass.linksByKey.get(key)?.userId ?? pass.quietUsers.get(key);
}

function claimEmailOwner(pass: Pass, email: EmailParse): void {
  const owner = email.ok ? pass.liveByEmail.get(email.key) : undefined;
  if (owner) pass.emailOnRow.add(owner.id);
}

/** Reports an issue for rows that are skipped; their linked users are left as they are. */
function hold(pass: Pass, issue: IssueReport, rowCount: number, ...keys: string[]): void {
  pass.issues.push(issue);
  pass.skipped += rowCount;
  for (const key of keys) {
    const userId = linkedUserOf(pass, key);
    if (userId !== undefined) pass.claimed.add(userId);
  }
}

/**
 * Linked rows first: an accepted email change there frees the old email for an unlinked
 * row, or for another linked row's change, which may therefore wait its turn.
 */
function planRows(pass: Pass, unique: ReadonlyArray<[SourceRow, Email]>): void {
  const matches = (row: SourceRow) => pass.ctx.filter === null || pass.ctx.filter(row.values);
  let waiting = unique.filter(([row]) => pass.linksByKey.has(row.key));
  for (let last = -1; waiting.length !== last;) {
    last = waiting.length;
    waiting = waiting.filter(([row, email]) => !planLinkedRow(pass, row, email, matches(row), true));
  }
  for (const [row, email] of waiting) planLinkedRow(pass, row, email, matches(row), false);
  for (const [row, email] of unique) {
    if (!pass.linksByKey.has(row.key)) planUnlinkedRow(pass, row, email, matches(row));
  }
}

/** Returns false when it may wait for another row to free the email it changes to. */
function planLinkedRow(
  pass: Pass,
  row: SourceRow,
  email: Email,
  matches: boolean,
  mayWait: boolean,
  /** The user's link, when this row is that user's row under a new key (see planUnlinkedRow). */
  moved?: LinkState,
): boolean {
  const { ctx } = pass;
  const link = moved ?? pass.linksByKey.get(row.key)!;
  pass.handledLinks.add(link.key);
  pass.claimed.add(link.userId);
  const user = pass.usersById.get(link.userId);
  if (!user || user.deletedAt !== null) {
    // SPEC §3: the user was deleted in the app; delete its row (never re-import it).
    if (ctx.mode !== 'import') {
      pass.actions.push({ type: 'deleteRow', key: row.key, userId: link.userId });
      pass.changed.add(link.userId);
      // The row goes, so a new user with its email may have a row of its own.
      const owner = pass.liveByEmail.get(email.key);
      if (owner) pass.emailOnRow.delete(owner.id);
    }
    return true;
  }
  let emailPatch: string | undefined;
  if (email.key !== link.sourceEmail && email.key !== emailKey(user.email)) {
    const other = pass.liveByEmail.get(email.key);
    const taken = other !== undefined && other.id !== user.id;
    const accept = ctx.acceptEmailChanges && ctx.mode !== 'one-way';
    if (accept && taken && mayWait) return false;
    if (!accept || taken) {
      const users = taken ? [user.id, other.id] : [user.id];
      hold(
        pass,
        issues.emailChanged(ctx.connection, row.key, link.sourceEmail, email.email, users, taken),
        1,
      );
      return true;
    }
    emailPatch = email.email;
    pass.liveByEmail.delete(emailKey(user.email));
    pass.liveByEmail.set(email.key, user);
  } else {
    // The app renamed this row's user, and another user now has the row's email: unless that
    // user's own row is there, it cannot get one (the email is taken in the source).
    const owner = pass.liveByEmail.get(email.key);
    const ownerLink = owner && pass.linkByUser.get(owner.id);
    if (owner && owner.id !== user.id && !(ownerLink && pass.seenKeys.has(ownerLink.key))) {
      pass.issues.push(issues.emailOnOtherUsersRow(ctx.connection, row.key, email.key, user.id, owner.id));
    }
  }
  planPair(pass, { row, email, user, link, matches, emailPatch, replaceKey: moved?.key });
  return true;
}

function planUnlinkedRow(pass: Pass, row: SourceRow, email: Email, matches: boolean): void {
  const { ctx } = pass;
  const named = lostLinkNamedByRow(pass, row);
  if (named) {
    // The row carries the id usersync wrote back to a row that is gone: it is that row under
    // a new key (a file keyed by email whose email was edited). SPEC §3's email rules apply.
    pass.handledLinks.add(named.key);
    planLinkedRow(pass, row, email, matches, false, named);
    return;
  }
  const user = pass.liveByEmail.get(email.key);
  const existing = user && pass.linkByUser.get(user.id);
  if (user && existing && !pass.seenKeys.has(existing.key)) {
    // The user's linked row is gone and this row has its email: the row was re-created (by a
    // run that stopped before it recorded the new key, or by hand). Link to it, even outside
    // the filter (then the user is suspended), rather than leave the link pointing at nothing.
    pass.handledLinks.add(existing.key);
    planPair(pass, { row, email, user, link: existing, matches, replaceKey: existing.key });
    return;
  }
  if (!matches) return; // not a user (SPEC §3 filter)
  if (!user) {
    // SPEC §2: one-way ignores rows that exist only in the source.
    if (ctx.mode !== 'one-way') planImport(pass, row, email);
    return;
  }
  if (existing === undefined) {
    planPair(pass, { row, email, user, link: null, matches });
    return;
  }
  pass.issues.push(issues.rowOfLinkedUser(ctx.connection, email.key, row.key, existing.key, user.id));
  pass.skipped += 1;
}

/** The link of the live user whose id the row's userId column holds, if that link's row was not read. */
function lostLinkNamedByRow(pass: Pass, row: SourceRow): LinkState | undefined {
  const column = pass.ctx.mapping.fields.find((f) => f.id === 'userId')?.column;
  const id = column === undefined ? undefined : row.values[column];
  if (typeof id !== 'string' || id === '') return undefined;
  const link = pass.linkByUser.get(id);
  const user = pass.usersById.get(id);
  if (!link || !user || user.deletedAt !== null) return undefined;
  return pass.seenKeys.has(link.key) || pass.handledLinks.has(link.key) ? undefined : link;
}

interface Pair {
  readonly row: SourceRow;
  readonly email: Email;
  readonly user: DirectoryUser;
  /** The user's link in this connection; null when matched by email for the first time. */
  readonly link: LinkState | null;
  readonly matches: boolean;
  readonly emailPatch?: string | undefined;
  readonly replaceKey?: string | undefined;
}

function planPair(pass: Pass, pair: Pair): void {
  const { ctx } = pass;
  const { row, user, link } = pair;
  const merge = mergeFields(ctx, ctx.mapping.fields, user, row.values, link?.baseline ?? null);
  reportMerge(pass, row.key, user.id, merge);
  const patch: UserPatch = { ...merge.appPatch };
  if (pair.emailPatch !== undefined) patch.email = pair.emailPatch;
  const suspended = planSuspension(ctx, pair, patch);
  const sourceWrite =
    Object.keys(merge.sourceSet).length > 0
      ? { key: row.key, set: merge.sourceSet, expect: pick(row.values, mappedColumns(ctx.mapping)) }
      : null;
  const next: LinkState = {
    userId: user.id,
    key: row.key,
    sourceEmail: pair.email.key,
    baseline: merge.baseline,
    suspended,
  };
  const appPatch = isEmptyPatch(patch) ? null : patch;
  if (!appPatch && !sourceWrite && link && pair.replaceKey === undefined && sameLink(link, next)) {
    pass.unchanged += 1;
    return;
  }
  // Only changes to already-linked pairs count toward the guard; a first match is not a
  // "change", nor is filling columns the row has blank (an app id not yet written back, as
  // after a first sync that stopped half-way): that overwrites nothing.
  const overwrites =
    sourceWrite !== null && Object.keys(sourceWrite.set).some((c) => !isBlank(row.values[c]));
  if (link && (appPatch || overwrites || pair.replaceKey !== undefined)) pass.changed.add(user.id);
  const before = sourceWrite ? beforeWrite(next, link, merge.sourceSet, ctx.mapping.fields) : null;
  pass.actions.push({
    type: 'update',
    key: row.key,
    userId: user.id,
    userVersion: user.version,
    appPatch,
    sourceWrite,
    link: next,
    linkBeforeWrite: before,
    beforeWriteStored:
      before !== null &&
      appPatch === null &&
      link !== null &&
      link.key === before.key &&
      pair.replaceKey === undefined &&
      sameLink(link, before),
    ...(pair.replaceKey !== undefined ? { replaceKey: pair.replaceKey } : {}),
  });
}

/** SPEC §3: a linked row that stops matching the filter suspends the user; matching again reactivates it. */
function planSuspension(ctx: PlanContext, pair: Pair, patch: UserPatch): boolean {
  const was = pair.link?.suspended ?? false;
  if (ctx.mode === 'one-way' || pair.matches === !was) return was;
  if (!pair.matches) {
    if (pair.user.status === 'active') patch.status = 'suspended';
    return true;
  }
  // Another connection's filter may still hold the user back.
  if (pair.user.status === 'suspended' && !ctx.suspendedElsewhere.has(pair.user.id)) patch.status = 'active';
  return false;
}

function reportMerge(pass: Pass, key: string, userId: string, merge: FieldMerge): void {
  for (const invalid of merge.invalid)
    pass.issues.push(issues.invalidValue(pass.ctx.connection, key, invalid, userId));
  for (const c of merge.conflicts) {
    const conflict: FieldConflict = { key, userId, ...c };
    pass.conflicts.push(conflict);
    pass.issues.push(issues.conflict(pass.ctx.connection, conflict));
  }
}

function planImport(pass: Pass, row: SourceRow, email: Email): void {
  const { ctx } = pass;
  const { user, invalid, parsed } = newUserFromRow(ctx, row, email.email);
  for (const bad of invalid) pass.issues.push(issues.invalidValue(ctx.connection, row.key, bad, user.id));
  // The new user already holds the row's values, so the merge yields just the write-back of app-owned fields.
  const merge = mergeFields(ctx, ctx.mapping.fields, asDirectoryUser(user), row.values, null, parsed);
  const writeBack =
    Object.keys(merge.sourceSet).length > 0
      ? { key: row.key, set: merge.sourceSet, expect: pick(row.values, mappedColumns(ctx.mapping)) }
      : null;
  pass.actions.push({
    type: 'import',
    key: row.key,
    user,
    link: {
      userId: user.id,
      key: row.key,
      sourceEmail: email.key,
      baseline: merge.baseline,
      suspended: false,
    },
    writeBack,
    fingerprint: invalid.length === 0 ? { asRead: row.fingerprint ?? null } : null,
  });
}

/** Links whose row was not read: deleted in the source, or the user was deleted in the app. */
function planMissingRows(pass: Pass, links: readonly LinkState[]): void {
  const { ctx } = pass;
  for (const link of links) {
    if (pass.handledLinks.has(link.key) || pass.seenKeys.has(link.key)) continue;
    const user = pass.usersById.get(link.userId);
    if (!user || user.deletedAt !== null) {
      pass.actions.push({ type: 'unlink', key: link.key, userId: link.userId });
      continue;
    }
    pass.claimed.add(user.id);
    // Its email is on a row held by an issue, or linked to another user: that issue says what to do.
    if (pass.emailOnRow.has(user.id)) continue;
    // SPEC §3: a source-side delete is not trusted to delete an app user: re-create the row.
    if (ctx.mode === 'import') continue;
    const create = rowFor(ctx, user, link.suspended);
    if (!link.suspended && outsideFilter(pass, user, create)) continue;
    pass.changed.add(user.id);
    pass.actions.push({ type: 'recreate', oldKey: link.key, userVersion: user.version, ...create });
  }
}

/** Users with no row in this source: create one (SPEC §3), unless the connection says not to. */
function planAppOnlyUsers(pass: Pass, users: readonly DirectoryUser[]): void {
  const { ctx } = pass;
  if (ctx.mode === 'import' || !ctx.createInSource) return;
  for (const user of users) {
    if (user.deletedAt !== null || pass.linkByUser.has(user.id)) continue;
    if (pass.claimed.has(user.id) || pass.emailOnRow.has(user.id)) continue;
    const create = rowFor(ctx, user, false);
    if (outsideFilter(pass, user, create)) continue;
    pass.actions.push({ type: 'export', ...create });
  }
}

/**
 * A row usersync would create but that its own filter would not count as a user (the filter
 * has no equalities to fill in): creating it would suspend the user it is for. Not created;
 * an issue says why.
 */
function outsideFilter(pass: Pass, user: DirectoryUser, create: RowCreate): boolean {
  const { ctx } = pass;
  if (ctx.filter === null || ctx.filter(create.values)) return false;
  pass.issues.push(issues.rowOutsideFilter(ctx.connection, user.id, user.email));
  return true;
}

/** The values of a new row for a user: the email, every mapped field the user has, the filter's defaults. */
function rowFor(ctx: PlanContext, user: DirectoryUser, suspended: boolean): RowCreate {
  const values: Record<string, unknown> = { ...ctx.createDefaults, [ctx.mapping.emailColumn]: user.email };
  const baseline: Record<string, string | null> = {};
  for (const field of ctx.mapping.fields) {
    const value = appValue(user, field.id);
    if (value !== null) values[field.column] = value;
    baseline[field.id] = appCanonical(user, field);
  }
  return {
    userId: user.id,
    values,
    link: { userId: user.id, sourceEmail: emailKey(user.email), baseline, suspended },
  };
}

function finishPass(pass: Pass): SyncPlan {
  const { ctx } = pass;
  const total = ctx.totalUsers;
  const changed = pass.changed.size;
  const massChange = { changed, total, share: changed / Math.max(total, 1) };
  const blocked =
    !ctx.allowMassChange && changed >= MASS_CHANGE_MINIMUM && massChange.share > ctx.maxChange
      ? issues.massChange(ctx.connection, massChange, ctx.maxChange)
      : null;
  return {
    connection: ctx.connection,
    actions: pass.actions,
    issues: blocked ? [...pass.issues, blocked] : pass.issues,
    conflicts: pass.conflicts,
    unchanged: pass.unchanged,
    skipped: pass.skipped,
    massChange,
    blocked,
  };
}

function beforeWrite(
  next: LinkState,
  previous: LinkState | null,
  written: Readonly<Record<string, unknown>>,
  fields: readonly MappedField[],
): LinkState {
  const baseline: Record<string, Canonical> = { ...next.baseline };
  for (const field of fields) {
    if (!Object.hasOwn(written, field.column)) continue;
    const old = previous?.baseline[field.id];
    if (old === undefined) delete baseline[field.id];
    else baseline[field.id] = old;
  }
  return { ...next, baseline };
}

function isBlank(value: unknown): boolean {
  return value === null || value === undefined || (typeof value === 'string' && value.trim() === '');
}

function sameLink(a: LinkState, b: LinkState): boolean {
  return (
    a.sourceEmail === b.sourceEmail && a.suspended === b.suspended && sameBaseline(a.baseline, b.baseline)
  );
}

function sameBaseline(a: Baseline, b: Baseline): boolean {
  const keys = Object.keys(b);
  return keys.length === Object.keys(a).length && keys.every((k) => a[k] === b[k]);
}

function pick(
  values: Readonly<Record<string, unknown>>,
  columns: readonly string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const column of columns) out[column] = values[column] ?? null;
  return out;
}

/** "2" before "10": keys are often numbers as text. */
function naturalOrder(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}
