/**
 * Applies a sync plan: source writes through the connector, directory writes through
 * the store, in batches. The order keeps every crash point recoverable (SPEC §3
 * crash-safety): a link is recorded only for what really happened in the source, and a
 * baseline never claims a source write that has not landed.
 */
import type { RowUpdate, SourceConnector, WriteResult } from '../connectors/connector.js';
import type { FingerprintColumns } from './fingerprints.js';
import type { IssueReport } from '../core/issue.js';
import type { PlanAction, SyncPlan } from '../core/plan.js';
import {
  NEW_USER_VERSION,
  type DirectoryOp,
  type DirectoryOpResult,
  type DirectoryStore,
  type ImportedLink,
  type RunCounts,
} from '../directory/store.js';
import { emptyCounts } from './counts.js';
import { failpoint } from './failpoint.js';
import { yieldToEventLoop } from './yield.js';

export interface ApplyProgress {
  readonly done: number;
  readonly total: number;
}

export interface ApplyOutcome {
  readonly counts: RunCounts;
  /** write_failed issues. */
  readonly issues: IssueReport[];
  /** Keys of the rows this run created. */
  readonly createdKeys: string[];
}

const DIRECTORY_BATCH = 1000;
/**
 * Import batches in flight. At two, the process waited for the batch before's write-back
 * after writing each batch's users, 13-18 % of a first sync (the source's server had the
 * time to spare); at three, 1M rows into SQLite 33.5 -> 31.3 s. Four: no better. The
 * PostgreSQL directory, bound by its server, is the same at two and three.
 */
const IMPORT_DEPTH = 3;

type Of<T extends PlanAction['type']> = Extract<PlanAction, { type: T }>;

export interface ApplyOptions {
  readonly onProgress?: ((progress: ApplyProgress) => void) | undefined;
  /**
   * What the rows' fingerprints are over (see fingerprints.ts), when the source gives
   * them: an import keeps its row's with the new link, so the next full sync need not
   * read the row in full.
   */
  readonly fingerprints?: FingerprintColumns | null | undefined;
}

export async function applyPlan(
  plan: SyncPlan,
  store: DirectoryStore,
  source: SourceConnector,
  options: ApplyOptions = {},
): Promise<ApplyOutcome> {
  const run = new Applier(store, source, options);
  await run.apply(plan);
  return run.finish();
}

/**
 * Applies plans one after another (one, or a page of new users at a time) and adds up
 * what happened. Imports are a pipeline `IMPORT_DEPTH` batches deep: a batch's users are
 * written while the batches before are still being written (a PostgreSQL directory: on
 * other connections) or written back, and write-backs are left in flight while the next
 * batches' users are written. Write-backs go one at a time and in batch order, each after
 * its own batch's users were committed; the batch's links follow its write-back. Anything
 * else waits for the pipeline to empty, and so does `finish`.
 */
export class Applier {
  private readonly counts = emptyCounts();
  private readonly issues: IssueReport[] = [];
  private readonly createdKeys: string[] = [];
  private connection = '';
  private done = 0;
  private total = 0;
  /** The last import batch, until its write-back landed; never rejects (a failure is kept in `importError`). */
  private importing: Promise<void> = Promise.resolve();
  /** The import batches in flight, oldest first (each as `importing` was for it). */
  private readonly inFlight: Promise<void>[] = [];
  private importError: { readonly error: unknown } | null = null;

  constructor(
    private readonly store: DirectoryStore,
    private readonly source: SourceConnector,
    private readonly options: ApplyOptions = {},
  ) {}

  async apply(plan: SyncPlan): Promise<void> {
    this.connection = plan.connection;
    this.total += plan.actions.length;
    this.counts.unchanged += plan.unchanged;
    this.counts.skipped += plan.skipped;
    this.counts.conflicts += plan.conflicts.length;
    const of = <T extends PlanAction['type']>(type: T) =>
      plan.actions.filter((a): a is Of<T> => a.type === type);
    const { writeBatchSize } = this.source.capabilities;
    // Deletes first: a source with a unique email column may need the room for a new row.
    await this.batches(of('deleteRow'), writeBatchSize, (b) => this.deleteRows(b));
    await this.batches(of('unlink'), DIRECTORY_BATCH, (b) => this.unlink(b));
    await this.batches(of('import'), Math.min(DIRECTORY_BATCH, writeBatchSize), (b) => this.imports(b), {
      leaveImporting: true,
    });
    await this.batches(of('update'), Math.min(DIRECTORY_BATCH, writeBatchSize), (b) => this.updates(b));
    const creates = [...of('export'), ...of('recreate')];
    await this.batches(creates, writeBatchSize, (b) => this.creates(b));
  }

  /** Waits for the imports in flight and returns what the plans did. */
  async finish(): Promise<ApplyOutcome> {
    await this.imported();
    return { counts: this.counts, issues: this.issues, createdKeys: this.createdKeys };
  }

  private async batches<T>(
    items: readonly T[],
    size: number,
    apply: (batch: T[]) => Promise<void>,
    { leaveImporting = false } = {},
  ): Promise<void> {
    if (items.length === 0) return;
    if (!leaveImporting) await this.imported();
    try {
      for (let i = 0; i < items.length; i += size) {
        const batch = items.slice(i, i + size);
        await yieldToEventLoop();
        await apply(batch);
        this.done += batch.length;
        this.options.onProgress?.({ done: this.done, total: this.total });
      }
    } catch (error) {
      // Nothing of the run goes on behind its back once it fails.
      await this.importing;
      throw error;
    }
  }

  /** SPEC §3: a user deleted in the app loses its row; then the link goes. */
  private async deleteRows(batch: Of<'deleteRow'>[]): Promise<void> {
    const results = await this.sourceWrite(this.source.delete(batch.map((a) => a.key)));
    const done = batch.filter((a, i) => this.wrote(results[i]!, a.key, a.userId, 'delete'));
    await this.directory(done.map((a) => ({ type: 'deleteLink', key: a.key })));
    this.counts.source.deleted += done.length;
  }

  private async unlink(batch: Of<'unlink'>[]): Promise<void> {
    await this.directory(batch.map((a) => ({ type: 'deleteLink', key: a.key })));
  }

  /**
   * Users first, then the write-back, then the links (their baselines hold the
   * written-back values; see below) with the rows' fingerprints, in the pipeline (see the
   * class): returns once fewer batches than its depth are in flight, this one's users
   * being written.
   *
   * The link comes last because only the write-back gives the fingerprint it keeps:
   * written first, it had to be updated after (PostgreSQL directory, 300k rows: 5.8 s of
   * the server's 21 s). A run stopped in between leaves users without a link, whose rows
   * the next run finds by email (the rows' ids already theirs, or written back then), as
   * it finds any user's: a first match, which changes nothing.
   */
  private async imports(batch: Of<'import'>[]): Promise<void> {
    const before = this.importing;
    const written = this.directory(
      batch.map((a): DirectoryOp => ({ type: 'createUser', user: a.user, link: null })),
    );
    this.importing = this.importBatch(batch, written, before).catch((error: unknown) => {
      this.importError ??= { error };
    });
    this.inFlight.push(this.importing);
    if (this.inFlight.length >= IMPORT_DEPTH) await this.inFlight.shift();
    if (this.importError) throw this.importError.error;
  }

  private async importBatch(
    batch: Of<'import'>[],
    written: Promise<DirectoryOpResult[]>,
    before: Promise<void>,
  ): Promise<void> {
    const results = await written;
    await before;
    // A batch before failed: the run fails, and nothing more is written back.
    if (this.importError) return;
    const created = batch.filter((_, i) => results[i] === 'ok');
    // An email taken meanwhile (an app change racing this run) is left for the next run.
    this.counts.stale += batch.length - created.length;
    this.counts.app.created += created.length;
    // App-owned fields are compared app-to-source, never to the baseline, so a write-back
    // that does not land is simply made again next run.
    const writes = created.flatMap((a) => (a.writeBack ? [a] : []));
    const landed = writes.length > 0 ? await this.writeBack(writes) : [];
    await this.link(created, landed);
  }

  /**
   * The links of the users created, each with its row's fingerprint at the version the
   * user was created at: as read, or the one the write-back gave (it landed only if the
   * row still held what was read; see writeBack).
   */
  private async link(created: Of<'import'>[], written: readonly WriteResult[]): Promise<void> {
    const over = this.options.fingerprints;
    let w = 0;
    const links = created.map((a): ImportedLink => {
      const fingerprint = a.writeBack ? okFingerprint(written[w++]) : a.fingerprint?.asRead;
      return {
        link: a.link,
        fingerprint: over && fingerprint ? { fingerprint, userVersion: NEW_USER_VERSION } : null,
      };
    });
    await this.store.linkImported(this.connection, links);
    failpoint('directory-write');
  }

  /** Waits for the imports in flight; a failure of one is the run's. */
  private async imported(): Promise<void> {
    await this.importing;
    if (this.importError) throw this.importError.error;
  }

  private async writeBack(writes: Of<'import'>[]): Promise<WriteResult[]> {
    const over = this.options.fingerprints;
    const updates = writes.map((a): RowUpdate => {
      const update = a.writeBack!;
      if (!over || a.fingerprint === null) return update;
      const { columns, cursor, byFingerprint } = over;
      const { asRead } = a.fingerprint;
      if (byFingerprint && asRead !== null)
        return { ...update, expect: {}, fingerprint: { columns, asRead } };
      // A column the write-back neither checks nor sets may have changed since the read:
      // then only a row still as read gives a fingerprint to keep.
      const checked = columns.every((c) => c in update.expect || c in update.set || c === cursor);
      if (checked) return { ...update, fingerprint: { columns } };
      return asRead === null ? update : { ...update, fingerprint: { columns, asRead } };
    });
    const written = await this.sourceWrite(this.source.update(updates));
    this.counts.source.updated += writes.filter((a, i) =>
      this.wrote(written[i]!, a.key, a.user.id, 'update'),
    ).length;
    return written;
  }

  /**
   * The directory side first, conditional on the user's version; its link keeps the old
   * baseline for the fields about to be written. Then the conditional source write, and
   * only when it lands, the final baseline.
   */
  private async updates(batch: Of<'update'>[]): Promise<void> {
    const first = batch.filter((a) => !a.beforeWriteStored);
    const recorded = await this.directory(
      first.map((a): DirectoryOp => {
        const link = a.linkBeforeWrite ?? a.link;
        return a.appPatch
          ? {
              type: 'updateUser',
              userId: a.userId,
              expectedVersion: a.userVersion,
              patch: a.appPatch,
              link,
            }
          : { type: 'putLink', link };
      }),
    );
    const refused = new Set(first.filter((_, i) => recorded[i] !== 'ok'));
    const applied = batch.filter((a) => !refused.has(a));
    this.counts.stale += batch.length - applied.length;
    this.counts.app.updated += applied.filter((a) => a.appPatch).length;
    const writes = applied.filter((a) => a.sourceWrite);
    if (writes.length === 0) return;
    const results = await this.sourceWrite(this.source.update(writes.map((a) => a.sourceWrite!)));
    const landed = writes.filter((a, i) => this.wrote(results[i]!, a.key, a.userId, 'update'));
    this.counts.source.updated += landed.length;
    await this.directory(landed.map((a): DirectoryOp => ({ type: 'putLink', link: a.link })));
  }

  /** New rows (app-only users, rows deleted in the source), then their links. */
  private async creates(batch: Array<Of<'export'> | Of<'recreate'>>): Promise<void> {
    const results = await this.sourceWrite(
      this.source.insert(batch.map((a) => ({ values: a.values, fallbackKey: a.userId }))),
    );
    const ops: DirectoryOp[] = [];
    batch.forEach((a, i) => {
      const result = results[i]!;
      if (result.status !== 'ok') {
        this.issues.push(writeFailed(this.connection, null, a.userId, 'insert', result.error));
        return;
      }
      ops.push({ type: 'putLink', link: { ...a.link, key: result.key } });
      this.createdKeys.push(result.key);
    });
    await this.directory(ops);
    this.counts.source.created += ops.length;
  }

  private async directory(ops: readonly DirectoryOp[]): Promise<DirectoryOpResult[]> {
    if (ops.length === 0) return [];
    const results = await this.store.applyBatch(this.connection, ops);
    failpoint('directory-write');
    return results;
  }

  /** Every source write goes through here, so the crash tests can stop the process after any of them. */
  private async sourceWrite<T>(write: Promise<T>): Promise<T> {
    const results = await write;
    failpoint('source-write');
    return results;
  }

  private wrote(result: WriteResult, key: string, userId: string, what: 'update' | 'delete'): boolean {
    if (result.status === 'ok') return true;
    if (result.status === 'stale') this.counts.stale += 1;
    else this.issues.push(writeFailed(this.connection, key, userId, what, result.error));
    return false;
  }
}

function okFingerprint(result: WriteResult | undefined): string | undefined {
  return result?.status === 'ok' ? result.fingerprint : undefined;
}

function writeFailed(
  connection: string,
  key: string | null,
  userId: string,
  what: string,
  error: string,
): IssueReport {
  const row = key === null ? `A new row for user ${userId}` : `Row "${key}"`;
  return {
    kind: 'write_failed',
    fingerprint: `write_failed:${key ?? userId}`,
    message: `${row} of ${connection} could not be written (${what}): the source said: ${error}`,
    fix: `Fix what the source objects to (a constraint, a permission, a column type), then validate the fix.`,
    rows: key === null ? [] : [key],
    users: [userId],
  };
}
