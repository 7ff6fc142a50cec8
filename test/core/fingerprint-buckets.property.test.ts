/**
 * core/fingerprint-buckets.ts: two sides' fingerprints, digested by bucket, differ in
 * exactly the buckets whose fingerprints differ, whatever the edits between them.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { differingBuckets } from '../../src/core/fingerprint-buckets.js';
import { bucketOf, digestsOf } from '../support/bucket-digests.js';

const INT64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String);
/** Fingerprints crowded into a few buckets, so that buckets hold several and edits meet. */
const CROWDED = fc
  .tuple(fc.bigInt({ min: -(2n ** 47n), max: 2n ** 47n - 1n }), fc.integer({ min: 0, max: 7 }))
  .map(([high, bucket]) => String(high * 65536n + BigInt(bucket)));
const FINGERPRINT = fc.oneof(INT64, CROWDED);

type Edit = { kind: 'remove' | 'change'; at: number; to: string } | { kind: 'add'; to: string };
const EDIT: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constantFrom('remove' as const, 'change' as const), at: fc.nat(), to: FINGERPRINT }),
  fc.record({ kind: fc.constant('add' as const), to: FINGERPRINT }),
);

function edited(fingerprints: readonly string[], edits: readonly Edit[]): string[] {
  const out = [...fingerprints];
  for (const edit of edits) {
    if (edit.kind === 'add') out.push(edit.to);
    else if (out.length > 0) {
      const at = edit.at % out.length;
      if (edit.kind === 'remove') out.splice(at, 1);
      else out[at] = edit.to;
    }
  }
  return out;
}

/** The buckets whose fingerprints, as multisets, differ between the two sides. */
function differingByHand(a: readonly string[], b: readonly string[]): number[] {
  const inBucket = (list: readonly string[]) => {
    const buckets = new Map<number, string[]>();
    for (const f of list) buckets.set(bucketOf(f), [...(buckets.get(bucketOf(f)) ?? []), f]);
    return new Map([...buckets].map(([bucket, fs]) => [bucket, fs.sort().join(',')]));
  };
  const [x, y] = [inBucket(a), inBucket(b)];
  const all = new Set([...x.keys(), ...y.keys()]);
  return [...all].filter((bucket) => x.get(bucket) !== y.get(bucket)).sort((p, q) => p - q);
}

describe('fingerprint buckets', () => {
  it('differ in exactly the buckets whose fingerprints differ, and count the rest as alike', () => {
    fc.assert(
      fc.property(
        fc.array(FINGERPRINT, { maxLength: 60 }),
        fc.array(EDIT, { maxLength: 8 }),
        (ours, edits) => {
          const theirs = edited(ours, edits);
          const { differing, alikeRows } = differingBuckets(digestsOf(ours), digestsOf(theirs));
          const byHand = differingByHand(ours, theirs);
          expect(differing).toEqual(byHand);
          expect(alikeRows).toBe(theirs.filter((f) => !byHand.includes(bucketOf(f))).length);
          // Nothing edited: nothing differs, every row is alike.
          expect(differingBuckets(digestsOf(ours), digestsOf([...ours].reverse()))).toEqual({
            differing: [],
            alikeRows: ours.length,
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});
