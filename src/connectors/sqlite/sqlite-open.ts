import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { Kysely, SqliteDialect } from 'kysely';
import { UsersyncError } from '../../core/errors.js';
import type { SourceFile } from '../source-path.js';
import { FINGERPRINT_FUNCTION } from './sqlite-statements.js';

/** The connector only runs SQL it builds with `sql`, so it needs no table types. */
export type SqliteKysely = Kysely<Record<string, never>>;

export interface OpenSqlite {
  /** The driver handle, for synchronous introspection and `inTransaction`. */
  readonly raw: Database.Database;
  readonly db: SqliteKysely;
}

/** How long a statement waits for another program's lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;

export function openSqlite(file: SourceFile, readOnly: boolean): OpenSqlite {
  let raw: Database.Database;
  try {
    // fileMustExist: a mistyped path must not silently create an empty database.
    raw = new Database(file.path, { fileMustExist: true, readonly: readOnly, timeout: BUSY_TIMEOUT_MS });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsersyncError(
      'source.unreachable',
      `Cannot open the SQLite database ${file.path}: ${reason}. ` +
        "Check the path in `source:` (a relative path starts from the config file's folder).",
      { cause: error },
    );
  }
  raw.function(FINGERPRINT_FUNCTION, { deterministic: true, varargs: true, safeIntegers: true }, fingerprint);
  return { raw, db: new Kysely({ dialect: new SqliteDialect({ database: raw }) }) };
}

/**
 * SQLite has no digest function, so the connector lends it one: 64 bits of SHA-1 over each
 * value with its type (integers arrive as BigInt, so 1 and 1.0 and '1' all differ), as a
 * signed integer in decimal text, which SQL can take apart by bucket
 * (core/fingerprint-buckets.ts).
 */
function fingerprint(...values: unknown[]): string {
  const hash = createHash('sha1');
  for (const value of values) {
    if (value === null) hash.update('n;');
    else if (Buffer.isBuffer(value)) hash.update(`b${value.length}:`).update(value);
    else {
      const text = String(value);
      hash.update(`${typeof value}${text.length}:${text}`);
    }
  }
  return hash.digest().readBigInt64BE(0).toString();
}
