/** Connections made through the API (SPEC §9), versioned so two admins cannot overwrite each other. */
import type { Kysely, Selectable } from 'kysely';
import type { Database, StoredConnectionsTable } from './schema.js';
import type { StoredConnection } from './store.js';

function toStored(row: Selectable<StoredConnectionsTable>): StoredConnection {
  return {
    name: row.name,
    definition: row.definition,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export async function listStoredConnections(db: Kysely<Database>): Promise<StoredConnection[]> {
  const rows = await db
    .selectFrom('stored_connections')
    .selectAll()
    .orderBy('created_at')
    .orderBy('name')
    .execute();
  return rows.map(toStored);
}

export async function getStoredConnection(
  db: Kysely<Database>,
  name: string,
): Promise<StoredConnection | null> {
  const row = await db
    .selectFrom('stored_connections')
    .selectAll()
    .where('name', '=', name)
    .executeTakeFirst();
  return row === undefined ? null : toStored(row);
}

export async function saveStoredConnection(
  db: Kysely<Database>,
  name: string,
  definition: string,
  expectedVersion: number,
): Promise<StoredConnection | null> {
  const now = new Date().toISOString();
  if (expectedVersion === 0) {
    // Another process may create the same name at the same moment: one insert wins.
    const row = { name, definition, version: 1, created_at: now, updated_at: now };
    const result = await db
      .insertInto('stored_connections')
      .values(row)
      .onConflict((conflict) => conflict.column('name').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) === 1 ? toStored(row) : null;
  }
  const row = await db
    .updateTable('stored_connections')
    .set({ definition, version: expectedVersion + 1, updated_at: now })
    .where('name', '=', name)
    .where('version', '=', expectedVersion)
    .returningAll()
    .executeTakeFirst();
  return row === undefined ? null : toStored(row);
}

/**
 * Deletes the connection and what the directory kept for it: its links (baselines mean
 * nothing without it) and state, and its open issues are resolved (nothing can fix them
 * now). Users, runs and resolved issues stay, as history.
 */
export async function deleteStoredConnection(db: Kysely<Database>, name: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const result = await trx.deleteFrom('stored_connections').where('name', '=', name).executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) return false;
    await trx.deleteFrom('links').where('connection', '=', name).execute();
    await trx.deleteFrom('connection_state').where('connection', '=', name).execute();
    await trx
      .updateTable('issues')
      .set({ status: 'resolved', resolved_at: new Date().toISOString() })
      .where('connection', '=', name)
      .where('status', '=', 'open')
      .execute();
    return true;
  });
}
