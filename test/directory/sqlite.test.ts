import { join } from 'node:path';
import { openDirectory } from '../../src/directory/open.js';
import { useTempDir } from '../support/temp.js';
import { describeDirectoryStore } from './contract/index.js';

const tempDir = useTempDir('usersync-directory-');

// Each test gets its own SQLite file in its own folder.
describeDirectoryStore('sqlite', async () => {
  const url = `sqlite:${join(tempDir(), 'directory.db')}`;
  return { store: await openDirectory(url), reopen: () => openDirectory(url) };
});
