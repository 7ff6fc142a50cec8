import { afterEach, describe, expect, it } from 'vitest';
import type { FingerprintAfter, SourceConnector, SourceRow } from '../../src/connectors/connector.js';
import { isUsersyncError } from '../../src/core/errors.js';
import type { BucketDigest } from '../../src/core/fingerprint-buckets.js';
import { bucketOf, byBucket, digestsOf } from '../support/bucket-digests.js';

/**
 * The behaviour every connector shares (SPEC §8), run by each connector's test file
 * against a real source of its kind. A kind that cannot pass a test lists it in
 * `skip` with the reason, so the gap is visible in the test report.
 */

export const CONTRACT_COLUMNS = ['id', 'email', 'full_name', 'plan', 'Mixed Case-Col'] as const;
export type ContractColumn = (typeof CONTRACT_COLUMNS)[number];
export type ContractRow = Readonly<Record<ContractColumn, string>>;

/** A fresh source holding given rows, keyed by `id`, with `email` unique where the kind can enforce it. */
export interface ContractSource {
  readonly connector: SourceConnector;
  /** Changes a row as another program would, without the connector. */
  setValue(key: string, column: ContractColumn, value: string): Promise<void>;
  removeRow(key: string): Promise<void>;
  /** The source's whole content, to prove a refused write changed nothing. */
  snapshot(): Promise<string>;
}

export type MakeContractSource = (
  rows: readonly ContractRow[],
  options: { readonly readOnly: boolean },
) => Promise<ContractSource>;

export interface ContractOptions {
  /** Test name → why this kind skips it. */
  readonly skip?: Readonly<Record<string, string>>;
  /** The source assigns the key of a new row itself instead of taking the fallback key. */
  readonly generatesKeys?: boolean;
}

const DIGESTS = 'fingerprints digested by bucket: what they add up to, and a read of some buckets';

/** The skips of a kind that cannot digest its rows itself: a full sync of it reads every row. */
export const NO_FINGERPRINTS: Readonly<Record<string, string>> = {
  'fingerprints: one per row, the same a row read in full or looked up carries': 'no scanFingerprints',
  'a fingerprint changes with the columns digested and only with them': 'no scanFingerprints',
  'an update asking for its fingerprint after gets it, and asking for the row as read lands only while it is':
    'no scanFingerprints',
  [DIGESTS]: 'no scanFingerprints',
};

export const CONTRACT_ROWS: readonly ContractRow[] = [1, 2, 3, 4, 5].map((n) => ({
  id: `u${n}`,
  email: `user${n}@example.com`,
  full_name: `User ${n}`,
  plan: n % 2 === 0 ? 'pro' : 'free',
  'Mixed Case-Col': `mixed ${n}`,
}));

const ALL = CONTRACT_COLUMNS.filter((column) => column !== 'id');

function newRow(n: number, overrides: Partial<ContractRow> = {}): Record<string, string> {
  return {
    id: `n${n}`,
    email: `new${n}@example.com`,
    full_name: `New ${n}`,
    plan: 'free',
    'Mixed Case-Col': `new ${n}`,
    ...overrides,
  };
}

export async function scanAll(connector: SourceConnector, columns: readonly string[] = ALL, pageSize = 100) {
  const pages: SourceRow[][] = [];
  for await (const page of connector.scan({ columns, pageSize })) pages.push(page);
  const rows = pages.flat();
  return { pages, rows, byKey: new Map(rows.map((row) => [row.key, row.values])) };
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isUsersyncError(error) ? error.code : error).toBe(code);
}

export function runConnectorContract(
  name: string,
  makeSource: MakeContractSource,
  options: ContractOptions = {},
) {
  const skip = options.skip ?? {};
  const defined = new Set<string>();
  const opened: SourceConnector[] = [];

  function test(title: string, body: () => Promise<void>) {
    defined.add(title);
    const reason = skip[title];
    if (reason === undefined) it(title, body);
    else it.skip(`${title} (skipped: ${reason})`, body);
  }

  async function source(rows: readonly ContractRow[] = CONTRACT_ROWS, readOnly = false) {
    const made = await makeSource(rows, { readOnly });
    opened.push(made.connector);
    return made;
  }

  describe(`${name} connector contract`, () => {
    afterEach(async () => {
      for (const connector of opened.splice(0)) await connector.close();
    });

    test('describe lists every column', async () => {
      const { connector } = await source();
      const description = await connector.describe();
      expect(description.location).not.toBe('');
      expect(description.columns.map((c) => c.name)).toEqual(expect.arrayContaining([...CONTRACT_COLUMNS]));
      expect(connector.keyColumn).toBe('id');
    });

    test('scan returns every row once, in pages of the asked size', async () => {
      const { connector } = await source();
      const { pages, rows } = await scanAll(connector, ALL, 2);
      expect(pages.map((page) => page.length)).toEqual([2, 2, 1]);
      expect(rows.map((row) => row.key).sort()).toEqual(['u1', 'u2', 'u3', 'u4', 'u5']);
      const u3 = rows.find((row) => row.key === 'u3');
      expect(u3?.values).toEqual({
        email: 'user3@example.com',
        full_name: 'User 3',
        plan: 'free',
        'Mixed Case-Col': 'mixed 3',
      });
    });

    test('scan reads only the asked-for columns, awkward names included', async () => {
      const { connector } = await source();
      const { rows } = await scanAll(connector, ['Mixed Case-Col', 'email']);
      expect(Object.keys(rows[0]?.values ?? {}).sort()).toEqual(['Mixed Case-Col', 'email']);
    });

    test('scan of an empty source yields no rows', async () => {
      const { connector } = await source([]);
      expect((await scanAll(connector)).rows).toEqual([]);
    });

    test('lookup by email finds the matching rows and nothing else', async () => {
      const { connector } = await source();
      const found = await connector.lookup(
        'email',
        ['user2@example.com', 'user4@example.com', 'nobody@example.com'],
        ['email', 'plan'],
      );
      expect(found.map((row) => row.key).sort()).toEqual(['u2', 'u4']);
      expect(found.find((row) => row.key === 'u2')?.values).toEqual({
        email: 'user2@example.com',
        plan: 'pro',
      });
    });

    test('a case-insensitive lookup matches emails whatever their case and surrounding spaces', async () => {
      const { connector, setValue } = await source();
      await setValue('u3', 'email', '  User3@Example.COM ');
      const found = await connector.lookup('email', ['USER3@example.com', 'User2@EXAMPLE.com '], ['email'], {
        caseInsensitive: true,
      });
      expect(found.map((row) => row.key).sort()).toEqual(['u2', 'u3']);
      expect(await connector.lookup('email', ['USER2@example.com'], ['email'])).toEqual([]);
    });

    test('lookup by a column with an awkward name works', async () => {
      const { connector } = await source();
      const found = await connector.lookup('Mixed Case-Col', ['mixed 5'], ['full_name']);
      expect(found).toEqual([{ key: 'u5', values: { full_name: 'User 5' } }]);
    });

    test('lookup of no values finds nothing', async () => {
      const { connector } = await source();
      expect(await connector.lookup('email', [], ['email'])).toEqual([]);
      expect(await connector.lookup('email', [null, undefined], ['email'])).toEqual([]);
    });

    test('an inserted row with its key among the values keeps that key', async () => {
      const { connector } = await source();
      const results = await connector.insert([{ values: newRow(1), fallbackKey: 'dir-1' }]);
      expect(results).toEqual([{ status: 'ok', key: 'n1' }]);
      expect((await scanAll(connector)).byKey.get('n1')).toEqual({
        email: 'new1@example.com',
        full_name: 'New 1',
        plan: 'free',
        'Mixed Case-Col': 'new 1',
      });
    });

    test('an inserted row without a key gets one from the source or the fallback key', async () => {
      const { connector } = await source();
      const { id: _id, ...values } = newRow(2);
      const [result] = await connector.insert([{ values, fallbackKey: 'dir-2' }]);
      expect(result?.status).toBe('ok');
      const key = result?.status === 'ok' ? result.key : '';
      if (options.generatesKeys) expect(CONTRACT_ROWS.map((row) => row.id)).not.toContain(key);
      else expect(key).toBe('dir-2');
      expect((await scanAll(connector)).byKey.get(key)?.email).toBe('new2@example.com');
    });

    test('insert results come in the order of the input', async () => {
      const { connector } = await source();
      const results = await connector.insert(
        [3, 4, 5].map((n) => ({ values: newRow(n), fallbackKey: `dir-${n}` })),
      );
      expect(results).toEqual(['n3', 'n4', 'n5'].map((key) => ({ status: 'ok', key })));
      expect((await scanAll(connector)).rows).toHaveLength(8);
    });

    test('one failing row in an insert batch does not stop the others', async () => {
      const { connector } = await source();
      const results = await connector.insert([
        { values: newRow(6), fallbackKey: 'dir-6' },
        { values: newRow(7, { email: 'user1@example.com' }), fallbackKey: 'dir-7' },
        { values: newRow(8), fallbackKey: 'dir-8' },
      ]);
      expect(results.map((r) => r.status)).toEqual(['ok', 'failed', 'ok']);
      const failure = results[1];
      expect(failure?.status === 'failed' && failure.error).toBeTruthy();
      const { byKey } = await scanAll(connector);
      expect([...byKey.keys()].sort()).toEqual(['n6', 'n8', 'u1', 'u2', 'u3', 'u4', 'u5']);
    });

    test('a single failing row is reported as failed, and the source keeps what it had', async () => {
      const made = await source();
      const before = await made.snapshot();
      const [inserted] = await made.connector.insert([
        { values: newRow(7, { email: 'user1@example.com' }), fallbackKey: 'dir-7' },
      ]);
      expect(inserted?.status === 'failed' && inserted.error).toBeTruthy();
      const [updated] = await made.connector.update([
        { key: 'u2', set: { email: 'user1@example.com' }, expect: { email: 'user2@example.com' } },
      ]);
      expect(updated?.status === 'failed' && updated.error).toBeTruthy();
      expect(await made.snapshot()).toBe(before);
    });

    test('a conditional update applies when the row still holds the expected values', async () => {
      const { connector } = await source();
      const results = await connector.update([
        {
          key: 'u1',
          set: { plan: 'pro', 'Mixed Case-Col': 'changed' },
          expect: { plan: 'free', 'Mixed Case-Col': 'mixed 1' },
        },
      ]);
      expect(results).toEqual([{ status: 'ok' }]);
      expect((await scanAll(connector)).byKey.get('u1')).toMatchObject({
        plan: 'pro',
        'Mixed Case-Col': 'changed',
      });
    });

    test('an update whose row was changed meanwhile is stale and keeps the other change', async () => {
      const made = await source();
      await made.setValue('u2', 'plan', 'enterprise');
      const results = await made.connector.update([
        { key: 'u2', set: { plan: 'free' }, expect: { plan: 'pro' } },
      ]);
      expect(results).toEqual([{ status: 'stale' }]);
      expect((await scanAll(made.connector)).byKey.get('u2')?.plan).toBe('enterprise');
    });

    test('an update whose row is gone is stale', async () => {
      const made = await source();
      await made.removeRow('u3');
      expect(
        await made.connector.update([{ key: 'u3', set: { plan: 'pro' }, expect: { plan: 'free' } }]),
      ).toEqual([{ status: 'stale' }]);
      expect((await scanAll(made.connector)).rows).toHaveLength(4);
    });

    test('updates in one batch are each checked and applied', async () => {
      const made = await source();
      await made.setValue('u5', 'full_name', 'Renamed elsewhere');
      const results = await made.connector.update([
        { key: 'u1', set: { full_name: 'One' }, expect: { full_name: 'User 1' } },
        { key: 'u5', set: { full_name: 'Five' }, expect: { full_name: 'User 5' } },
        { key: 'u4', set: { full_name: 'Four' }, expect: { full_name: 'User 4' } },
      ]);
      expect(results.map((r) => r.status)).toEqual(['ok', 'stale', 'ok']);
      const { byKey } = await scanAll(made.connector);
      expect([1, 4, 5].map((n) => byKey.get(`u${n}`)?.full_name)).toEqual([
        'One',
        'Four',
        'Renamed elsewhere',
      ]);
    });

    test('a delete removes the row', async () => {
      const { connector } = await source();
      expect(await connector.delete(['u2', 'u4'])).toEqual([{ status: 'ok' }, { status: 'ok' }]);
      expect((await scanAll(connector)).rows.map((row) => row.key).sort()).toEqual(['u1', 'u3', 'u5']);
    });

    test('deleting a key that is not there is ok', async () => {
      const { connector } = await source();
      expect(await connector.delete(['nobody'])).toEqual([{ status: 'ok' }]);
      expect((await scanAll(connector)).rows).toHaveLength(5);
    });

    test('a read-only connector refuses every write and changes nothing', async () => {
      const made = await source(CONTRACT_ROWS, true);
      const before = await made.snapshot();
      expect(made.connector.capabilities.readOnly).toBe(true);
      await expectCode(
        made.connector.insert([{ values: newRow(9), fallbackKey: 'dir-9' }]),
        'source.read_only',
      );
      await expectCode(
        made.connector.update([{ key: 'u1', set: { plan: 'pro' }, expect: { plan: 'free' } }]),
        'source.read_only',
      );
      await expectCode(made.connector.delete(['u1']), 'source.read_only');
      expect(await made.snapshot()).toBe(before);
      expect((await scanAll(made.connector)).rows).toHaveLength(5);
    });

    test('capabilities declare the write mode and a batch size', async () => {
      const { connector } = await source();
      expect(connector.capabilities.readOnly).toBe(false);
      expect(connector.capabilities.writeBatchSize).toBeGreaterThan(0);
      expect(typeof connector.capabilities.supportsCursor).toBe('boolean');
      expect(connector.capabilities.supportsCursor).toBe(typeof connector.readChangedSince === 'function');
    });

    test('fingerprints: one per row, the same a row read in full or looked up carries', async () => {
      const { connector } = await source();
      const fingerprints = new Map<string, string>();
      for await (const page of connector.scanFingerprints!({ columns: ALL, pageSize: 2 })) {
        expect(page.length).toBeLessThanOrEqual(2);
        for (const { key, fingerprint } of page) fingerprints.set(key, fingerprint);
      }
      expect([...fingerprints.keys()].sort()).toEqual(['u1', 'u2', 'u3', 'u4', 'u5']);
      expect(new Set(fingerprints.values()).size).toBe(5);
      const scanned: SourceRow[] = [];
      for await (const page of connector.scan({ columns: ALL, pageSize: 2, fingerprint: true }))
        scanned.push(...page);
      expect(new Map(scanned.map((row) => [row.key, row.fingerprint]))).toEqual(fingerprints);
      const found = await connector.lookup('id', ['u2', 'u5'], ALL, { fingerprint: true });
      expect(found.map((row) => [row.key, row.fingerprint]).sort()).toEqual([
        ['u2', fingerprints.get('u2')],
        ['u5', fingerprints.get('u5')],
      ]);
      // Asked for nothing, rows carry none.
      expect((await scanAll(connector)).rows.every((row) => row.fingerprint === undefined)).toBe(true);
    });

    test('a fingerprint changes with the columns digested and only with them', async () => {
      const made = await source();
      const digested = ['email', 'Mixed Case-Col'];
      const fingerprints = async () => {
        const all = new Map<string, string>();
        for await (const page of made.connector.scanFingerprints!({ columns: digested, pageSize: 100 })) {
          for (const { key, fingerprint } of page) all.set(key, fingerprint);
        }
        return all;
      };
      const before = await fingerprints();
      await made.setValue('u2', 'plan', 'enterprise');
      expect(await fingerprints()).toEqual(before);
      await made.setValue('u3', 'Mixed Case-Col', 'changed');
      const after = await fingerprints();
      expect(after.get('u3')).not.toBe(before.get('u3'));
      expect([...after].filter(([key]) => key !== 'u3')).toEqual([...before].filter(([key]) => key !== 'u3'));
      await made.setValue('u3', 'Mixed Case-Col', 'mixed 3');
      expect(await fingerprints()).toEqual(before);
    });

    test(DIGESTS, async () => {
      const made = await source();
      const { connector } = made;
      const fingerprints = async (buckets?: readonly number[]) => {
        const all = new Map<string, string>();
        for await (const page of connector.scanFingerprints!({ columns: ALL, pageSize: 2, buckets }))
          for (const { key, fingerprint } of page) all.set(key, fingerprint);
        return all;
      };
      const before = await fingerprints();
      expect(byBucket(await connector.digestFingerprints!(ALL))).toEqual(digestsOf(before.values()));

      const some = [bucketOf(before.get('u2')!), bucketOf(before.get('u4')!)];
      const inSome = [...before].filter(([, f]) => some.includes(bucketOf(f)));
      expect([...(await fingerprints(some))].sort()).toEqual(inSome.sort());
      expect((await fingerprints([])).size).toBe(0);

      // A changed row leaves its bucket for another: both digests change, and only theirs.
      await made.setValue('u3', 'full_name', 'Renamed');
      const after = await fingerprints();
      const digests = byBucket(await connector.digestFingerprints!(ALL));
      expect(digests).toEqual(digestsOf(after.values()));
      const moved = new Set([bucketOf(before.get('u3')!), bucketOf(after.get('u3')!)]);
      const unmoved = (list: readonly BucketDigest[]) => list.filter((d) => !moved.has(d.bucket));
      expect(unmoved(digests)).toEqual(unmoved(digestsOf(before.values())));
    });

    test('an update asking for its fingerprint after gets it, and asking for the row as read lands only while it is', async () => {
      const made = await source();
      const { connector } = made;
      const read = async (keys: string[]) =>
        new Map(
          (await connector.lookup('id', keys, ALL, { fingerprint: true })).map((r) => [
            r.key,
            r.fingerprint!,
          ]),
        );
      const fingerprints = async () => {
        const all = new Map<string, string>();
        for await (const page of connector.scanFingerprints!({ columns: ALL, pageSize: 100 }))
          for (const { key, fingerprint } of page) all.set(key, fingerprint);
        return all;
      };
      const rename = (key: string, from: string, to: string, fingerprint?: FingerprintAfter) => ({
        key,
        set: { full_name: to },
        expect: { full_name: from },
        ...(fingerprint === undefined ? {} : { fingerprint }),
      });
      const asRead = (fingerprint: string | undefined) => ({ columns: ALL, asRead: fingerprint });
      const first = await read(['u1', 'u2', 'u3']);
      // Another program changes u3 and u4 in a column the update does not expect, but the fingerprint covers.
      await made.setValue('u3', 'Mixed Case-Col', 'changed meanwhile');
      await made.setValue('u4', 'Mixed Case-Col', 'changed meanwhile');
      const results = await connector.update([
        rename('u1', 'User 1', 'One', asRead(first.get('u1'))),
        rename('u2', 'User 2', 'Two', asRead(first.get('u2'))),
        rename('u3', 'User 3', 'Three', asRead(first.get('u3'))),
        rename('u4', 'User 4', 'Four', { columns: ALL }),
        rename('u5', 'User 5', 'Five'),
      ]);
      let now = await fingerprints();
      expect(results).toEqual([
        { status: 'ok', fingerprint: now.get('u1') },
        { status: 'ok', fingerprint: now.get('u2') },
        { status: 'stale' },
        { status: 'ok', fingerprint: now.get('u4') },
        { status: 'ok' },
      ]);
      expect(now.get('u1')).not.toBe(first.get('u1'));
      expect((await scanAll(connector)).byKey.get('u3')?.full_name).toBe('User 3');

      // Again with a row the source refuses among them (the batch is then written row by row),
      // and a fingerprint read before the row last changed.
      const second = await read(['u1']);
      const again = await connector.update([
        rename('u1', 'One', 'One again', asRead(second.get('u1'))),
        { key: 'u5', set: { email: 'user4@example.com' }, expect: { email: 'user5@example.com' } },
        rename('u2', 'Two', 'Two again', asRead(first.get('u2'))),
        rename('u4', 'Four', 'Four again', { columns: ALL }),
      ]);
      now = await fingerprints();
      expect(again[0]).toEqual({ status: 'ok', fingerprint: now.get('u1') });
      expect(again[1]?.status).toBe('failed');
      expect(again[2]).toEqual({ status: 'stale' });
      expect(again[3]).toEqual({ status: 'ok', fingerprint: now.get('u4') });
      expect((await scanAll(connector)).byKey.get('u2')?.full_name).toBe('Two');
    });

    const unknown = Object.keys(skip).filter((title) => !defined.has(title));
    if (unknown.length > 0)
      throw new Error(`${name}: skipped contract tests that do not exist: ${unknown.join(', ')}`);
  });
}
