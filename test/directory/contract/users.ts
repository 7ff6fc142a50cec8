import { describe, expect, it } from 'vitest';
import { isUsersyncError } from '../../../src/core/errors.js';
import type { DirectoryUser } from '../../../src/core/user.js';
import { collect, type MakeStore, useDirectory } from './harness.js';

export function describeUsers(makeStore: MakeStore): void {
  describe('users', () => {
    const open = useDirectory(makeStore);

    it('a created user has a generated id, a trimmed email, status active and version 1', async () => {
      const { store } = await open();
      const user = await store.createUser({
        email: '  Ann@Example.com ',
        name: 'Ann',
        custom: { plan: 'pro' },
      });
      expect(user).toMatchObject({
        email: 'Ann@Example.com',
        name: 'Ann',
        status: 'active',
        custom: { plan: 'pro' },
        version: 1,
        deletedAt: null,
      });
      expect(user.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(Date.parse(user.createdAt)).not.toBeNaN();
      expect(await store.getUser(user.id)).toEqual(user);
    });

    it('emails are unique case-insensitively after trimming', async () => {
      const { store } = await open();
      await store.createUser({ email: 'ann@example.com' });
      const error = await store.createUser({ email: ' ANN@example.COM' }).catch((e: unknown) => e);
      expect(isUsersyncError(error, 'directory.conflict')).toBe(true);
      expect((error as Error).message).toContain('ANN@example.COM');
      expect(await store.countUsers()).toBe(1);
    });

    it('findUserByEmail matches case-insensitively after trimming and ignores deleted users', async () => {
      const { store } = await open();
      const ann = await store.createUser({ email: 'Ann@Example.com' });
      expect((await store.findUserByEmail('  ann@EXAMPLE.com '))?.id).toBe(ann.id);
      await store.deleteUser(ann.id);
      expect(await store.findUserByEmail('ann@example.com')).toBeNull();
    });

    it('a deleted user stays as a tombstone and frees its email', async () => {
      const { store } = await open();
      const ann = await store.createUser({ email: 'ann@example.com' });
      const deleted = await store.deleteUser(ann.id);
      expect(deleted).toMatchObject({ id: ann.id, version: 2 });
      expect(deleted?.deletedAt).not.toBeNull();
      expect((await store.getUser(ann.id))?.deletedAt).toBe(deleted?.deletedAt);
      const again = await store.createUser({ email: 'ANN@example.com' });
      expect(again.id).not.toBe(ann.id);
      expect(await store.countUsers()).toBe(1);
      expect(await store.deleteUser('no-such-user')).toBeNull();
      expect(await store.deleteUser(ann.id)).toEqual(deleted); // deleting again changes nothing
    });

    it('external ids are unique among live users', async () => {
      const { store } = await open();
      await store.createUser({ email: 'ann@example.com', externalId: 'ext-1' });
      await expect(store.createUser({ email: 'bo@example.com', externalId: 'ext-1' })).rejects.toMatchObject({
        code: 'directory.conflict',
      });
      const bo = await store.createUser({ email: 'bo@example.com' });
      await expect(store.updateUser(bo.id, { externalId: 'ext-1' })).rejects.toMatchObject({
        code: 'directory.conflict',
      });
    });

    it('an invalid email is refused', async () => {
      const { store } = await open();
      await expect(store.createUser({ email: '   ' })).rejects.toMatchObject({ code: 'directory.invalid' });
      await expect(store.createUser({ email: 'not-an-email' })).rejects.toMatchObject({
        code: 'directory.invalid',
      });
    });

    it('an update merges custom fields key by key, a null removing the key, and bumps the version', async () => {
      const { store } = await open();
      const ann = await store.createUser({
        email: 'ann@example.com',
        custom: { plan: 'free', seats: 3, vip: true },
      });
      const updated = await store.updateUser(ann.id, {
        name: 'Ann',
        lastSeenAt: '2026-01-01T00:00:00.000Z',
        magicLink: 'https://app.example.com/login/abc',
        custom: { plan: 'pro', seats: null },
      });
      expect(updated).toMatchObject({
        name: 'Ann',
        lastSeenAt: '2026-01-01T00:00:00.000Z',
        magicLink: 'https://app.example.com/login/abc',
        custom: { plan: 'pro', vip: true },
        version: 2,
      });
      expect(await store.getUser(ann.id)).toEqual(updated);
      expect((await store.updateUser(ann.id, { status: 'suspended' }))?.version).toBe(3);
    });

    it('an update at a stale version returns null and changes nothing', async () => {
      const { store } = await open();
      const ann = await store.createUser({ email: 'ann@example.com' });
      await store.updateUser(ann.id, { name: 'Ann' }, 1);
      expect(await store.updateUser(ann.id, { name: 'Annie' }, 1)).toBeNull();
      expect(await store.getUser(ann.id)).toMatchObject({ name: 'Ann', version: 2 });
      expect((await store.updateUser(ann.id, { name: 'Annie' }, 2))?.name).toBe('Annie');
    });

    it('an update of a missing or deleted user returns null', async () => {
      const { store } = await open();
      const ann = await store.createUser({ email: 'ann@example.com' });
      await store.deleteUser(ann.id);
      expect(await store.updateUser(ann.id, { name: 'Ann' })).toBeNull();
      expect(await store.updateUser('no-such-user', { name: 'Ann' })).toBeNull();
    });

    it("an email change keeps emails unique but may change the user's own email's case", async () => {
      const { store } = await open();
      const ann = await store.createUser({ email: 'ann@example.com' });
      await store.createUser({ email: 'bo@example.com' });
      await expect(store.updateUser(ann.id, { email: 'BO@example.com' })).rejects.toMatchObject({
        code: 'directory.conflict',
      });
      expect((await store.getUser(ann.id))?.version).toBe(1);
      expect((await store.updateUser(ann.id, { email: ' ANN@example.com ' }))?.email).toBe('ANN@example.com');
      expect((await store.updateUser(ann.id, { email: 'ann@new.example.com' }))?.email).toBe(
        'ann@new.example.com',
      );
      expect(await store.findUserByEmail('ann@example.com')).toBeNull();
    });

    it('listUsers finds a substring of email or name, case-insensitively, taking % and _ literally', async () => {
      const { store } = await open();
      await store.createUser({ email: 'ann@acme.com', name: 'Ann Smith' });
      await store.createUser({ email: 'bo@other.org', name: 'Bo ACME-Jones' });
      await store.createUser({ email: 'cy_100%@example.com', name: 'Cy' });
      await store.createUser({ email: 'cyx100x@example.com', name: 'Cyx' });
      const emails = async (search: string) => (await store.listUsers({ search })).map((u) => u.email).sort();
      expect(await emails('AcMe')).toEqual(['ann@acme.com', 'bo@other.org']);
      expect(await emails('smith')).toEqual(['ann@acme.com']);
      expect(await emails('_100%')).toEqual(['cy_100%@example.com']);
      expect(await emails('nobody')).toEqual([]);
    });

    it('listUsers search follows renames, email changes and deletions', async () => {
      const { store } = await open();
      const ann = await store.createUser({ email: 'ann@acme.com', name: 'Ann Smith' });
      const emails = async (search: string) => (await store.listUsers({ search })).map((u) => u.email).sort();
      await store.updateUser(ann.id, { name: 'Ann Jones', email: 'ann@globex.com' });
      expect(await emails('smith')).toEqual([]);
      expect(await emails('acme')).toEqual([]);
      expect(await emails('JONES')).toEqual(['ann@globex.com']);
      expect(await emails('globex')).toEqual(['ann@globex.com']);
      await store.deleteUser(ann.id);
      expect(await emails('jones')).toEqual([]);
      expect((await store.listUsers({ search: 'jones', includeDeleted: true })).map((u) => u.id)).toEqual([
        ann.id,
      ]);
    });

    it('listUsers pages by id, hides deleted users unless asked, and defaults to 50', async () => {
      const { store } = await open();
      const users: DirectoryUser[] = [];
      for (let i = 0; i < 55; i++) users.push(await store.createUser({ email: `user${i}@example.com` }));
      await store.deleteUser(users[0]!.id);
      const ids = users.map((u) => u.id).sort();
      const live = ids.filter((id) => id !== users[0]!.id);
      const first = await store.listUsers();
      expect(first.map((u) => u.id)).toEqual(live.slice(0, 50));
      const rest = await store.listUsers({ after: first[49]!.id });
      expect(rest.map((u) => u.id)).toEqual(live.slice(50));
      expect((await store.listUsers({ limit: 3 })).map((u) => u.id)).toEqual(live.slice(0, 3));
      expect((await store.listUsers({ limit: 100, includeDeleted: true })).map((u) => u.id)).toEqual(ids);
    });

    it('scanUsers yields every user once, in pages of the size asked', async () => {
      const { store } = await open();
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) ids.push((await store.createUser({ email: `user${i}@example.com` })).id);
      await store.deleteUser(ids[3]!);
      const pages = await collect(store.scanUsers(3));
      expect(pages.map((page) => page.length)).toEqual([3, 3]);
      expect(pages.flat().map((u) => u.id)).toEqual(ids.filter((id) => id !== ids[3]).sort());
      const withDeleted = await collect(store.scanUsers(7, { includeDeleted: true }));
      expect(withDeleted.map((page) => page.length)).toEqual([7]);
      expect(await collect((await open()).store.scanUsers(10))).toEqual([]);
    });
  });
}
