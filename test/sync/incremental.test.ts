/**
 * Incremental sync (`cursor:`): rows changed since the last cursor and users changed since
 * the last run, looked up rather than scanned; a full sync still finds deleted rows.
 */
import mysql from 'mysql2/promise';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { FULL_SYNC_EVERY_MS } from '../../src/sync/read-incremental.js';
import { mysqlAvailable } from '../support/mysql.js';
import { POSTGRES_TEST_URL, postgresReachable } from '../support/postgres-directory.js';
import { CLUB_SCHEMA, runOf, useSyncFixture, type SyncWorld } from '../support/sync-fixture.js';

const { clubWorld, clubWorldOn } = useSyncFixture();
const postgres = await postgresReachable();
const mariadb = await mysqlAvailable();

const SCHEMA = CLUB_SCHEMA.replace('status text', 'status text, updated_at text');
const at = (minute: number) => `2024-05-01 09:${String(minute).padStart(2, '0')}:00`;

/**
 * Twenty synced members, last updated a minute apart from 08:00 to 08:19 (so the cursor is
 * 08:19, and an incremental read, a minute back, sees two of them). An incremental sync pushes the users
 * written since shortly before the last run began, but not those the run itself left quiet:
 * the next sync sees only what the test changes, at once.
 */
async function syncedClub(): Promise<{ world: SyncWorld; keys: string[] }> {
  const world = await clubWorld({ cursor: 'updated_at' }, SCHEMA);
  const keys = Array.from({ length: 20 }, (_, i) => {
    const key = world.addMember({ email: `m${i}@x.io`, name: `M ${i}` });
    world.setMember(key, 'updated_at', `2024-05-01 08:${String(i).padStart(2, '0')}:00`);
    return key;
  });
  const first = runOf(await world.sync());
  expect(first.scope).toBe('full');
  expect(runOf(await world.sync()).scope).toBe('incremental');
  return { world, keys };
}

describe('an incremental sync', () => {
  it('starts after a full sync, which records the cursor', async () => {
    const { world } = await syncedClub();
    const state = await world.store.getConnectionState('crm');
    expect(state.cursor).toBe('2024-05-01 08:19:00');
    expect(state.lastFullSyncAt).not.toBeNull();
  });

  it('right after the import, pushes none of the users it imported', async () => {
    const world = await clubWorld({ cursor: 'updated_at' }, SCHEMA);
    for (let i = 0; i < 20; i++) {
      const key = world.addMember({ email: `m${i}@x.io`, name: `M ${i}` });
      world.setMember(key, 'updated_at', `2024-05-01 08:${String(i).padStart(2, '0')}:00`);
    }
    expect(runOf(await world.sync()).counts.app.created).toBe(20);
    const m5 = await world.user('m5@x.io');
    await world.store.updateUser(m5.id, { name: 'Changed in the app' });

    const run = runOf(await world.sync());

    expect(run.scope).toBe('incremental');
    // The user changed since, and nothing else: not the twenty imported, nor the two rows
    // within the cursor's minute (read, but their fingerprints say they are as last synced).
    expect(run.counts.unchanged).toBe(0);
    expect(run.counts.source.updated).toBe(1);
    expect(world.members().find((m) => m.email === 'm5@x.io')).toMatchObject({
      'Full-Name': 'Changed in the app',
    });
  });

  it('reads only the rows changed since the cursor, and applies their changes', async () => {
    const { world, keys } = await syncedClub();
    world.setMember(keys[3]!, 'Full-Name', 'Renamed');
    world.setMember(keys[3]!, 'updated_at', at(5));

    const run = runOf(await world.sync());

    expect(run.scope).toBe('incremental');
    expect(run.counts.app.updated).toBe(1);
    expect(run.counts.unchanged).toBeLessThan(5); // not the twenty rows of a full read
    expect((await world.user('m3@x.io')).name).toBe('Renamed');
    expect((await world.store.getConnectionState('crm')).cursor).toBe(at(5));
  });

  it('does not miss a row written with the same timestamp as the cursor, or a little before it', async () => {
    const { world, keys } = await syncedClub();
    world.setMember(keys[1]!, 'Full-Name', 'Same second');
    world.setMember(keys[1]!, 'updated_at', '2024-05-01 08:19:00');
    world.setMember(keys[2]!, 'Full-Name', 'Late commit');
    world.setMember(keys[2]!, 'updated_at', '2024-05-01 08:18:30'); // 30 s before the cursor

    runOf(await world.sync());

    expect((await world.user('m1@x.io')).name).toBe('Same second');
    expect((await world.user('m2@x.io')).name).toBe('Late commit');
  });

  it('imports new rows and pushes app changes and new app users, without a full read', async () => {
    const { world, keys } = await syncedClub();
    const key = world.addMember({ email: 'new@x.io', name: 'New' });
    world.setMember(key, 'updated_at', at(7));
    const m5 = await world.user('m5@x.io');
    await world.store.updateUser(m5.id, { name: 'Changed in the app' });
    const app = await world.store.createUser({ email: 'app@x.io', name: 'App' });

    const run = runOf(await world.sync());

    expect(run.scope).toBe('incremental');
    expect((await world.user('new@x.io')).name).toBe('New');
    expect(world.member(keys[5]!)).toMatchObject({ 'Full-Name': 'Changed in the app' });
    expect(world.members().find((m) => m.email === 'app@x.io')).toMatchObject({ app_user_id: app.id });
    expect(runOf(await world.sync()).counts.source).toEqual({ created: 0, updated: 0, deleted: 0 });
  });

  it('leaves a row deleted in the source to a full sync, which re-creates it', async () => {
    const { world, keys } = await syncedClub();
    world.deleteMember(keys[8]!);

    expect(runOf(await world.sync()).counts.source.created).toBe(0);
    const full = runOf(await world.sync({ full: true }));

    expect(full.scope).toBe('full');
    expect(full.counts.source.created).toBe(1);
    expect(world.members().filter((m) => m.email === 'm8@x.io')).toHaveLength(1);
  });

  it('a new row with the email of a user linked to an unchanged row is an issue, not a second row', async () => {
    const { world } = await syncedClub();
    const key = world.addMember({ email: 'M4@x.io', name: 'Again' });
    world.setMember(key, 'updated_at', at(9));

    const run = runOf(await world.sync());

    expect(run.scope).toBe('incremental');
    expect(run.counts.source.created).toBe(0);
    expect(run.issues.map((i) => i.kind)).toEqual(['duplicate_email']);
    expect(world.members().filter((m) => String(m.email).toLowerCase() === 'm4@x.io')).toHaveLength(2);
  });

  it('becomes a full sync again when the last full sync is older than a day', async () => {
    const { world } = await syncedClub();
    const old = new Date(Date.now() - FULL_SYNC_EVERY_MS - 60_000).toISOString();
    await world.store.setConnectionState('crm', { lastFullSyncAt: old });

    expect(runOf(await world.sync()).scope).toBe('full');
  });
});

/** The club table's server, as the application beside usersync would use it. */
interface Touching {
  /** Moves every row's updated_at two minutes back: past the cursor's overlap, as time would. */
  age(): Promise<void>;
  rename(email: string, name: string): Promise<void>;
  reemail(email: string, to: string): Promise<void>;
  end(): Promise<void>;
}

const touching: Record<'postgres' | 'mysql', (world: SyncWorld) => Promise<Touching>> = {
  /** A BEFORE UPDATE trigger, as an application's would be. */
  postgres: async (world) => {
    const client = new pg.Client(POSTGRES_TEST_URL);
    await client.connect();
    const table = world.club.table;
    const schema = table.slice(0, table.indexOf('.'));
    await client.query(`alter table ${table} add column updated_at timestamptz not null default now()`);
    await client.query(`create function ${schema}.touch() returns trigger language plpgsql as
      $$ begin new.updated_at := clock_timestamp(); return new; end $$`);
    await client.query(
      `create trigger touch before update on ${table} for each row execute function ${schema}.touch()`,
    );
    return {
      // The trigger sets updated_at on every UPDATE: turned off for this one.
      age: async () => {
        await client.query(`alter table ${table} disable trigger touch`);
        await client.query(`update ${table} set updated_at = updated_at - interval '2 minutes'`);
        await client.query(`alter table ${table} enable trigger touch`);
      },
      rename: async (email, name) =>
        void (await client.query(`update ${table} set "Full-Name" = $1 where email = $2`, [name, email])),
      reemail: async (email, to) =>
        void (await client.query(`update ${table} set email = $1 where email = $2`, [to, email])),
      end: () => client.end(),
    };
  },
  /** MySQL's own way: ON UPDATE CURRENT_TIMESTAMP. */
  mysql: async (world) => {
    const connection = await mysql.createConnection(world.club.source);
    const table = `\`${world.club.table}\``;
    await connection.query(`alter table ${table} add column updated_at datetime(3) not null
      default current_timestamp(3) on update current_timestamp(3)`);
    return {
      // Setting the column itself keeps ON UPDATE from setting it.
      age: async () =>
        void (await connection.query(`update ${table} set updated_at = updated_at - interval 2 minute`)),
      rename: async (email, name) =>
        void (await connection.query(`update ${table} set \`Full-Name\` = ? where email = ?`, [name, email])),
      reemail: async (email, to) =>
        void (await connection.query(`update ${table} set email = ? where email = ?`, [to, email])),
      end: () => connection.end(),
    };
  },
};

describe.each([
  ['postgres', postgres],
  ['mysql', mariadb],
] as const)('an incremental sync of a %s source that sets its cursor column on every UPDATE', (kind, up) => {
  it.runIf(up)(
    'reads past the rows it wrote back itself without planning them, and still sees an edit',
    async () => {
      const world = await clubWorldOn(kind, { cursor: 'updated_at' });
      const server = await touching[kind](world);
      try {
        for (let i = 0; i < 30; i++) await world.club.add({ email: `m${i}@x.io`, name: `M ${i}` });
        const first = runOf(await world.sync());
        expect([first.counts.app.created, first.counts.source.updated]).toEqual([30, 30]);

        // Every row's updated_at moved with the write-back of its user's id.
        const after = runOf(await world.sync());
        expect(after.scope).toBe('incremental');
        expect(after.counts).toMatchObject({ unchanged: 0, app: { created: 0, updated: 0 } });
        expect(after.counts.source).toEqual({ created: 0, updated: 0, deleted: 0 });

        await server.age();
        await server.rename('m7@x.io', 'Edited');
        const edited = runOf(await world.sync());
        expect(edited.scope).toBe('incremental');
        expect(edited.counts).toMatchObject({ unchanged: 0, app: { updated: 1 } });
        expect((await world.user('m7@x.io')).name).toBe('Edited');

        // A new email in a linked row is known by the row's link: an email_changed issue
        // about its user (SPEC §4), not a new user.
        const id = (await world.user('m8@x.io')).id;
        await server.age();
        await server.reemail('m8@x.io', 'n8@x.io');
        const moved = runOf(await world.sync());
        expect(moved.scope).toBe('incremental');
        expect(moved.counts.app).toEqual({ created: 0, updated: 0, deleted: 0 });
        expect(moved.issues.map((issue) => [issue.kind, issue.users])).toEqual([['email_changed', [id]]]);
      } finally {
        await server.end();
      }
    },
  );
});
