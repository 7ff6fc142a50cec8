import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isUsersyncError } from '../../src/core/errors.js';
import { scanAll } from './contract.js';
import { errorOf, useSqliteFixture, withDatabase } from './sqlite-fixture.js';

const { tempDir, makeDatabase, open } = useSqliteFixture();

describe('sqlite connector failures', () => {
  it('a key that matches several rows fails the write instead of changing them all', async () => {
    const { dir } = makeDatabase('create table people (email text, name text)', (db) => {
      db.exec("insert into people values ('dup@x.io', 'one'), ('dup@x.io', 'two'), ('solo@x.io', 'three')");
    });
    const connector = open(dir, { table: 'people', key: 'email' });
    const [update] = await connector.update([{ key: 'dup@x.io', set: { name: 'x' }, expect: {} }]);
    expect(update?.status === 'failed' && update.error).toMatch(/matches 2 rows/);
    const [removal, solo] = await connector.delete(['dup@x.io', 'solo@x.io']);
    expect(removal?.status).toBe('failed');
    expect(solo?.status).toBe('ok');
    expect((await scanAll(connector, ['name'])).rows.map((row) => row.values.name).sort()).toEqual([
      'one',
      'two',
    ]);
  });

  it('a failing row is reported with the constraint it broke', async () => {
    const { dir } = makeDatabase('create table people (id integer primary key, email text not null)');
    const connector = open(dir, { table: 'people' });
    const [result] = await connector.insert([{ values: { email: null }, fallbackKey: 'x' }]);
    expect(result?.status === 'failed' && result.error).toMatch(/NOT NULL.*email/);
  });

  it('a constraint that rolls back the whole transaction fails the batch and writes nothing', async () => {
    const { dir } = makeDatabase(
      'create table people (id integer primary key, email text unique on conflict rollback)',
      (db) => {
        db.prepare('insert into people (email) values (?)').run('taken@x.io');
      },
    );
    const connector = open(dir, { table: 'people' });
    const error = await errorOf(() =>
      connector.insert(
        ['a@x.io', 'taken@x.io', 'b@x.io'].map((email) => ({ values: { email }, fallbackKey: 'x' })),
      ),
    );
    expect(isUsersyncError(error, 'source.write_rejected')).toBe(true);
    expect((await scanAll(connector, ['email'])).rows).toHaveLength(1);
    expect(await connector.insert([{ values: { email: 'c@x.io' }, fallbackKey: 'x' }])).toEqual([
      { status: 'ok', key: '2' },
    ]);
  });

  it('a missing file is source.unreachable naming the file, and creates nothing', async () => {
    const dir = tempDir();
    const error = await errorOf(() => open(dir, { table: 'people' }));
    expect(isUsersyncError(error, 'source.unreachable')).toBe(true);
    expect((error as Error).message).toContain(join(dir, 'crm.db'));
    expect(existsSync(join(dir, 'crm.db'))).toBe(false);
  });

  it('a missing table is source.invalid naming the table, the file and the tables there', async () => {
    const { dir, path } = makeDatabase('create table people (id integer primary key)');
    const error = await errorOf(() => open(dir, { table: 'members' }));
    expect(isUsersyncError(error, 'source.invalid')).toBe(true);
    expect((error as Error).message).toMatch(/"members".*crm\.db.*people/);
    expect((error as Error).message).toContain(path);
  });

  it('a table without a single-column primary key needs key:', async () => {
    const { dir } = makeDatabase(
      'create table loose (email text); create table pair (a text, b text, primary key (a, b))',
    );
    for (const table of ['loose', 'pair']) {
      const error = await errorOf(() => open(dir, { table }));
      expect(isUsersyncError(error, 'source.invalid')).toBe(true);
      expect((error as Error).message).toContain('`key:`');
    }
    expect(open(dir, { table: 'loose', key: 'email' }).keyColumn).toBe('email');
  });

  it('an unknown column is source.invalid naming it', async () => {
    const { dir } = makeDatabase('create table people (id integer primary key, email text)');
    const connector = open(dir, { table: 'people' });
    const error = await errorOf(() => scanAll(connector, ['email', 'nickname']));
    expect(isUsersyncError(error, 'source.invalid')).toBe(true);
    expect((error as Error).message).toContain('"nickname"');
    expect(
      isUsersyncError(await errorOf(() => open(dir, { table: 'people', key: 'uid' })), 'source.invalid'),
    ).toBe(true);
  });

  it('a table that disappears mid-scan makes the scan throw rather than end early', async () => {
    const { dir, path } = makeDatabase('create table people (id integer primary key, email text)', (db) => {
      for (let id = 1; id <= 5; id++) db.prepare('insert into people values (?, ?)').run(id, 'x');
    });
    const connector = open(dir, { table: 'people' });
    const seen: string[] = [];
    const error = await errorOf(async () => {
      for await (const page of connector.scan({ columns: ['email'], pageSize: 2 })) {
        seen.push(...page.map((row) => row.key));
        withDatabase(path, (db) => db.exec('drop table if exists people'));
      }
    });
    // The second page was read (ahead) before the drop; the third could not be.
    expect(seen).toEqual(['1', '2', '3', '4']);
    expect(isUsersyncError(error, 'source.invalid')).toBe(true);
  });
});
