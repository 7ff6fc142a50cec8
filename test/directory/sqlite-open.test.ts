import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATION_NAMES } from '../../src/directory/migrations/index.js';
import { openDirectory } from '../../src/directory/open.js';
import type { DirectoryStore } from '../../src/directory/store.js';
import { useTempDir } from '../support/temp.js';
import { link, newUser } from './contract/harness.js';

const tempDir = useTempDir('usersync-directory-');
const opened: DirectoryStore[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

async function open(url: string, baseDir?: string): Promise<DirectoryStore> {
  const store = await openDirectory(url, baseDir === undefined ? {} : { baseDir });
  opened.push(store);
  return store;
}

/** Reads the file with a connection of its own, as an operator's sqlite3 shell would. */
function inspect<T>(path: string, read: (db: BetterSqlite3.Database) => T): T {
  const db = new BetterSqlite3(path, { readonly: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

describe('opening a SQLite directory', () => {
  it('a relative path starts from baseDir, and missing folders are created', async () => {
    const dir = tempDir();
    const store = await open('sqlite:data/nested/usersync.db', dir);
    expect(store.dialect).toBe('sqlite');
    expect(existsSync(join(dir, 'data/nested/usersync.db'))).toBe(true);
  });

  it('sqlite:///absolute/path is read as the absolute path', async () => {
    const path = join(tempDir(), 'usersync.db');
    await open(`sqlite://${path}`);
    expect(existsSync(path)).toBe(true);
  });

  it('the first open migrates the file to the current schema in WAL mode; reopening applies nothing', async () => {
    const path = join(tempDir(), 'usersync.db');
    const store = await open(`sqlite:${path}`);
    await store.createUser({ email: 'ann@example.com' });
    await store.close();
    await open(`sqlite:${path}`);
    inspect(path, (db) => {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      const migrations = db.prepare('select name from usersync_migration').pluck().all();
      expect(migrations).toEqual(MIGRATION_NAMES);
      const tables = db
        .prepare("select name from sqlite_master where type = 'table' order by name")
        .pluck()
        .all();
      expect(tables).toEqual(
        expect.arrayContaining(['users', 'links', 'runs', 'issues', 'run_locks', 'connection_state']),
      );
      expect(db.prepare('select count(*) from users').pluck().get()).toBe(1);
    });
  });

  it('a search index of the earlier definition (with positions) is replaced once; search finds old and new users', async () => {
    const path = join(tempDir(), 'usersync.db');
    const first = await open(`sqlite:${path}`);
    await first.createUser({ email: 'ann@acme.com', name: 'Ann Smith' });
    await first.close();
    // The index as the first releases made it: every trigram's positions kept.
    const db = new BetterSqlite3(path);
    db.exec(`drop trigger users_search_insert; drop trigger users_search_delete; drop trigger users_search_update;
      drop table users_search;
      create virtual table users_search using fts5(email, name, content = 'users', content_rowid = 'rowid', tokenize = 'trigram');
      create trigger users_search_insert after insert on users begin
        insert into users_search (rowid, email, name) values (new.rowid, new.email, new.name);
      end;
      insert into users_search (users_search) values ('rebuild');`);
    db.close();
    const indexSql = () =>
      inspect(path, (d) =>
        d.prepare(`select sql from sqlite_master where name = 'users_search'`).pluck().get(),
      );

    const store = await open(`sqlite:${path}`);
    expect(indexSql()).toMatch(/detail = none/);
    await store.createUser({ email: 'bo@other.org', name: 'Bo Smithers' });
    const emails = async (search: string) => (await store.listUsers({ search })).map((u) => u.email).sort();
    expect(await emails('smith')).toEqual(['ann@acme.com', 'bo@other.org']);
    expect(await emails('ACME')).toEqual(['ann@acme.com']);
    expect(await emails('n smi')).toEqual(['ann@acme.com']);
    // Every trigram of "abcab" (abc, bca, cab) is in this name, but not the term: LIKE re-checks.
    await store.createUser({ email: 'cy@x.io', name: 'abc-bca-cab' });
    expect(await emails('abcab')).toEqual([]);
    expect(await emails('bca-c')).toEqual(['cy@x.io']);
    const triggers = inspect(path, (d) =>
      d.prepare(`select name from sqlite_master where type = 'trigger' order by name`).pluck().all(),
    );
    expect(triggers).toEqual(['users_search_delete', 'users_search_insert', 'users_search_update']);
    await store.close();
    // Reopening changes no schema (SQLite counts every change in schema_version).
    const schemaVersion = () => inspect(path, (d) => d.pragma('schema_version', { simple: true }));
    const before = schemaVersion();
    await open(`sqlite:${path}`);
    expect(schemaVersion()).toBe(before);
  });

  it('a large import pauses the search index and rebuilds it at the end, even when the import fails', async () => {
    const path = join(tempDir(), 'usersync.db');
    const store = await open(`sqlite:${path}`);
    await store.createUser({ email: 'ann@acme.com', name: 'Ann Smith' });
    const triggers = () =>
      inspect(path, (d) =>
        d.prepare(`select count(*) from sqlite_master where type = 'trigger'`).pluck().get(),
      );
    const emails = async (search: string) => (await store.listUsers({ search })).map((u) => u.email).sort();
    const importing = async (email: string, fail: boolean) => {
      expect(triggers()).toBe(0);
      await store.applyBatch('crm', [
        { type: 'createUser', user: newUser(email, email, { name: 'Smithers' }), link: link(email, email) },
      ]);
      // Found by the LIKE a term too short for a trigram takes, not through the paused index.
      expect(await emails('it')).toContain(email);
      expect(await emails('smithers')).not.toContain(email);
      if (fail) throw new Error('the source went away');
      return 'imported';
    };

    expect(await store.importInBulk(10_000, () => importing('bo@x.io', false))).toBe('imported');
    expect(triggers()).toBe(3);
    expect(await emails('smithers')).toEqual(['bo@x.io']);
    await expect(store.importInBulk(10_000, () => importing('cy@x.io', true))).rejects.toThrow(/went away/);
    expect(triggers()).toBe(3);
    expect(await emails('smithers')).toEqual(['bo@x.io', 'cy@x.io']);
    // Few users, or fewer than the directory has: kept row by row.
    await store.importInBulk(9_999, async () => expect(triggers()).toBe(3));
  });

  it('a search index an import left paused (the process stopped) is resumed by the next open', async () => {
    const path = join(tempDir(), 'usersync.db');
    const first = await open(`sqlite:${path}`);
    await first.createUser({ email: 'ann@acme.com', name: 'Ann Smith' });
    const stopped = first.importInBulk(10_000, async () => {
      await first.createUser({ email: 'bo@x.io', name: 'Bo Smithers' });
      return new Promise<never>(() => undefined);
    });
    void stopped;
    await expect
      .poll(() => inspect(path, (d) => d.prepare('select count(*) from users').pluck().get()))
      .toBe(2);

    const next = await open(`sqlite:${path}`);
    const emails = async (search: string) => (await next.listUsers({ search })).map((u) => u.email).sort();
    expect(await emails('smith')).toEqual(['ann@acme.com', 'bo@x.io']);
    await next.createUser({ email: 'cy@x.io', name: 'Cy Smithson' });
    expect(await emails('smith')).toEqual(['ann@acme.com', 'bo@x.io', 'cy@x.io']);
  });

  it('sqlite::memory: opens a private in-memory directory', async () => {
    const store = await open('sqlite::memory:');
    await store.createUser({ email: 'ann@example.com' });
    expect(await store.countUsers()).toBe(1);
  });

  it('a file that is not a SQLite database is refused with directory.invalid', async () => {
    const path = join(tempDir(), 'notes.txt');
    writeFileSync(
      path,
      'this is not a database, just some text that is long enough to have a header'.repeat(20),
    );
    await expect(openDirectory(`sqlite:${path}`)).rejects.toMatchObject({ code: 'directory.invalid' });
  });

  it('postgres:// and postgresql:// URLs open a PostgreSQL directory (here unreachable, so refused without the password)', async () => {
    // Port 1 refuses at once: no server needed. The PostgreSQL tests cover the rest.
    for (const scheme of ['postgres', 'postgresql']) {
      const error = (await openDirectory(`${scheme}://usersync:s3cret@127.0.0.1:1/usersync`).catch(
        (e: unknown) => e,
      )) as Error;
      expect(error).toMatchObject({ code: 'directory.unreachable' });
      expect(error.message).toContain('PostgreSQL');
      expect(error.message).toContain('127.0.0.1:1');
      expect(error.message).not.toContain('s3cret');
    }
  });

  it('another scheme is refused, naming the supported ones but never the rest of the URL', async () => {
    const error = (await openDirectory('mysql://root:s3cret@db.example.com/app').catch(
      (e: unknown) => e,
    )) as Error;
    expect(error).toMatchObject({ code: 'config.invalid' });
    expect(error.message).toContain('"mysql:"');
    expect(error.message).toContain('sqlite:PATH');
    expect(error.message).not.toContain('s3cret');
    await expect(openDirectory('./usersync.db')).rejects.toMatchObject({ code: 'config.invalid' });
    await expect(openDirectory('sqlite:')).rejects.toMatchObject({ code: 'config.invalid' });
  });
});

describe('SQLite directory batches', () => {
  it('a step that hits a unique index after the email check is undone alone, as a conflict', async () => {
    // A race the email check cannot see is only possible on PostgreSQL; an extra unique
    // index on the link's source email makes the same failure happen here, mid-step
    // (after the user row is written), to prove the step's savepoint undoes all of it.
    const path = join(tempDir(), 'usersync.db');
    const store = await open(`sqlite:${path}`);
    const extra = new BetterSqlite3(path);
    extra.exec('create unique index test_links_source_email on links (source_email)');
    extra.close();
    const results = await store.applyBatch('crm', [
      {
        type: 'createUser',
        user: newUser('u1', 'ann@example.com'),
        link: link('u1', 'k1', { sourceEmail: 'same' }),
      },
      {
        type: 'createUser',
        user: newUser('u2', 'bo@example.com'),
        link: link('u2', 'k2', { sourceEmail: 'same' }),
      },
      {
        type: 'createUser',
        user: newUser('u3', 'cy@example.com'),
        link: link('u3', 'k3', { sourceEmail: 'other' }),
      },
    ]);
    expect(results).toEqual(['ok', 'conflict', 'ok']);
    expect(await store.getUser('u2')).toBeNull();
    expect(await store.countUsers()).toBe(2);
  });
});
