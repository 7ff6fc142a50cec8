/**
 * README "Exit codes": 2 for bad usage, config or input (nothing changed), 1 when a run
 * failed (a source unreachable, a missing table or column; nothing inferred from it),
 * 0 when every run finished. Plus `${NAME}` substitution in the config (appendix A).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CRM,
  CSV,
  emails,
  listIssues,
  listUsers,
  makeSqlite,
  sqlite,
  useSyncedSample,
  usersync,
  usersyncJson,
  writeText,
  type SyncJson,
} from '../support/cli.js';
import { useTempDir } from '../support/temp.js';

const tempDir = useTempDir('usersync-cli-errors-');
const syncedSample = useSyncedSample();

/** A folder with a one-table SQLite source, people.db, holding one user row. */
function peopleDir(): string {
  const dir = tempDir();
  makeSqlite(
    join(dir, 'people.db'),
    `CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT, full_name TEXT);
     INSERT INTO people (email, full_name) VALUES ('a@x.io', 'A');`,
  );
  return dir;
}

const connection = (body: string) =>
  `  - name: people\n    source: sqlite:./people.db\n    table: people\n${body}`;

describe('config errors exit 2, naming the file and the key, and change nothing', () => {
  it.each([
    [
      'an unknown key',
      `connections:\n${connection('    colour: blue\n    fields: { email: email }\n')}`,
      'connections[0].colour: unknown key',
    ],
    [
      'a missing email mapping',
      `connections:\n${connection('    fields: { name: full_name }\n')}`,
      'connections[0].fields.email: is missing',
    ],
    [
      'two connections with one name',
      `connections:\n${connection('    fields: { email: email }\n')}${connection('    fields: { email: email }\n')}`,
      'connections[1].name: "people" is already the name of connections[0]',
    ],
  ])('%s', async (_what, yaml, problem) => {
    const dir = peopleDir();
    const file = writeText(dir, 'usersync.yaml', yaml);
    const result = await usersync(dir, ['sync']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`The config file ${file} has a problem`);
    expect(result.stderr).toContain(problem);
    expect(result.stdout).toBe('');
    expect(existsSync(join(dir, 'usersync.db'))).toBe(false);
  });

  it('no config file says how to make one', async () => {
    const result = await usersync(tempDir(), ['users', 'list']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('No config file');
    expect(result.stderr).toContain('usersync init');
  });
});

describe('bad usage and input exit 2 and change nothing', () => {
  it.each([
    [['frobnicate'], "unknown command 'frobnicate'"],
    [['sync', '--bogus'], "unknown option '--bogus'"],
    [['sync', 'nope'], 'There is no connection named "nope" (connections: crm, newsletter)'],
    [['users', 'add', 'not-an-email'], 'Invalid email: "not-an-email" is not a valid email address'],
    [['users', 'add', 'z@example.com', '--avatar', 'not-a-url'], 'Invalid --avatar'],
    [['users', 'add', 'z@example.com', '--custom', 'plan'], 'Invalid --custom "plan"'],
    [['users', 'update', 'ada@example.com', '--status', 'gone'], 'Invalid --status "gone"'],
    [['users', 'list', '--limit', '0'], '--limit takes a whole number'],
  ])('usersync %j', async (args, message) => {
    const dir = syncedSample();
    const files = ['usersync.db', CRM, CSV];
    const before = files.map((f) => readFileSync(join(dir, f)));
    const result = await usersync(dir, args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    files.forEach((f, i) => expect(readFileSync(join(dir, f)).equals(before[i]!), f).toBe(true));
  });

  it('--help exits 0 and documents the exit codes', async () => {
    const help = await usersync(tempDir(), ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Exit codes: 0 every run finished');
  });
});

describe('a source that cannot be read fails its run: exit 1, nothing changed', () => {
  /** Syncs the broken synced sample and checks that crm failed and the directory did not move. */
  async function failingSync(dir: string): Promise<SyncJson> {
    const users = await listUsers(dir);
    const result = await usersyncJson<SyncJson>(dir, ['sync'], { code: 1 });
    expect(result.runs.map((r) => [r.connection, r.status])).toEqual([
      ['crm', 'failed'],
      ['newsletter', 'succeeded'],
    ]);
    expect(result.runs[0]!.issues.map((i) => i.kind)).toEqual(['connection_failed']);
    expect(await listUsers(dir)).toEqual(users);
    return result;
  }

  /** Points the synced sample's config elsewhere. */
  function editConfig(dir: string, from: string, to: string): void {
    const config = join(dir, 'usersync.yaml');
    const yaml = readFileSync(config, 'utf8');
    expect(yaml).toContain(from);
    writeFileSync(config, yaml.replace(from, to));
  }

  it('a missing SQLite file (and it is not created)', async () => {
    const dir = syncedSample();
    editConfig(dir, 'sqlite:./sample/crm.db', 'sqlite:./sample/gone.db');
    const { runs } = await failingSync(dir);
    expect(runs[0]!.error).toContain('gone.db');
    expect(existsSync(join(dir, 'sample/gone.db'))).toBe(false);
  });

  it('a missing table', async () => {
    const dir = syncedSample();
    editConfig(dir, 'table: members', 'table: member');
    const { runs } = await failingSync(dir);
    expect(runs[0]!.error).toContain('Table "member" not found');
  });

  it('a mapped column the table does not have: names the column and the config key', async () => {
    const dir = syncedSample();
    sqlite(join(dir, CRM), 'ALTER TABLE members RENAME COLUMN full_name TO fullname');
    // Also a source edit that must not be applied while the read is incomplete.
    sqlite(join(dir, CRM), "UPDATE members SET plan = 'team' WHERE id = 1");
    const { runs } = await failingSync(dir);
    expect(runs[0]!.error).toContain('connections[0].fields.name: column "full_name" is not in members');
    expect(runs[0]!.error).toContain(join(dir, 'usersync.yaml'));
    expect((await listIssues(dir, '--connection', 'crm')).map((i) => i.kind)).toContain('connection_failed');
    const text = await usersync(dir, ['sync', 'crm']);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain('connection_failed');
    expect(text.stdout).toContain('column "full_name"');
    expect((await usersync(dir, ['plan', 'crm'])).code).toBe(1);
  });

  it('every run finished, even with issues: exit 0', async () => {
    const dir = syncedSample();
    const { runs } = await usersyncJson<SyncJson>(dir, ['sync', 'crm']);
    expect(runs[0]!.status).toBe('succeeded');
    expect(runs[0]!.issues).toHaveLength(3);
  });
});

describe('${NAME} in the config', () => {
  const yaml = `directory: sqlite:./directory.db\nconnections:\n  - name: people\n    source: sqlite:\${DB_PATH}\n    table: people\n    fields: { email: email, name: full_name }\n`;

  it('is replaced by the environment variable', async () => {
    const dir = peopleDir();
    writeText(dir, 'usersync.yaml', yaml);
    const { runs } = await usersyncJson<SyncJson>(dir, ['sync'], { env: { DB_PATH: './people.db' } });
    expect(runs[0]).toMatchObject({ connection: 'people', status: 'succeeded', app: { created: 1 } });
    // $USERSYNC_CONFIG finds a config under another name.
    writeText(dir, 'other.yaml', yaml);
    const users = await usersyncJson<{ users: { email: string }[] }>(dir, ['users', 'list'], {
      env: { DB_PATH: './people.db', USERSYNC_CONFIG: 'other.yaml' },
    });
    expect(emails(users.users)).toEqual(['a@x.io']);
  });

  it('unset: exit 2, naming the variable and the key', async () => {
    const dir = peopleDir();
    writeText(dir, 'usersync.yaml', yaml);
    const result = await usersync(dir, ['sync'], { DB_PATH: undefined });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'connections[0].source: uses ${DB_PATH}, but the environment variable DB_PATH is not set',
    );
    expect(existsSync(join(dir, 'directory.db'))).toBe(false);
  });
});
