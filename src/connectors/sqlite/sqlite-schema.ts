import { sql, type RawBuilder } from 'kysely';
import { UsersyncError } from '../../core/errors.js';
import type { ColumnInfo } from '../connector.js';
import { affinityOf, type SqliteAffinity } from './sqlite-value.js';

/**
 * Runs a query Kysely built, synchronously. Introspection is synchronous because the
 * connector factory is: `keyColumn` must be known the moment the connector exists.
 */
export type RunSync = <R>(query: RawBuilder<R>) => R[];

/** The table a connection names: `members`, or `main.members` with its schema. */
export interface SqliteTableRef {
  readonly schema: string;
  readonly name: string;
}

export interface SqliteColumn {
  readonly name: string;
  readonly type: string;
  readonly affinity: SqliteAffinity;
  readonly notNull: boolean;
  readonly hasDefault: boolean;
  /** 1-based position in the primary key; 0 when not part of it. */
  readonly primaryKey: number;
  /** `GENERATED ALWAYS AS (...)`, virtual or stored. */
  readonly computed: boolean;
}

export interface SqliteTableInfo {
  readonly ref: SqliteTableRef;
  readonly withoutRowid: boolean;
  readonly columns: readonly SqliteColumn[];
}

/** Splits off a schema prefix only when it names an open database, so `a.b` can be a table name. */
export function resolveTableRef(run: RunSync, table: string): SqliteTableRef {
  const dot = table.indexOf('.');
  if (dot <= 0) return { schema: 'main', name: table };
  const prefix = table.slice(0, dot).toLowerCase();
  const schemas = run(sql<{ name: string }>`select name from pragma_database_list`);
  const schema = schemas.find((row) => row.name.toLowerCase() === prefix);
  return schema ? { schema: schema.name, name: table.slice(dot + 1) } : { schema: 'main', name: table };
}

/** Reads the table's shape; a missing table is `source.invalid` listing the tables there. */
export function loadTableInfo(run: RunSync, ref: SqliteTableRef, file: string): SqliteTableInfo {
  const [entry] = run(
    sql<{ wr: number }>`select wr from pragma_table_list
      where schema = ${ref.schema} and name = ${ref.name} collate nocase`,
  );
  if (!entry) {
    const names = run(
      sql<{ name: string }>`select name from pragma_table_list
        where schema = ${ref.schema} and type in ('table', 'view') and substr(name, 1, 7) <> 'sqlite_'
        order by name`,
    ).map((row) => row.name);
    throw new UsersyncError(
      'source.invalid',
      `Table "${ref.name}" not found in ${file}` +
        (names.length > 0 ? ` (tables there: ${names.join(', ')})` : ' (the file holds no tables)') +
        '. Check `table:` in the connection.',
    );
  }
  return { ref, withoutRowid: entry.wr === 1, columns: loadColumns(run, ref) };
}

interface XInfoRow {
  name: string;
  type: string;
  notnull: number;
  dflt_value: string | null;
  pk: number;
  hidden: number;
}

function loadColumns(run: RunSync, ref: SqliteTableRef): SqliteColumn[] {
  // hidden: 0 normal, 1 hidden column of a virtual table (not ours to sync), 2/3 generated.
  const rows = run(
    sql<XInfoRow>`select name, type, "notnull", dflt_value, pk, hidden
      from pragma_table_xinfo(${ref.name}, ${ref.schema}) where hidden <> 1 order by cid`,
  );
  return rows.map((row) => ({
    name: row.name,
    type: row.type,
    affinity: affinityOf(row.type),
    notNull: row.notnull === 1,
    hasDefault: row.dflt_value !== null,
    primaryKey: row.pk,
    computed: row.hidden === 2 || row.hidden === 3,
  }));
}

export function findColumn(info: SqliteTableInfo, name: string): SqliteColumn | undefined {
  // SQLite identifiers are case-insensitive.
  const wanted = name.toLowerCase();
  return info.columns.find((column) => column.name.toLowerCase() === wanted);
}

function primaryKeyColumns(info: SqliteTableInfo): SqliteColumn[] {
  return info.columns.filter((column) => column.primaryKey > 0).sort((a, b) => a.primaryKey - b.primaryKey);
}

/** An `INTEGER PRIMARY KEY` of a rowid table: SQLite assigns it when left out. */
export function isRowidAlias(info: SqliteTableInfo, column: SqliteColumn): boolean {
  return !info.withoutRowid && isSolePrimaryKey(info, column) && column.type.toUpperCase() === 'INTEGER';
}

/** The source fills the column in on insert. */
export function isGenerated(info: SqliteTableInfo, column: SqliteColumn): boolean {
  return column.hasDefault || column.computed || isRowidAlias(info, column);
}

/** The table's single primary key column is a unique key, so no duplicate check is needed. */
export function isSolePrimaryKey(info: SqliteTableInfo, column: SqliteColumn): boolean {
  const keys = primaryKeyColumns(info);
  // By name: `describe()` reloads the table, so older column objects are not the same objects.
  return keys.length === 1 && keys[0]?.name.toLowerCase() === column.name.toLowerCase();
}

export function describeColumns(info: SqliteTableInfo): ColumnInfo[] {
  return info.columns.map((column) => ({
    name: column.name,
    type: column.type,
    // SQLite lets a primary key hold NULL unless it is a rowid alias; say what the schema says.
    nullable: !column.notNull && !isRowidAlias(info, column),
    generated: isGenerated(info, column),
  }));
}

/** The configured key column, or the table's primary key when `key:` is not set. */
export function resolveKeyColumn(
  info: SqliteTableInfo,
  key: string | undefined,
  where: string,
): SqliteColumn {
  if (key !== undefined) {
    const column = findColumn(info, key);
    if (column) return column;
    throw new UsersyncError(
      'source.invalid',
      `Key column "${key}" not found in ${where} (columns: ${info.columns.map((c) => c.name).join(', ')}). ` +
        'Fix `key:` in the connection.',
    );
  }
  const keys = primaryKeyColumns(info);
  if (keys.length === 1 && keys[0]) return keys[0];
  const problem =
    keys.length === 0
      ? 'has no primary key'
      : `has a composite primary key (${keys.map((c) => c.name).join(', ')})`;
  throw new UsersyncError(
    'source.invalid',
    `${where} ${problem}, so usersync cannot tell which column identifies a row. ` +
      'Set `key:` in the connection to a column with a unique value per row.',
  );
}
