/**
 * What the server needs: API keys (stored hashed), connections made through the API
 * (SPEC §9: they live in the directory database, their source encrypted) and a run's
 * live progress, which a worker writes and any API process reads.
 */
import type { Kysely, Migration } from 'kysely';
import { sql } from 'kysely';

export const server: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('api_keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('prefix', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull().unique())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('last_used_at', 'text')
      .addColumn('revoked_at', 'text')
      .execute();
    // One live key per name, so `api-keys revoke NAME` means one key.
    await db.schema
      .createIndex('api_keys_name_live')
      .unique()
      .on('api_keys')
      .column('name')
      .where(sql.ref('revoked_at'), 'is', null)
      .execute();

    await db.schema
      .createTable('stored_connections')
      .addColumn('name', 'text', (c) => c.primaryKey())
      /** The connection as the config file would declare it, JSON, its `source` encrypted. */
      .addColumn('definition', 'text', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();

    await db.schema.alterTable('runs').addColumn('progress', 'text').execute();
  },
};
