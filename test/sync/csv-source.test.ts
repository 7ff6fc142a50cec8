/**
 * A CSV file through the runner (SPEC §8): the key is the email column by default, and a
 * sync that writes back and appends rows keeps the file as people made it (BOM, `;`, CRLF).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { expectNoChanges, runOf, useSyncFixture, type SyncWorld } from '../support/sync-fixture.js';

const { makeWorld } = useSyncFixture();

const BOM = '\uFEFF';

function csvWorld(content: string, extra: Record<string, unknown> = {}): Promise<SyncWorld> {
  return makeWorld({
    files: { 'members.csv': content },
    connections: [
      {
        name: 'sheet',
        source: 'csv:./members.csv',
        fields: { email: 'email', name: 'name', userId: 'user_id', createdAt: 'joined' },
        custom: { plan: 'plan' },
        ...extra,
      },
    ],
  });
}

function fileText(world: SyncWorld): string {
  return readFileSync(world.path('members.csv'), 'utf8');
}

describe('a CSV source', () => {
  it('is keyed by the email column unless the connection says otherwise', async () => {
    const world = await csvWorld('email,name,plan,user_id,joined\nann@x.io,Ann,pro,,2024-03-04\n');

    await world.sync();

    const ann = await world.user('ann@x.io');
    expect(ann).toMatchObject({
      name: 'Ann',
      custom: { plan: 'pro' },
      createdAt: '2024-03-04T00:00:00.000Z',
    });
    expect(await world.links('sheet')).toMatchObject([{ key: 'ann@x.io', userId: ann.id }]);
    expect(fileText(world)).toBe(`email,name,plan,user_id,joined\nann@x.io,Ann,pro,${ann.id},2024-03-04\n`);
    expectNoChanges(await world.sync());
  });

  it('keeps the BOM, the ; delimiter and CRLF line endings after write-backs and appended rows', async () => {
    const world = await csvWorld(
      `${BOM}email;name;plan;user_id;joined\r\nann@x.io;Ann;pro;;\r\n"bo@x.io";"Bo; Jr.";free;;2024-01-01\r\n`,
    );
    const cy = await world.store.createUser({ email: 'cy@x.io', name: 'Cy', custom: { plan: 'team' } });

    const run = runOf(await world.sync(), 'sheet');

    expect(run.counts).toMatchObject({
      app: { created: 2, updated: 0, deleted: 0 },
      source: { created: 1, updated: 2, deleted: 0 },
    });
    const ann = await world.user('ann@x.io');
    const bo = await world.user('bo@x.io');
    const text = fileText(world);
    expect(text.startsWith(`${BOM}email;name;plan;user_id;joined\r\n`)).toBe(true);
    expect(text.replaceAll('\r\n', '')).not.toContain('\n');
    expect(text.endsWith('\r\n')).toBe(true);
    const lines = text.slice(1).split('\r\n');
    expect(lines).toEqual([
      'email;name;plan;user_id;joined',
      `ann@x.io;Ann;pro;${ann.id};${ann.createdAt}`,
      `bo@x.io;"Bo; Jr.";free;${bo.id};2024-01-01`,
      `cy@x.io;Cy;team;${cy.id};${cy.createdAt}`,
      '',
    ]);
    expect(bo.name).toBe('Bo; Jr.');
    expectNoChanges(await world.sync());
    expect(fileText(world)).toBe(text);
  });

  it('a quoted field with a line break syncs like any other value', async () => {
    const world = await csvWorld('email,name,plan,user_id,joined\r\ndi@x.io,"Di\r\nSecond line",,,\r\n');

    await world.sync();

    expect((await world.user('di@x.io')).name).toBe('Di\r\nSecond line');
    expectNoChanges(await world.sync());
  });

  it('a row deleted from the file is re-created with the same key', async () => {
    const world = await csvWorld('email,name,plan,user_id,joined\neve@x.io,Eve,,,\nfay@x.io,Fay,,,\n');
    await world.sync();
    const eve = await world.user('eve@x.io');
    const withoutEve = fileText(world)
      .split('\n')
      .filter((line) => !line.startsWith('eve@'))
      .join('\n');
    writeFileSync(world.path('members.csv'), withoutEve);

    const run = runOf(await world.sync(), 'sheet');

    expect(run.counts.source.created).toBe(1);
    expect(fileText(world)).toContain(`eve@x.io,Eve,,${eve.id},${eve.createdAt}`);
    expect(await world.linkOf(eve.id, 'sheet')).toMatchObject({ key: 'eve@x.io' });
    expectNoChanges(await world.sync());
  });

  it('an import-mode CSV is never written', async () => {
    const original = 'email,name,plan,user_id,joined\ngus@x.io,Gus,pro,,\n';
    const world = await csvWorld(original, { mode: 'import' });
    await world.store.createUser({ email: 'app@x.io' });

    const run = runOf(await world.sync(), 'sheet');

    expect(run.counts.app.created).toBe(1);
    expect(run.counts.source).toEqual({ created: 0, updated: 0, deleted: 0 });
    expect(fileText(world)).toBe(original);
    expect((await world.users()).map((u) => u.email)).toEqual(['app@x.io', 'gus@x.io']);
    expectNoChanges(await world.sync());
  });

  // With the email as the key, an edited email looks like a deleted row plus a new one; the
  // user id written back to the row tells them apart.
  it('an email edited in a file keyed by email opens email_changed and creates nobody', async () => {
    const world = await csvWorld('email,name,plan,user_id,joined\nann@x.io,Ann,,,\nbo@x.io,Bo,,,\n');
    await world.sync();
    const ann = await world.user('ann@x.io');
    writeFileSync(world.path('members.csv'), fileText(world).replace('ann@x.io', 'anna@x.io'));

    await world.sync();

    expect((await world.users()).map((u) => u.email)).toEqual(['ann@x.io', 'bo@x.io']);
    expect(await world.openIssues('email_changed')).toMatchObject([{ users: [ann.id] }]);
    expect(
      fileText(world)
        .split('\n')
        .filter((line) => line.includes(ann.id)),
    ).toHaveLength(1);
  });
});
