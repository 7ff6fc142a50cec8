import { describe, expect, it } from 'vitest';
import type { ConnectorSettings } from '../../src/connectors/connector.js';
import { createConnector, sourceKind, sourceKinds } from '../../src/connectors/index.js';
import { isUsersyncError } from '../../src/core/errors.js';
import { errorOf } from '../support/error-of.js';

const settings = (source: string): ConnectorSettings => ({
  source,
  emailColumn: 'email',
  baseDir: '/',
  readOnly: false,
});

describe('connector registry', () => {
  it('names the kind of a source by its scheme', () => {
    expect(sourceKind('sqlite:./crm.db')).toBe('sqlite');
    expect(sourceKind('CSV:users.csv')).toBe('csv');
    expect(sourceKind('postgres://u@db/app')).toBe('postgres');
    expect(sourceKind('./users.csv')).toBeUndefined();
    expect(sourceKind('C:\\data\\users.csv')).toBeUndefined();
    expect(sourceKinds).toEqual(['sqlite', 'csv', 'mysql', 'mariadb', 'postgres', 'postgresql']);
  });

  it('creates the connector of a known kind', async () => {
    expect((await createConnector({ ...settings('csv:users.csv'), key: 'id' })).keyColumn).toBe('id');
  });

  it('an unknown kind is config.invalid listing the supported ones, without echoing the URL', async () => {
    const error = await errorOf(() => createConnector(settings('oracle://u:secret@db/app')));
    expect(isUsersyncError(error, 'config.invalid')).toBe(true);
    const { message } = error as Error;
    expect(message).toMatch(
      /"oracle:" is not supported. Supported: sqlite:, csv:, mysql:, mariadb:, postgres:/,
    );
    expect(message).not.toContain('secret');
  });

  it('a source without a kind or without a path is config.invalid', async () => {
    expect(
      isUsersyncError(await errorOf(() => createConnector(settings('users.csv'))), 'config.invalid'),
    ).toBe(true);
    expect(isUsersyncError(await errorOf(() => createConnector(settings('csv:'))), 'config.invalid')).toBe(
      true,
    );
    expect(
      isUsersyncError(await errorOf(() => createConnector(settings('sqlite:crm.db'))), 'config.invalid'),
    ).toBe(true);
  });
});
