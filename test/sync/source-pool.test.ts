import { describe, expect, it } from 'vitest';
import { SourcePool } from '../../src/sync/source-pool.js';
import { syncUser } from '../../src/sync/sync-user.js';
import { runOf, useSyncFixture } from '../support/sync-fixture.js';

const { clubWorld } = useSyncFixture();

describe('a source pool', () => {
  it('keeps one open connector per connection across runs, until it is closed', async () => {
    const world = await clubWorld();
    world.addMember({ email: 'ann@x.io', name: 'Ann' });
    const pool = new SourcePool(world.config);
    const services = { ...world.services, sources: pool };
    const connection = world.connection();
    const opened = await pool.get(connection, 'two-way');

    runOf(await world.sync());
    const user = await world.store.createUser({ email: 'bo@x.io', name: 'Bo' });
    expect((await syncUser(services, connection, user.id, 'app_change')).status).toBe('succeeded');
    expect((await syncUser(services, connection, user.id, 'app_change')).status).toBe('succeeded');

    // Still the same connector, still open after the runs that used it.
    expect(await pool.get(connection, 'two-way')).toBe(opened);
    expect((await opened.lookup('email', ['bo@x.io'], ['email'])).map((r) => r.values.email)).toEqual([
      'bo@x.io',
    ]);
    await pool.close();
    await expect(opened.lookup('email', ['bo@x.io'], ['email'])).rejects.toThrow();
  });

  it('checks the columns of a connection once, then trusts them for a while', async () => {
    const world = await clubWorld();
    const pool = new SourcePool(world.config);
    let checks = 0;
    const check = async () => {
      checks += 1;
      return ['email'];
    };
    expect(await pool.columnsToRead(world.connection(), check)).toEqual(['email']);
    expect(await pool.columnsToRead(world.connection(), check)).toEqual(['email']);
    expect(checks).toBe(1);
    await pool.close();
  });
});
