/**
 * A link's fingerprint is trusted while its user is at the version it was taken at (see
 * sync/fingerprints.ts), instead of while the user's `updated_at` is older than the last
 * check: no clock is compared, so an import's own writes can be trusted at once.
 * Fingerprints kept before this have no version, so the next full sync reads every row
 * in full once.
 */
import type { Kysely, Migration } from 'kysely';

export const fingerprintVersions: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('links').addColumn('fingerprint_version', 'integer').execute();
  },
};
