/**
 * New-user rows in a large full read (most of a first sync): rows the planner imports
 * whatever else the source or the directory holds (see `newUserEmail`), as long as no other
 * row shares their key or email. Past a limit the read keeps only each one's key by email;
 * after the rest of the plan is applied, `importNewRows` reads the source again and plans
 * and imports them a page at a time. A run's memory then does not grow with the users it
 * imports, and the mass-change guard is unaffected: an import changes no existing user.
 * Into an empty directory the first read takes only each row's email (see `narrow` in
 * read-plan.ts): every row is then imported from the second.
 */
import type { SourceConnector, SourceRow } from '../connectors/connector.js';
import type { IssueReport } from '../core/issue.js';
import { parseEmail } from '../core/normalize.js';
import { planSync } from '../core/plan-sync.js';
import type { PlanContext } from '../core/plan.js';
import type { DirectoryStore } from '../directory/store.js';
import { Applier, type ApplyOptions, type ApplyOutcome } from './apply-plan.js';
import { addCounts } from './counts.js';
import { yieldToEventLoop } from './yield.js';

const PAGE_SIZE = 5000;
/** New-user rows a full read holds in full; past this it streams them. */
export const HOLD_NEW_ROWS = 20_000;

/**
 * New-user rows met during a read: held in full up to a limit, then by key and email only.
 * The email is kept as a 32-bit hash of its matching form (a small integer in V8, where
 * the address was a string of its own: 40 MB of a 1M first sync's 130 MB kept through the
 * read). Two addresses with one hash are taken for rows that share an email, so the
 * planner sees both in full, as it would if they did: about a hundred rows in a million.
 */
export class NewRows {
  /** Email hash → the key of the one new-user row that has it. */
  private readonly keyByEmailHash = new Map<number, string>();
  /** Keys of new-user rows that turned out to share their email or key: the planner sees them. */
  private readonly shared = new Set<string>();
  private held: SourceRow[] = [];
  private streaming = false;

  constructor(
    private readonly emailColumn: string,
    private readonly limit: number,
  ) {}

  add(row: SourceRow, email: string): void {
    const hash = emailHash(email);
    const other = this.keyByEmailHash.get(hash);
    if (other === undefined) this.keyByEmailHash.set(hash, row.key);
    else {
      this.shared.add(other);
      this.shared.add(row.key);
    }
    if (this.streaming) return;
    this.held.push(row);
    if (this.held.length > this.limit) {
      this.streaming = true;
      this.held = [];
    }
  }

  /**
   * Ends the read. `otherRows` are the other rows the planner sees in full (a quiet row's
   * email is its user's, so never a new-user row's), `repeatedKeys` the keys the read met
   * more than once, `isNewUserRow` the test `add`'s rows passed.
   * Returns the new-user rows the planner must see too, and those left to stream (null
   * when every one was held).
   */
  async finish(
    otherRows: readonly SourceRow[],
    repeatedKeys: ReadonlySet<string>,
    read: {
      source: SourceConnector;
      columns: readonly string[];
      isNewUserRow: (row: SourceRow) => boolean;
    },
  ): Promise<{ rows: SourceRow[]; streamed: StreamedNewRows | null }> {
    if (!this.streaming) return { rows: this.held, streamed: null };
    // Another row with the same email: a linked row whose email changed, a row held by an issue…
    for (const row of otherRows) {
      const email = parseEmail(row.values[this.emailColumn]);
      const key = email.ok ? this.keyByEmailHash.get(emailHash(email.key)) : undefined;
      if (key !== undefined) this.shared.add(key);
    }
    if (repeatedKeys.size > 0) {
      for (const key of this.keyByEmailHash.values()) if (repeatedKeys.has(key)) this.shared.add(key);
    }
    if (this.shared.size === 0) return { rows: [], streamed: { keyByEmailHash: this.keyByEmailHash } };
    for (const [hash, key] of this.keyByEmailHash) if (this.shared.has(key)) this.keyByEmailHash.delete(hash);
    const { source, columns, isNewUserRow } = read;
    // Read again by key; a repeated key's other rows are among `otherRows` already.
    const rows = (await source.lookup(source.keyColumn, [...this.shared], columns)).filter(isNewUserRow);
    return { rows, streamed: { keyByEmailHash: this.keyByEmailHash } };
  }
}

/** The new-user rows to import by reading the source again: email hash (`emailHash`) → key. */
export interface StreamedNewRows {
  readonly keyByEmailHash: Map<number, string>;
}

/** FNV-1a over the UTF-16 code units of an email's matching form, as a signed 32-bit integer. */
export function emailHash(email: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < email.length; i++) hash = Math.imul(hash ^ email.charCodeAt(i), 0x01000193);
  return hash | 0;
}

export function addOutcome(a: ApplyOutcome, b: ApplyOutcome): ApplyOutcome {
  return {
    counts: addCounts(a.counts, b.counts),
    issues: [...a.issues, ...b.issues],
    createdKeys: [...a.createdKeys, ...b.createdKeys],
  };
}

export async function importNewRows(
  streamed: StreamedNewRows,
  ctx: PlanContext,
  columns: readonly string[],
  store: DirectoryStore,
  source: SourceConnector,
  options: ApplyOptions = {},
): Promise<ApplyOutcome> {
  // One applier for every page: a page's last write-back is in flight while the next page is planned.
  const run = new Applier(store, source, { fingerprints: options.fingerprints });
  const issues: IssueReport[] = [];
  let done = 0;
  const total = streamed.keyByEmailHash.size;
  const fingerprint = options.fingerprints?.readWithRows ?? false;
  for await (const page of source.scan({ columns, pageSize: PAGE_SIZE, fingerprint })) {
    await yieldToEventLoop();
    const rows = page.filter((row) => {
      const email = parseEmail(row.values[ctx.mapping.emailColumn]);
      if (!email.ok) return false;
      const hash = emailHash(email.key);
      if (streamed.keyByEmailHash.get(hash) !== row.key) return false;
      // Imported once, even if the source meanwhile repeats the row.
      streamed.keyByEmailHash.delete(hash);
      return true;
    });
    if (rows.length === 0) continue;
    const plan = planSync(ctx, { rows, users: [], links: [] });
    issues.push(...plan.issues);
    await run.apply(plan);
    done += rows.length;
    options.onProgress?.({ done, total });
  }
  const applied = await run.finish();
  return { ...applied, issues: [...issues, ...applied.issues] };
}
