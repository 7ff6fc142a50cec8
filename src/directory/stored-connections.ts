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
  isUniqueViolation: (error: unknown) => boolean,
  name: string,
  definition: string,
  expectedVersion: number,
): Promise<StoredConnection | null> {
  const now = new Date().toISOString();
  if (expectedVersion === 0) {
    try {
      const row = { name, definition, version: 1, created_at: now, updated_at: now };
      await db.insertInto('stored_connections').values(row).execute();
      return toStored(row);
    } catch (error) {
      if (isUniqueViolation(error)) return null;
      throw error;
    }
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

export async function deleteStoredConnection(db: Kysely<Database>, name: string): Promise<boolean> {
  const result = await db.deleteFrom('stored_connections').where('name', '=', name).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}
