import { sql, type RawBuilder } from 'kysely';
import { UsersyncError } from '../../core/errors.js';
import type { ColumnInfo } from '../connector.js';
import type { PgKysely } from './postgres-open.js';
import { parseTableName, type TableName } from './postgres-table-name.js';

/** A table (or view) found in the catalog. */
export interface PgTableRef {
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
}

export interface PgColumn {
  readonly name: string;
  /** pg_type.typname, as information_schema's udt_name: `int4`, `text`, `timestamptz`, a domain's name … */
  readonly type: string;
  /** The type under a domain (the type itself otherwise): what values behave as. */
  readonly baseType: string;
  /**
   * The type as SQL spells it for a cast, schema-qualified where the search_path does not
   * find it, without the column's length or precision (`character varying`, `bpchar`,
   * `"bit"`): a cast to `varchar(5)` would cut a longer value short where writing it
   * into the column refuses it.
   */
  readonly castType: string;
  readonly notNull: boolean;
  /** A DEFAULT (serial's nextval among them). */
  readonly hasDefault: boolean;
  /** GENERATED … AS IDENTITY. */
  readonly identity: boolean;
  /** GENERATED ALWAYS AS (…) STORED. */
  readonly computed: boolean;
  readonly primaryKey: boolean;
  /** The only column of the primary key or of a unique index without a WHERE. */
  readonly unique: boolean;
}

/** A column of a fingerprint, as the server hashes it: its value, its bytes, or its text. */
export interface HashedColumn {
  readonly name: string;
  readonly as: 'value' | 'bytes' | 'text';
}

/** The key and columns a fingerprint covers (key first), and how (see `fingerprintOver`). */
export interface FingerprintOver {
  /** `hash_record_extended` (PostgreSQL 14+); else the row's text is hashed. */
  readonly byRecord: boolean;
  readonly columns: readonly HashedColumn[];
}

export interface PgTableInfo {
  readonly ref: PgTableRef;
  readonly columns: readonly PgColumn[];
  /** The server's `server_version_num`, e.g. 150004. */
  readonly serverVersion: number;
}

/** Tables, partitioned tables, views, materialized views and foreign tables. */
const RELATION_KINDS = sql`('r', 'p', 'v', 'm', 'f')`;

/**
 * Finds the table `table:` names and reads its columns. A table is matched by its exact
 * name first, else case-insensitively (people write `Members` for `members`); without a
 * schema, the search_path decides as it does in SQL. Missing: `source.invalid` listing
 * the tables there.
 */
export async function loadTableInfo(db: PgKysely, table: string, where: string): Promise<PgTableInfo> {
  const readings = parseTableName(table);
  for (const reading of readings) {
    const ref = await findTable(db, reading, table);
    if (!ref) continue;
    // Side by side: the version costs a describe() no round trip of its own.
    const [columns, version] = await Promise.all([loadColumns(db, ref), serverVersion(db)]);
    return { ref, columns, serverVersion: version };
  }
  const names = await tableNames(db, readings[0]?.schema);
  throw new UsersyncError(
    'source.invalid',
    `Table "${table}" not found in ${where}` +
      (names.length > 0 ? ` (tables there: ${names.join(', ')})` : ' (no tables there)') +
      '. Check `table:` in the connection (schema.table for a table outside the search_path).',
  );
}

interface RelationRow {
  oid: number;
  schema: string;
  name: string;
}

function inSchema(schema: string | undefined): RawBuilder<unknown> {
  return schema === undefined
    ? sql`n.nspname = any(current_schemas(false))`
    : sql`lower(n.nspname) = lower(cast(${schema} as text))`;
}

async function findTable(db: PgKysely, wanted: TableName, table: string): Promise<PgTableRef | undefined> {
  const { rows } = await sql<RelationRow>`select c.oid, n.nspname as schema, c.relname as name
    from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ${RELATION_KINDS} and ${inSchema(wanted.schema)}
      and lower(c.relname) = lower(cast(${wanted.name} as text))
    order by array_position(current_schemas(false), n.nspname), n.nspname, c.relname`.execute(db);
  const exact = rows.find(
    (row) => row.name === wanted.name && (wanted.schema === undefined || row.schema === wanted.schema),
  );
  // Without a schema the first in the search_path wins, as in SQL.
  if (exact) return exact;
  if (rows.length <= 1) return rows[0];
  throw new UsersyncError(
    'source.invalid',
    `\`table: ${table}\` matches ${rows.map((row) => `"${row.schema}"."${row.name}"`).join(' and ')}, ` +
      'which differ only in case. Write the one you mean in double quotes, e.g. "Members".',
  );
}

async function tableNames(db: PgKysely, schema: string | undefined): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`select c.relname as name
    from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ${RELATION_KINDS} and ${inSchema(schema)}
    order by c.relname limit 30`.execute(db);
  return rows.map((row) => row.name);
}

interface ColumnRow {
  name: string;
  type: string;
  base_type: string;
  cast_type: string;
  not_null: boolean;
  has_default: boolean;
  identity: boolean;
  computed: boolean;
  primary_key: boolean;
  is_unique: boolean;
}

async function loadColumns(db: PgKysely, ref: PgTableRef): Promise<PgColumn[]> {
  const { rows } = await sql<ColumnRow>`select a.attname as name, t.typname as type,
      coalesce(b.typname, t.typname) as base_type,
      format_type(a.atttypid, -1) as cast_type, a.attnotnull as not_null,
      a.atthasdef as has_default, a.attidentity <> '' as identity, a.attgenerated <> '' as computed,
      exists (select 1 from pg_catalog.pg_index i
        where i.indrelid = a.attrelid and i.indisprimary and a.attnum = any(i.indkey)) as primary_key,
      exists (select 1 from pg_catalog.pg_index i
        where i.indrelid = a.attrelid and i.indisunique and i.indnkeyatts = 1 and i.indkey[0] = a.attnum
          and i.indpred is null) as is_unique
    from pg_catalog.pg_attribute a
    join pg_catalog.pg_type t on t.oid = a.atttypid
    left join pg_catalog.pg_type b on t.typtype = 'd' and b.oid = t.typbasetype
    where a.attrelid = ${ref.oid} and a.attnum > 0 and not a.attisdropped
    order by a.attnum`.execute(db);
  return rows.map((row) => ({
    name: row.name,
    type: row.type,
    baseType: row.base_type,
    castType: row.cast_type,
    notNull: row.not_null,
    hasDefault: row.has_default,
    identity: row.identity,
    computed: row.computed,
    primaryKey: row.primary_key,
    unique: row.is_unique,
  }));
}

async function serverVersion(db: PgKysely): Promise<number> {
  const { rows } = await sql<{
    v: number;
  }>`select cast(current_setting('server_version_num') as int4) as v`.execute(db);
  return rows[0]!.v;
}

/**
 * Types whose values are equal only when their text is the same, so that hashing the
 * value is hashing its text: integers, booleans, uuids, dates and timestamps (a
 * timestamptz as its instant, whatever the session's zone prints).
 */
const HASHED_AS_VALUES = new Set([
  'int2',
  'int4',
  'int8',
  'bool',
  'uuid',
  'date',
  'timestamp',
  'timestamptz',
]);
/** Text types, hashed byte for byte (`collate "C"`) whatever the column's collation calls equal. */
const HASHED_AS_BYTES = new Set(['text', 'varchar']);

/**
 * How the server hashes each column of a fingerprint over `key` and `columns` (see
 * `fingerprintValue` in postgres-statements.ts). Every other type goes through its text,
 * as `1.0` and `1.00`, `0` and `-0`, `'1 day'` and `'24 hours'` are equal values that
 * read differently; a domain too, whatever it is over.
 */
export function fingerprintOver(info: PgTableInfo, key: string, columns: readonly string[]): FingerprintOver {
  const hashed = (name: string): HashedColumn => {
    const column = findColumn(info, name);
    const type = column && column.type === column.baseType ? column.type : undefined;
    if (type !== undefined && HASHED_AS_VALUES.has(type)) return { name, as: 'value' };
    if (type !== undefined && HASHED_AS_BYTES.has(type)) return { name, as: 'bytes' };
    return { name, as: 'text' };
  };
  return { byRecord: info.serverVersion >= 140000, columns: [key, ...columns].map(hashed) };
}

/** PostgreSQL names are case-sensitive once created, and the mapping must use them as they are. */
export function findColumn(info: PgTableInfo, name: string): PgColumn | undefined {
  return info.columns.find((column) => column.name === name);
}

/** The source fills the column in on insert. */
export function isGenerated(column: PgColumn): boolean {
  return column.hasDefault || column.identity || column.computed;
}

export function describeColumns(info: PgTableInfo): ColumnInfo[] {
  return info.columns.map((column) => ({
    name: column.name,
    type: column.type,
    nullable: !column.notNull,
    generated: isGenerated(column),
  }));
}

/** The configured key column, or the table's primary key when `key:` is not set. */
export function resolveKeyColumn(info: PgTableInfo, key: string | undefined, where: string): PgColumn {
  if (key !== undefined) {
    const column = findColumn(info, key);
    if (column) return column;
    throw new UsersyncError(
      'source.invalid',
      `Key column "${key}" not found in ${where} (columns: ${columnList(info)}). Fix \`key:\` in the connection.`,
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
    `The ${where} ${problem}, so usersync cannot tell which column identifies a row. ` +
      'Set `key:` in the connection to a column with a unique value per row.',
  );
}

export function columnList(info: PgTableInfo): string {
  return info.columns.map((c) => c.name).join(', ');
}
