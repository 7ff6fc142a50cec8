/**
 * Telling, from digests alone, that a row needs nothing: the runner keeps a digest per
 * link and per user instead of whole objects, so a sync where little changed holds little
 * in memory and a no-op costs a comparison per row (STYLE: a content hash per record).
 */
import { createHash } from 'node:crypto';
import type { MappedField } from './fields.js';
import type { Baseline, LinkState } from './link.js';
import { parseEmail, parseValue, type Canonical } from './normalize.js';
import type { PlanContext, QuietRow } from './plan.js';
import type { SourceRow } from './source-row.js';
import { appCanonical } from './user-values.js';
import type { DirectoryUser } from './user.js';

/** Digest of canonical values in mapping order; a field missing from a baseline differs from null. */
function digest(values: ReadonlyArray<Canonical | undefined>): string {
  const text = JSON.stringify(values.map((v) => (v === undefined ? [0] : v)));
  return createHash('sha1').update(text).digest('base64').slice(0, 20);
}

export function baselineDigest(baseline: Baseline, fields: readonly MappedField[]): string {
  return digest(fields.map((f) => baseline[f.id]));
}

export function userDigest(user: DirectoryUser, fields: readonly MappedField[]): string {
  return digest(fields.map((f) => appCanonical(user, f)));
}

/** Null when a value cannot be read: such a row goes to the planner, which reports it. */
export function rowDigest(
  values: Readonly<Record<string, unknown>>,
  fields: readonly MappedField[],
): string | null {
  const canonical: Canonical[] = [];
  for (const field of fields) {
    const parsed = parseValue(values[field.column], field.kind);
    if (!parsed.ok) return null;
    canonical.push(parsed.value);
  }
  return digest(canonical);
}

/** What the runner keeps of a link. */
export interface LinkDigest {
  readonly userId: string;
  readonly sourceEmail: string;
  readonly suspended: boolean;
  readonly digest: string;
}

/** What the runner keeps of a user. */
export interface UserDigest {
  readonly emailKey: string;
  readonly live: boolean;
  readonly digest: string;
}

/**
 * The row as a QuietRow when the planner would find nothing to do with it: linked to a
 * live user, with the email it had at the last sync, which is that user's own, both sides
 * equal to the baseline, and the filter saying what it said then.
 */
export function quietRow(
  ctx: PlanContext,
  row: SourceRow,
  link: LinkDigest | undefined,
  user: UserDigest | undefined,
  emailOwner: string | undefined,
): QuietRow | null {
  if (!link || !user?.live) return null;
  const email = parseEmail(row.values[ctx.mapping.emailColumn]);
  if (!email.ok || email.key !== link.sourceEmail) return null;
  if (emailOwner !== link.userId) return null;
  const matches = ctx.filter === null || ctx.filter(row.values);
  if (matches === link.suspended) return null;
  const values = rowDigest(row.values, ctx.mapping.fields);
  if (values !== link.digest || user.digest !== link.digest) return null;
  return { key: row.key, emailKey: email.key, userId: link.userId };
}

/** The directory as digests: enough to find quiet rows and to know what else to load. */
export interface DirectoryDigest {
  /** The connection's links by row key. */
  readonly links: ReadonlyMap<string, LinkDigest>;
  /** Every user, tombstones included. */
  readonly users: ReadonlyMap<string, UserDigest>;
  /** Live users by email (matching form). */
  readonly emailOwners: ReadonlyMap<string, string>;
  /** Users with a link in this connection → its row key. */
  readonly linkOfUser: ReadonlyMap<string, string>;
}

/** A DirectoryDigest being filled, page by page. */
export interface DirectoryDigestBuilder extends DirectoryDigest {
  readonly links: Map<string, LinkDigest>;
  readonly users: Map<string, UserDigest>;
  readonly emailOwners: Map<string, string>;
  readonly linkOfUser: Map<string, string>;
}

export function emptyDirectoryDigest(): DirectoryDigestBuilder {
  return { links: new Map(), users: new Map(), emailOwners: new Map(), linkOfUser: new Map() };
}

export function addUser(
  into: DirectoryDigestBuilder,
  user: DirectoryUser,
  fields: readonly MappedField[],
): void {
  const emailKey = user.email.trim().toLowerCase();
  const live = user.deletedAt === null;
  into.users.set(user.id, { emailKey, live, digest: userDigest(user, fields) });
  if (live) into.emailOwners.set(emailKey, user.id);
}

export function addLink(into: DirectoryDigestBuilder, link: LinkState, fields: readonly MappedField[]): void {
  const { key, userId, sourceEmail, suspended } = link;
  into.links.set(key, { userId, sourceEmail, suspended, digest: baselineDigest(link.baseline, fields) });
  into.linkOfUser.set(userId, key);
}

/** Splits rows into the ones the planner must see in full and the keys of the quiet ones. */
export function splitRows(
  ctx: PlanContext,
  rows: Iterable<SourceRow>,
  directory: DirectoryDigest,
  into: { rows: SourceRow[]; quietKeys: string[] },
): void {
  for (const row of rows) {
    const link = directory.links.get(row.key);
    const user = link && directory.users.get(link.userId);
    const email = parseEmail(row.values[ctx.mapping.emailColumn]);
    const owner = email.ok ? directory.emailOwners.get(email.key) : undefined;
    if (quietRow(ctx, row, link, user, owner)) into.quietKeys.push(row.key);
    else into.rows.push(row);
  }
}

/**
 * The quiet rows as the planner takes them. A quiet row's email is its linked user's, so it
 * shares it only with a row the planner sees in full; only those, and rows whose key another
 * row repeats, are passed one by one (the planner reports or weighs them). The rest need
 * nothing and are counted: a no-op over a million rows holds their keys and no more.
 */
export function quietInput(
  ctx: PlanContext,
  directory: DirectoryDigest,
  quietKeys: readonly string[],
  repeatedKeys: ReadonlySet<string>,
  fullRows: readonly SourceRow[],
): { quietRows: QuietRow[]; quietAlone: number } {
  const emails = new Set<string>();
  for (const row of fullRows) {
    const email = parseEmail(row.values[ctx.mapping.emailColumn]);
    if (email.ok) emails.add(email.key);
  }
  const quietRows: QuietRow[] = [];
  let quietAlone = 0;
  for (const key of quietKeys) {
    const link = directory.links.get(key)!;
    if (repeatedKeys.has(key) || emails.has(link.sourceEmail))
      quietRows.push({ key, emailKey: link.sourceEmail, userId: link.userId });
    else quietAlone += 1;
  }
  return { quietRows, quietAlone };
}

/**
 * The email (matching form) of a row the planner imports as a new user, or null. Such a row
 * has no link, a valid email that no live user has, and no known user's id in its userId
 * column (that would be a linked row under a new key); provided no other row shares its key
 * or email, its plan depends on nothing else the source or the directory holds.
 */
export function newUserEmail(ctx: PlanContext, row: SourceRow, directory: DirectoryDigest): string | null {
  if (directory.links.has(row.key)) return null;
  const email = parseEmail(row.values[ctx.mapping.emailColumn]);
  if (!email.ok || directory.emailOwners.has(email.key)) return null;
  const userIdColumn = ctx.mapping.fields.find((f) => f.id === 'userId')?.column;
  const named = userIdColumn === undefined ? undefined : row.values[userIdColumn];
  if (typeof named === 'string' && directory.users.has(named)) return null;
  return email.key;
}

/**
 * The users and links the planner needs in full besides the quiet rows: those of the rows
 * it sees, of the email owners and users those rows name, of the links whose row was not
 * read, every live user with no link here (it may need a row), and the links of all those.
 */
export function neededForPlan(
  ctx: PlanContext,
  rows: readonly SourceRow[],
  seenKeys: ReadonlySet<string>,
  directory: DirectoryDigest,
): { userIds: Set<string>; linkKeys: Set<string> } {
  const userIds = new Set<string>();
  const linkKeys = new Set<string>();
  const userIdColumn = ctx.mapping.fields.find((f) => f.id === 'userId')?.column;
  for (const row of rows) {
    const link = directory.links.get(row.key);
    if (link) {
      linkKeys.add(row.key);
      userIds.add(link.userId);
    }
    const email = parseEmail(row.values[ctx.mapping.emailColumn]);
    const owner = email.ok ? directory.emailOwners.get(email.key) : undefined;
    if (owner !== undefined) userIds.add(owner);
    const named = userIdColumn === undefined ? undefined : row.values[userIdColumn];
    if (typeof named === 'string' && directory.users.has(named)) userIds.add(named);
  }
  for (const [key, link] of directory.links) {
    if (seenKeys.has(key)) continue;
    linkKeys.add(key);
    userIds.add(link.userId);
  }
  for (const [id, user] of directory.users) {
    if (user.live && !directory.linkOfUser.has(id)) userIds.add(id);
  }
  // The planner must know whether each of these users already has a row here.
  for (const id of userIds) {
    const key = directory.linkOfUser.get(id);
    if (key !== undefined) linkKeys.add(key);
  }
  return { userIds, linkKeys };
}
