import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ConnectorSettings, SourceConnector } from '../../src/connectors/connector.js';
import { isUsersyncError } from '../../src/core/errors.js';
import { useTempDir } from '../support/temp.js';
import {
  CONTRACT_COLUMNS,
  NO_FINGERPRINTS,
  runConnectorContract,
  scanAll,
  type ContractRow,
} from './contract.js';
import { errorOf } from '../support/error-of.js';
import { createCsvConnector } from '../../src/connectors/csv/csv-connector.js';

const tempDir = useTempDir('usersync-csv-');

/** A CSV file in a fresh folder, written byte for byte as given. */
function makeFile(content: string, name = 'users.csv'): { dir: string; path: string } {
  const dir = tempDir();
  const path = join(dir, name);
  writeFileSync(path, content);
  return { dir, path };
}

function open(dir: string, settings: Partial<ConnectorSettings> = {}): SourceConnector {
  return createCsvConnector({
    source: 'csv:users.csv',
    emailColumn: 'email',
    baseDir: dir,
    readOnly: false,
    ...settings,
  });
}

/** Edits the file as another program would: parse, change, write, without the connector. */
function editFile(path: string, edit: (rows: string[][]) => string[][]): void {
  const rows = parse(readFileSync(path, 'utf8')) as string[][];
  writeFileSync(path, stringify(edit(rows)));
}

runConnectorContract(
  'csv',
  async (rows: readonly ContractRow[], { readOnly }) => {
    const { dir, path } = makeFile(
      stringify([[...CONTRACT_COLUMNS], ...rows.map((row) => CONTRACT_COLUMNS.map((c) => row[c]))]),
    );
    const keyAt = CONTRACT_COLUMNS.indexOf('id');
    return {
      connector: open(dir, { key: 'id', readOnly }),
      setValue: async (key, column, value) =>
        editFile(path, (all) =>
          all.map((row) =>
            row[keyAt] === key ? row.map((cell, i) => (CONTRACT_COLUMNS[i] === column ? value : cell)) : row,
          ),
        ),
      removeRow: async (key) => editFile(path, (all) => all.filter((row) => row[keyAt] !== key)),
      snapshot: async () => readFileSync(path, 'utf8'),
    };
  },
  {
    skip: {
      'one failing row in an insert batch does not stop the others': 'a CSV file has no constraints to break',
      'a single failing row is reported as failed, and the source keeps what it had':
        'a CSV file has no constraints to break',
      ...NO_FINGERPRINTS,
    },
  },
);

describe('csv connector', () => {
  it('keeps the BOM, the ; delimiter and CRLF line endings when it rewrites the file', async () => {
    const { dir, path } = makeFile('\uFEFFemail;name\r\na@x.io;Ann\r\n');
    const connector = open(dir);
    expect((await scanAll(connector, ['name'])).rows).toEqual([{ key: 'a@x.io', values: { name: 'Ann' } }]);
    await connector.insert([{ values: { email: 'b@x.io', name: 'Bo; Jr' }, fallbackKey: 'x' }]);
    expect(readFileSync(path, 'utf8')).toBe('\uFEFFemail;name\r\na@x.io;Ann\r\nb@x.io;"Bo; Jr"\r\n');
  });

  it('detects the delimiter from the header, ignoring those inside quotes', async () => {
    const { dir } = makeFile('"email, primary";name;plan\nA@x.io;"Smith, Ann";pro\n');
    const { rows } = await scanAll(open(dir, { emailColumn: 'email, primary' }), ['name', 'plan']);
    expect(rows).toEqual([{ key: 'A@x.io', values: { name: 'Smith, Ann', plan: 'pro' } }]);
  });

  it('round-trips quoted values with line breaks, quotes and delimiters', async () => {
    const { dir, path } = makeFile('email,address\r\na@x.io,"1 Main St\r\nSpringfield"\r\n');
    const connector = open(dir);
    await connector.insert([
      { values: { email: 'b@x.io', address: 'Flat "B"\nLF only, here' }, fallbackKey: 'x' },
    ]);
    expect(readFileSync(path, 'utf8')).toBe(
      'email,address\r\na@x.io,"1 Main St\r\nSpringfield"\r\nb@x.io,"Flat ""B""\nLF only, here"\r\n',
    );
    const { byKey } = await scanAll(connector, ['address']);
    expect(byKey.get('a@x.io')?.address).toBe('1 Main St\r\nSpringfield');
    expect(byKey.get('b@x.io')?.address).toBe('Flat "B"\nLF only, here');
  });

  it('keeps unknown columns, their values and the column order after writes', async () => {
    const { dir, path } = makeFile('notes,email,plan,internal id\nvip,a@x.io,free,17\n,c@x.io,pro,18\n');
    const connector = open(dir);
    expect(
      await connector.update([{ key: 'a@x.io', set: { plan: 'pro' }, expect: { plan: 'free' } }]),
    ).toEqual([{ status: 'ok' }]);
    await connector.insert([{ values: { email: 'b@x.io', plan: 'free' }, fallbackKey: 'x' }]);
    await connector.delete(['c@x.io']);
    expect(readFileSync(path, 'utf8')).toBe(
      'notes,email,plan,internal id\nvip,a@x.io,pro,17\n,b@x.io,free,\n',
    );
  });

  it('keeps a missing final line break missing, and an all-quoted style quoted', async () => {
    const { dir, path } = makeFile('"email","plan"\n"a@x.io","free"');
    await open(dir).update([{ key: 'a@x.io', set: { plan: 'pro' }, expect: { plan: 'free' } }]);
    expect(readFileSync(path, 'utf8')).toBe('"email","plan"\n"a@x.io","pro"');
  });

  it('reads every value as text, an empty cell as an empty string', async () => {
    const { dir } = makeFile('email,age,active\na@x.io,,true\nb@x.io,42,\n');
    const { byKey } = await scanAll(open(dir), ['age', 'active']);
    expect(byKey.get('a@x.io')).toEqual({ age: '', active: 'true' });
    expect(byKey.get('b@x.io')).toEqual({ age: '42', active: '' });
  });

  it('writes null as an empty cell and compares an expected null with an empty cell', async () => {
    const { dir, path } = makeFile('email,phone\na@x.io,\n');
    const connector = open(dir);
    expect(await connector.update([{ key: 'a@x.io', set: { phone: 123 }, expect: { phone: null } }])).toEqual(
      [{ status: 'ok' }],
    );
    expect(
      await connector.update([{ key: 'a@x.io', set: { phone: null }, expect: { phone: '123' } }]),
    ).toEqual([{ status: 'ok' }]);
    expect(readFileSync(path, 'utf8')).toBe('email,phone\na@x.io,\n');
  });

  it('defaults the key to the email column and uses the fallback key for a row without one', async () => {
    const { dir } = makeFile('id,email\n');
    const connector = open(dir, { key: 'id' });
    expect(await connector.insert([{ values: { email: 'a@x.io', id: '' }, fallbackKey: 'dir-1' }])).toEqual([
      { status: 'ok', key: 'dir-1' },
    ]);
    expect(open(dir).keyColumn).toBe('email');
  });

  it('a row naming a column the header lacks fails alone', async () => {
    const { dir } = makeFile('email,plan\n');
    const connector = open(dir);
    const results = await connector.insert([
      { values: { email: 'a@x.io', nickname: 'A' }, fallbackKey: 'x' },
      { values: { email: 'b@x.io' }, fallbackKey: 'y' },
    ]);
    expect(results[0]?.status === 'failed' && results[0].error).toMatch(/"nickname".*users\.csv/);
    expect(results[1]).toEqual({ status: 'ok', key: 'b@x.io' });
  });

  it('returns rows with duplicate keys but refuses to update or delete by such a key', async () => {
    const { dir } = makeFile('email,plan\na@x.io,free\na@x.io,pro\nb@x.io,free\n');
    const connector = open(dir);
    expect((await scanAll(connector, ['plan'])).rows.map((row) => row.key)).toEqual([
      'a@x.io',
      'a@x.io',
      'b@x.io',
    ]);
    const [update] = await connector.update([{ key: 'a@x.io', set: { plan: 'x' }, expect: {} }]);
    expect(update?.status === 'failed' && update.error).toMatch(/in 2 rows/);
    const [removal, other] = await connector.delete(['a@x.io', 'b@x.io']);
    expect(removal?.status).toBe('failed');
    expect(other).toEqual({ status: 'ok' });
  });

  it('sees an edit made to the file since the scan', async () => {
    const { dir, path } = makeFile('email,plan\na@x.io,free\n');
    const connector = open(dir);
    await scanAll(connector, ['plan']);
    writeFileSync(path, 'email,plan\na@x.io,free\nz@x.io,pro\n');
    await connector.update([{ key: 'a@x.io', set: { plan: 'pro' }, expect: { plan: 'free' } }]);
    expect(readFileSync(path, 'utf8')).toBe('email,plan\na@x.io,pro\nz@x.io,pro\n');
  });

  it('writes atomically through a temporary file that is not left behind', async () => {
    const { dir } = makeFile('email,plan\na@x.io,free\n');
    const connector = open(dir);
    await connector.insert(
      Array.from({ length: 50 }, (_, i) => ({ values: { email: `u${i}@x.io` }, fallbackKey: 'x' })),
    );
    await connector.update([{ key: 'a@x.io', set: { plan: 'pro' }, expect: { plan: 'free' } }]);
    await connector.delete(['u1@x.io']);
    expect(readdirSync(dir)).toEqual(['users.csv']);
  });

  it('a blank header cell is source.invalid naming the file and the column position', async () => {
    const { dir, path } = makeFile('email,,plan\na@x.io,1,free\n');
    const error = await errorOf(() => open(dir).describe());
    expect(isUsersyncError(error, 'source.invalid')).toBe(true);
    expect(error.message).toContain(path);
    expect(error.message).toMatch(/Column 2 of the header/);
  });

  it('a repeated header is source.invalid naming the file and both positions', async () => {
    const { dir, path } = makeFile('email;plan;email\n');
    const error = await errorOf(() => scanAll(open(dir), ['plan']));
    expect(isUsersyncError(error, 'source.invalid')).toBe(true);
    expect(error.message).toContain(path);
    expect(error.message).toMatch(/Columns 1 and 3 .* "email"/);
  });

  it('a row with the wrong number of cells is source.invalid naming its line', async () => {
    const { dir, path } = makeFile('email,plan\na@x.io,"multi\nline"\n\nb@x.io,free,extra\n');
    const error = await errorOf(() => scanAll(open(dir), ['plan']));
    expect(isUsersyncError(error, 'source.invalid')).toBe(true);
    expect(error.message).toContain(`Line 5 of ${path}`);
  });

  it('an empty file, a missing file and a missing key column are clear errors', async () => {
    const { dir } = makeFile('\uFEFF');
    expect((await errorOf(() => open(dir).describe())).code).toBe('source.invalid');
    expect((await errorOf(() => open(tempDir()).describe())).code).toBe('source.unreachable');
    const withoutEmail = makeFile('mail,plan\n');
    const error = await errorOf(() => scanAll(open(withoutEmail.dir), ['plan']));
    expect(error.code).toBe('source.invalid');
    expect(error.message).toMatch(/Key column "email"/);
  });

  it('a file that is not UTF-8 is refused rather than garbled', async () => {
    const { dir } = makeFile('email,name\n');
    writeFileSync(join(dir, 'users.csv'), Buffer.from('email,name\na@x.io,Jos\xe9\n', 'latin1'));
    expect((await errorOf(() => open(dir).describe())).message).toMatch(/not UTF-8/);
  });

  it('describe lists the header as text columns', async () => {
    const { dir } = makeFile('email,Full Name\n');
    expect(await open(dir).describe()).toEqual({
      location: 'users.csv',
      columns: [
        { name: 'email', type: 'text', nullable: true, generated: false },
        { name: 'Full Name', type: 'text', nullable: true, generated: false },
      ],
    });
  });
});
