/** What every command that touches data needs: the config and the open directory. */
import { loadConfig, type LoadedConfig } from '../config.js';
import { openDirectory } from '../directory/open.js';
import type { DirectoryStore } from '../directory/store.js';

export interface GlobalOptions {
  config?: string;
  json?: boolean;
}

export interface CliContext {
  readonly config: LoadedConfig;
  readonly store: DirectoryStore;
}

/** `check` runs before the directory is opened (and so created): bad usage changes nothing. */
export async function withContext<T>(
  options: GlobalOptions,
  work: (ctx: CliContext) => Promise<T>,
  check?: (config: LoadedConfig) => void,
): Promise<T> {
  const config = await loadConfig({ path: options.config });
  check?.(config);
  const store = await openDirectory(config.directory, { baseDir: config.baseDir });
  try {
    return await work({ config, store });
  } finally {
    await store.close();
  }
}
