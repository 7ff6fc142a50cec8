/**
 * Full syncs that read little. A source that digests its own rows (`scanFingerprints`) lets
 * a full sync skip reading in full every row that is as it was when its pair last needed
 * nothing, and the users behind them:
 *
 * - a link keeps its row's fingerprint from the last run that found the pair quiet, or
 *   that imported the row, with the version its user was at then; writing the link
 *   forgets it;
 * - the connection keeps what the fingerprints were taken under (the tag: columns,
 *   mapping, filter), set by the last full run that vouched for every one of them;
 * - a row is quiet when its fingerprint is its link's and the link's user is still at the
 *   version the fingerprint was taken at. Versions, not times: every write of a user bumps
 *   its version, in any process, whatever its clock says.
 *
 * The other rows are looked up by key and planned as in any full sync; a link whose row no
 * longer comes back is a row deleted. Past MOST_LOOKED_UP such rows, scanning is the
 * cheaper way, and the sync reads every row as it does without fingerprints.
 *
 * A source that also digests its fingerprints by bucket (core/fingerprint-buckets.ts) is
 * compared bucket by bucket first, and only the rows and links of the buckets that differ
 * are compared one by one: a sync with nothing to do then reads no fingerprint at all.
 */
import { createHash } from 'node:crypto';
import type { ConnectionConfig } from '../config.js';
import type { RowFingerprint, SourceConnector, SourceRow } from '../connectors/connector.js';
import { BUCKET_BITS, differingBuckets } from '../core/fingerprint-buckets.js';
import { pairDigest, type DirectoryDigest, type PairDigest, type QuietKeySet } from '../core/quiet-row.js';
import type { ConnectionState, DirectoryStore, FingerprintAt } from '../directory/store.js';
import { HOLD_NEW_ROWS } from './new-rows.js';
import { yieldToEventLoop } from './yield.js';

/** Rows a full sync looks up by key rather than scanning for: no more than it holds new-user rows, so they stay held. */
export const MOST_LOOKED_UP = HOLD_NEW_ROWS;

const PAGE_SIZE = 5000;

/** What the fingerprints of a connection's rows are valid under: the columns read and how they are judged. */
export function fingerprintTag(
  connection: ConnectionConfig,
  keyColumn: string,
  columns: readonly string[],
): string {
  const judged = {
    // The fingerprints' own form: 2 since they cover the key (see core/fingerprint-buckets.ts),
    // 3 since PostgreSQL hashes values, not their text, where it can (postgres-statements.ts).
    form: 3,
    columns,
    keyColumn,
    emailColumn: connection.emailColumn,
    fields: connection.fields,
    filter: connection.filter?.text ?? null,
  };
  return createHash('sha1').update(JSON.stringify(judged)).digest('base64').slice(0, 20);
}

/** A full read that the fingerprints spared: the rows to read in full, the rest known quiet. */
export interface FingerprintCheck {
  /** The links of the rows to read in full and of the rows gone, as digests (not the quiet rows'). */
  readonly directory: DirectoryDigest;
  /** The keys of the rows found quiet without being read. */
  readonly quiet: QuietKeySet;
  /** Rows that changed, are new, repeat a key, or whose user was written: looked up in full. */
  readonly suspectKeys: readonly string[];
}

/**
 * Compares the source's fingerprints with the links'; null when the connection's
 * fingerprints (`state`, as the run read it) cannot be trusted (never vouched for, or
 * taken under another tag than `tag`) or more than `mostLookedUp` rows would have to be
 * read in full.
 */
export async function checkFingerprints(
  store: DirectoryStore,
  connection: ConnectionConfig,
  source: SourceConnector,
  columns: readonly string[],
  { tag, state }: { tag: string; state: ConnectionState },
  { mostLookedUp = MOST_LOOKED_UP } = {},
): Promise<FingerprintCheck | null> {
  if (!source.scanFingerprints) return null;
  if (state.fingerprintTag !== tag || state.fingerprintsCheckedAt === null) return null;

  const { buckets, alikeRows, untrusted } = await bucketsToCompare(store, connection.name, source, columns);
  const suspects = new Set<string>();
  const compare = (quiet: QuietMarks, page: readonly RowFingerprint[]) => {
    for (const { key, fingerprint } of page) {
      if (suspects.has(key)) continue;
      const had = quiet.marks.get(key);
      if (had === fingerprint) quiet.add(key);
      else {
        // A key met twice: neither row is quiet.
        if (had === QUIET) quiet.drop(key);
        suspects.add(key);
      }
    }
  };
  // Both at once: the source digests its rows on its own time while the links are read.
  // Its pages wait only until the links are in, then are compared as they come.
  let loaded: QuietMarks | null = null;
  const waiting: RowFingerprint[][] = [];
  const [, quiet] = await Promise.all([
    (async () => {
      if (buckets?.length === 0) return;
      for await (const page of source.scanFingerprints!({ columns, pageSize: PAGE_SIZE, buckets })) {
        if (loaded) compare(loaded, page);
        else waiting.push(page);
      }
    })(),
    // After the source's query is out: a SQLite directory holds the event loop while it reads.
    yieldToEventLoop()
      .then(() =>
        buckets?.length === 0 && !untrusted
          ? new Map<string, Mark>()
          : trustedFingerprints(store, connection.name, buckets),
      )
      .then((links) => {
        const quiet = new QuietMarks(links, buckets ? { alikeRows, suspects } : null);
        for (const page of waiting.splice(0)) compare(quiet, page);
        return (loaded = quiet);
      }),
  ]);
  if (suspects.size > mostLookedUp) return null;
  // The planner compares the other rows with their pairs, and judges the links of rows gone.
  const others: string[] = [];
  for (const [key, mark] of quiet.marks) if (mark !== QUIET) others.push(key);
  // A suspect the marks lack is a new row, unless its link lies in a bucket found alike:
  // its key repeats (the link's row is as it was, another row has the key too), or, by a
  // chance of about one in 2^48, digests agreed over a change.
  const unmarked = buckets ? [...suspects].filter((key) => !quiet.marks.has(key)) : [];
  const pairs = new Map<string, PairDigest>();
  for (const { link, user, fingerprint } of await store.findLinksWithUsers(connection.name, [
    ...others,
    ...unmarked,
  ])) {
    pairs.set(link.key, pairDigest(link, user, connection.fields, fingerprint));
  }
  for (const key of unmarked) if (pairs.has(key)) quiet.drop(key);
  return { directory: { links: pairs }, quiet, suspectKeys: [...suspects] };
}

/**
 * A link's fingerprint (null: none its user's version vouches for), or QUIET once its row
 * was found to match it. Marking the links' own map spares a set of a million quiet keys.
 */
type Mark = string | null | typeof QUIET;
const QUIET = true;

/**
 * The keys marked QUIET in the links' map, as the read takes quiet keys. When the links
 * were read by bucket, the links of the buckets alike on both sides are quiet unread: the
 * map lacks them, and lacks no other key but the suspects'.
 */
class QuietMarks implements QuietKeySet {
  size: number;
  constructor(
    readonly marks: Map<string, Mark>,
    private readonly unread: { readonly alikeRows: number; readonly suspects: ReadonlySet<string> } | null,
  ) {
    this.size = unread?.alikeRows ?? 0;
  }
  has(key: string): boolean {
    const mark = this.marks.get(key);
    if (mark !== undefined) return mark === QUIET;
    return this.unread !== null && !this.unread.suspects.has(key);
  }
  add(key: string): void {
    if (this.marks.get(key) === QUIET) return;
    this.marks.set(key, QUIET);
    this.size += 1;
  }
  /** A key met again, or a link counted quiet unread whose key is a suspect's: not quiet after all. */
  drop(key: string): void {
    this.marks.set(key, null);
    this.size -= 1;
  }
}

/** What the digests leave to compare one by one (see bucketsToCompare). */
interface BucketsToCompare {
  /** The buckets whose rows and links to compare; undefined: every one, as without digests. */
  readonly buckets: readonly number[] | undefined;
  /** How many rows the other buckets hold (on both sides alike). */
  readonly alikeRows: number;
  /** Whether some links have no trusted fingerprint: they are compared too, whatever their bucket. */
  readonly untrusted: boolean;
}

/** The source's fingerprints and the links' digested by bucket, each side in its own database and both at once. */
async function bucketsToCompare(
  store: DirectoryStore,
  connection: string,
  source: SourceConnector,
  columns: readonly string[],
): Promise<BucketsToCompare> {
  if (!source.digestFingerprints) return { buckets: undefined, alikeRows: 0, untrusted: true };
  const [theirs, ours] = await Promise.all([
    source.digestFingerprints(columns),
    // The source's query goes out first: a SQLite directory holds the event loop while it sums.
    yieldToEventLoop().then(() => store.digestLinkFingerprints(connection)),
  ]);
  const { differing, alikeRows } = differingBuckets(ours.buckets, theirs);
  // Past this, reading by bucket spares little of a full read of the fingerprints.
  if (differing.length > MOST_BUCKETS_COMPARED) return { buckets: undefined, alikeRows: 0, untrusted: true };
  return { buckets: differing, alikeRows, untrusted: ours.untrusted > 0 };
}

/** Differing buckets past which the check reads every fingerprint: half of them. */
const MOST_BUCKETS_COMPARED = 2 ** (BUCKET_BITS - 1);

/**
 * Every link's key → its fingerprint, null where it has none its user's version vouches
 * for; with `buckets`, only the links with no trusted fingerprint and those in them.
 */
async function trustedFingerprints(
  store: DirectoryStore,
  connection: string,
  buckets: readonly number[] | undefined,
): Promise<Map<string, Mark>> {
  const links = new Map<string, Mark>();
  for await (const page of store.scanLinkFingerprints(connection, PAGE_SIZE, buckets)) {
    for (const { key, fingerprint } of page) links.set(key, fingerprint);
    await yieldToEventLoop();
  }
  return links;
}

/** The rows of these keys, read in full with their fingerprints, a page at a time. */
export async function* lookUpRows(
  source: SourceConnector,
  keys: readonly string[],
  columns: readonly string[],
): AsyncIterable<SourceRow[]> {
  for (let i = 0; i < keys.length; i += PAGE_SIZE) {
    yield await source.lookup(source.keyColumn, keys.slice(i, i + PAGE_SIZE), columns, { fingerprint: true });
  }
}

/**
 * What a connection's fingerprints are over: the columns read, and among them the cursor
 * (when no filter may read it), whose change alone leaves a pair as quiet as it was.
 */
export interface FingerprintColumns {
  readonly columns: readonly string[];
  readonly cursor: string | null;
  /**
   * Read rows to import with their fingerprints: a filter reads columns a write-back
   * does not check, so it must ask for the row as read; and `byFingerprint` checks the
   * row by it. Otherwise a write-back gives the fingerprint after it, and only the rows it
   * writes nothing to go without.
   */
  readonly readWithRows: boolean;
  /**
   * An import's write-back checks its row by the fingerprint as read, not value by value
   * (`ConnectorCapabilities.fingerprintsOnServer`): one value per row to send and compare
   * instead of every column read. Stricter, if anything: the fingerprint covers every column
   * read, the cursor too, each in full (a timestamp to the microsecond, where a value is
   * compared to the millisecond); a row whose cursor alone moved is left to the next run.
   */
  readonly byFingerprint: boolean;
}

/**
 * What a full run learns about its links' fingerprints: the quiet rows read in full give
 * theirs, and every other link read or gone loses its own.
 */
export class FingerprintChanges {
  /** Row key → the fingerprint to keep (null: none). */
  readonly changes = new Map<string, FingerprintAt | null>();

  constructor(
    readonly tag: string,
    readonly over: FingerprintColumns,
  ) {}

  /** A row read in full, and whether it was found quiet. */
  read(row: SourceRow, pair: PairDigest | undefined, quiet: boolean): void {
    if (!pair) return;
    this.keep(row.key, pair, quiet ? (row.fingerprint ?? null) : null);
  }

  /** A link whose row was not read, or whose key more than one row had: no fingerprint to trust. */
  forget(key: string, pair: PairDigest): void {
    this.keep(key, pair, null);
  }

  private keep(key: string, pair: PairDigest, fingerprint: string | null): void {
    // The pair's fingerprint is only there while its user's version vouches for it.
    if (fingerprint === pair.fingerprint) this.changes.delete(key);
    else this.changes.set(key, fingerprint === null ? null : { fingerprint, userVersion: pair.userVersion });
  }
}

/**
 * Before a full run applies its plan: the fingerprints it learnt. Before, so the links the
 * plan then writes lose theirs again.
 */
export async function saveFingerprints(
  store: DirectoryStore,
  connection: string,
  learnt: FingerprintChanges | null,
): Promise<void> {
  if (learnt) await store.setFingerprints(connection, learnt.changes);
}

/**
 * After a full run succeeded: every link's fingerprint was checked or replaced by it, so
 * the fingerprints kept are all of its tag.
 */
export async function vouchForFingerprints(
  store: DirectoryStore,
  connection: string,
  learnt: FingerprintChanges | null,
  runStartedAt: string,
): Promise<void> {
  if (!learnt) return;
  await store.setConnectionState(connection, {
    fingerprintTag: learnt.tag,
    fingerprintsCheckedAt: runStartedAt,
  });
}
