/**
 * What the connector hands the driver. mysql2 escapes objects as `key = value` lists and
 * arrays as value lists, so those never reach it: they are written as JSON text.
 */
export type MysqlValue = string | number | bigint | Buffer | null;

/** `information_schema.columns.DATA_TYPE`, lower-case: `int`, `varchar`, `datetime` … */
export interface TypedColumn {
  readonly dataType: string;
}

const INTEGER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint']);
const TEXT_TYPES = new Set(['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'enum', 'set']);

export function isIntegerColumn(column: TypedColumn): boolean {
  return INTEGER_TYPES.has(column.dataType);
}

/** Character data, compared with a collation (often case-insensitive) rather than byte by byte. */
export function isTextColumn(column: TypedColumn): boolean {
  return TEXT_TYPES.has(column.dataType);
}

/**
 * `col = 'value'` already ignores case under the column's collation (`_ci`, the default)
 * and, with PAD SPACE (every collation but MariaDB's `_nopad_` and MySQL's `_0900_`
 * ones), trailing spaces: only leading spaces are left for `lower(trim(col))` to fold.
 */
export function foldsCaseAndTrailingSpaces(column: { readonly collation: string | null }): boolean {
  const collation = column.collation?.toLowerCase() ?? '';
  return collation.endsWith('_ci') && !/_nopad_|_0900_/.test(collation);
}

/** A value from the sync, as the column takes it (booleans as 1/0, ISO times as MySQL times). */
export function toMysqlValue(value: unknown, column?: TypedColumn): MysqlValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return column ? toColumnText(value, column) : value;
  if (typeof value === 'number' || typeof value === 'bigint') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value instanceof Date) return toMysqlValue(value.toISOString(), column);
  if (value instanceof Uint8Array) return Buffer.from(value);
  return JSON.stringify(value);
}

/**
 * A key (canonical text, see connector.ts) in the key column's own type. An integer
 * column gets a number (a BigInt past 2^53): MySQL compares a string with an integer as
 * floating point, which would confuse neighbouring large keys.
 */
export function keyToMysql(key: string, column: TypedColumn): MysqlValue {
  if (!isIntegerColumn(column) || !/^(0|-?[1-9]\d*)$/.test(key)) return key;
  const asNumber = Number(key);
  return Number.isSafeInteger(asNumber) ? asNumber : BigInt(key);
}

/** The last key of a page, to page on from: integers (BIGINTs come as text) back as numbers. */
export function keyValueOf(raw: unknown, key: TypedColumn): MysqlValue {
  return isIntegerColumn(key) ? keyToMysql(String(raw), key) : toMysqlValue(raw);
}

/** A looked-up value in the column's terms: text for text columns (`'7abc' = 7` is true in MySQL). */
export function lookupValue(value: unknown, column: TypedColumn): MysqlValue {
  if (isTextColumn(column)) return typeof value === 'string' ? value : String(toMysqlValue(value));
  if (typeof value === 'string' && isIntegerColumn(column)) return keyToMysql(value, column);
  return toMysqlValue(value, column);
}

/** `2024-05-01T09:30:00.000Z`, `2024-05-01T11:30+02:00`, `2024-05-01T09:30:00` */
const ISO_TIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * The core writes times as ISO-8601 UTC (`…T09:30:00.000Z`), which a strict MySQL
 * rejects for DATETIME, TIMESTAMP and DATE. The session runs in UTC, so the same
 * instant is written as `2024-05-01 09:30:00.000` (a DATE gets its day when the time
 * is midnight). Anything else goes as given, for the server to take or refuse.
 */
function toColumnText(text: string, column: TypedColumn): string {
  const type = column.dataType;
  if (type !== 'datetime' && type !== 'timestamp' && type !== 'date') return text;
  const match = ISO_TIME.exec(text.trim());
  if (!match) return text;
  const [, day = '', time = '', zone] = match;
  const local = zone === undefined ? `${day} ${time}` : utcText(text.trim());
  if (local === undefined) return text;
  if (type === 'date' && /^\d{4}-\d{2}-\d{2} 00:00(:00(\.0+)?)?$/.test(local)) return local.slice(0, 10);
  return local;
}

function utcText(iso: string): string | undefined {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return undefined;
  // toISOString is always UTC: `2024-05-01T09:30:00.000Z` → `2024-05-01 09:30:00.000`.
  const text = new Date(ms).toISOString();
  return `${text.slice(0, 10)} ${text.slice(11, 23)}`;
}
