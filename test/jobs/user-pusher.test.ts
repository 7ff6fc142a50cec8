/**
 * The user pusher: pushes that arrive while a connection is busy go together in the next
 * run (one run for many logins), and every user's change still reaches the source.
 */
import { expect, it } from 'vitest';
import { UserPusher } from '../../src/services/user-pusher.js';
import { SourcePool } from '../../src/sync/source-pool.js';
import { useSyncFixture } from '../support/sync-fixture.js';

const { clubWorld } = useSyncFixture();

it('batches concurrent pushes of one connection and pushes every user', async () => {
  const world = await clubWorld();
  const sources = new SourcePool(world.config);
  const pusher = new UserPusher(async () => ({ ...world.services, sources }));
  try {
    const users = [];
    for (let i = 0; i < 40; i++)
      users.push(await world.store.createUser({ email: `user${i}@example.com`, name: `User ${i}` }));
    // Twenty logins at once, then twenty more once their run has started.
    const first = users.slice(0, 20).map((u) => pusher.push([u.id], 'login'));
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = users.slice(20).map((u) => pusher.push([u.id], 'login'));
    const results = await Promise.all([...first, ...second]);
    expect(results.every(([r]) => r!.status === 'succeeded')).toBe(true);
    const runOf = (i: number) => results[i]![0]!.runId;
    expect(new Set(results.slice(0, 20).map((_, i) => runOf(i))).size).toBe(1);
    expect(new Set(results.slice(20).map((_, i) => runOf(20 + i))).size).toBe(1);
    expect(runOf(20)).not.toBe(runOf(0));
    const runs = new Set(results.map(([r]) => r!.runId));
    const rows = await world.club.rows();
    expect(rows.map((r) => r.app_user_id).sort()).toEqual(users.map((u) => u.id).sort());
    const recorded = await world.store.listRuns({ connection: 'crm', limit: 100 });
    expect(recorded.filter((r) => r.trigger === 'login')).toHaveLength(runs.size);
  } finally {
    await pusher.stop();
    await sources.close();
  }
});
