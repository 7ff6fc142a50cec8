/**
 * The directory's migrations, listed statically (not read from a folder at run time) so
 * they survive bundling and need no file system access. Names sort in apply order.
 */
import type { Kysely, Migration, MigrationProvider } from 'kysely';
import { Migrator } from 'kysely';
import { setTimeout as sleep } from 'node:timers/promises';
import { UsersyncError } from '../../core/errors.js';
import { initial } from './0001-initial.js';
import { usersUpdatedAt } from './0002-users-updated-at.js';

const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': initial,
  '0002-users-updated-at': usersUpdatedAt,
};

const MIGRATION_ATTEMPTS = 5;

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
  // Kysely's Migrator looks for its own tables by listing every table of the database; a
  // table or schema another process drops during that catalog query makes it fail. Applied
  // migrations are read again under the Migrator's lock, so trying again is safe.
  let outcome = await migrator.migrateToLatest();
  for (let attempt = 1; attempt < MIGRATION_ATTEMPTS && outcome.error !== undefined; attempt++) {
    await sleep(50 * attempt);
    outcome = await migrator.migrateToLatest();
  }
  const { error, results } = outcome;
  if (error === undefined) return;
  const failed = results?.find((result) => result.status === 'Error')?.migrationName ?? 'unknown';
  throw new UsersyncError(
    'directory.invalid',
    `Could not update the directory's schema (migration ${failed}). Check that the directory database is usersync's and that this usersync is not older than the one that last used it.`,
    { cause: error },
  );
}
