/**
 * The directory contract: the behaviour every directory database passes (SQLite and
 * PostgreSQL), run by one test file per dialect with its own `makeStore`.
 */
import { describe, expect, it } from 'vitest';
import { describeBatch } from './batch.js';
import { type MakeStore, useDirectory } from './harness.js';
import { describeLocksAndState } from './locks-state.js';
import { describeRunsAndIssues } from './runs-issues.js';
import { describeServerState } from './server-state.js';
import { describeUsers } from './users.js';

export type { MakeStore, StoreUnderTest } from './harness.js';

export function describeDirectoryStore(dialect: 'sqlite' | 'postgres', makeStore: MakeStore): void {
  describe(`directory store (${dialect})`, () => {
    describe('opening', () => {
      const open = useDirectory(makeStore);

      it('a new directory is ready and empty', async () => {
        const { store } = await open();
        expect(store.dialect).toBe(dialect);
        expect(await store.countUsers()).toBe(0);
        expect(await store.listRuns()).toEqual([]);
      });

      it('reopening a directory keeps its data', async () => {
        const { store, reopen } = await open();
        const ann = await store.createUser({ email: 'ann@example.com' });
        await store.recordIssues('crm', null, [], { resolveUnseen: true });
        await store.close();
        const again = await reopen();
        expect(await again.getUser(ann.id)).toEqual(ann);
      });
    });

    describeUsers(makeStore);
    describeBatch(makeStore);
    describeRunsAndIssues(makeStore);
    describeLocksAndState(makeStore);
    describeServerState(makeStore);
  });
}
