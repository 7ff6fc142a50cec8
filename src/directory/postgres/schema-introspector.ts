/**
 * Kysely's Migrator finds its own tables through the dialect's introspector, and
 * PostgreSQL's lists every table of every schema of the database (kysely-org/kysely#1419):
 * slow in a shared database, and failing when another program drops a schema or table
 * during that catalog query. The directory needs only its own schema's tables.
 */
import type { DatabaseIntrospector, DatabaseMetadata, Kysely, SchemaMetadata, TableMetadata } from 'kysely';
import { sql } from 'kysely';

export function schemaIntrospector(db: Kysely<unknown>, schema: string): DatabaseIntrospector {
  const getTables = async (): Promise<TableMetadata[]> => {
    const { rows } = await sql<{ name: string; type: string }>`
      select table_name as name, table_type as type
      from information_schema.tables where table_schema = ${schema}`.execute(db);
    return rows.map((row) => ({ name: row.name, schema, isView: row.type === 'VIEW', columns: [] }));
  };
  return {
    getSchemas: async (): Promise<SchemaMetadata[]> => [{ name: schema }],
    getTables,
    getMetadata: async (): Promise<DatabaseMetadata> => ({ tables: await getTables() }),
  };
}
