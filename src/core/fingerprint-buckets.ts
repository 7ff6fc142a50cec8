/**
 * Fingerprint buckets: how a full sync tells that a million rows are as they were without
 * moving a million fingerprints (see sync/fingerprints.ts). A source that digests buckets
 * gives each row a fingerprint that is a signed 64-bit integer (as decimal text) over the
 * row's key and values. Its low BUCKET_BITS pick the row's bucket; a bucket's digest is
 * how many fingerprints it holds and the sums of their other bits, in two parts so that
 * each sum stays exact in any SQL database's 64-bit integers and in a JavaScript number
 * (a million times 2^31 is under 2^51).
 *
 * The source digests its rows' fingerprints, the directory the links' it trusts, each in
 * its own database: only the buckets that differ are then compared row by row. A changed
 * row leaves the bucket of its old fingerprint and joins another's, so both differ; a row
 * added or gone changes its bucket's count. With the key inside the fingerprint, two rows
 * cannot trade places unseen.
 */
export const BUCKET_BITS = 16;
export const BUCKET_MASK = 2 ** BUCKET_BITS - 1;

// Each part a 32-bit integer, so that PostgreSQL sums it in a 64-bit one, not a numeric.
const SUMS =
  `sum(cast(f >> 32 as integer)) as hi, ` +
  `sum(cast((f >> ${BUCKET_BITS}) & ${2 ** (32 - BUCKET_BITS) - 1} as integer)) as lo`;

/**
 * The select list that digests a relation's fingerprints, a column `f`, by bucket (with
 * `group by 1`): the bucket `b`, the count `n` and the sums `hi` and `lo`.
 */
export const BUCKET_DIGEST_SELECT = `(f & ${BUCKET_MASK}) as b, count(*) as n, ${SUMS}`;

/** One bucket's digest. */
export interface BucketDigest {
  readonly bucket: number;
  /** How many fingerprints the bucket holds. */
  readonly rows: number;
  /** The sums of their bits above the bucket's, as one comparable text. */
  readonly sums: string;
}

/** A row of a BUCKET_DIGEST_SELECT as a driver returns it (numbers, bigints or numeric text). */
export interface BucketDigestRow {
  readonly b: unknown;
  readonly n: unknown;
  readonly hi: unknown;
  readonly lo: unknown;
}

export function toBucketDigest(row: BucketDigestRow): BucketDigest {
  return { bucket: Number(row.b), rows: Number(row.n), sums: `${String(row.hi)}/${String(row.lo)}` };
}

/** The buckets whose digests differ between two sides (a bucket one side lacks differs). */
export function differingBuckets(
  ours: readonly BucketDigest[],
  theirs: readonly BucketDigest[],
): { differing: number[]; alikeRows: number } {
  const mine = new Map(ours.map((d) => [d.bucket, d]));
  const differing: number[] = [];
  let alikeRows = 0;
  for (const digest of theirs) {
    const own = mine.get(digest.bucket);
    mine.delete(digest.bucket);
    if (own && own.rows === digest.rows && own.sums === digest.sums) alikeRows += digest.rows;
    else differing.push(digest.bucket);
  }
  for (const bucket of mine.keys()) differing.push(bucket);
  return { differing: differing.sort((a, b) => a - b), alikeRows };
}
