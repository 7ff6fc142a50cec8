/**
 * core/fingerprint-buckets.ts worked out in JavaScript, from fingerprints as a connector
 * gives them: what a source's and a directory's SQL must both come to.
 */
import { BUCKET_BITS, type BucketDigest } from '../../src/core/fingerprint-buckets.js';

const MASK = (1n << BigInt(BUCKET_BITS)) - 1n;

export function bucketOf(fingerprint: string): number {
  return Number(BigInt(fingerprint) & MASK);
}

/** The digests of these fingerprints, by bucket in order. */
export function digestsOf(fingerprints: Iterable<string>): BucketDigest[] {
  const buckets = new Map<number, { rows: number; hi: bigint; lo: bigint }>();
  for (const text of fingerprints) {
    const f = BigInt(text);
    // BigInt shifts are arithmetic, as SQL's are on a signed 64-bit integer.
    const bucket = buckets.get(bucketOf(text)) ?? { rows: 0, hi: 0n, lo: 0n };
    bucket.rows += 1;
    bucket.hi += f >> 32n;
    bucket.lo += (f >> BigInt(BUCKET_BITS)) & ((1n << BigInt(32 - BUCKET_BITS)) - 1n);
    buckets.set(bucketOf(text), bucket);
  }
  return [...buckets]
    .sort(([a], [b]) => a - b)
    .map(([bucket, { rows, hi, lo }]) => ({ bucket, rows, sums: `${hi}/${lo}` }));
}

export function byBucket(digests: readonly BucketDigest[]): BucketDigest[] {
  return [...digests].sort((a, b) => a.bucket - b.bucket);
}
