/** What better-sqlite3 can bind: it rejects booleans, dates and objects outright. */
export type SqliteValue = string | number | bigint | Uint8Array | null;

/** A value from the sync, as SQLite stores it (booleans as 0/1, dates as ISO text). */
export function toSqliteValue(value: unknown): SqliteValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return value;
  return JSON.stringify(value);
}

/** SQLite's type affinity of a declared column type (https://sqlite.org/datatype3.html §3.1). */
export type SqliteAffinity = 'INTEGER' | 'TEXT' | 'BLOB' | 'REAL' | 'NUMERIC';

export function affinityOf(declaredType: string): SqliteAffinity {
  const type = declaredType.toUpperCase();
  if (type.includes('INT')) return 'INTEGER';
  if (type.includes('CHAR') || type.includes('CLOB') || type.includes('TEXT')) return 'TEXT';
  if (type === '' || type.includes('BLOB')) return 'BLOB';
  if (type.includes('REAL') || type.includes('FLOA') || type.includes('DOUB')) return 'REAL';
  return 'NUMERIC';
}

/**
 * A key (canonical text, see connector.ts) back in the key column's own type. Columns
 * with a numeric affinity convert '42' themselves; a column declared without a type
 * does not, so an integer-looking key is passed as a number there.
 */
export function keyToSqlite(key: string, affinity: SqliteAffinity): SqliteValue {
  // Only the canonical spelling: '007' may well be a text key.
  if (affinity === 'TEXT' || !/^(0|-?[1-9]\d*)$/.test(key)) return key;
  const asNumber = Number(key);
  return Number.isSafeInteger(asNumber) ? asNumber : BigInt(key);
}
