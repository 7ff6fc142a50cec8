import { sql, type RawBuilder } from 'kysely';
import type { SqliteTableRef } from './sqlite-schema.js';
import type { SqliteValue } from './sqlite-value.js';
import type { SelectedRow } from '../sql-rows.js';
import type { FingerprintAfter } from '../connector.js';
import { BUCKET_DIGEST_SELECT, BUCKET_MASK, type BucketDigestRow } from '../../core/fingerprint-buckets.js';

/**
 * The SQL the SQLite connector runs, as pure functions you can print
 * (`statement.compile(db).sql`). Every identifier goes through `sql.id`, so names with
 * spaces, dashes, dots, quotes or mixed case are quoted by Kysely, never concatenated.
 */

export type { SelectedRow } from '../sql-rows.js';

export interface RowQuery {
  readonly ref: SqliteTableRef;
  readonly key: string;
  readonly columns: readonly string[];
  readonly conditions: readonly RawBuilder<unknown>[];
  readonly limit?: number;
  /** Also select `f`, the row's fingerprint over these columns. */
  readonly fingerprintOf?: readonly string[];
}

const table = (ref: SqliteTableRef) => sql.id(ref.schema, ref.name);
const column = (name: string) => sql.id(name);
const and = (conditions: readonly RawBuilder<unknown>[]) => sql.join(conditions, sql` and `);

export function selectRows(query: RowQuery): RawBuilder<SelectedRow> {
  const key = column(query.key);
  const selected = [
    sql`${key} as k`,
    ...query.columns.map((name, i) => sql`${column(name)} as ${sql.id(`c${i}`)}`),
    ...(query.fingerprintOf ? [sql`${fingerprint(query.key, query.fingerprintOf)} as f`] : []),
  ];
  // A row whose key is NULL cannot be addressed by key, so it is not the sync's to manage.
  const where = and([sql`${key} is not null`, ...query.conditions]);
  const limit = query.limit === undefined ? sql`` : sql` limit ${query.limit}`;
  return sql<SelectedRow>`select ${sql.join(selected)} from ${table(query.ref)} where ${where} order by ${key}${limit}`;
}

/** The function `openSqlite` gives each connection: a row's fingerprint (see sqlite-open.ts). */
export const FINGERPRINT_FUNCTION = 'usersync_fingerprint';

/** The fingerprint of the key and these columns, as decimal text (see sqlite-open.ts). */
function fingerprint(key: string, columns: readonly string[]): RawBuilder<string> {
  return sql<string>`${sql.raw(FINGERPRINT_FUNCTION)}(${sql.join([key, ...columns].map(column))})`;
}

/**
 * The fingerprints of a table's rows (key not NULL), digested by bucket, or (`buckets`)
 * those in these buckets, in one pass. `limit -1` keeps the subquery whole: flattened,
 * each use of `f` would hash the row again.
 */
export function digestFingerprints(
  ref: SqliteTableRef,
  key: string,
  columns: readonly string[],
): RawBuilder<BucketDigestRow> {
  return sql<BucketDigestRow>`select ${sql.raw(BUCKET_DIGEST_SELECT)} from ${fingerprinted(ref, key, columns)} group by 1`;
}

export function fingerprintsInBuckets(
  ref: SqliteTableRef,
  key: string,
  columns: readonly string[],
  buckets: readonly number[],
): RawBuilder<SelectedRow> {
  return sql<SelectedRow>`select k, cast(f as text) as f from ${fingerprinted(ref, key, columns)}
    where (f & ${sql.raw(String(BUCKET_MASK))}) in (select value from json_each(${JSON.stringify(buckets)}))`;
}

function fingerprinted(ref: SqliteTableRef, key: string, columns: readonly string[]): RawBuilder<unknown> {
  return sql`(select ${column(key)} as k, cast(${fingerprint(key, columns)} as integer) as f from ${table(ref)}
    where ${column(key)} is not null limit -1) as fingerprints`;
}

/** Keyset pagination: compares with the last row's own value, so integer and text keys both page right. */
export function keyAfter(key: string, last: unknown): RawBuilder<unknown> {
  return sql`${column(key)} > ${last}`;
}

export function columnIn(name: string, values: readonly SqliteValue[]): RawBuilder<unknown> {
  return sql`${column(name)} in (${sql.join(values)})`;
}

/** `lower(trim(col)) in (…)`: SQLite's lower() folds ASCII only, like its NOCASE collation. */
export function columnInFolded(name: string, values: readonly string[]): RawBuilder<unknown> {
  return sql`lower(trim(${column(name)})) in (${sql.join(values)})`;
}

export function columnAtLeast(name: string, value: SqliteValue): RawBuilder<unknown> {
  return sql`${column(name)} >= ${value}`;
}

export type ColumnValues = readonly (readonly [string, SqliteValue])[];

/** Inserts one row and returns its key as stored (given, defaulted or assigned by SQLite). */
export function insertRow(
  ref: SqliteTableRef,
  key: string,
  values: ColumnValues,
): RawBuilder<{ k: unknown }> {
  const returning = sql`returning ${column(key)} as k`;
  if (values.length === 0) return sql<{ k: unknown }>`insert into ${table(ref)} default values ${returning}`;
  const names = sql.join(values.map(([name]) => column(name)));
  const params = sql.join(values.map(([, value]) => value));
  return sql<{ k: unknown }>`insert into ${table(ref)} (${names}) values (${params}) ${returning}`;
}

/** `col IS ?` rather than `=`, so an expected NULL matches a NULL (SPEC §3: never overwrite a concurrent edit). */
function rowHolds(key: string, keyValue: SqliteValue, expect: ColumnValues): RawBuilder<unknown> {
  return and([
    sql`${column(key)} = ${keyValue}`,
    ...expect.map(([name, value]) => sql`${column(name)} is ${value}`),
  ]);
}

/**
 * Changes the row only if it still holds the expected values; 0 rows changed means stale.
 * With `after`, the row changed comes back with its fingerprint `f` after the update (see
 * RowUpdate.fingerprint); with its `asRead`, only a row that still has that one changes.
 */
export function updateIfUnchanged(
  ref: SqliteTableRef,
  key: string,
  keyValue: SqliteValue,
  set: ColumnValues,
  expect: ColumnValues,
  after?: FingerprintAfter,
): RawBuilder<{ f: string }> {
  const assignments = sql.join(set.map(([name, value]) => sql`${column(name)} = ${value}`));
  const update = sql`update ${table(ref)} set ${assignments} where ${rowHolds(key, keyValue, expect)}`;
  if (!after) return sql<{ f: string }>`${update}`;
  const digest = fingerprint(key, after.columns);
  const asRead = after.asRead === undefined ? sql`` : sql` and ${digest} = ${after.asRead}`;
  return sql<{ f: string }>`${update}${asRead} returning ${digest} as f`;
}

/** How many rows have the key (and hold the expected values). */
export function countRows(
  ref: SqliteTableRef,
  key: string,
  keyValue: SqliteValue,
  expect: ColumnValues = [],
): RawBuilder<{ n: number }> {
  return sql<{ n: number }>`select count(*) as n from ${table(ref)} where ${rowHolds(key, keyValue, expect)}`;
}

export function deleteRow(ref: SqliteTableRef, key: string, keyValue: SqliteValue): RawBuilder<unknown> {
  return sql`delete from ${table(ref)} where ${column(key)} = ${keyValue}`;
}
