import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { hostname } from 'node:os';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LockOwner } from '../../../src/directory/store.js';
import { type MakeStore, useDirectory } from './harness.js';

const HOST = hostname();

/** The pid of a process that has exited (so `kill(pid, 0)` fails with ESRCH). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await once(child, 'exit');
  return child.pid!;
}

export function describeLocksAndState(makeStore: MakeStore): void {
  describe('run locks', () => {
    const open = useDirectory(makeStore);
    afterEach(() => {
      vi.useRealTimers();
    });

    const me: LockOwner = { id: 'runner-a', pid: process.pid, host: HOST };
    const other: LockOwner = { id: 'runner-b', pid: process.pid, host: HOST };

    it('a second owner is refused while the first holds the lock', async () => {
      const { store } = await open();
      expect(await store.acquireRunLock('crm', me)).toBe(true);
      expect(await store.acquireRunLock('crm', other)).toBe(false);
      expect(await store.acquireRunLock('billing', other)).toBe(true);
      expect(await store.acquireRunLock('crm', me)).toBe(true); // the holder asking again keeps it
    });

    it('a released lock can be acquired; only its owner can release it', async () => {
      const { store } = await open();
      await store.acquireRunLock('crm', me);
      await store.releaseRunLock('crm', other);
      expect(await store.acquireRunLock('crm', other)).toBe(false);
      await store.releaseRunLock('crm', me);
      expect(await store.acquireRunLock('crm', other)).toBe(true);
    });

    it('a lock held by a process of this host that has exited is taken over', async () => {
      const { store } = await open();
      const dead: LockOwner = { id: 'crashed', pid: await deadPid(), host: HOST };
      expect(await store.acquireRunLock('crm', dead)).toBe(true);
      expect(await store.acquireRunLock('crm', me)).toBe(true);
      expect(await store.acquireRunLock('crm', other)).toBe(false);
    });

    it('a lock held on another host is kept until its heartbeat is ten minutes old', async () => {
      const { store } = await open();
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(new Date('2026-03-01T10:00:00.000Z'));
      // A pid means nothing on another host: even one that is dead here does not free the lock.
      const remote: LockOwner = { id: 'remote', pid: await deadPid(), host: `not-${HOST}` };
      expect(await store.acquireRunLock('crm', remote)).toBe(true);
      vi.setSystemTime(new Date('2026-03-01T10:09:00.000Z'));
      expect(await store.acquireRunLock('crm', me)).toBe(false);
      expect(await store.acquireRunLock('crm', remote)).toBe(true); // its heartbeat, refreshed at 10:09
      vi.setSystemTime(new Date('2026-03-01T10:18:00.000Z'));
      expect(await store.acquireRunLock('crm', me)).toBe(false);
      vi.setSystemTime(new Date('2026-03-01T10:19:01.000Z'));
      expect(await store.acquireRunLock('crm', me)).toBe(true);
    });
  });

  describe('connection state', () => {
    const open = useDirectory(makeStore);

    it('an unknown connection has no state; setting keys keeps the others', async () => {
      const { store } = await open();
      const none = {
        twoWayEnabledAt: null,
        cursor: null,
        lastFullSyncAt: null,
        fingerprintTag: null,
        fingerprintsCheckedAt: null,
      };
      expect(await store.getConnectionState('crm')).toEqual(none);
      await store.setConnectionState('crm', { twoWayEnabledAt: '2026-01-01T00:00:00.000Z' });
      await store.setConnectionState('crm', {
        cursor: '2026-01-02T00:00:00.000Z',
        lastFullSyncAt: '2026-01-03T00:00:00.000Z',
      });
      await store.setConnectionState('crm', {
        fingerprintTag: 'tag',
        fingerprintsCheckedAt: '2026-01-04T00:00:00.000Z',
      });
      await store.setConnectionState('crm', {});
      expect(await store.getConnectionState('crm')).toEqual({
        twoWayEnabledAt: '2026-01-01T00:00:00.000Z',
        cursor: '2026-01-02T00:00:00.000Z',
        lastFullSyncAt: '2026-01-03T00:00:00.000Z',
        fingerprintTag: 'tag',
        fingerprintsCheckedAt: '2026-01-04T00:00:00.000Z',
      });
      await store.setConnectionState('crm', { cursor: null });
      expect((await store.getConnectionState('crm')).cursor).toBeNull();
      expect(await store.getConnectionState('billing')).toEqual(none);
    });
  });
}
