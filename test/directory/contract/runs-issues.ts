import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { IssueReport } from '../../../src/core/issue.js';
import type { RunCounts } from '../../../src/directory/store.js';
import { type MakeStore, useDirectory } from './harness.js';

const COUNTS: RunCounts = {
  app: { created: 2, updated: 1, deleted: 0 },
  source: { created: 0, updated: 3, deleted: 1 },
  unchanged: 10,
  skipped: 1,
  stale: 0,
  conflicts: 1,
};

function report(fingerprint: string, fields: Partial<IssueReport> = {}): IssueReport {
  return {
    kind: 'duplicate_email',
    fingerprint,
    message: `Rows share an email (${fingerprint}).`,
    fix: 'Give each row its own email.',
    rows: ['1', '2'],
    users: [],
    ...fields,
  };
}

export function describeRunsAndIssues(makeStore: MakeStore): void {
  describe('runs', () => {
    const open = useDirectory(makeStore);

    it('a run starts running with zero counts and finishes with its outcome', async () => {
      const { store } = await open();
      const run = await store.startRun('crm', 'manual');
      expect(run).toMatchObject({
        connection: 'crm',
        trigger: 'manual',
        status: 'running',
        finishedAt: null,
        error: null,
      });
      expect(run.counts).toEqual({
        app: { created: 0, updated: 0, deleted: 0 },
        source: { created: 0, updated: 0, deleted: 0 },
        unchanged: 0,
        skipped: 0,
        stale: 0,
        conflicts: 0,
      });
      const finished = await store.finishRun(run.id, 'failed', COUNTS, 'The source is unreachable.');
      expect(finished).toMatchObject({
        id: run.id,
        status: 'failed',
        counts: COUNTS,
        error: 'The source is unreachable.',
      });
      expect(finished.finishedAt).not.toBeNull();
      expect((await store.finishRun(run.id, 'succeeded', COUNTS)).error).toBeNull();
      await expect(store.finishRun('no-such-run', 'succeeded', COUNTS)).rejects.toMatchObject({
        code: 'not_found',
      });
    });

    it('runs are listed newest first, by connection, up to a limit', async () => {
      const { store } = await open();
      const first = await store.startRun('crm', 'schedule');
      await sleep(5);
      const other = await store.startRun('billing', 'manual');
      await sleep(5);
      const last = await store.startRun('crm', 'login');
      expect((await store.listRuns()).map((r) => r.id)).toEqual([last.id, other.id, first.id]);
      expect((await store.listRuns({ connection: 'crm' })).map((r) => r.id)).toEqual([last.id, first.id]);
      expect((await store.listRuns({ limit: 1 })).map((r) => r.id)).toEqual([last.id]);
    });

    it("interrupted runs of a connection are failed with the reason, other connections' are not", async () => {
      const { store } = await open();
      const crashed = await store.startRun('crm', 'manual');
      const done = await store.startRun('crm', 'manual');
      await store.finishRun(done.id, 'succeeded', COUNTS);
      const elsewhere = await store.startRun('billing', 'manual');
      expect(await store.failInterruptedRuns('crm', 'The process running it stopped.')).toBe(1);
      const runs = new Map((await store.listRuns()).map((r) => [r.id, r]));
      expect(runs.get(crashed.id)).toMatchObject({
        status: 'failed',
        error: 'The process running it stopped.',
      });
      expect(runs.get(crashed.id)?.finishedAt).not.toBeNull();
      expect(runs.get(done.id)?.status).toBe('succeeded');
      expect(runs.get(elsewhere.id)?.status).toBe('running');
      expect(await store.failInterruptedRuns('crm', 'again')).toBe(0);
    });
  });

  describe('issues', () => {
    const open = useDirectory(makeStore);

    it('a new problem opens an issue; seen again, the open issue is updated, not duplicated', async () => {
      const { store } = await open();
      const run1 = await store.startRun('crm', 'manual');
      const { opened } = await store.recordIssues('crm', run1.id, [report('dup:a')], { resolveUnseen: true });
      expect(opened).toHaveLength(1);
      expect(opened[0]).toMatchObject({
        connection: 'crm',
        status: 'open',
        rows: ['1', '2'],
        runId: run1.id,
        resolvedAt: null,
      });
      expect(opened[0]?.firstSeenAt).toBe(opened[0]?.lastSeenAt);
      await sleep(5);
      const run2 = await store.startRun('crm', 'manual');
      const again = await store.recordIssues('crm', run2.id, [report('dup:a', { rows: ['1', '2', '3'] })], {
        resolveUnseen: true,
      });
      expect(again).toEqual({ opened: [], resolved: [] });
      const issues = await store.listIssues({ connection: 'crm' });
      expect(issues).toHaveLength(1);
      expect(issues[0]).toMatchObject({ id: opened[0]?.id, rows: ['1', '2', '3'], runId: run2.id });
      expect(issues[0]?.firstSeenAt).toBe(opened[0]?.firstSeenAt);
      expect(issues[0]!.lastSeenAt > issues[0]!.firstSeenAt).toBe(true);
      expect(await store.getIssue(opened[0]!.id)).toEqual(issues[0]);
      expect(await store.getIssue('no-such-issue')).toBeNull();
    });

    it('open issues not seen again are resolved, except the kinds kept', async () => {
      const { store } = await open();
      await store.recordIssues(
        'crm',
        null,
        [
          report('dup:a'),
          report('mass', { kind: 'mass_change' }),
          report('bad:1', { kind: 'invalid_email' }),
        ],
        { resolveUnseen: false },
      );
      await store.recordIssues('billing', null, [report('dup:a')], { resolveUnseen: false });
      const { opened, resolved } = await store.recordIssues(
        'crm',
        null,
        [report('bad:1', { kind: 'invalid_email' })],
        {
          resolveUnseen: true,
          keep: ['mass_change'],
        },
      );
      expect(opened).toEqual([]);
      expect(resolved.map((i) => i.fingerprint)).toEqual(['dup:a']);
      expect(resolved[0]?.status).toBe('resolved');
      expect(resolved[0]?.resolvedAt).not.toBeNull();
      const open_ = await store.listIssues({ connection: 'crm', status: 'open' });
      expect(open_.map((i) => i.fingerprint).sort()).toEqual(['bad:1', 'mass']);
      expect(
        (await store.listIssues({ connection: 'billing', status: 'open' })).map((i) => i.fingerprint),
      ).toEqual(['dup:a']);
    });

    it('without resolveUnseen, unseen issues stay open', async () => {
      const { store } = await open();
      await store.recordIssues('crm', null, [report('dup:a')], { resolveUnseen: false });
      expect(await store.recordIssues('crm', null, [], { resolveUnseen: false })).toEqual({
        opened: [],
        resolved: [],
      });
      expect(await store.listIssues({ status: 'open' })).toHaveLength(1);
    });

    it('a resolved problem seen again opens a new issue', async () => {
      const { store } = await open();
      const first = await store.recordIssues('crm', null, [report('dup:a')], { resolveUnseen: true });
      await store.recordIssues('crm', null, [], { resolveUnseen: true });
      const second = await store.recordIssues('crm', null, [report('dup:a')], { resolveUnseen: true });
      expect(second.opened).toHaveLength(1);
      expect(second.opened[0]?.id).not.toBe(first.opened[0]?.id);
      expect((await store.listIssues({ connection: 'crm' })).map((i) => i.status).sort()).toEqual([
        'open',
        'resolved',
      ]);
    });

    it('one report seen twice in a run is recorded once, the last description winning', async () => {
      const { store } = await open();
      const { opened } = await store.recordIssues(
        'crm',
        null,
        [report('dup:a', { message: 'first' }), report('dup:a', { message: 'last' })],
        { resolveUnseen: true },
      );
      expect(opened.map((i) => i.message)).toEqual(['last']);
      expect(await store.listIssues()).toHaveLength(1);
    });
  });
}
