import { describe, expect, it } from 'vitest';
import type { DirectoryOp, FingerprintAt } from '../../../src/directory/store.js';
import { bucketOf, byBucket, digestsOf } from '../../support/bucket-digests.js';
import { collect, link, type MakeStore, newUser, useDirectory } from './harness.js';

export function describeBatch(makeStore: MakeStore): void {
  describe('links and applyBatch', () => {
    const open = useDirectory(makeStore);

    it('createUser steps create the users and their links', async () => {
      const { store } = await open();
      const results = await store.applyBatch('crm', [
        {
          type: 'createUser',
          user: newUser('u1', ' Ann@Example.com', { custom: { plan: 'pro' } }),
          link: link('u1', 'k1'),
        },
        {
          type: 'createUser',
          user: newUser('u2', 'bo@example.com', { lastSeenAt: '2025-02-01T00:00:00.000Z' }),
          link: link('u2', 'k2', { baseline: { name: 'Bo', 'custom.plan': null }, suspended: true }),
        },
      ]);
      expect(results).toEqual(['ok', 'ok']);
      expect(await store.getUser('u1')).toMatchObject({
        email: 'Ann@Example.com',
        custom: { plan: 'pro' },
        version: 1,
      });
      expect((await store.getUser('u2'))?.lastSeenAt).toBe('2025-02-01T00:00:00.000Z');
      expect(await store.linksOfUser('crm', 'u2')).toEqual([
        link('u2', 'k2', { baseline: { name: 'Bo', 'custom.plan': null }, suspended: true }),
      ]);
      expect(await store.linksOfUser('other', 'u2')).toEqual([]);
    });

    it('createUser steps past one multi-row statement store each user and link with its own values', async () => {
      const { store } = await open();
      // 450 = two full statements of 200 (the second reuses the first's text) and one of 50.
      const ids = Array.from({ length: 450 }, (_, i) => `u${String(i).padStart(3, '0')}`);
      const userOf = (id: string, i: number) =>
        newUser(id, `${id}@example.com`, {
          name: i % 3 === 0 ? null : `Name ${i}`,
          lastSeenAt: i % 2 === 0 ? null : `2025-03-${String((i % 28) + 1).padStart(2, '0')}T00:00:00.000Z`,
          custom: { n: i },
        });
      const linkOf = (id: string, i: number) =>
        link(id, `k${i}`, { baseline: { name: `Name ${i}` }, suspended: i % 5 === 0 });
      for (const part of [ids.slice(0, 225), ids.slice(225)]) {
        const results = await store.applyBatch(
          'crm',
          part.map((id) => {
            const i = ids.indexOf(id);
            return { type: 'createUser', user: userOf(id, i), link: linkOf(id, i) };
          }),
        );
        expect(results.every((r) => r === 'ok')).toBe(true);
      }
      for (const [i, id] of ids.entries()) {
        const expected = userOf(id, i);
        expect(await store.getUser(id)).toMatchObject({
          email: expected.email,
          name: expected.name,
          lastSeenAt: expected.lastSeenAt,
          custom: { n: i },
        });
        expect(await store.linksOfUser('crm', id)).toEqual([linkOf(id, i)]);
      }
    });

    it('a createUser step whose email is taken is a conflict and the rest of the batch is applied', async () => {
      const { store } = await open();
      await store.createUser({ email: 'ann@example.com' });
      const results = await store.applyBatch('crm', [
        { type: 'createUser', user: newUser('u1', 'bo@example.com'), link: link('u1', 'k1') },
        { type: 'createUser', user: newUser('u2', 'ANN@example.com'), link: link('u2', 'k2') },
        { type: 'createUser', user: newUser('u3', 'bo@EXAMPLE.com'), link: link('u3', 'k3') },
        { type: 'createUser', user: newUser('u4', 'cy@example.com'), link: link('u4', 'k4') },
      ]);
      expect(results).toEqual(['ok', 'conflict', 'conflict', 'ok']);
      expect(await store.getUser('u2')).toBeNull();
      expect(await store.getUser('u3')).toBeNull();
      expect((await collect(store.scanLinks('crm', 10))).flat().map((l) => l.key)).toEqual(['k1', 'k4']);
    });

    it('an updateUser step patches the user, bumps its version and writes the link', async () => {
      const { store } = await open();
      await store.applyBatch('crm', [
        {
          type: 'createUser',
          user: newUser('u1', 'ann@example.com', { custom: { plan: 'free', seats: 2 } }),
          link: link('u1', 'k1'),
        },
      ]);
      const baseline = { name: 'Ann', 'custom.plan': 'pro' };
      const results = await store.applyBatch('crm', [
        {
          type: 'updateUser',
          userId: 'u1',
          expectedVersion: 1,
          patch: { name: 'Ann', custom: { plan: 'pro', seats: null } },
          link: link('u1', 'k1', { baseline }),
        },
      ]);
      expect(results).toEqual(['ok']);
      expect(await store.getUser('u1')).toMatchObject({ name: 'Ann', custom: { plan: 'pro' }, version: 2 });
      expect(await store.linksOfUser('crm', 'u1')).toEqual([link('u1', 'k1', { baseline })]);
    });

    it('many updateUser steps in one batch: each shape of patch, a stale one, an email change, no patch', async () => {
      const { store } = await open();
      const users = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6'];
      await store.applyBatch(
        'crm',
        users.map((id) => ({
          type: 'createUser' as const,
          user: newUser(id, `${id}@example.com`, { name: id, custom: { plan: 'free' } }),
          link: link(id, `k-${id}`),
        })),
      );
      await store.updateUser('u4', { name: 'moved on' }); // now at version 2
      const results = await store.applyBatch('crm', [
        {
          type: 'updateUser',
          userId: 'u1',
          expectedVersion: 1,
          patch: { name: 'One' },
          link: link('u1', 'k-u1'),
        },
        {
          type: 'updateUser',
          userId: 'u2',
          expectedVersion: 1,
          patch: { custom: { plan: 'pro' } },
          link: link('u2', 'k-u2'),
        },
        {
          type: 'updateUser',
          userId: 'u3',
          expectedVersion: 1,
          patch: { name: 'Three', avatar: 'https://x.io/3.png', createdAt: '2026-01-02T03:04:05.000Z' },
          link: link('u3', 'k-u3'),
        },
        {
          type: 'updateUser',
          userId: 'u4',
          expectedVersion: 1,
          patch: { name: 'Four' },
          link: link('u4', 'k-new'),
        },
        {
          type: 'updateUser',
          userId: 'u5',
          expectedVersion: 1,
          patch: { email: 'five@example.com' },
          link: link('u5', 'k-u5'),
        },
        {
          type: 'updateUser',
          userId: 'u6',
          expectedVersion: 1,
          patch: null,
          link: link('u6', 'k-u6', { suspended: true }),
        },
      ]);
      expect(results).toEqual(['ok', 'ok', 'ok', 'stale', 'ok', 'ok']);
      expect(await store.getUser('u1')).toMatchObject({ name: 'One', custom: { plan: 'free' }, version: 2 });
      expect(await store.getUser('u2')).toMatchObject({ name: 'u2', custom: { plan: 'pro' }, version: 2 });
      expect(await store.getUser('u3')).toMatchObject({
        name: 'Three',
        avatar: 'https://x.io/3.png',
        createdAt: '2026-01-02T03:04:05.000Z',
        version: 2,
      });
      expect(await store.getUser('u4')).toMatchObject({ name: 'moved on', version: 2 });
      expect(await store.getUser('u5')).toMatchObject({ email: 'five@example.com', version: 2 });
      expect(await store.getUser('u6')).toMatchObject({ version: 1 });
      const links = (await collect(store.scanLinks('crm', 10))).flat();
      // The stale step wrote no link; the others did, in full.
      expect(links.map((l) => `${l.key}:${l.userId}`)).toEqual([
        'k-u1:u1',
        'k-u2:u2',
        'k-u3:u3',
        'k-u4:u4',
        'k-u5:u5',
        'k-u6:u6',
      ]);
      expect(links.find((l) => l.key === 'k-u6')?.suspended).toBe(true);
      expect((await store.listUsers({ search: 'Three' })).map((u) => u.id)).toEqual(['u3']);
    });

    it('an updateUser step without a patch writes the link and keeps the version', async () => {
      const { store } = await open();
      await store.applyBatch('crm', [
        { type: 'createUser', user: newUser('u1', 'ann@example.com'), link: link('u1', 'k1') },
      ]);
      const fresh = link('u1', 'k1', { baseline: { name: 'Ann' } });
      expect(
        await store.applyBatch('crm', [
          { type: 'updateUser', userId: 'u1', expectedVersion: 1, patch: null, link: fresh },
        ]),
      ).toEqual(['ok']);
      expect((await store.getUser('u1'))?.version).toBe(1);
      expect(await store.linksOfUser('crm', 'u1')).toEqual([fresh]);
    });

    it('an updateUser step at a stale version writes neither the user nor the link', async () => {
      const { store } = await open();
      await store.applyBatch('crm', [
        { type: 'createUser', user: newUser('u1', 'ann@example.com'), link: link('u1', 'k1') },
      ]);
      await store.updateUser('u1', { name: 'Set in the app' });
      const stale: DirectoryOp = {
        type: 'updateUser',
        userId: 'u1',
        expectedVersion: 1,
        patch: { name: 'From the source' },
        link: link('u1', 'k1', { baseline: { name: 'From the source' } }),
      };
      const deletedUser: DirectoryOp = {
        type: 'updateUser',
        userId: 'u2',
        expectedVersion: 1,
        patch: { name: 'Bo' },
        link: link('u2', 'k2', { baseline: { name: 'Bo' } }),
      };
      await store.applyBatch('crm', [
        { type: 'createUser', user: newUser('u2', 'bo@example.com'), link: link('u2', 'k2') },
      ]);
      await store.deleteUser('u2');
      expect(await store.applyBatch('crm', [stale, deletedUser])).toEqual(['stale', 'stale']);
      expect(await store.getUser('u1')).toMatchObject({ name: 'Set in the app', version: 2 });
      expect(await store.linksOfUser('crm', 'u1')).toEqual([link('u1', 'k1')]);
      expect(await store.linksOfUser('crm', 'u2')).toEqual([link('u2', 'k2')]);
    });

    it('an updateUser step whose new email is taken is a conflict and writes nothing', async () => {
      const { store } = await open();
      await store.applyBatch('crm', [
        { type: 'createUser', user: newUser('u1', 'ann@example.com'), link: link('u1', 'k1') },
        { type: 'createUser', user: newUser('u2', 'bo@example.com'), link: link('u2', 'k2') },
      ]);
      const results = await store.applyBatch('crm', [
        {
          type: 'updateUser',
          userId: 'u1',
          expectedVersion: 1,
          patch: { email: 'BO@example.com' },
          link: link('u1', 'k9'),
        },
        {
          type: 'updateUser',
          userId: 'u2',
          expectedVersion: 1,
          patch: { name: 'Bo' },
          link: link('u2', 'k2'),
        },
      ]);
      expect(results).toEqual(['conflict', 'ok']);
      expect(await store.getUser('u1')).toMatchObject({ email: 'ann@example.com', version: 1 });
      expect((await store.linksOfUser('crm', 'u1')).map((l) => l.key)).toEqual(['k1']);
      expect((await store.getUser('u2'))?.name).toBe('Bo');
    });

    it("a user's new link replaces its old one and frees the old key", async () => {
      const { store } = await open();
      await store.applyBatch('crm', [
        { type: 'createUser', user: newUser('u1', 'ann@example.com'), link: link('u1', 'k1') },
        { type: 'createUser', user: newUser('u2', 'bo@example.com'), link: link('u2', 'k2') },
      ]);
      expect(
        await store.applyBatch('crm', [
          { type: 'updateUser', userId: 'u1', expectedVersion: 1, patch: null, link: link('u1', 'k1b') },
          { type: 'putLink', link: link('u2', 'k2b') },
        ]),
      ).toEqual(['ok', 'ok']);
      expect((await collect(store.scanLinks('crm', 10))).flat().map((l) => `${l.key}:${l.userId}`)).toEqual([
        'k1b:u1',
        'k2b:u2',
      ]);
    });

    it("a key reused by another user's new row takes the link; the old user's new link does not remove it", async () => {
      const { store } = await open();
      await store.applyBatch('crm', [
        { type: 'createUser', user: newUser('u1', 'ann@example.com'), link: link('u1', 'k1') },
        { type: 'createUser', user: newUser('u2', 'bo@example.com'), link: link('u2', 'k2') },
      ]);
      // The source gave u2's new row the key of u1's deleted row, then u1's re-created row a new key.
      await store.applyBatch('crm', [
        { type: 'putLink', link: link('u2', 'k1') },
        { type: 'putLink', link: link('u1', 'k3') },
      ]);
      expect((await collect(store.scanLinks('crm', 10))).flat().map((l) => `${l.key}:${l.userId}`)).toEqual([
        'k1:u2',
        'k3:u1',
      ]);
    });

    it("tells which users another connection's filter suspends, all of them or among some", async () => {
      const { store } = await open();
      await store.applyBatch('crm', [
        {
          type: 'createUser',
          user: newUser('u1', 'ann@example.com'),
          link: link('u1', 'k1', { suspended: true }),
        },
        {
          type: 'createUser',
          user: newUser('u2', 'bo@example.com'),
          link: link('u2', 'k2', { suspended: true }),
        },
        { type: 'createUser', user: newUser('u3', 'cy@example.com'), link: link('u3', 'k3') },
      ]);
      expect([...(await store.suspendedElsewhere('billing'))].sort()).toEqual(['u1', 'u2']);
      expect([...(await store.suspendedElsewhere('billing', ['u2', 'u3']))]).toEqual(['u2']);
      expect(await store.suspendedElsewhere('crm')).toEqual(new Set());
    });

    it('a user keeps one link per connection, and links of other connections are separate', async () => {
      const { store } = await open();
      await store.applyBatch('crm', [
        { type: 'createUser', user: newUser('u1', 'ann@example.com'), link: link('u1', 'k1') },
      ]);
      await store.applyBatch('billing', [{ type: 'putLink', link: link('u1', 'b1') }]);
      await store.applyBatch('crm', [{ type: 'putLink', link: link('u1', 'k2') }]);
      expect((await store.linksOfUser('crm', 'u1')).map((l) => l.key)).toEqual(['k2']);
      expect((await store.linksOfUser('billing', 'u1')).map((l) => l.key)).toEqual(['b1']);
      await store.applyBatch('crm', [{ type: 'deleteLink', key: 'k2' }]);
      expect(await store.linksOfUser('crm', 'u1')).toEqual([]);
      expect((await store.linksOfUser('billing', 'u1')).map((l) => l.key)).toEqual(['b1']);
    });

    it('scanLinksWithUsers pages links with their users; liveUsersWithoutLink finds the rest', async () => {
      const { store } = await open();
      await store.applyBatch('crm', [
        { type: 'createUser', user: newUser('u1', 'ann@example.com'), link: link('u1', 'k1') },
        { type: 'createUser', user: newUser('u2', 'bo@example.com'), link: link('u2', 'k2') },
        { type: 'createUser', user: newUser('u3', 'cy@example.com'), link: link('u3', 'k3') },
      ]);
      await store.applyBatch('billing', [{ type: 'putLink', link: link('u3', 'b3') }]);
      await store.deleteUser('u2');
      const lone = await store.createUser({ email: 'di@example.com' });
      const gone = await store.createUser({ email: 'ed@example.com' });
      await store.deleteUser(gone.id);

      const pages = await collect(store.scanLinksWithUsers('crm', 2));
      expect(pages.map((p) => p.length)).toEqual([2, 1]);
      expect(
        pages.flat().map(({ link: l, user }) => [l.key, user.id, user.email, user.deletedAt !== null]),
      ).toEqual([
        ['k1', 'u1', 'ann@example.com', false],
        ['k2', 'u2', 'bo@example.com', true],
        ['k3', 'u3', 'cy@example.com', false],
      ]);
      expect(pages[0]![0]!.link).toEqual(link('u1', 'k1'));
      expect((await store.liveUsersWithoutLink('crm')).map((u) => u.id)).toEqual([lone.id]);
      expect((await store.liveUsersWithoutLink('billing')).map((u) => u.id).sort()).toEqual(
        ['u1', lone.id].sort(),
      );
    });

    it('liveUsersWithoutLink with no tombstone: none once every user has a link here, else those without', async () => {
      const { store } = await open();
      await store.applyBatch('crm', [
        { type: 'createUser', user: newUser('u1', 'ann@example.com'), link: link('u1', 'k1') },
        { type: 'createUser', user: newUser('u2', 'bo@example.com'), link: link('u2', 'k2') },
      ]);
      expect(await store.liveUsersWithoutLink('crm')).toEqual([]);
      const lone = await store.createUser({ email: 'cy@example.com' });
      expect((await store.liveUsersWithoutLink('crm')).map((u) => u.id)).toEqual([lone.id]);
      // As many links as live users, but one is a tombstone's: the live user without one still counts.
      await store.deleteUser('u2');
      expect((await store.liveUsersWithoutLink('crm')).map((u) => u.id)).toEqual([lone.id]);
      await store.applyBatch('crm', [{ type: 'putLink', link: link(lone.id, 'k3') }]);
      expect(await store.liveUsersWithoutLink('crm')).toEqual([]);
    });

    it('fingerprints by bucket: the trusted ones digested, some buckets read with every untrusted link', async () => {
      const { store } = await open();
      const keys = ['k1', 'k2', 'k3', 'k4', 'k5'];
      await store.applyBatch(
        'crm',
        keys.map((key, i) => ({
          type: 'createUser' as const,
          user: newUser(`u${i}`, `${key}@example.com`),
          link: link(`u${i}`, key),
        })),
      );
      // The extremes of a signed 64-bit integer, and fingerprints that share a bucket.
      const f = {
        k1: '-9223372036854775808',
        k2: '9223372036854775807',
        k3: '-1',
        k4: String(2n ** 40n + 5n),
        k5: '65536',
      };
      const at = (fingerprint: string, userVersion = 1): FingerprintAt => ({ fingerprint, userVersion });
      await store.setFingerprints('crm', new Map(keys.map((key) => [key, at(f[key as keyof typeof f])])));
      // Taken at a version its user is not at: not trusted, so not digested.
      await store.setFingerprints('crm', new Map([['k4', at(f.k4, 2)]]));

      const digested = await store.digestLinkFingerprints('crm');
      expect(byBucket(digested.buckets)).toEqual(digestsOf([f.k1, f.k2, f.k3, f.k5]));
      expect(digested.untrusted).toBe(1);
      expect(await store.digestLinkFingerprints('billing')).toEqual({ buckets: [], untrusted: 0 });
      const read = async (buckets: number[]) =>
        (await collect(store.scanLinkFingerprints('crm', 2, buckets))).flat();
      expect(bucketOf(f.k2)).toBe(bucketOf(f.k3));
      expect(await read([bucketOf(f.k2)])).toEqual([
        { key: 'k2', fingerprint: f.k2 },
        { key: 'k3', fingerprint: f.k3 },
        { key: 'k4', fingerprint: null },
      ]);
      expect(await read([bucketOf(f.k1), 12345])).toEqual([
        { key: 'k1', fingerprint: f.k1 },
        { key: 'k4', fingerprint: null },
        { key: 'k5', fingerprint: f.k5 },
      ]);
      expect(await read([])).toEqual([{ key: 'k4', fingerprint: null }]);
    });

    it('fingerprints: set and cleared per link, read with the links, forgotten when a link is written', async () => {
      const { store } = await open();
      await store.applyBatch('crm', [
        { type: 'createUser', user: newUser('u1', 'ann@example.com'), link: link('u1', 'k1') },
        { type: 'createUser', user: newUser('u2', 'bo@example.com'), link: link('u2', 'k2') },
        {
          type: 'createUser',
          user: newUser('u3', 'cy@example.com'),
          link: link('u3', 'k3', { suspended: true }),
        },
      ]);
      await store.applyBatch('billing', [{ type: 'putLink', link: link('u1', 'k1') }]);
      const fingerprints = async (connection = 'crm') =>
        (await collect(store.scanLinkFingerprints(connection, 2))).flat();

      expect(await fingerprints()).toEqual([
        { key: 'k1', fingerprint: null },
        { key: 'k2', fingerprint: null },
        { key: 'k3', fingerprint: null },
      ]);
      // More than one transaction's worth, keys that are not links, and a clear among them.
      const at = (fingerprint: string, userVersion = 1): FingerprintAt => ({ fingerprint, userVersion });
      const many = new Map(Array.from({ length: 5200 }, (_, i) => [`x${i}`, at(`f${i}`)]));
      await store.setFingerprints(
        'crm',
        new Map([...many, ['k1', at('f1')], ['k2', at('f2')], ['k3', at('f3')]]),
      );
      await store.setFingerprints('crm', new Map([['k3', null]]));
      expect((await fingerprints()).map((l) => l.fingerprint)).toEqual(['f1', 'f2', null]);
      // Taken at a version its user is not at: not trusted.
      await store.setFingerprints('crm', new Map([['k3', at('f3', 2)]]));
      expect((await fingerprints()).map((l) => l.fingerprint)).toEqual(['f1', 'f2', null]);
      expect((await fingerprints('billing')).map((l) => l.fingerprint)).toEqual([null]);
      expect(
        (await store.findLinksWithUsers('crm', ['k2', 'k1', 'nope']))
          .map((l) => [l.link.key, l.user.email, l.fingerprint])
          .sort(),
      ).toEqual([
        ['k1', 'ann@example.com', 'f1'],
        ['k2', 'bo@example.com', 'f2'],
      ]);
      expect((await collect(store.scanLinksWithUsers('crm', 5))).flat().map((l) => l.fingerprint)).toEqual([
        'f1',
        'f2',
        null,
      ]);
      expect(
        (await store.findLinkFingerprints('crm', ['k3', 'k2', 'nope', 'k1'])).sort((a, b) =>
          a.key.localeCompare(b.key),
        ),
      ).toEqual([
        { key: 'k1', fingerprint: 'f1' },
        { key: 'k2', fingerprint: 'f2' },
        { key: 'k3', fingerprint: null },
      ]);
      expect(await store.findLinkFingerprints('billing', ['k1', 'k2'])).toEqual([
        { key: 'k1', fingerprint: null },
      ]);

      await store.applyBatch('crm', [
        {
          type: 'updateUser',
          userId: 'u1',
          expectedVersion: 1,
          patch: { name: 'Ann' },
          link: link('u1', 'k1'),
        },
      ]);
      expect((await fingerprints()).map((l) => l.fingerprint)).toEqual([null, 'f2', null]);
      // An app change leaves the link as it was, but moves the user past the fingerprint's version.
      expect(await store.updateUser('u2', { name: 'Bo' })).not.toBeNull();
      expect((await fingerprints()).map((l) => l.fingerprint)).toEqual([null, null, null]);
      expect((await collect(store.scanLinksWithUsers('crm', 5))).flat().map((l) => l.fingerprint)).toEqual([
        null,
        null,
        null,
      ]);
      await store.setFingerprints('crm', new Map([['k2', at('f2b', 2)]]));
      expect((await fingerprints()).map((l) => l.fingerprint)).toEqual([null, 'f2b', null]);
    });

    it('usersChangedSince: the users written at or after a time', async () => {
      const { store } = await open();
      const userIdsChangedSince = async (time: string) =>
        (await store.usersChangedSince(time, 'crm')).map((u) => u.id);
      const since = new Date().toISOString();
      const ann = await store.createUser({ email: 'ann@example.com' });
      const bo = await store.createUser({ email: 'bo@example.com' });
      await new Promise((resolve) => setTimeout(resolve, 5));
      const later = new Date().toISOString();
      expect(await userIdsChangedSince(later)).toEqual([]);
      await store.updateUser(ann.id, { name: 'Ann' });
      expect(await userIdsChangedSince(later)).toEqual([ann.id]);
      expect((await userIdsChangedSince(since)).sort()).toEqual([ann.id, bo.id].sort());
    });

    it('usersChangedSince: not the users a sync of the connection left quiet at their version', async () => {
      const { store } = await open();
      const since = new Date().toISOString();
      const changed = async (connection: string) =>
        (await store.usersChangedSince(since, connection)).map((u) => u.id).sort();
      await store.applyBatch('crm', [
        { type: 'createUser', user: newUser('u1', 'ann@example.com'), link: link('u1', 'k1') },
        { type: 'createUser', user: newUser('u2', 'bo@example.com'), link: link('u2', 'k2') },
        { type: 'createUser', user: newUser('u3', 'cy@example.com'), link: link('u3', 'k3') },
      ]);
      await store.applyBatch('erp', [{ type: 'putLink', link: link('u1', 'e1') }]);
      // k3 keeps none: its user is still to push.
      const fingerprints = new Map([
        ['k1', { fingerprint: 'f1', userVersion: 1 }],
        ['k2', { fingerprint: 'f2', userVersion: 1 }],
      ]);
      await store.setFingerprints('crm', fingerprints);
      expect(await changed('crm')).toEqual(['u3']);
      // Another connection's link vouches for nothing here.
      expect(await changed('erp')).toEqual(['u1', 'u2', 'u3']);
      // Written since (by the app, or another sync): the user's version moved past the link's.
      await store.updateUser('u2', { name: 'Bo' });
      expect(await changed('crm')).toEqual(['u2', 'u3']);
    });

    it('an import creates users first and links them after, each with its row fingerprint or none', async () => {
      const { store } = await open();
      const results = await store.applyBatch('crm', [
        { type: 'createUser', user: newUser('u1', 'ann@example.com'), link: null },
        { type: 'createUser', user: newUser('u2', 'bo@example.com'), link: null },
      ]);
      expect(results).toEqual(['ok', 'ok']);
      expect((await store.liveUsersWithoutLink('crm')).map((u) => u.id).sort()).toEqual(['u1', 'u2']);
      expect(await collect(store.scanLinks('crm', 10))).toEqual([]);

      await store.linkImported('crm', [
        {
          link: link('u1', 'k1', { baseline: { name: 'Ann' } }),
          fingerprint: { fingerprint: 'f1', userVersion: 1 },
        },
        { link: link('u2', 'k2'), fingerprint: null },
      ]);
      expect(await store.liveUsersWithoutLink('crm')).toEqual([]);
      const links = (await collect(store.scanLinks('crm', 10))).flat();
      expect(links.find((l) => l.key === 'k1')).toMatchObject({ userId: 'u1', baseline: { name: 'Ann' } });
      const fingerprints = (await collect(store.scanLinkFingerprints('crm', 10))).flat();
      expect(fingerprints.sort((a, b) => a.key.localeCompare(b.key))).toEqual([
        { key: 'k1', fingerprint: 'f1' },
        { key: 'k2', fingerprint: null },
      ]);
    });

    it('link writes in one batch: users trade rows, one moves to a new row, a row goes and comes back', async () => {
      const { store } = await open();
      await store.applyBatch('crm', [
        { type: 'createUser', user: newUser('u1', 'ann@example.com'), link: link('u1', 'k1') },
        { type: 'createUser', user: newUser('u2', 'bo@example.com'), link: link('u2', 'k2') },
        { type: 'createUser', user: newUser('u3', 'cy@example.com'), link: link('u3', 'k3') },
      ]);
      const results = await store.applyBatch('crm', [
        { type: 'putLink', link: link('u1', 'k2') },
        { type: 'updateUser', userId: 'u2', expectedVersion: 1, patch: null, link: link('u2', 'k1') },
        { type: 'putLink', link: link('u3', 'k9', { baseline: { name: 'Cy' } }) },
        { type: 'deleteLink', key: 'k9' },
        { type: 'putLink', link: link('u3', 'k3', { suspended: true }) },
      ]);
      expect(results).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
      const links = (await collect(store.scanLinks('crm', 10))).flat();
      expect(links.map((l) => `${l.key}:${l.userId}`)).toEqual(['k1:u2', 'k2:u1', 'k3:u3']);
      expect(links.find((l) => l.key === 'k3')?.suspended).toBe(true);
    });

    it('a batch that fails is not applied at all', async () => {
      const { store } = await open();
      await store.applyBatch('crm', [
        { type: 'createUser', user: newUser('u1', 'ann@example.com'), link: link('u1', 'k1') },
      ]);
      const batch = store.applyBatch('crm', [
        { type: 'createUser', user: newUser('u2', 'bo@example.com'), link: link('u2', 'k2') },
        { type: 'deleteLink', key: 'k1' },
        // A reused user id is a bug in the caller, not a conflict: the whole batch fails.
        { type: 'createUser', user: newUser('u1', 'cy@example.com'), link: link('u1', 'k3') },
      ]);
      await expect(batch).rejects.toThrow();
      expect(await store.getUser('u2')).toBeNull();
      expect((await collect(store.scanLinks('crm', 10))).flat().map((l) => l.key)).toEqual(['k1']);
      expect(await store.applyBatch('crm', [])).toEqual([]);
    });

    it('scanLinks pages a connection by source key', async () => {
      const { store } = await open();
      const ops: DirectoryOp[] = [];
      for (let i = 0; i < 5; i++) {
        ops.push({
          type: 'createUser',
          user: newUser(`u${i}`, `user${i}@example.com`),
          link: link(`u${i}`, `k${4 - i}`),
        });
      }
      await store.applyBatch('crm', ops);
      const pages = await collect(store.scanLinks('crm', 2));
      expect(pages.map((page) => page.map((l) => l.key))).toEqual([['k0', 'k1'], ['k2', 'k3'], ['k4']]);
      expect(await collect(store.scanLinks('other', 2))).toEqual([]);
    });

    it('a batch of a thousand steps is applied in one go', async () => {
      const { store } = await open();
      const ops: DirectoryOp[] = [];
      for (let i = 0; i < 1000; i++) {
        ops.push({
          type: 'createUser',
          user: newUser(`u${i}`, `user${i}@example.com`),
          link: link(`u${i}`, `k${i}`),
        });
      }
      const results = await store.applyBatch('crm', ops);
      expect(results.every((result) => result === 'ok')).toBe(true);
      const updates: DirectoryOp[] = ops.map((_, i) => ({
        type: 'updateUser',
        userId: `u${i}`,
        expectedVersion: 1,
        patch: { name: `User ${i}` },
        link: link(`u${i}`, `k${i}`, { baseline: { name: `User ${i}` } }),
      }));
      expect(new Set(await store.applyBatch('crm', updates))).toEqual(new Set(['ok']));
      expect(await store.countUsers()).toBe(1000);
    });
  });
}
