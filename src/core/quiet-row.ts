/**
 * Telling, from digests alone, that a row needs nothing: the runner keeps one digest per
 * link (null when its user no longer agrees with it) instead of whole objects, and looks up
 * the rest only for the rows that need work, so a sync where little changed holds little in
 * memory and a no-op costs a comparison per row (STYLE: a content hash per record).
 */
import { createHash } from 'node:crypto';
import type { MappedField } from './fields.js';
import type { Baseline, LinkState } from './link.js';
import { emailKey, parseEmail, parseValue, type Canonical } from './normalize.js';
import type { KeySet, PlanContext, QuietRow } from './plan.js';
import type { SourceRow } from './source-row.js';
import { appCanonical } from './user-values.js';
import type { DirectoryUser } from './user.js';

/** Digest of canonical values in mapping order; a field missing from a baseline differs from null. */
function digest(values: ReadonlyArray<Canonical | undefined>): string {
  const text = JSON.stringify(values.map((v) => (v === undefined ? [0] : v)));
  return createHash('sha1').update(text).digest('base64').slice(0, 20);
}

function baselineDigest(baseline: Baseline, fields: readonly MappedField[]): string {
  return digest(fields.map((f) => baseline[f.id]));
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

/** What the runner keeps of a link and its user. */
export interface PairDigest {
  readonly userId: string;
  readonly sourceEmail: string;
  readonly suspended: boolean;
  /**
   * The baseline's digest when the user is live, still has the link's email (so it is that
   * email's owner) and agrees with the baseline on every mapped field; otherwise null, and
   * the pair's row goes to the planner.
   */
  readonly digest: string | null;
  /**
   * The source's fingerprint of the row when the pair last needed nothing, if the user is
   * still at the version it was then (see sync/fingerprints.ts).
   */
  readonly fingerprint: string | null;
  /** The user's version as read (0: no user): a fingerprint this run keeps for the pair is taken at it. */
  readonly userVersion: number;
}

export function pairDigest(
  link: LinkState,
  user: DirectoryUser | null,
  fields: readonly MappedField[],
  fingerprint: string | null = null,
): PairDigest {
  const agrees =
    user !== null &&
    user.deletedAt === null &&
    emailKey(user.email) === link.sourceEmail &&
    fields.every((f) => appCanonical(user, f) === link.baseline[f.id]);
  return {
    userId: link.userId,
    sourceEmail: link.sourceEmail,
    suspended: link.suspended,
    digest: agrees ? baselineDigest(link.baseline, fields) : null,
    fingerprint,
    userVersion: user?.version ?? 0,
  };
}

/** The directory as a sync compares rows with it: the connection's links by row key. */
export interface DirectoryDigest {
  readonly links: ReadonlyMap<string, PairDigest>;
}

/**
 * What the directory says about the rows the planner sees in full, looked up for those rows
 * alone (so a sync never holds every user): the live users that have their emails, and the
 * live users their userId column names.
 */
export interface RowFacts {
  /** Email (matching form) → the live user that has it. */
  readonly owners: ReadonlyMap<string, string>;
  readonly liveIds: ReadonlySet<string>;
}

/** The emails (matching form) and user ids the facts about these rows are made of. */
export function factsToLookUp(
  ctx: PlanContext,
  rows: readonly SourceRow[],
): { emails: string[]; ids: string[] } {
  const emails = new Set<string>();
  const ids = new Set<string>();
  const userIdColumn = ctx.mapping.fields.find((f) => f.id === 'userId')?.column;
  for (const row of rows) {
    const email = parseEmail(row.values[ctx.mapping.emailColumn]);
    if (email.ok) emails.add(email.key);
    const named = userIdColumn === undefined ? undefined : row.values[userIdColumn];
    if (typeof named === 'string' && named !== '') ids.add(named);
  }
  return { emails: [...emails], ids: [...ids] };
}

/**
 * True when the planner would find nothing to do with the row: its link's user agrees with
 * the baseline and still has the row's email, the row agrees with the baseline too, and the
 * filter says what it said then.
 */
export function quietRow(ctx: PlanContext, row: SourceRow, pair: PairDigest | undefined): boolean {
  if (!pair || pair.digest === null) return false;
  const email = parseEmail(row.values[ctx.mapping.emailColumn]);
  if (!email.ok || email.key !== pair.sourceEmail) return false;
  const matches = ctx.filter === null || ctx.filter(row.values);
  if (matches === pair.suspended) return false;
  return rowDigest(row.values, ctx.mapping.fields) === pair.digest;
}

/** Splits rows into the ones the planner must see in full and the keys of the quiet ones. */
export function splitRows(
  ctx: PlanContext,
  rows: Iterable<SourceRow>,
  directory: DirectoryDigest,
  into: { rows: SourceRow[]; quiet: QuietKeys },
): void {
  for (const row of rows) {
    if (quietRow(ctx, row, directory.links.get(row.key))) addQuiet(into.quiet, row.key);
    else into.rows.push(row);
  }
}

/** The quiet rows a read met: their keys, and the keys met again in quiet rows after the first. */
export interface QuietKeys {
  readonly keys: QuietKeySet;
  readonly again: string[];
}

/** The keys of quiet rows: a Set, or marks kept elsewhere (see sync/fingerprints.ts). */
export interface QuietKeySet {
  readonly size: number;
  has(key: string): boolean;
  add(key: string): void;
}

/** Counts a quiet row in. */
export function addQuiet(quiet: QuietKeys, key: string): void {
  if (quiet.keys.has(key)) quiet.again.push(key);
  else quiet.keys.add(key);
}

/**
 * The quiet rows as the planner takes them. A quiet row's email is its linked user's, so it
 * shares it only with a row the planner sees in full, and that row's email then names the
 * user (its owner): only those quiet rows, and rows whose key another row repeats, are
 * passed one by one (the planner reports or weighs them). The rest need nothing and are
 * counted: a no-op over a million rows holds their keys and no more. `links` are those
 * `neededForPlan` named, which include the links of those owners and of repeated keys.
 */
export function quietInput(
  ctx: PlanContext,
  quiet: QuietKeys,
  repeatedKeys: ReadonlySet<string>,
  fullRows: readonly SourceRow[],
  facts: RowFacts,
  links: readonly LinkState[],
): { quietRows: QuietRow[]; quietAlone: number } {
  const linkByKey = new Map(links.map((l) => [l.key, l]));
  const linkByUser = new Map(links.map((l) => [l.userId, l]));
  const quietRows: QuietRow[] = [];
  const pass = (link: LinkState | undefined) => {
    if (link) quietRows.push({ key: link.key, emailKey: link.sourceEmail, userId: link.userId });
  };
  for (const key of repeatedKeys) if (quiet.keys.has(key)) pass(linkByKey.get(key));
  for (const key of quiet.again) pass(linkByKey.get(key));
  const emails = new Set<string>();
  for (const row of fullRows) {
    const email = parseEmail(row.values[ctx.mapping.emailColumn]);
    if (email.ok) emails.add(email.key);
  }
  for (const email of emails) {
    const owner = facts.owners.get(email);
    const link = owner === undefined ? undefined : linkByUser.get(owner);
    if (link && link.sourceEmail === email && quiet.keys.has(link.key) && !repeatedKeys.has(link.key))
      pass(link);
  }
  return { quietRows, quietAlone: quiet.keys.size + quiet.again.length - quietRows.length };
}

/**
 * The email (matching form) of a row the planner imports as a new user, or null. Such a row
 * has no link, a valid email that no live user has, and no live user's id in its userId
 * column (that would be a linked row under a new key); provided no other row shares its key
 * or email, its plan depends on nothing else the source or the directory holds.
 */
export function newUserEmail(
  ctx: PlanContext,
  row: SourceRow,
  directory: DirectoryDigest,
  facts: RowFacts,
): string | null {
  if (directory.links.has(row.key)) return null;
  const email = parseEmail(row.values[ctx.mapping.emailColumn]);
  if (!email.ok || facts.owners.has(email.key)) return null;
  const userIdColumn = ctx.mapping.fields.find((f) => f.id === 'userId')?.column;
  const named = userIdColumn === undefined ? undefined : row.values[userIdColumn];
  if (typeof named === 'string' && facts.liveIds.has(named)) return null;
  return email.key;
}

/**
 * The users and links the planner needs in full, besides the quiet rows and besides what
 * the runner adds (every live user with no link here, which may need a row, and the links
 * of all these users): those of the rows it sees, of the email owners and users those rows
 * name, and of the links whose row was not read or whose key more than one row has.
 */
export function neededForPlan(
  ctx: PlanContext,
  rows: readonly SourceRow[],
  seenKeys: KeySet,
  repeatedKeys: ReadonlySet<string>,
  directory: DirectoryDigest,
  facts: RowFacts,
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
    const owner = email.ok ? facts.owners.get(email.key) : undefined;
    if (owner !== undefined) userIds.add(owner);
    const named = userIdColumn === undefined ? undefined : row.values[userIdColumn];
    if (typeof named === 'string' && facts.liveIds.has(named)) userIds.add(named);
  }
  for (const [key, link] of directory.links) {
    if (seenKeys.has(key) && !repeatedKeys.has(key)) continue;
    linkKeys.add(key);
    userIds.add(link.userId);
  }
  return { userIds, linkKeys };
}
