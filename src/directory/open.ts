/**
 * Opening the directory named in the config (`directory: sqlite:./usersync.db` or
 * `postgres://user@host:5432/db?schema=usersync`). Adding a
 * database kind means one more dialect here and one dialect folder; the store is shared.
 */
import { isAbsolute, resolve } from 'node:path';
import { Kysely } from 'kysely';
import { UsersyncError } from '../core/errors.js';
import type { DirectoryDialect } from './dialect.js';
import { KyselyDirectoryStore } from './kysely-store.js';
import { migrateDirectory } from './migrations/index.js';
import type { Database } from './schema.js';
import type { DirectoryStore } from './store.js';

export interface OpenDirectoryOptions {
  /** Folder that relative `sqlite:` paths start from (the config file's folder); default: the working directory. */
  baseDir?: string;
}

const SUPPORTED =
  'sqlite:PATH (for example sqlite:./usersync.db) or postgres://USER@HOST:PORT/DATABASE (optionally ?schema=NAME)';

/** Opens the directory and brings its schema up to date. */
export async function openDirectory(
  url: string,
  options: OpenDirectoryOptions = {},
): Promise<DirectoryStore> {
  const dialect = await dialectFor(url, options.baseDir ?? process.cwd());
  const db = new Kysely<Database>({ dialect: dialect.kysely });
  try {
    await dialect.prepare?.(db as Kysely<unknown>);
    await migrateDirectory(db as Kysely<unknown>, dialect.migrationSchema);
    await dialect.afterMigrate?.(db as Kysely<unknown>);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return new KyselyDirectoryStore(db, dialect);
}

/** Each dialect's module (and its driver) is loaded only for a directory of its kind. */
async function dialectFor(url: string, baseDir: string): Promise<DirectoryDialect> {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'sqlite') return openSqlite(sqlitePath(url, baseDir));
  if (scheme === 'postgres' || scheme === 'postgresql')
    return (await import('./postgres/postgres-dialect.js')).createPostgresDirectoryDialect(url);
  // Only the scheme is repeated: the rest of a URL may hold a password.
  const named = scheme === undefined ? 'has no scheme' : `uses the unsupported scheme "${scheme}:"`;
  throw new UsersyncError('config.invalid', `The directory URL ${named}. Supported: ${SUPPORTED}.`);
}

/**
 * `sqlite:PATH`, relative to `baseDir` unless absolute; `sqlite:///abs/path` and
 * `sqlite://rel/path` (URL spelling) are read as the path after `//`.
 */
function sqlitePath(url: string, baseDir: string): string {
  let path = url.slice('sqlite:'.length);
  if (path.startsWith('//')) path = path.slice(2);
  if (path === '')
    throw new UsersyncError('config.invalid', `The directory URL has no file path. Use ${SUPPORTED}.`);
  if (path === ':memory:' || isAbsolute(path)) return path;
  return resolve(baseDir, path);
}

async function openSqlite(path: string): Promise<DirectoryDialect> {
  const { createSqliteDirectoryDialect } = await import('./sqlite/sqlite-dialect.js');
  try {
    return createSqliteDirectoryDialect(path);
  } catch (error) {
    throw new UsersyncError(
      'directory.invalid',
      `Cannot open the SQLite directory at ${path}: ${(error as Error).message}. Check the path and its permissions.`,
      { cause: error },
    );
  }
}
