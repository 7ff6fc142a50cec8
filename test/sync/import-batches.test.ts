/**
 * A first sync larger than one batch (sync/apply-plan.ts): each batch's write-back is left
 * in flight while the next batch's users are written. Every row is still written back and
 * counted once, and a write-back that fails ends the run before anything else is written.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../../src/config.js';
import type { RowUpdate, SourceConnector, WriteResult } from '../../src/connectors/connector.js';
import type { DirectoryStore } from '../../src/directory/store.js';
import { runConnectionSync } from '../../src/sync/run-sync.js';
import type { SourcePool } from '../../src/sync/source-pool.js';
import { HookedPool } from '../support/hooked-pool.js';
import type { ClubSource } from '../support/club-table.js';
import { mysqlAvailable } from '../support/mysql.js';
import { postgresReachable, usePostgresSchemas } from '../support/postgres-directory.js';
import { expectNoChanges, runOf, useSyncFixture, type SyncWorld } from '../support/sync-fixture.js';

const { clubWorldOn } = useSyncFixture();
const postgres = await postgresReachable();
const mysql = await mysqlAvailable();
const schemas = usePostgresSchemas();
const pools: SourcePool[] = [];
afterEach(async () => {
  for (const pool of pools.splice(0)) await pool.close();
});

/** Several batches of imports (a batch is 1,000 rows, or the source's batch if smaller), the last one short. */
const ROWS = 2_500;
/** More batches than the import pipeline's depth. */
const PIPELINE_ROWS = 4_500;

/** A pool whose sources' `update` goes through `around`, which records calls or fails them. */
class UpdateHookPool extends HookedPool {
  constructor(
    config: LoadedConfig,
    private readonly around: (
      update: (updates: RowUpdate[]) => Promise<WriteResult[]>,
      updates: RowUpdate[],
    ) => Promise<WriteResult[]>,
  ) {
    super(config);
  }

  protected hooks(source: SourceConnector): Partial<SourceConnector> {
    return { update: (updates) => this.around((u) => source.update(u), [...updates]) };
  }
}

async function bigClub(kind: ClubSource): Promise<SyncWorld> {
  const world = await clubWorldOn(kind);
  for (let i = 0; i < ROWS; i += 1) await world.club.add({ email: `m${i}@x.io`, name: `M ${i}` });
  return world;
}

/** Rows written back: their app_user_id is the id of the user with their email. */
async function writtenBack(world: SyncWorld): Promise<number> {
  const ids = new Map((await world.users()).map((user) => [user.email, user.id]));
  const rows = await world.club.rows();
  return rows.filter((row) => row.app_user_id !== null && row.app_user_id === ids.get(String(row.email)))
    .length;
}

const sources: ClubSource[] = postgres ? ['sqlite', 'postgres'] : ['sqlite'];
/** Rows held through the plan (the default), or every new-user row read again and imported a page at a time. */
const cases = sources.flatMap((kind) => [
  { kind, holdNewRows: undefined, how: 'held' },
  { kind, holdNewRows: 0, how: 'streamed' },
]);

describe.each(cases)('a first sync of several batches, $kind source, rows $how', ({ kind, holdNewRows }) => {
  it('writes every row back and counts each once', async () => {
    const world = await bigClub(kind);
    const run = runOf(await world.sync({ holdNewRows }));
    expect(run.status).toBe('succeeded');
    expect(run.counts.app.created).toBe(ROWS);
    expect(run.counts.source.updated).toBe(ROWS);
    expect(await writtenBack(world)).toBe(ROWS);
    expectNoChanges(await world.sync());
  });

  it('a write-back that fails fails the run; the next run writes back the rest', async () => {
    const world = await bigClub(kind);
    // The second update call fails, as a server that went away would; the rows of each call are kept.
    const calls: number[] = [];
    const pool = new UpdateHookPool(world.config, async (update, updates) => {
      calls.push(updates.length);
      if (calls.length === 2) throw new Error('the connection to the source was lost');
      return update(updates);
    });
    pools.push(pool);
    const failed = await runConnectionSync({ ...world.services, sources: pool }, world.connection(), {
      trigger: 'manual',
      holdNewRows,
    });
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/the connection to the source was lost/);
    // The first batch's write-back landed, the second's did not, and the third batch's
    // users were written while it was in flight: nothing was written back after the failure.
    expect(calls).toHaveLength(2);
    const [first] = calls as [number];
    expect(first).toBeLessThan(ROWS / 2);
    expect(await writtenBack(world)).toBe(first);
    expect((await world.users()).length).toBeGreaterThan(2 * first);

    const next = runOf(await world.sync());
    expect(next.status).toBe('succeeded');
    expect(next.counts.source.updated).toBe(ROWS - first);
    expect(await writtenBack(world)).toBe(ROWS);
    expectNoChanges(await world.sync());
  });
});

const writeBackSources: ClubSource[] = [...sources, ...(mysql ? (['mysql'] as const) : [])];
describe.each(
  writeBackSources.flatMap((kind) => [
    { kind, linked: false, directory: 'an empty directory' },
    { kind, linked: true, directory: 'a directory with a linked user' },
  ]),
)("an import's write-back, $kind source, into $directory", ({ kind, linked }) => {
  it('leaves a row edited since the read as the other program wrote it; the next run writes it back', async () => {
    const world = await clubWorldOn(kind);
    if (linked) {
      await world.club.add({ email: 'first@x.io', name: 'First' });
      expect(runOf(await world.sync()).counts.app.created).toBe(1);
    }
    const keys: string[] = [];
    for (let i = 0; i < 3; i += 1) keys.push(await world.club.add({ email: `m${i}@x.io`, plan: 'free' }));
    const sent: RowUpdate[] = [];
    const pool = new UpdateHookPool(world.config, async (update, updates) => {
      sent.push(...updates);
      // Another program edits a column the write-back does not set, after the read.
      await world.club.set(keys[1]!, 'plan', 'team');
      return update(updates);
    });
    pools.push(pool);

    const run = await runConnectionSync({ ...world.services, sources: pool }, world.connection(), {
      trigger: 'manual',
    });

    expect(run.counts).toMatchObject({ stale: 1, source: { updated: 2 }, app: { created: 3 } });
    expect(sent.map((u) => u.key).sort()).toEqual([...keys].sort());
    // The server computes fingerprints: the row's as read stands for every value read.
    if (kind !== 'sqlite')
      for (const u of sent)
        expect([Object.keys(u.expect), u.fingerprint?.asRead]).toEqual([[], expect.any(String)]);
    else for (const u of sent) expect(u.expect).toMatchObject({ plan: 'free', app_user_id: null });
    const edited = (await world.club.rows()).find((row) => row.email === 'm1@x.io');
    expect(edited).toMatchObject({ plan: 'team', app_user_id: null });

    runOf(await world.sync());
    expect(await world.user('m1@x.io')).toMatchObject({ custom: { plan: 'team' } });
    expect(await writtenBack(world)).toBe(linked ? 4 : 3);
    expectNoChanges(await world.sync());
  });
});

/**
 * The pipeline's order, which crash safety rests on: a batch's write-back starts only
 * after its users were committed, its links follow its write-back, write-backs go one at
 * a time in batch order, and no more than three batches' directory writes are in flight.
 */
describe.runIf(postgres).each(['sqlite', 'postgres'])(
  'the import pipeline, %s directory',
  (directoryKind) => {
    it('writes a batch back only after its users, one write-back at a time, in order', async () => {
      const world = await clubWorldOn(
        'postgres',
        {},
        directoryKind === 'postgres' ? schemas.newDirectoryUrl() : undefined,
      );
      for (let i = 0; i < PIPELINE_ROWS; i += 1)
        await world.club.add({ email: `m${i}@x.io`, name: `M ${i}` });
      const events: string[] = [];
      let inFlight = 0;
      let mostInFlight = 0;
      const store = new Proxy(world.store, {
        get: (target, property, receiver) => {
          if (property === 'linkImported')
            return async (...args: Parameters<DirectoryStore['linkImported']>) => {
              await target.linkImported(...args);
              events.push(`linked ${args[1][0]?.link.userId}`);
            };
          if (property !== 'applyBatch') return Reflect.get(target, property, receiver) as unknown;
          return async (...args: Parameters<DirectoryStore['applyBatch']>) => {
            const [, ops] = args;
            const first = ops[0];
            // A batch by its first user's id, which its write-back sets (app_user_id).
            const batch = first?.type === 'createUser' ? first.user.id : null;
            if (batch === null) return target.applyBatch(...args);
            mostInFlight = Math.max(mostInFlight, ++inFlight);
            events.push(`users ${batch}`);
            try {
              return await target.applyBatch(...args);
            } finally {
              inFlight -= 1;
              events.push(`committed ${batch}`);
            }
          };
        },
      });
      const pool = new UpdateHookPool(world.config, async (update, updates) => {
        const batch = String(updates[0]!.set.app_user_id);
        events.push(`write-back ${batch}`);
        const results = await update(updates);
        events.push(`written back ${batch}`);
        return results;
      });
      pools.push(pool);
      const run = await runConnectionSync({ ...world.services, store, sources: pool }, world.connection(), {
        trigger: 'manual',
      });
      expect(run.status).toBe('succeeded');
      expect(run.counts.source.updated).toBe(PIPELINE_ROWS);
      const batches = events.filter((e) => e.startsWith('users ')).map((e) => e.slice('users '.length));
      expect(batches.length).toBeGreaterThan(3);
      const at = (event: string) => events.indexOf(event);
      for (const [i, batch] of batches.entries()) {
        expect(at(`committed ${batch}`)).toBeLessThan(at(`write-back ${batch}`));
        expect(at(`write-back ${batch}`)).toBeLessThan(at(`written back ${batch}`));
        expect(at(`written back ${batch}`)).toBeLessThan(at(`linked ${batch}`));
        const next = batches[i + 1];
        if (next !== undefined) expect(at(`written back ${batch}`)).toBeLessThan(at(`write-back ${next}`));
      }
      expect(mostInFlight).toBeLessThanOrEqual(3);
      expect(await writtenBack(world)).toBe(PIPELINE_ROWS);
    });
  },
);
