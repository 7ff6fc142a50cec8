/**
 * SPEC §3 hub rule: the directory is the hub and each connection a spoke, so a change one
 * connection's run makes to the directory is pushed to the others within the same sync
 * command. Two real sources: a SQLite table and a CSV file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { syncConnections } from '../../src/sync/sync-all.js';
import {
  CLUB_SCHEMA,
  clubConnection,
  expectNoChanges,
  useSyncFixture,
  type SyncWorld,
} from '../support/sync-fixture.js';

const { makeWorld } = useSyncFixture();

const SHEET = {
  name: 'sheet',
  source: 'csv:./people.csv',
  fields: { email: 'email', name: 'name', userId: 'user_id' },
};

function twoSources(csv: string): Promise<SyncWorld> {
  return makeWorld({
    sqlite: { 'crm.db': CLUB_SCHEMA },
    files: { 'people.csv': csv },
    connections: [clubConnection(), SHEET],
  });
}

/** The CSV as records (no quoting in these files). */
function sheetRows(world: SyncWorld): Record<string, string>[] {
  const [header, ...lines] = readFileSync(world.path('people.csv'), 'utf8').trimEnd().split('\n');
  const names = header!.split(',');
  return lines.map((line) => Object.fromEntries(line.split(',').map((cell, i) => [names[i]!, cell])));
}

describe('the hub rule', () => {
  it('a user imported by the second connection is pushed to the first in the same sync', async () => {
    const world = await twoSources('email,name,user_id\ncat@x.io,Cat,\n');
    world.addMember({ email: 'ann@x.io', name: 'Ann', plan: 'pro' });

    const results = await world.sync();

    expect(results.map((r) => [r.connection, r.trigger, r.status])).toEqual([
      ['crm', 'manual', 'succeeded'],
      ['sheet', 'manual', 'succeeded'],
      ['crm', 'app_change', 'succeeded'],
    ]);
    expect(results[2]!.counts.source.created).toBe(1);
    const ann = await world.user('ann@x.io');
    const cat = await world.user('cat@x.io');
    expect(world.members().map((r) => [r.email, r['Full-Name'], r.app_user_id])).toEqual([
      ['ann@x.io', 'Ann', ann.id],
      ['cat@x.io', 'Cat', cat.id],
    ]);
    expect(sheetRows(world)).toEqual([
      { email: 'cat@x.io', name: 'Cat', user_id: cat.id },
      { email: 'ann@x.io', name: 'Ann', user_id: ann.id },
    ]);
    expect(await world.links('crm')).toHaveLength(2);
    expect(await world.links('sheet')).toHaveLength(2);
    // The run records carry the follow-up's trigger too.
    expect((await world.runs('crm')).map((r) => r.trigger).sort()).toEqual(['app_change', 'manual']);

    const again = await world.sync();

    expect(again.map((r) => r.connection)).toEqual(['crm', 'sheet']);
    expectNoChanges(again);
    expect(again.map((r) => r.counts.unchanged)).toEqual([2, 2]);
  });

  it('a field edited in one source reaches the other source in the same sync', async () => {
    const world = await twoSources('email,name,user_id\n');
    const key = world.addMember({ email: 'dan@x.io', name: 'Dan' });
    await world.sync();
    const csv = readFileSync(world.path('people.csv'), 'utf8');
    writeFileSync(world.path('people.csv'), csv.replace(',Dan,', ',Daniel,'));

    const results = await world.sync();

    expect(results.map((r) => [r.connection, r.trigger])).toEqual([
      ['crm', 'manual'],
      ['sheet', 'manual'],
      ['crm', 'app_change'],
    ]);
    expect((await world.user('dan@x.io')).name).toBe('Daniel');
    expect(world.member(key)?.['Full-Name']).toBe('Daniel');
    expectNoChanges(await world.sync());
  });

  it('a user deleted in the app leaves every source in one sync', async () => {
    const world = await twoSources('email,name,user_id\neve@x.io,Eve,\nfox@x.io,Fox,\n');
    await world.sync();
    await world.store.deleteUser((await world.user('eve@x.io')).id);

    const results = await world.sync();

    expect(results.map((r) => r.counts.source.deleted)).toEqual([1, 1]);
    expect(world.members().map((r) => r.email)).toEqual(['fox@x.io']);
    expect(sheetRows(world).map((r) => r.email)).toEqual(['fox@x.io']);
    expectNoChanges(await world.sync());
  });

  it('syncing one connection by name runs the others only to push its changes', async () => {
    const world = await twoSources('email,name,user_id\n');
    world.addMember({ email: 'gus@x.io', name: 'Gus' });

    const results = await syncConnections(world.services, ['crm'], { trigger: 'manual' });

    expect(results.map((r) => [r.connection, r.trigger])).toEqual([
      ['crm', 'manual'],
      ['sheet', 'app_change'],
    ]);
    expect(sheetRows(world).map((r) => r.email)).toEqual(['gus@x.io']);
  });

  it('two connections that both own a custom field as source are refused by the config', async () => {
    await expect(
      makeWorld({
        sqlite: { 'crm.db': CLUB_SCHEMA },
        files: { 'people.csv': 'email,plan\nann@x.io,free\n' },
        connections: [clubConnection(), { ...SHEET, fields: { email: 'email' }, custom: { plan: 'plan' } }],
      }),
    ).rejects.toThrow(/custom\.plan is owned by the source here and in connections\[0\]/);
  });

  it('two connections that both own a custom field as both converge instead of flipping it', async () => {
    const world = await makeWorld({
      sqlite: { 'crm.db': CLUB_SCHEMA },
      files: { 'people.csv': 'email,plan\nann@x.io,free\n' },
      connections: [
        clubConnection({ custom: { plan: { column: 'plan', owner: 'both' }, company: 'company' } }),
        { ...SHEET, fields: { email: 'email' }, custom: { plan: { column: 'plan', owner: 'both' } } },
      ],
    });
    world.addMember({ email: 'ann@x.io', plan: 'pro' });
    await world.sync();

    expectNoChanges(await world.sync());
    expect((await world.user('ann@x.io')).custom.plan).toBe(world.members()[0]!.plan);
  });

  it('a user suspended by one connection stays suspended when another connection matches again', async () => {
    const approved = 'status eq "approved"';
    const world = await makeWorld({
      sqlite: { 'crm.db': CLUB_SCHEMA },
      files: { 'people.csv': 'email,status\nann@x.io,approved\n' },
      connections: [
        clubConnection({ filter: approved }),
        { ...SHEET, fields: { email: 'email' }, filter: approved },
      ],
    });
    const key = world.addMember({ email: 'ann@x.io', status: 'approved' });
    await world.sync();
    world.setMember(key, 'status', 'left');
    await world.sync();
    const csv = (status: string) =>
      writeFileSync(world.path('people.csv'), `email,status\nann@x.io,${status}\n`);
    csv('left');
    await world.sync();
    csv('approved');

    await world.sync();

    expect((await world.user('ann@x.io')).status).toBe('suspended');
  });
});
