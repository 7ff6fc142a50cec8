/**
 * The first directory schema. Written once and never edited: later changes are new
 * migrations. Only portable column types (text, integer) and features both SQLite and
 * PostgreSQL have (partial indexes, composite keys), so one migration list serves both.
 */
import type { Kysely, Migration } from 'kysely';
import { sql } from 'kysely';

// Migrations describe the schema as it was when written, so they do not use the
// current `Database` type (which will move on).
type AnyDatabase = Kysely<unknown>;

async function createUsers(db: AnyDatabase): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('email_key', 'text', (c) => c.notNull())
    .addColumn('name', 'text')
    .addColumn('avatar', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_seen_at', 'text')
    .addColumn('magic_link', 'text')
    .addColumn('external_id', 'text')
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('active'))
    .addColumn('custom', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('deleted_at', 'text')
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  // SPEC §1: one live user per email; a tombstone frees its email for a new user.
  await db.schema
    .createIndex('users_email_key_live')
    .unique()
    .on('users')
    .column('email_key')
    .where(sql.ref('deleted_at'), 'is', null)
    .execute();
  await db.schema
    .createIndex('users_external_id_live')
    .unique()
    .on('users')
    .column('external_id')
    .where(sql<boolean>`external_id is not null and deleted_at is null`)
    .execute();
}

async function createLinks(db: AnyDatabase): Promise<void> {
  await db.schema
    .createTable('links')
    .addColumn('connection', 'text', (c) => c.notNull())
    .addColumn('source_key', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('source_email', 'text', (c) => c.notNull())
    .addColumn('baseline', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('suspended', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('links_pk', ['connection', 'source_key'])
    // SPEC §1: a link is per (connection, user); a user has at most one row per source.
    .addUniqueConstraint('links_connection_user', ['connection', 'user_id'])
    .execute();
  // The (connection, user_id) unique index does not help lookups by user alone (user deletion).
  await db.schema.createIndex('links_user').on('links').column('user_id').execute();
}

async function createRuns(db: AnyDatabase): Promise<void> {
  await db.schema
    .createTable('runs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('connection', 'text', (c) => c.notNull())
    .addColumn('trigger', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text')
    .addColumn('counts', 'text', (c) => c.notNull())
    .addColumn('error', 'text')
    .execute();
  await db.schema
    .createIndex('runs_connection_started')
    .on('runs')
    .columns(['connection', 'started_at'])
    .execute();
  await db.schema.createIndex('runs_started').on('runs').column('started_at').execute();
}

async function createIssues(db: AnyDatabase): Promise<void> {
  await db.schema
    .createTable('issues')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('connection', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('fix', 'text', (c) => c.notNull())
    .addColumn('rows', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('users', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('first_seen_at', 'text', (c) => c.notNull())
    .addColumn('last_seen_at', 'text', (c) => c.notNull())
    .addColumn('resolved_at', 'text')
    .addColumn('run_id', 'text')
    .execute();
  // SPEC §4: the same problem seen again updates the open issue, it does not open another.
  await db.schema
    .createIndex('issues_open_fingerprint')
    .unique()
    .on('issues')
    .columns(['connection', 'fingerprint'])
    .where(sql.ref('status'), '=', 'open')
    .execute();
  await db.schema
    .createIndex('issues_connection_status')
    .on('issues')
    .columns(['connection', 'status'])
    .execute();
}

async function createRunLocks(db: AnyDatabase): Promise<void> {
  await db.schema
    .createTable('run_locks')
    .addColumn('connection', 'text', (c) => c.primaryKey())
    .addColumn('owner_id', 'text', (c) => c.notNull())
    .addColumn('pid', 'integer', (c) => c.notNull())
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('acquired_at', 'text', (c) => c.notNull())
    .addColumn('heartbeat_at', 'text', (c) => c.notNull())
    .execute();
}

async function createConnectionState(db: AnyDatabase): Promise<void> {
  await db.schema
    .createTable('connection_state')
    .addColumn('connection', 'text', (c) => c.primaryKey())
    .addColumn('two_way_enabled_at', 'text')
    .addColumn('cursor', 'text')
    .addColumn('last_full_sync_at', 'text')
    .execute();
}

const TABLES = ['connection_state', 'run_locks', 'issues', 'runs', 'links', 'users'] as const;

export const initial: Migration = {
  async up(db: AnyDatabase) {
    await createUsers(db);
    await createLinks(db);
    await createRuns(db);
    await createIssues(db);
    await createRunLocks(db);
    await createConnectionState(db);
  },
  async down(db: AnyDatabase) {
    // Dropping a table drops its indexes; links goes before users (foreign key).
    for (const table of TABLES) await db.schema.dropTable(table).execute();
  },
};
