import { describe } from 'vitest';
import { openDirectory } from '../../src/directory/open.js';
import { postgresReachable, usePostgresSchemas } from '../support/postgres-directory.js';
import { describeDirectoryStore } from './contract/index.js';

const reachable = await postgresReachable();
const schemas = usePostgresSchemas();

// Each test gets its own schema, created by opening the directory on it.
describe.skipIf(!reachable)('PostgreSQL directory', () => {
  describeDirectoryStore('postgres', async () => {
    const url = schemas.newDirectoryUrl();
    return { store: await openDirectory(url), reopen: () => openDirectory(url) };
  });
});
