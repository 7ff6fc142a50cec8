import { sql } from 'kysely';
import { UsersyncError } from '../../core/errors.js';
import type { ColumnInfo } from '../connector.js';
import type { MysqlKysely } from './mysql-open.js';

/** The table a connection names: `members` in the URL's database, or `crm.members`. */
export interface MysqlTableRef {
  readonly schema: string;
  readonly name: string;
}

export interface MysqlColumn {
  readonly name: string;
  /** `COLUMN_TYPE`, as the user declared it: `varchar(255)`, `int(10) unsigned`, `tinyint(1)`. */
  readonly type: string;
  /** `DATA_TYPE`, lower-case: `varchar`, `int`, `datetime`. */
  readonly dataType: string;
  /** `COLLATION_NAME` of character data (`utf8mb4_general_ci`, `utf8mb4_bin` …); null for other types. */
  readonly collation: string | null;
  readonly nullable: boolean;
  readonly autoIncrement: boolean;
  /** A DEFAULT other than NULL. */
  readonly hasDefault: boolean;
  /** `GENERATED ALWAYS AS (…)`, virtual or stored. */
  readonly computed: boolean;
  readonly primaryKey: boolean;
  /** The only column of a UNIQUE index (`COLUMN_KEY = 'UNI'`). */
  readonly unique: boolean;
}

export interface MysqlTableInfo {
  readonly ref: MysqlTableRef;
  readonly columns: readonly MysqlColumn[];
}

/** `crm.members` names the database when `crm` is one; otherwise the dot is part of the table's name. */
export async function resolveTableRef(
  db: MysqlKysely,
  table: string,
  database: string | undefined,
): Promise<MysqlTableRef> {
  const dot = table.indexOf('.');
  if (dot > 0) {
    const prefix = table.slice(0, dot);
    const { rows } = await sql<{ n: string }>`select schema_name as n from information_schema.schemata
      where schema_name = ${prefix}`.execute(db);
    if (rows.length > 0 || database === undefined) return { schema: prefix, name: table.slice(dot + 1) };
  }
  if (database === undefined) {
    throw new UsersyncError(
      'config.invalid',
      `The source names no database, so \`table:\` must: write it as DATABASE.${table}, ` +
        'or put the database at the end of the URL (mysql://…/DATABASE).',
    );
  }
  return { schema: database, name: table };
}

interface ColumnRow {
  name: string;
  columnType: string;
  dataType: string;
  collation: string | null;
  isNullable: string;
  columnDefault: string | null;
  extra: string;
  columnKey: string;
}

/** Reads the table's shape; a missing table is `source.invalid` listing the tables there. */
export async function loadTableInfo(
  db: MysqlKysely,
  ref: MysqlTableRef,
  where: string,
): Promise<MysqlTableInfo> {
  const { rows: tables } = await sql<{ n: string }>`select table_name as n from information_schema.tables
    where table_schema = ${ref.schema} and lower(table_name) = lower(${ref.name})`.execute(db);
  // Table names are case-sensitive on most Linux servers: take the exact name, else the only near one.
  const name = tables.find((t) => t.n === ref.name)?.n ?? (tables.length === 1 ? tables[0]?.n : undefined);
  if (name === undefined) throw await tableNotFound(db, ref, where);
  const { rows } = await sql<ColumnRow>`select column_name as name, column_type as columnType,
      data_type as dataType, collation_name as collation, is_nullable as isNullable, column_default as columnDefault,
      extra, column_key as columnKey
    from information_schema.columns
    where table_schema = ${ref.schema} and table_name = ${name}
    order by ordinal_position`.execute(db);
  return { ref: { schema: ref.schema, name }, columns: rows.map(toColumn) };
}

async function tableNotFound(db: MysqlKysely, ref: MysqlTableRef, where: string): Promise<UsersyncError> {
  const { rows } = await sql<{ n: string }>`select table_name as n from information_schema.tables
    where table_schema = ${ref.schema} order by table_name limit 21`.execute(db);
  const names = rows.map((row) => row.n);
  const listed = names.length > 20 ? `${names.slice(0, 20).join(', ')} …` : names.join(', ');
  return new UsersyncError(
    'source.invalid',
    `Table "${ref.name}" not found in database "${ref.schema}" of ${where}` +
      (names.length > 0 ? ` (tables there: ${listed})` : ' (the database holds no tables)') +
      '. Check `table:` in the connection.',
  );
}

function toColumn(row: ColumnRow): MysqlColumn {
  const extra = row.extra.toLowerCase();
  // MariaDB spells "no default" on a nullable column as the text NULL; MySQL as SQL NULL.
  const hasDefault = row.columnDefault !== null && row.columnDefault.toUpperCase() !== 'NULL';
  return {
    name: row.name,
    type: row.columnType,
    dataType: row.dataType.toLowerCase(),
    collation: row.collation,
    nullable: row.isNullable === 'YES',
    autoIncrement: extra.includes('auto_increment'),
    hasDefault,
    computed: /\b(virtual|stored|persistent) generated\b/.test(extra),
    primaryKey: row.columnKey === 'PRI',
    unique: row.columnKey === 'UNI',
  };
}

export function findColumn(info: MysqlTableInfo, name: string): MysqlColumn | undefined {
  // MySQL column names are case-insensitive.
  const wanted = name.toLowerCase();
  return info.columns.find((column) => column.name.toLowerCase() === wanted);
}

/** The source fills the column in on insert. */
export function isGenerated(column: MysqlColumn): boolean {
  return column.autoIncrement || column.hasDefault || column.computed;
}

/** The key holds one row per value, so no duplicate check is needed before a write. */
export function isUniqueKey(info: MysqlTableInfo, column: MysqlColumn): boolean {
  const keys = info.columns.filter((c) => c.primaryKey);
  const soleKey = keys.length === 1 && keys[0]?.name.toLowerCase() === column.name.toLowerCase();
  return soleKey || (column.unique && !column.nullable);
}

export function describeColumns(info: MysqlTableInfo): ColumnInfo[] {
  return info.columns.map((column) => ({
    name: column.name,
    type: column.type,
    nullable: column.nullable,
    generated: isGenerated(column),
  }));
}

/** The configured key column, or the table's primary key when `key:` is not set. */
export function resolveKeyColumn(info: MysqlTableInfo, key: string | undefined, where: string): MysqlColumn {
  if (key !== undefined) {
    const column = findColumn(info, key);
    if (column) return column;
    throw new UsersyncError(
      'source.invalid',
      `Key column "${key}" not found in ${where} (columns: ${info.columns.map((c) => c.name).join(', ')}). ` +
        'Fix `key:` in the connection.',
    );
  }
  const keys = info.columns.filter((column) => column.primaryKey);
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
