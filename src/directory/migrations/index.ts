/**
 * The directory's migrations, listed statically (not read from a folder at run time) so
 * they survive bundling and need no file system access. Names sort in apply order.
 */
import type { Kysely, Migration, MigrationProvider } from 'kysely';
import { Migrator } from 'kysely';
import { UsersyncError } from '../../core/errors.js';
import { initial } from './0001-initial.js';
import { usersUpdatedAt } from './0002-users-updated-at.js';
import { server } from './0003-server.js';
import { fingerprints } from './0004-fingerprints.js';
import { fingerprintVersions } from './0005-fingerprint-versions.js';

const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': initial,
  '0002-users-updated-at': usersUpdatedAt,
  '0003-server': server,
  '0004-fingerprints': fingerprints,
  '0005-fingerprint-versions': fingerprintVersions,
};

/** Every migration, in the order they apply. */
export const MIGRATION_NAMES: readonly string[] = Object.keys(MIGRATIONS).sort();

const provider: MigrationProvider = {
  getMigrations: () => Promise.resolve(MIGRATIONS),
};

/**
 * Brings the directory's schema up to date; a no-op when it already is. Safe when several
 * processes open a new directory at once: Kysely's Migrator takes a lock (an advisory lock
 * on PostgreSQL) and reads what is applied only once it holds it.
 * `tableSchema`: where the migration bookkeeping tables live (see DirectoryDialect).
 */
export async function migrateDirectory(db: Kysely<unknown>, tableSchema?: string): Promise<void> {
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: 'usersync_migration',
    migrationLockTableName: 'usersync_migration_lock',
    ...(tableSchema === undefined ? {} : { migrationTableSchema: tableSchema }),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error === undefined) return;
  const failed = results?.find((result) => result.status === 'Error')?.migrationName ?? 'unknown';
  throw new UsersyncError(
    'directory.invalid',
    `Could not update the directory's schema (migration ${failed}). Check that the directory database is usersync's and that this usersync is not older than the one that last used it.`,
    { cause: error },
  );
}
