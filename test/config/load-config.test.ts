import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadConfig, locateConfig, parseConfig } from '../../src/config.js';
import { isUsersyncError, type UsersyncError } from '../../src/core/errors.js';
import { useTempDir } from '../support/temp.js';

const tempDir = useTempDir('usersync-config-');

const FULL_YAML = `
directory: sqlite:./data/usersync.db
connections:
  - name: crm
    source: postgres://127.0.0.1/crm
    table: members
    key: id
    mode: one-way
    conflict: app
    fields:
      email: email
      name: full_name
      avatar: photo_url
      createdAt: signup_date
      lastSeenAt: last_login
      magicLink: login_link
      userId: app_user_id
      externalId: { column: platform_user_id, owner: app }
    custom:
      plan: plan
      company: { column: company, owner: both }
    filter: 'status eq "approved"'
    createInSource: false
    acceptEmailChanges: true
    cursor: updated_at
    schedule: "*/15 * * * *"
    maxChange: 0.2
  - name: sheet
    source: csv:./members.csv
    fields:
      email: Email
groups:
  - name: pro
    rule: 'custom.plan eq "pro"'
`;

function write(dir: string, name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

async function loadError(options: Parameters<typeof loadConfig>[0]): Promise<UsersyncError> {
  try {
    await loadConfig(options);
  } catch (error) {
    if (isUsersyncError(error)) return error;
    throw error;
  }
  throw new Error('expected loadConfig to fail');
}

describe('loadConfig: a valid file', () => {
  test('a full YAML file loads with every setting', async () => {
    const dir = tempDir();
    const file = write(dir, 'usersync.yaml', FULL_YAML);
    const config = await loadConfig({ cwd: dir, env: {} });
    expect(config.file).toBe(file);
    expect(config.baseDir).toBe(dir);
    expect(config.directory).toBe('sqlite:./data/usersync.db');
    const [crm, sheet] = config.connections;
    expect(crm).toMatchObject({
      name: 'crm',
      source: 'postgres://127.0.0.1/crm',
      table: 'members',
      key: 'id',
      mode: 'one-way',
      conflict: 'app',
      emailColumn: 'email',
      createInSource: false,
      acceptEmailChanges: true,
      cursor: 'updated_at',
      schedule: '*/15 * * * *',
      maxChange: 0.2,
      configPath: 'connections[0]',
    });
    expect(crm?.fields).toEqual([
      { id: 'name', column: 'full_name', owner: 'both', kind: 'text' },
      { id: 'avatar', column: 'photo_url', owner: 'both', kind: 'url' },
      { id: 'createdAt', column: 'signup_date', owner: 'app', kind: 'date' },
      { id: 'lastSeenAt', column: 'last_login', owner: 'app', kind: 'date' },
      { id: 'magicLink', column: 'login_link', owner: 'app', kind: 'url' },
      { id: 'userId', column: 'app_user_id', owner: 'app', kind: 'text' },
      { id: 'externalId', column: 'platform_user_id', owner: 'app', kind: 'text' },
      { id: 'custom.plan', column: 'plan', owner: 'source', kind: 'custom' },
      { id: 'custom.company', column: 'company', owner: 'both', kind: 'custom' },
    ]);
    expect(crm?.filter?.text).toBe('status eq "approved"');
    expect(crm?.filter?.matches({ status: 'approved' })).toBe(true);
    expect(sheet).toMatchObject({
      name: 'sheet',
      source: 'csv:./members.csv',
      emailColumn: 'Email',
      fields: [],
    });
    expect(config.groups.map((g) => g.name)).toEqual(['pro']);
    expect(config.groups[0]?.rule.matches({ custom: { plan: 'pro' } })).toBe(true);
  });

  test('defaults are applied to everything left out', async () => {
    const dir = tempDir();
    write(
      dir,
      'usersync.yaml',
      'connections:\n  - name: crm\n    source: sqlite:./crm.db\n    table: members\n    fields: { email: email }\n',
    );
    const config = await loadConfig({ cwd: dir, env: {} });
    expect(config.directory).toBe('sqlite:./usersync.db');
    expect(config.groups).toEqual([]);
    const [crm] = config.connections;
    expect(crm).toEqual({
      name: 'crm',
      source: 'sqlite:./crm.db',
      table: 'members',
      mode: 'two-way',
      conflict: 'source',
      emailColumn: 'email',
      fields: [],
      filter: null,
      createInSource: true,
      acceptEmailChanges: false,
      maxChange: 0.5,
      configPath: 'connections[0]',
    });
    expect(crm?.key).toBeUndefined();
  });

  test('an empty file is a config with no connections', async () => {
    const dir = tempDir();
    write(dir, 'usersync.yaml', '# nothing yet\n');
    const config = await loadConfig({ cwd: dir, env: {} });
    expect(config).toMatchObject({ directory: 'sqlite:./usersync.db', connections: [], groups: [] });
  });

  test('a JSON file loads the same as YAML', async () => {
    const dir = tempDir();
    const json = {
      directory: 'postgres://db.internal/usersync',
      connections: [
        {
          name: 'crm',
          source: 'sqlite:./crm.db',
          table: 'members',
          fields: { email: 'email', name: 'full_name' },
        },
      ],
      groups: [{ name: 'all', rule: 'email pr' }],
    };
    write(dir, 'usersync.json', JSON.stringify(json, null, 2));
    const config = await loadConfig({ cwd: dir, env: {} });
    expect(config.file).toBe(join(dir, 'usersync.json'));
    expect(config.directory).toBe('postgres://db.internal/usersync');
    expect(config.connections[0]?.fields).toEqual([
      { id: 'name', column: 'full_name', owner: 'both', kind: 'text' },
    ]);
  });

  test('a byte-order mark at the start is ignored', async () => {
    const dir = tempDir();
    write(dir, 'usersync.yaml', '\uFEFFdirectory: sqlite:./x.db\n');
    expect((await loadConfig({ cwd: dir, env: {} })).directory).toBe('sqlite:./x.db');
  });
});

describe('locating the file', () => {
  test('an explicit path wins over $USERSYNC_CONFIG and the defaults', async () => {
    const dir = tempDir();
    write(dir, 'usersync.yaml', 'directory: sqlite:./default.db\n');
    write(dir, 'from-env.yaml', 'directory: sqlite:./env.db\n');
    const explicit = write(dir, 'explicit.yml', 'directory: sqlite:./explicit.db\n');
    const env = { USERSYNC_CONFIG: 'from-env.yaml' };
    expect(locateConfig({ path: 'explicit.yml', cwd: dir, env })).toBe(explicit);
    expect((await loadConfig({ path: 'explicit.yml', cwd: dir, env })).directory).toBe(
      'sqlite:./explicit.db',
    );
    expect((await loadConfig({ cwd: dir, env })).directory).toBe('sqlite:./env.db');
    expect((await loadConfig({ cwd: dir, env: {} })).directory).toBe('sqlite:./default.db');
  });

  test('usersync.yml and usersync.json are found when usersync.yaml is absent', () => {
    const dir = tempDir();
    const json = write(dir, 'usersync.json', '{}');
    expect(locateConfig({ cwd: dir, env: {} })).toBe(json);
    const yml = write(dir, 'usersync.yml', '');
    expect(locateConfig({ cwd: dir, env: {} })).toBe(yml);
  });

  test('with no file, locateConfig names ./usersync.yaml, where init would write', () => {
    const dir = tempDir();
    expect(locateConfig({ cwd: dir, env: {} })).toBe(join(dir, 'usersync.yaml'));
  });

  test('relative paths are taken from the file, so baseDir is its folder', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'conf'));
    write(join(dir, 'conf'), 'sync.yaml', '');
    const config = await loadConfig({ path: 'conf/sync.yaml', cwd: dir, env: {} });
    expect(config.baseDir).toBe(join(dir, 'conf'));
  });

  test('no file in the folder: config.not_found lists what was tried and suggests init', async () => {
    const dir = tempDir();
    const error = await loadError({ cwd: dir, env: {} });
    expect(error.code).toBe('config.not_found');
    for (const name of ['usersync.yaml', 'usersync.yml', 'usersync.json']) {
      expect(error.message).toContain(join(dir, name));
    }
    expect(error.message).toContain('usersync init');
  });

  test('a missing explicit file or $USERSYNC_CONFIG file is config.not_found naming it', async () => {
    const dir = tempDir();
    const explicit = await loadError({ path: 'nope.yaml', cwd: dir, env: {} });
    expect(explicit.code).toBe('config.not_found');
    expect(explicit.message).toContain(join(dir, 'nope.yaml'));
    const fromEnv = await loadError({ cwd: dir, env: { USERSYNC_CONFIG: '/no/such/usersync.yaml' } });
    expect(fromEnv.code).toBe('config.not_found');
    expect(fromEnv.message).toContain('/no/such/usersync.yaml');
    expect(fromEnv.message).toContain('$USERSYNC_CONFIG');
    expect(fromEnv.message).toContain('usersync init');
  });

  test('a folder in place of the file is config.invalid', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'usersync.yaml'));
    const error = await loadError({ cwd: dir, env: {} });
    expect(error.code).toBe('config.invalid');
    expect(error.message).toContain(join(dir, 'usersync.yaml'));
  });
});

describe('syntax errors', () => {
  test('broken YAML names the file and the line', async () => {
    const dir = tempDir();
    write(dir, 'usersync.yaml', 'connections:\n  - name: crm\n   source: [\n');
    const error = await loadError({ cwd: dir, env: {} });
    expect(error.code).toBe('config.invalid');
    expect(error.message).toContain(join(dir, 'usersync.yaml'));
    expect(error.message).toContain('not valid YAML');
    expect(error.message).toMatch(/line \d+/);
  });

  test('broken JSON names the file', async () => {
    const dir = tempDir();
    write(dir, 'usersync.json', '{"connections": [}');
    const error = await loadError({ cwd: dir, env: {} });
    expect(error.code).toBe('config.invalid');
    expect(error.message).toContain(join(dir, 'usersync.json'));
    expect(error.message).toContain('not valid JSON');
  });

  test('a repeated YAML key is an error, not a silent overwrite', () => {
    expect(() =>
      parseConfig('directory: sqlite:a\ndirectory: sqlite:b\n', { file: 'usersync.yaml', env: {} }),
    ).toThrow(/not valid YAML[\s\S]*unique/);
  });
});

describe('environment variables', () => {
  const yaml = [
    'directory: ${DIRECTORY_URL}',
    'connections:',
    '  - name: crm',
    '    source: postgres://sync:${CRM_PASSWORD}@db/crm',
    '    table: members',
    '    fields: { email: email }',
  ].join('\n');

  test('${NAME} in a value is replaced by the variable', () => {
    const env = { DIRECTORY_URL: 'postgres://dir/usersync', CRM_PASSWORD: 's3cr$t' };
    const config = parseConfig(yaml, { file: 'usersync.yaml', env });
    expect(config.directory).toBe('postgres://dir/usersync');
    expect(config.connections[0]?.source).toBe('postgres://sync:s3cr$t@db/crm');
  });

  test('a value cannot change the file structure', () => {
    const env = { DIRECTORY_URL: 'sqlite:x\nconnections: []', CRM_PASSWORD: 'p' };
    const substituted = parseConfig(yaml, { file: 'usersync.yaml', env });
    expect(substituted.directory).toBe('sqlite:x\nconnections: []');
    expect(substituted.connections).toHaveLength(1);
    const config = parseConfig('groups: [{ name: g, rule: "${RULE}" }]', {
      file: 'usersync.yaml',
      env: { RULE: 'plan eq "pro"' },
    });
    expect(config.groups[0]?.rule.text).toBe('plan eq "pro"');
  });

  test('$${NAME} is a literal ${NAME}, and a lone $ stays as it is', () => {
    const config = parseConfig(
      'connections: [{ name: a, source: "csv:./$${HOME}/pa$$.csv", fields: { email: e } }]',
      {
        file: 'usersync.yaml',
        env: { HOME: '/home/x' },
      },
    );
    expect(config.connections[0]?.source).toBe('csv:./${HOME}/pa$$.csv');
  });

  test('an unset variable is an error naming the variable and every key that uses it', () => {
    let error: unknown;
    try {
      parseConfig(yaml, { file: 'conf/usersync.yaml', env: { DIRECTORY_URL: 'sqlite:./x.db' } });
    } catch (caught) {
      error = caught;
    }
    expect(isUsersyncError(error, 'config.invalid')).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain('conf/usersync.yaml');
    expect(message).toContain('connections[0].source');
    expect(message).toContain('CRM_PASSWORD is not set');
    expect(message).toContain('Set it');
    expect(message).not.toContain('DIRECTORY_URL');
  });

  test('an unset variable is reported once, not again as a bad value', () => {
    expect(() => parseConfig('directory: ${NOPE}', { file: 'usersync.yaml', env: {} })).toThrow(
      /has a problem:\n {2}- directory: uses \$\{NOPE\}/,
    );
  });
});
