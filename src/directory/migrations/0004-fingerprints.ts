/**
 * Row fingerprints (see sync/fingerprints.ts): per link, the source's digest of its row
 * when the pair last needed nothing; per connection, the mapping they were taken under and
 * when every one of them was last checked against the users. And the few suspended links
 * indexed, so a full sync finds the users suspended elsewhere without reading every link.
 */
import { sql, type Kysely, type Migration } from 'kysely';

export const fingerprints: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('links').addColumn('fingerprint', 'text').execute();
    await db.schema.alterTable('connection_state').addColumn('fingerprint_tag', 'text').execute();
    await db.schema.alterTable('connection_state').addColumn('fingerprints_checked_at', 'text').execute();
    await db.schema
      .createIndex('links_suspended')
      .on('links')
      .columns(['user_id', 'connection'])
      .where(sql.ref('suspended'), '=', sql.lit(1))
      .execute();
  },
};
