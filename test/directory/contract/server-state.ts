import { describe, expect, it } from 'vitest';
import { isUsersyncError } from '../../../src/core/errors.js';
import { link, newUser, type MakeStore, useDirectory } from './harness.js';

/** API keys, connections made through the API, and run progress. */
export function describeServerState(makeStore: MakeStore): void {
  describe('server state', () => {
    const open = useDirectory(makeStore);

    it('API keys are found by hash while live, one live key per name, and revoked by name or id', async () => {
      const { store } = await open();
      const key = await store.createApiKey({ id: 'k1', name: 'ui', prefix: 'usk_abcdef', hash: 'h1' });
      expect(key).toMatchObject({ name: 'ui', lastUsedAt: null, revokedAt: null });
      expect(await store.findApiKey('h1')).toEqual(key);
      expect(await store.findApiKey('h2')).toBeNull();
      const taken = await store
        .createApiKey({ id: 'k2', name: 'ui', prefix: 'usk_x', hash: 'h2' })
        .catch((e: unknown) => e);
      expect(isUsersyncError(taken, 'directory.conflict')).toBe(true);
      await store.touchApiKey('k1', '2026-01-01T00:00:00.000Z');
      expect((await store.findApiKey('h1'))?.lastUsedAt).toBe('2026-01-01T00:00:00.000Z');
      expect((await store.revokeApiKey('ui'))?.id).toBe('k1');
      expect(await store.findApiKey('h1')).toBeNull();
      expect(await store.revokeApiKey('ui')).toBeNull();
      // The name is free again once its key is revoked.
      await store.createApiKey({ id: 'k3', name: 'ui', prefix: 'usk_y', hash: 'h3' });
      expect((await store.revokeApiKey('k3'))?.name).toBe('ui');
      expect((await store.listApiKeys()).map((k) => [k.id, k.revokedAt !== null])).toEqual([
        ['k1', true],
        ['k3', true],
      ]);
    });

    it('stored connections are versioned: a write at a stale version, or a second create, is refused', async () => {
      const { store } = await open();
      const made = await store.saveStoredConnection('crm', '{"v":1}', 0);
      expect(made).toMatchObject({ name: 'crm', definition: '{"v":1}', version: 1 });
      expect(await store.saveStoredConnection('crm', '{"v":"again"}', 0)).toBeNull();
      expect((await store.saveStoredConnection('crm', '{"v":2}', 1))?.version).toBe(2);
      expect(await store.saveStoredConnection('crm', '{"v":3}', 1)).toBeNull();
      expect((await store.getStoredConnection('crm'))?.definition).toBe('{"v":2}');
      expect((await store.listStoredConnections()).map((c) => c.name)).toEqual(['crm']);
    });

    it('deleting a stored connection forgets its links and state and resolves its open issues; users stay', async () => {
      const { store } = await open();
      await store.saveStoredConnection('crm', '{}', 0);
      await store.applyBatch('crm', [
        { type: 'createUser', user: newUser('u1', 'ann@example.com'), link: link('u1', 'k1') },
      ]);
      await store.applyBatch('other', [{ type: 'putLink', link: link('u1', 'x1') }]);
      await store.setConnectionState('crm', { cursor: '5' });
      await store.recordIssues(
        'crm',
        null,
        [{ kind: 'invalid_email', fingerprint: 'f', message: 'm', fix: 'f', rows: ['k9'], users: [] }],
        { resolveUnseen: false },
      );
      expect(await store.deleteStoredConnection('crm')).toBe(true);
      expect(await store.deleteStoredConnection('crm')).toBe(false);
      expect(await store.findLinks('crm', ['k1'])).toEqual([]);
      expect((await store.findLinks('other', ['x1'])).map((l) => l.key)).toEqual(['x1']);
      expect((await store.getConnectionState('crm')).cursor).toBeNull();
      expect(await store.listIssues({ connection: 'crm', status: 'open' })).toEqual([]);
      expect(await store.getUser('u1')).not.toBeNull();
    });

    it('a running run records its progress; a finished run drops it and ignores late reports', async () => {
      const { store } = await open();
      const run = await store.startRun('crm', 'manual');
      await store.setRunProgress(run.id, { phase: 'apply', done: 5, total: 10 });
      expect((await store.getRun(run.id))?.progress).toEqual({ phase: 'apply', done: 5, total: 10 });
      const counts = run.counts;
      await store.finishRun(run.id, 'succeeded', counts);
      await store.setRunProgress(run.id, { phase: 'apply', done: 10, total: 10 });
      expect((await store.getRun(run.id))?.progress).toBeNull();
      expect(await store.getRun('nope')).toBeNull();
    });
  });
}
