import { describe, expect, test } from 'vitest';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config.js';
import { isUsersyncError } from '../../src/core/errors.js';

const FILE = '/srv/app/usersync.yaml';

type Json = Record<string, unknown>;

const connection = (extra: Json = {}): Json => ({
  name: 'crm',
  source: 'sqlite:./crm.db',
  table: 'members',
  fields: { email: 'email' },
  ...extra,
});

function configError(config: unknown): string {
  try {
    parseConfig(stringify(config), { file: FILE, env: {} });
  } catch (error) {
    if (isUsersyncError(error, 'config.invalid')) return error.message;
    throw error;
  }
  throw new Error('expected the config to be invalid');
}

/** The message names the file, has a line for the key path, and says what to do. */
function expectProblem(config: unknown, path: string, ...hints: string[]): string {
  const message = configError(config);
  expect(message).toContain(FILE);
  const line = message.split('\n').find((l) => l.startsWith(`  - ${path}: `));
  expect(line, `no line for ${path} in:\n${message}`).toBeDefined();
  for (const hint of hints) expect(line).toContain(hint);
  return message;
}

describe('unknown keys', () => {
  test('at the top level', () => {
    expectProblem(
      { conections: [] },
      'conections',
      'did you mean "connections"',
      'directory, connections, groups',
    );
  });

  test('in a connection', () => {
    expectProblem(
      { connections: [connection({ tabel: 'x' })] },
      'connections[0].tabel',
      'did you mean "table"',
    );
  });

  test('in fields: the valid field names are listed', () => {
    expectProblem(
      { connections: [connection({ fields: { email: 'email', emial: 'mail' } })] },
      'connections[0].fields.emial',
      'did you mean "email"',
      'email, name, avatar, createdAt, lastSeenAt, magicLink, userId, externalId',
    );
  });

  test('in a { column, owner } mapping, of a field and of a custom field', () => {
    const fields = { email: 'email', name: { column: 'full_name', colum: 'x' } };
    const custom = { plan: { column: 'plan', owners: 'both' } };
    const message = configError({ connections: [connection({ fields, custom })] });
    expect(message).toMatch(/connections\[0\]\.fields\.name\.colum: unknown key \(did you mean "column"\?\)/);
    expect(message).toMatch(/connections\[0\]\.custom\.plan\.owners: unknown key \(did you mean "owner"\?\)/);
  });

  test('in a group', () => {
    expectProblem(
      { groups: [{ name: 'pro', rule: 'plan eq "pro"', rules: 'x' }] },
      'groups[0].rules',
      'name, rule',
    );
  });

  test('several unknown keys in one object each get a line', () => {
    const message = configError({ connections: [connection({ tabel: 'x', kee: 'id' })] });
    expect(message).toContain('connections[0].tabel: unknown key');
    expect(message).toContain('connections[0].kee: unknown key (did you mean "key"?)');
  });
});

describe('required keys and shapes', () => {
  test('a missing email mapping', () => {
    expectProblem(
      { connections: [connection({ fields: { name: 'n' } })] },
      'connections[0].fields.email',
      'is missing',
      'email: email',
    );
  });

  test('missing name, source and fields', () => {
    const message = configError({ connections: [{ table: 'members' }] });
    for (const key of ['name', 'source', 'fields'])
      expect(message).toContain(`connections[0].${key}: is missing: add it`);
  });

  test('a connection that is not a mapping', () => {
    expectProblem({ connections: ['crm'] }, 'connections[0]', 'must be a connection', 'not "crm"');
  });

  test('connections that are not a list', () => {
    expectProblem({ connections: { name: 'crm' } }, 'connections', 'must be a list of connections');
  });

  test('a file that is a list', () => {
    expectProblem([1, 2], '(top level)', 'must be a mapping with directory, connections and groups');
  });

  test.each([
    ['name', 'crm prod', 'letters, digits, - and _'],
    ['source', './crm.db', 'sqlite:./crm.db, csv:./members.csv'],
    ['mode', 'both', 'one of two-way, one-way, import'],
    ['conflict', 'newest', 'one of source, app'],
    ['createInSource', 'yes', 'true or false'],
    ['acceptEmailChanges', 1, 'true or false'],
    ['key', '', 'a column name'],
    ['maxChange', 0, 'between 0 (excluded) and 1'],
    ['maxChange', 1.5, 'between 0 (excluded) and 1'],
    ['maxChange', '50%', 'between 0 (excluded) and 1'],
    ['schedule', '*/15 * * *', '5 fields (minute hour day-of-month month day-of-week) or 6'],
    ['schedule', 15, 'a cron schedule'],
  ])('%s: %j is rejected with a hint', (key, value, hint) => {
    expectProblem({ connections: [connection({ [key]: value })] }, `connections[0].${key}`, hint);
  });

  test('a bad directory', () => {
    expectProblem({ directory: 'mysql://x/db' }, 'directory', 'sqlite:PATH or postgres://');
  });

  test('a field mapped to something that is not a column', () => {
    expectProblem(
      { connections: [connection({ fields: { email: 'email', name: 42 } })] },
      'connections[0].fields.name',
      'a column name, or { column, owner }',
    );
  });

  test('a custom field name with other characters than letters, digits and _', () => {
    expectProblem(
      { connections: [connection({ custom: { 'plan-tier': 'plan' } })] },
      'connections[0].custom.plan-tier',
      'letters, digits and _',
    );
  });
});

describe('owners', () => {
  test('an owner a standard field does not allow', () => {
    expectProblem(
      {
        connections: [
          connection({ fields: { email: 'email', createdAt: { column: 'signup', owner: 'both' } } }),
        ],
      },
      'connections[0].fields.createdAt.owner',
      'owner "both" is not allowed for createdAt',
      'use app',
    );
  });

  test('an owner that does not exist, on a custom field', () => {
    expectProblem(
      { connections: [connection({ custom: { plan: { column: 'plan', owner: 'nobody' } } })] },
      'connections[0].custom.plan.owner',
      'use source or both or app',
    );
  });

  test('allowed owners are kept, left-out owners take the default', () => {
    const fields = { email: 'email', name: { column: 'n', owner: 'source' }, userId: { column: 'uid' } };
    const config = parseConfig(
      stringify({ connections: [connection({ fields, custom: { plan: { column: 'p', owner: 'app' } } })] }),
      {
        file: FILE,
        env: {},
      },
    );
    expect(config.connections[0]?.fields.map((f) => [f.id, f.owner])).toEqual([
      ['name', 'source'],
      ['userId', 'app'],
      ['custom.plan', 'app'],
    ]);
  });
});

describe('rules', () => {
  test('a filter that does not parse names its key and shows valid syntax', () => {
    expectProblem(
      { connections: [connection({ filter: 'status eq approved' })] },
      'connections[0].filter',
      'cannot read the rule "status eq approved"',
      'is not json',
      'status eq "approved"',
    );
  });

  test('a group rule that does not parse', () => {
    expectProblem(
      { groups: [{ name: 'pro', rule: 'plan eq' }] },
      'groups[0].rule',
      'cannot read the rule',
      'status eq "approved"',
    );
  });

  test('a group without a rule', () => {
    expectProblem({ groups: [{ name: 'pro' }] }, 'groups[0].rule', 'is missing');
  });
});

describe('checks across keys', () => {
  test('two connections owning one field as source: both paths and the way out are named', () => {
    const sheet = connection({ name: 'sheet', source: 'csv:./people.csv', table: undefined });
    expectProblem(
      { connections: [connection({ custom: { plan: 'plan' } }), { ...sheet, custom: { plan: 'tier' } }] },
      'connections[1].custom.plan',
      'custom.plan is owned by the source here and in connections[0].custom.plan',
      'owner: both',
    );
  });

  test('one source owner and a both owner, or a one-way connection, are fine', () => {
    const sheet = { name: 'sheet', source: 'csv:./people.csv', fields: { email: 'email' } };
    for (const second of [
      { ...sheet, custom: { plan: { column: 'tier', owner: 'both' } } },
      { ...sheet, mode: 'one-way', custom: { plan: 'tier' } },
    ]) {
      const config = { connections: [connection({ custom: { plan: 'plan' } }), second] };
      expect(parseConfig(stringify(config), { file: FILE, env: {} }).connections).toHaveLength(2);
    }
  });

  test('two connections with one name: both indexes are named', () => {
    const message = expectProblem(
      { connections: [connection(), connection({ name: 'other' }), connection({ name: 'CRM' })] },
      'connections[2].name',
      '"CRM" is already the name of connections[0]',
      'give each connection its own name',
    );
    expect(message).not.toContain('connections[1].name');
  });

  test('two groups with one name', () => {
    expectProblem(
      {
        groups: [
          { name: 'pro', rule: 'a pr' },
          { name: 'pro', rule: 'b pr' },
        ],
      },
      'groups[1].name',
      'already the name of groups[0]',
    );
  });

  test('two fields on one column', () => {
    const fields = { email: 'email', name: 'full_name', avatar: 'email' };
    expectProblem(
      { connections: [connection({ fields, custom: { label: 'full_name' } })] },
      'connections[0].fields.avatar',
      'column "email" is already mapped by connections[0].fields.email',
      'its own column',
    );
    expectProblem(
      { connections: [connection({ fields, custom: { label: 'full_name' } })] },
      'connections[0].custom.label',
      'already mapped by connections[0].fields.name',
    );
  });

  test.each(['sqlite:./crm.db', 'postgres://db/crm', 'mysql://db/crm'])('%s needs a table', (source) => {
    const { table: _table, ...withoutTable } = connection({ source });
    expectProblem(
      { connections: [withoutTable] },
      'connections[0].table',
      'is missing',
      'e.g. table: members',
    );
  });

  test('a csv source must not have a table', () => {
    expectProblem(
      { connections: [connection({ source: 'csv:./m.csv' })] },
      'connections[0].table',
      'remove it',
    );
  });

  test('other source kinds are left to their connector', () => {
    const config = parseConfig(
      stringify({ connections: [connection({ source: 'https://api.example.com/users', table: undefined })] }),
      {
        file: FILE,
        env: {},
      },
    );
    expect(config.connections[0]?.source).toBe('https://api.example.com/users');
  });
});

describe('the message as a whole', () => {
  test('lists every problem, in file order, and says what to do', () => {
    const message = configError({
      directory: 'nope',
      connections: [connection({ mode: 'x' }), connection({ name: 'b', fields: {} }), 3],
      groups: [{ name: 'g g', rule: 'a pr' }],
    });
    const lines = message.split('\n');
    expect(lines[0]).toBe(`The config file ${FILE} has 5 problems:`);
    expect(lines.slice(1, 6).map((l) => l.split(':')[0])).toEqual([
      '  - connections[0].mode',
      '  - connections[1].fields.email',
      '  - connections[2]',
      '  - directory',
      '  - groups[0].name',
    ]);
    expect(lines[6]).toBe('Fix the file and run the command again.');
  });

  test('connection 10 comes after connection 2', () => {
    const connections = Array.from({ length: 11 }, (_, i) => connection({ name: `c${i}` }));
    connections[2] = connection({ name: 'c2', mode: 'x' });
    connections[10] = connection({ name: 'c10', mode: 'x' });
    const message = configError({ connections });
    expect(message.indexOf('connections[2].mode')).toBeLessThan(message.indexOf('connections[10].mode'));
  });

  test('a valid connection next to an invalid one does not hide its problems', () => {
    const message = configError({
      connections: [connection({ mode: 'x' }), connection({ name: 'b', custom: { plan: 'email' } })],
    });
    expect(message).toContain('connections[0].mode');
    expect(message).toContain('connections[1].custom.plan: column "email" is already mapped');
  });
});
