/** Incremental syncs push the users changed since the last run: find them by updated_at. */
import type { Kysely, Migration } from 'kysely';

export const usersUpdatedAt: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.createIndex('users_updated_at').on('users').column('updated_at').execute();
  },
};
