/**
 * Full syncs of a source that digests its own rows (see sync/fingerprints.ts; PostgreSQL,
 * and SQLite for keys that repeat): once the pairs are quiet, a full sync reads in full
 * only the rows that changed on either side, and still finds everything a full read finds.
 */
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectionConfig, LoadedConfig } from '../../src/config.js';
import type { SourceConnector, SourceRow } from '../../src/connectors/connector.js';
import { fingerprintTag } from '../../src/sync/fingerprints.js';
import { runConnectionSync, type SyncOptions } from '../../src/sync/run-sync.js';
import type { SourcePool } from '../../src/sync/source-pool.js';
import { HookedPool } from '../support/hooked-pool.js';
import type { ClubSource } from '../support/club-table.js';
import { postgresReachable } from '../support/postgres-directory.js';
import { expectNoChanges, runOf, useSyncFixture, type SyncWorld } from '../support/sync-fixture.js';

const { clubWorld, clubWorldOn } = useSyncFixture();
const postgres = await postgresReachable();
const pools: SourcePool[] = [];
afterEach(async () => {
  for (const pool of pools.splice(0)) await pool.close();
});

/** How many rows the source handed over, in full (scanned or looked up) or as fingerprints. */
interface Reads {
  scanned: number;
  lookedUp: number;
  fingerprints: number;
}

/**
 * A sync that compared the fingerprints bucket by bucket (core/fingerprint-buckets.ts):
 * the source handed over those of `keys`, and of few others (the rows that share their
 * buckets, by chance), not all `of` its rows.
 */
function expectFingerprintsOf(pool: CountingPool, keys: readonly string[], of: number): void {
  expect([...pool.fingerprintKeys]).toEqual(expect.arrayContaining([...keys]));
  expect(pool.fingerprintKeys.size).toBeLessThan(of);
}

/** A pool whose sources count what they read. */
class CountingPool extends HookedPool {
  reads: Reads = { scanned: 0, lookedUp: 0, fingerprints: 0 };
  /** The columns each scan asked for, since the last sync began. */
  scans: Array<readonly string[]> = [];
  /** The keys of the fingerprints handed over, since the last sync began. */
  fingerprintKeys = new Set<string>();

  protected hooks(source: SourceConnector): Partial<SourceConnector> {
    const reads = () => this.reads;
    const scans = () => this.scans;
    const fingerprintKeys = () => this.fingerprintKeys;
    async function* counted<T>(pages: AsyncIterable<T[]>, count: keyof Reads): AsyncIterable<T[]> {
      for await (const page of pages) {
        reads()[count] += page.length;
        yield page;
      }
    }
    return {
      scan: (o) => {
        scans().push(o.columns);
        return counted(source.scan(o), 'scanned');
      },
      scanFingerprints: async function* (o) {
        for await (const page of counted(source.scanFingerprints!(o), 'fingerprints')) {
          for (const { key } of page) fingerprintKeys().add(key);
          yield page;
        }
      },
      lookup: async (...args: Parameters<SourceConnector['lookup']>): Promise<SourceRow[]> => {
        const rows = await source.lookup(...args);
        // The read asks for fingerprints; reading back the rows a run created does not.
        if (args[3]?.fingerprint) reads().lookedUp += rows.length;
        return rows;
      },
    };
  }
}

/** A PostgreSQL club of twelve members, imported, then synced until every pair is quiet. */
async function quietClub(extra: Record<string, unknown> = {}) {
  const world = await clubWorldOn('postgres', extra);
  const keys: string[] = [];
  for (let i = 0; i < 12; i += 1) keys.push(await world.club.add({ email: `m${i}@x.io`, name: `M ${i}` }));
  const pool = new CountingPool(world.config as LoadedConfig);
  pools.push(pool);
  const sync = async (options: Partial<SyncOptions> = {}) => {
    pool.reads = { scanned: 0, lookedUp: 0, fingerprints: 0 };
    pool.scans = [];
    pool.fingerprintKeys = new Set();
    const result = await runConnectionSync({ ...world.services, sources: pool }, world.connection(), {
      trigger: 'manual',
      ...options,
    });
    expect(result.status, result.error ?? '').toBe('succeeded');
    return { result, reads: pool.reads };
  };
  const imported = await sync();
  // An empty directory: a first read of each row's email, then the rows to import in full.
  const { emailColumn, fields } = world.connection();
  expect(pool.scans[0]).toEqual([emailColumn]);
  expect(pool.scans[1]).toEqual(expect.arrayContaining(fields.map((f) => f.column)));
  expect(imported.reads.scanned).toBe(24);
  expect(imported.result.counts.source.updated).toBe(12); // every userId written back
  return { world, keys, pool, sync };
}

async function rowOf(world: SyncWorld, key: string) {
  return (await world.club.rows()).find((row) => String(row.id) === key);
}

describe.skipIf(!postgres)('a full sync of a source that gives fingerprints', () => {
  it('reads no row in full once every pair is quiet, from the run after the import on', async () => {
    const { sync } = await quietClub();
    // The import kept each row's fingerprint after its write-back, at its new user's version.
    const { result, reads } = await sync();
    // Every bucket alike: not one fingerprint handed over.
    expect(reads).toEqual({ scanned: 0, lookedUp: 0, fingerprints: 0 });
    expect(result.counts.unchanged).toBe(12);
  });

  it('keeps no fingerprint for an imported row with a value it cannot read', async () => {
    // Avatars from the status column, where "lu.png" is not a URL.
    const fields = { email: 'email', name: 'Full-Name', avatar: 'status', userId: 'app_user_id' };
    const { world, pool, sync } = await quietClub({ fields });
    const key = await world.club.add({ email: 'lu@x.io', name: 'Lu', status: 'lu.png' });
    expect((await sync()).reads).toMatchObject({ scanned: 0, lookedUp: 1 });
    expectFingerprintsOf(pool, [key], 13);
    const issues = async () => (await world.openIssues()).map((i) => `${i.kind} ${i.rows.join(',')}`);
    expect(await issues()).toEqual([`invalid_value ${key}`]);
    // Still read in full, so its issue stays open.
    expect((await sync()).reads).toMatchObject({ scanned: 0, lookedUp: 1 });
    expectFingerprintsOf(pool, [key], 13);
    expect(await issues()).toEqual([`invalid_value ${key}`]);
  });

  it('reads in full the rows changed on either side, finds the rows gone, and syncs them', async () => {
    const { world, keys, pool, sync } = await quietClub();
    await world.club.set(keys[1]!, 'Full-Name', 'Renamed in the source');
    const m2 = await world.user('m2@x.io');
    await world.store.updateUser(m2.id, { name: 'Renamed in the app' });
    await world.club.remove(keys[3]!);

    const { result, reads } = await sync();

    expect(reads).toMatchObject({ scanned: 0, lookedUp: 2 });
    expectFingerprintsOf(pool, [keys[1]!, keys[2]!], 11);
    expect((await world.user('m1@x.io')).name).toBe('Renamed in the source');
    expect((await rowOf(world, keys[2]!))?.['Full-Name']).toBe('Renamed in the app');
    // SPEC §3: a linked row deleted in the source is made again, as a full read would.
    expect(result.counts.source.created).toBe(1);
    expect((await world.club.rows()).map((row) => row.email)).toContain('m3@x.io');
    expect(result.counts.unchanged).toBe(9);
    // The three pairs just written are read once more, found quiet, and then left alone.
    const remade = String((await world.club.rows()).find((row) => row.email === 'm3@x.io')?.id);
    expect((await sync()).reads).toMatchObject({ scanned: 0, lookedUp: 3 });
    expectFingerprintsOf(pool, [keys[1]!, keys[2]!, remade], 12);
    expect((await sync()).reads).toEqual({ scanned: 0, lookedUp: 0, fingerprints: 0 });
  });

  it('finds the row gone of a user written in the app, whose link then has no fingerprint to digest', async () => {
    const { world, keys, sync } = await quietClub();
    const m5 = await world.user('m5@x.io');
    await world.store.updateUser(m5.id, { name: 'Renamed in the app' });
    await world.club.remove(keys[5]!);

    const { result, reads } = await sync();

    expect(reads).toMatchObject({ scanned: 0, lookedUp: 0 });
    // SPEC §3: made again, with the app's change.
    expect(result.counts.source.created).toBe(1);
    const rows = await world.club.rows();
    expect(rows.find((row) => row.email === 'm5@x.io')?.['Full-Name']).toBe('Renamed in the app');
    expect((await sync()).reads).toMatchObject({ scanned: 0, lookedUp: 1 });
    expectNoChanges(await world.sync());
  });

  it('reads in full the row of a user written by a process whose clock is behind', async () => {
    const { world, keys, pool, sync } = await quietClub();
    // Another process's write: the version moves on, the time it gives is long past.
    const directory = new Database(world.path('dir.db'));
    directory
      .prepare(
        `update users set name = 'Written elsewhere', version = version + 1, updated_at = '2001-01-01T00:00:00.000Z'
         where email = 'm4@x.io'`,
      )
      .run();
    directory.close();

    const { result, reads } = await sync();

    expect(reads).toMatchObject({ scanned: 0, lookedUp: 1 });
    expectFingerprintsOf(pool, [keys[4]!], 12);
    expect(result.counts.source.updated).toBe(1);
    expect((await rowOf(world, keys[4]!))?.['Full-Name']).toBe('Written elsewhere');
  });

  it('scans every row instead when more rows changed than it would look up', async () => {
    const { world, keys, sync } = await quietClub();
    for (const key of keys.slice(0, 3)) await world.club.set(key, 'plan', 'pro');

    const { result, reads } = await sync({ fingerprints: { mostLookedUp: 2 } });

    expect(reads.scanned).toBe(12);
    expect(reads.lookedUp).toBe(0);
    expect(result.counts.app.updated).toBe(3);
    expect((await world.user('m0@x.io')).custom.plan).toBe('pro');
  });

  it('does not trust fingerprints taken under another mapping', async () => {
    const { world, sync } = await quietClub();
    await world.store.setConnectionState('crm', { fingerprintTag: 'another mapping' });

    expect((await sync()).reads.scanned).toBe(12);
    expect((await sync()).reads).toEqual({ scanned: 0, lookedUp: 0, fingerprints: 0 });
  });
});

describe.skipIf(!postgres)('an import of a source that gives fingerprints', () => {
  /** A pool whose write-backs meet a row changed, just before, in a column read but not checked. */
  class RacingPool extends HookedPool {
    constructor(
      config: LoadedConfig,
      private readonly race: (key: string) => Promise<void>,
    ) {
      super(config);
    }

    protected hooks(source: SourceConnector): Partial<SourceConnector> {
      return {
        update: async (updates) => {
          await this.race(updates[0]!.key);
          return source.update(updates);
        },
      };
    }
  }

  /** Three members imported while one row's status changes just before its write-back; then a full sync. */
  async function raceImport(extra: Record<string, unknown>, kind: ClubSource = 'postgres') {
    const world = await clubWorldOn(kind, extra);
    for (let i = 0; i < 3; i += 1) await world.club.add({ email: `m${i}@x.io`, name: `M ${i}`, status: 'a' });
    let raced: string | null = null;
    const racing = new RacingPool(world.config as LoadedConfig, async (key) => {
      if (raced !== null) return;
      raced = key;
      await world.club.set(key, 'status', 'b');
    });
    const counting = new CountingPool(world.config as LoadedConfig);
    pools.push(racing, counting);
    const sync = async (pool: SourcePool) => {
      const result = await runConnectionSync({ ...world.services, sources: pool }, world.connection(), {
        trigger: 'manual',
        full: true,
      });
      expect(result.status, result.error ?? '').toBe('succeeded');
      return result;
    };
    const imported = await sync(racing);
    const next = await sync(counting);
    const row = await rowOf(world, raced!);
    const user = await world.user(String(row?.email));
    return { imported, next, reads: counting.reads, fingerprintKeys: counting.fingerprintKeys, row, user };
  }

  it('keeps no fingerprint for a row changed before its write-back in a column the filter reads', async () => {
    const { imported, next, reads, fingerprintKeys, row, user } = await raceImport({
      filter: 'status eq "a"',
    });
    // The write-back asked for the row as read: stale, so the next run reads it in full.
    expect(imported.counts).toMatchObject({ app: { created: 3 }, source: { updated: 2 }, stale: 1 });
    expect(reads).toMatchObject({ scanned: 0, lookedUp: 1 });
    expect([...fingerprintKeys]).toContain(String(row?.id));
    expect(next.counts.app.updated).toBe(1);
    expect(user.status).toBe('suspended'); // SPEC §3: the row no longer matches the filter
    expect(row?.status).toBe('b');
  });

  it('checking values, keeps the fingerprint after the write-back when only the cursor changed before it', async () => {
    const { imported, reads, row, user } = await raceImport({ cursor: 'status' }, 'sqlite');
    expect(imported.counts).toMatchObject({ app: { created: 3 }, source: { updated: 3 }, stale: 0 });
    expect(reads).toEqual({ scanned: 0, lookedUp: 0, fingerprints: 0 });
    expect(row?.app_user_id).toBe(user.id);
  });

  it('checking the fingerprint as read, leaves a row whose cursor alone changed to the next run', async () => {
    // PostgreSQL computes the fingerprints, so the write-back checks the row by its own,
    // which covers the cursor too: stale, never overwritten; the next run writes it back.
    const { imported, next, reads, row, user } = await raceImport({ cursor: 'status' });
    expect(imported.counts).toMatchObject({ app: { created: 3 }, source: { updated: 2 }, stale: 1 });
    expect(reads).toMatchObject({ scanned: 0, lookedUp: 1 });
    expect(next.counts).toMatchObject({ source: { updated: 1 }, stale: 0 });
    expect(row).toMatchObject({ status: 'b', app_user_id: user.id });
  });
});

describe('a key that comes to repeat (SQLite source, keyed by a column that is not unique)', () => {
  /** Two members keyed by status, synced until quiet; then a new row takes the first one's key. */
  async function repeatedKey(options: Partial<SyncOptions>, newRow: (world: SyncWorld) => void) {
    const world = await clubWorld({ key: 'status' });
    world.addMember({ email: 'a@x.io', name: 'Ann', status: 'x' });
    world.addMember({ email: 'b@x.io', name: 'Bo', status: 'y' });
    await world.sync();
    await world.sync();
    newRow(world);
    const run = runOf(await world.sync({ approveMassChange: true, ...options }));
    const issues = (await world.openIssues()).map((i) => `${i.kind} ${i.rows.join(',')}`).sort();
    const users = (await world.users()).map((u) => `${u.email} ${u.name}`).sort();
    expectNoChanges(await world.sync(options));
    return { counts: run.counts, issues, users };
  }
  const SCANNED = { fingerprints: { mostLookedUp: 0 } };
  const another = (world: SyncWorld) => void world.addMember({ email: 'c@x.io', name: 'Cy', status: 'x' });
  // A copy of the first row: both copies agree with its link, so a full read finds them both quiet.
  const copy = (world: SyncWorld) =>
    void world.sql(
      `insert into "Club Members" (email, "Full-Name", plan, company, app_user_id, signup_date, status)
       select email, "Full-Name", plan, company, app_user_id, signup_date, status from "Club Members" where status = 'x'`,
    );

  it('holds both rows back with an issue, whether the fingerprints are trusted or every row is read', async () => {
    for (const newRow of [another, copy]) {
      const trusted = await repeatedKey({}, newRow);
      const scanned = await repeatedKey(SCANNED, newRow);
      expect(trusted.issues).toEqual(['invalid_value x']); // "2 rows of crm share the key x"
      expect(trusted.counts).toMatchObject({ unchanged: 1, skipped: 2 });
      expect(trusted.users).toEqual(['a@x.io Ann', 'b@x.io Bo']);
      expect(scanned).toEqual(trusted);
    }
  });
});

describe('the fingerprint tag', () => {
  const base = {
    emailColumn: 'email',
    fields: [{ id: 'name', column: 'name', owner: 'both', kind: 'text' }],
    filter: null,
  } as unknown as ConnectionConfig;
  const tag = (connection: ConnectionConfig, columns = ['email', 'name']) =>
    fingerprintTag(connection, 'id', columns);

  it('is the same for the same mapping and changes with anything that judges a row', () => {
    expect(tag(base)).toBe(tag({ ...base }));
    const others = [
      tag(base, ['email', 'name', 'plan']),
      tag({ ...base, emailColumn: 'mail' }),
      tag({ ...base, fields: [{ ...base.fields[0]!, kind: 'date' }] }),
      tag({ ...base, filter: { text: 'plan eq "pro"', matches: () => true } }),
      fingerprintTag(base, 'uid', ['email', 'name']),
    ];
    expect(new Set([tag(base), ...others]).size).toBe(others.length + 1);
  });
});
