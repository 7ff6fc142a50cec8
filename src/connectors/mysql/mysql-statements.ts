import { sql, type RawBuilder } from 'kysely';
import type { MysqlColumn, MysqlTableRef } from './mysql-schema.js';
import { isTextColumn, type MysqlValue } from './mysql-value.js';
import type { SelectedRow } from '../sql-rows.js';
import { BUCKET_DIGEST_SELECT, BUCKET_MASK, type BucketDigestRow } from '../../core/fingerprint-buckets.js';

/**
 * The SQL the MySQL connector runs, as pure functions you can print
 * (`statement.compile(db).sql`). Every identifier goes through `sql.id`, so Kysely's
 * MysqlDialect backtick-quotes it (doubling any backtick inside): names with spaces,
 * dashes, dots or mixed case are never concatenated into SQL. Values are parameters.
 */

export type { SelectedRow } from '../sql-rows.js';

export interface RowQuery {
  readonly ref: MysqlTableRef;
  readonly key: string;
  readonly columns: readonly string[];
  readonly conditions: readonly RawBuilder<unknown>[];
  readonly limit?: number;
  /** Also select `f`, the row's fingerprint over these columns. */
  readonly fingerprintOf?: readonly string[];
}

const table = (ref: MysqlTableRef) => sql.id(ref.schema, ref.name);
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

/**
 * The key and values as a JSON array (which tells NULL from an empty string) digested by
 * the server with md5, 60 bits of it in decimal text: never negative, so that MySQL's bit
 * operators, which work unsigned, take it apart by bucket as PostgreSQL and SQLite take
 * theirs (core/fingerprint-buckets.ts).
 */
function fingerprint(key: string, columns: readonly string[], name = column): RawBuilder<string> {
  return sql<string>`conv(left(md5(json_array(${sql.join([key, ...columns].map(name))})), 15), 16, 10)`;
}

/**
 * The fingerprints of a table's rows (key not NULL), digested by bucket, or (`buckets`)
 * those in these buckets, in one pass. The limit keeps the derived table whole: merged,
 * each use of `f` would hash the row again.
 */
export function digestFingerprints(
  ref: MysqlTableRef,
  key: string,
  columns: readonly string[],
): RawBuilder<BucketDigestRow> {
  return sql<BucketDigestRow>`select ${sql.raw(BUCKET_DIGEST_SELECT)} from ${fingerprinted(ref, key, columns)} group by 1`;
}

export function fingerprintsInBuckets(
  ref: MysqlTableRef,
  key: string,
  columns: readonly string[],
  buckets: readonly number[],
): RawBuilder<SelectedRow> {
  // A constant `IN` list is sorted once and searched by halves.
  return sql<SelectedRow>`select k, cast(f as char) as f from ${fingerprinted(ref, key, columns)}
    where (f & ${sql.raw(String(BUCKET_MASK))}) in (${sql.join(buckets.length > 0 ? buckets : [-1])})`;
}

function fingerprinted(ref: MysqlTableRef, key: string, columns: readonly string[]): RawBuilder<unknown> {
  return sql`(select ${column(key)} as k, cast(${fingerprint(key, columns)} as unsigned) as f from ${table(ref)}
    where ${column(key)} is not null limit 18446744073709551615) as fingerprints`;
}

/**
 * Keyset pagination. The server compares, with the key column's own collation, exactly
 * as it sorts for ORDER BY: a case-insensitive VARCHAR key pages in the server's order,
 * which JavaScript could not reproduce.
 */
export function keyAfter(key: string, last: MysqlValue): RawBuilder<unknown> {
  return sql`${column(key)} > ${last}`;
}

export function columnIn(name: string, values: readonly MysqlValue[]): RawBuilder<unknown> {
  return sql`${column(name)} in (${sql.join(values)})`;
}

/**
 * `lower(trim(col)) in (…)`, the values already trimmed and lower-cased. No index can
 * serve it (MariaDB has no expression indexes), so it reads the whole table.
 */
export function columnInFolded(name: string, values: readonly string[]): RawBuilder<unknown> {
  return sql`lower(trim(${column(name)})) in (${sql.join(values)})`;
}

/**
 * The same rows as `columnInFolded` for a column whose collation ignores case and
 * trailing spaces (see `foldsCaseAndTrailingSpaces`), through the column's index: the
 * plain `col in (…)`, plus the rows starting with a space, which `like ' %'` finds as
 * one more range of the same index.
 */
export function columnInCaseInsensitive(name: string, values: readonly string[]): RawBuilder<unknown> {
  const target = column(name);
  const list = sql.join(values);
  return sql`(${target} in (${list}) or (${target} like ' %' and lower(trim(${target})) in (${list})))`;
}

export function columnAtLeast(name: string, value: MysqlValue): RawBuilder<unknown> {
  return sql`${column(name)} >= ${value}`;
}

export type ColumnValues = readonly (readonly [MysqlColumn, MysqlValue])[];

/**
 * Inserts one row. With `returning` (MariaDB 10.5+) the statement hands back the key as
 * stored, defaults and all; otherwise the caller takes the AUTO_INCREMENT value the
 * server reports.
 */
export function insertRow(
  ref: MysqlTableRef,
  key: string,
  values: ColumnValues,
  returning: boolean,
): RawBuilder<{ k: unknown }> {
  const names = sql.join(values.map(([c]) => column(c.name)));
  const params = sql.join(values.map(([, value]) => value));
  const insert =
    values.length === 0
      ? sql`insert into ${table(ref)} () values ()`
      : sql`insert into ${table(ref)} (${names}) values (${params})`;
  return returning
    ? sql<{ k: unknown }>`${insert} returning ${column(key)} as k`
    : sql<{ k: unknown }>`${insert}`;
}

/**
 * `col <=> value`: NULL-safe, so an expected NULL matches a NULL (SPEC §3: never
 * overwrite a concurrent edit). Text is compared with a binary collation: under the
 * usual case-insensitive one, an edit from "pro" to "Pro" would pass for no change.
 */
function holds(target: MysqlColumn, value: MysqlValue): RawBuilder<unknown> {
  const name = column(target.name);
  if (value === null) return sql`${name} is null`;
  if (isTextColumn(target)) return sql`${name} <=> (${String(value)} collate utf8mb4_bin)`;
  // MySQL's JSON type compares as JSON, never equal to a string; MariaDB's JSON is text.
  if (target.dataType === 'json') return sql`${name} <=> cast(${value} as json)`;
  return sql`${name} <=> ${value}`;
}

function rowHolds(key: string, keyValue: MysqlValue, expect: ColumnValues): RawBuilder<unknown> {
  return and([sql`${column(key)} = ${keyValue}`, ...expect.map(([target, value]) => holds(target, value))]);
}

/**
 * Changes the row only if it still holds the expected values, and (`asRead`) still has
 * the fingerprint it was read with. The pool counts matched rows (FOUND_ROWS), so 0
 * affected rows means stale, and a row already holding the new values still counts as
 * matched.
 */
export function updateIfUnchanged(
  ref: MysqlTableRef,
  key: string,
  keyValue: MysqlValue,
  set: ColumnValues,
  expect: ColumnValues,
  asRead?: { readonly columns: readonly string[]; readonly fingerprint: string },
): RawBuilder<unknown> {
  const assignments = sql.join(set.map(([c, value]) => sql`${column(c.name)} = ${value}`));
  const still = asRead ? sql` and ${fingerprint(key, asRead.columns)} = ${asRead.fingerprint}` : sql``;
  return sql`update ${table(ref)} set ${assignments} where ${rowHolds(key, keyValue, expect)}${still}`;
}

/**
 * A batch's rows as a derived table, `(select ? as i, ? as k, ? as c0 … union all select
 * ?, ?, ? …) as v`: its position `i`, its key `k` and its values `c0`, `c1` … as the
 * literals a row's own statement would send.
 */
function batchRelation(rows: readonly (readonly MysqlValue[])[], width: number): RawBuilder<unknown> {
  const names = [sql.id('i'), sql.id('k'), ...Array.from({ length: width }, (_, n) => sql.id(`c${n}`))];
  const selects = rows.map((values, i) => {
    const listed = [i, ...values];
    if (i > 0) return sql`select ${sql.join(listed)}`;
    return sql`select ${sql.join(listed.map((value, n) => sql`${value} as ${names[n]!}`))}`;
  });
  return sql`(${sql.join(selects, sql` union all `)}) as v`;
}

const inTable = (name: string) => sql.id('t', name);

/**
 * The key as the batch's rows give it, compared as the column compares: a text key in its
 * own character set and collation (two implicit collations of one character set would
 * be an error on MySQL), so that a row's key matches as `key = ?` matches it.
 */
function keyOfBatch(key: MysqlColumn): RawBuilder<unknown> {
  if (key.collation === null) return sql`v.k`;
  const charset = key.collation.slice(0, key.collation.indexOf('_'));
  return sql`cast(v.k as char character set ${sql.raw(charset)}) collate ${sql.raw(key.collation)}`;
}

/**
 * The positions of the batch's rows (`[key, fingerprint as read]`) that the table still
 * holds as read, locked until the transaction ends: set in the same transaction
 * (`setByKeys`), they cannot have changed in between.
 */
export function lockAsRead(
  ref: MysqlTableRef,
  key: MysqlColumn,
  columns: readonly string[],
  rows: readonly (readonly [MysqlValue, string])[],
): RawBuilder<{ i: number | string }> {
  const asRead = fingerprint(key.name, columns, inTable);
  return sql<{ i: number | string }>`select v.i from ${table(ref)} as t join ${batchRelation(rows, 1)}
    on ${inTable(key.name)} = ${keyOfBatch(key)} where ${asRead} = v.c0 for update`;
}

/** Sets `columns` of each row of the batch (`[key, …values in the order of columns]`) in one statement. */
export function setByKeys(
  ref: MysqlTableRef,
  key: MysqlColumn,
  columns: readonly MysqlColumn[],
  rows: readonly (readonly MysqlValue[])[],
): RawBuilder<unknown> {
  const assignments = columns.map((c, n) => sql`${inTable(c.name)} = ${sql.id('v', `c${n}`)}`);
  return sql`update ${table(ref)} as t join ${batchRelation(rows, columns.length)}
    on ${inTable(key.name)} = ${keyOfBatch(key)} set ${sql.join(assignments)}`;
}

/**
 * The fingerprints over `columns` of the rows with these keys. MySQL has no
 * `UPDATE … RETURNING`: read in the updates' transaction, after them, while their row
 * locks keep the rows as they left them.
 */
export function fingerprintsOfKeys(
  ref: MysqlTableRef,
  key: string,
  columns: readonly string[],
  keyValues: readonly MysqlValue[],
): RawBuilder<SelectedRow> {
  return sql<SelectedRow>`select ${column(key)} as k, ${fingerprint(key, columns)} as f from ${table(ref)}
    where ${column(key)} in (${sql.join(keyValues)})`;
}

/** How many rows have the key (and hold the expected values). */
export function countRows(
  ref: MysqlTableRef,
  key: string,
  keyValue: MysqlValue,
  expect: ColumnValues = [],
): RawBuilder<{ n: number | string }> {
  return sql<{
    n: number | string;
  }>`select count(*) as n from ${table(ref)} where ${rowHolds(key, keyValue, expect)}`;
}

export function deleteRow(ref: MysqlTableRef, key: string, keyValue: MysqlValue): RawBuilder<unknown> {
  return sql`delete from ${table(ref)} where ${column(key)} = ${keyValue}`;
}

/** Setting a savepoint again under the same name replaces it, so one name serves every row. */
const ROW_SAVEPOINT = sql.id('usersync_row');
export const setRowSavepoint = (): RawBuilder<unknown> => sql`savepoint ${ROW_SAVEPOINT}`;
export const rollbackToRowSavepoint = (): RawBuilder<unknown> => sql`rollback to savepoint ${ROW_SAVEPOINT}`;
