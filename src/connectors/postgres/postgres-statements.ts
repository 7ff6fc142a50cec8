import { sql, type RawBuilder } from 'kysely';
import type { FingerprintOver, PgColumn, PgTableRef } from './postgres-schema.js';
import { comparedAsText, comparedToTheMillisecond, toPgValue } from './postgres-value.js';
import type { SelectedRow } from '../sql-rows.js';
import { BUCKET_DIGEST_SELECT, BUCKET_MASK, type BucketDigestRow } from '../../core/fingerprint-buckets.js';

/**
 * The SQL the PostgreSQL connector runs, as pure functions you can print
 * (`statement.compile(db).sql`). Every identifier goes through `sql.id`, so names with
 * spaces, dashes, quotes or mixed case are quoted by Kysely, never concatenated; every
 * value is a parameter whose type PostgreSQL infers from the column it meets.
 */

export type { SelectedRow } from '../sql-rows.js';

export interface RowQuery {
  readonly ref: PgTableRef;
  readonly key: string;
  readonly columns: readonly string[];
  readonly conditions: readonly RawBuilder<unknown>[];
  readonly limit?: number;
  /** Also select `f`, the row's fingerprint over these columns. */
  readonly fingerprintOf?: FingerprintOver | undefined;
  /** In key order (the default): what keyset pages need. */
  readonly ordered?: boolean;
}

/** A column to write or compare, with what the catalog says about it (undefined: not in the table). */
export interface ColumnValue {
  readonly name: string;
  readonly value: unknown;
  readonly column: PgColumn | undefined;
}

const table = (ref: PgTableRef) => sql.id(ref.schema, ref.name);
const column = (name: string) => sql.id(name);
const and = (conditions: readonly RawBuilder<unknown>[]) => sql.join(conditions, sql` and `);
const param = ({ value, column }: ColumnValue) => toPgValue(value, column);

export function selectRows(query: RowQuery): RawBuilder<SelectedRow> {
  const key = column(query.key);
  const selected = [
    sql`${key} as k`,
    ...query.columns.map((name, i) => sql`${column(name)} as ${sql.id(`c${i}`)}`),
    ...(query.fingerprintOf ? [sql`${fingerprint(query.fingerprintOf)} as f`] : []),
  ];
  // A row whose key is NULL cannot be addressed by key, so it is not the sync's to manage.
  const where = and([sql`${key} is not null`, ...query.conditions]);
  const order = query.ordered === false ? sql`` : sql` order by ${key}`;
  const limit = query.limit === undefined ? sql`` : sql` limit ${query.limit}`;
  return sql<SelectedRow>`select ${sql.join(selected)} from ${table(query.ref)} where ${where}${order}${limit}`;
}

/** A cursor over `query`, for the transaction it is declared in; `no scroll`: read forward once. */
export function declareCursor(name: string, query: RawBuilder<SelectedRow>): RawBuilder<unknown> {
  return sql`declare ${sql.id(name)} no scroll cursor for ${query}`;
}

/** The next `count` rows of a cursor (a count cannot be a parameter of FETCH). */
export function fetchFrom(name: string, count: number): RawBuilder<SelectedRow> {
  if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`Cannot fetch ${count} rows`);
  return sql<SelectedRow>`fetch forward ${sql.raw(String(count))} from ${sql.id(name)}`;
}

/**
 * The key and values hashed by the server to a signed 64-bit integer. With
 * hash_record_extended (PostgreSQL 14+), each as `over` says: integers, dates and the
 * like as their values, text as its bytes, the rest as one text of their record (which
 * tells NULL from an empty string). A million rows' digest by bucket took the server
 * 0.70–0.86 s so, 1.53–1.55 s as the whole row's text with hashtextextended (PostgreSQL
 * 11+, the hash of hash partitioning), which older servers still use; md5 took 2.3 s.
 * The key is in it so that fingerprints can be digested by bucket (digestFingerprints).
 */
function fingerprintValue(over: FingerprintOver, name = column): RawBuilder<string> {
  if (!over.byRecord) {
    const all = over.columns.map(({ name: n }) => name(n));
    return sql<string>`hashtextextended(row(${sql.join(all)})::text, 0)`;
  }
  const hashed = over.columns.flatMap(({ name: n, as }) => {
    if (as === 'value') return [name(n)];
    return as === 'bytes' ? [sql`${name(n)} collate "C"`] : [];
  });
  const viaText = over.columns.filter(({ as }) => as === 'text').map(({ name: n }) => name(n));
  if (viaText.length > 0) hashed.push(sql`cast(row(${sql.join(viaText)}) as text) collate "C"`);
  return sql<string>`hash_record_extended(row(${sql.join(hashed)}), 0)`;
}

function fingerprint(over: FingerprintOver, name = column): RawBuilder<string> {
  return sql<string>`${fingerprintValue(over, name)}::text`;
}

/**
 * The fingerprints of a table's rows (key not NULL), digested by bucket, or (`buckets`)
 * those in these buckets, in one pass. `offset 0` keeps the subquery whole: pulled up,
 * each use of `f` would hash the row again. `= any` of a bigint array is a hash lookup;
 * of an int array, the cross-type operator would search the array for each row.
 */
export function digestFingerprints(ref: PgTableRef, over: FingerprintOver): RawBuilder<BucketDigestRow> {
  return sql<BucketDigestRow>`select ${sql.raw(BUCKET_DIGEST_SELECT)} from ${fingerprinted(ref, over)} group by 1`;
}

export function fingerprintsInBuckets(
  ref: PgTableRef,
  over: FingerprintOver,
  buckets: readonly number[],
): RawBuilder<SelectedRow> {
  return sql<SelectedRow>`select k, f::text as f from ${fingerprinted(ref, over)}
    where (f & ${sql.raw(String(BUCKET_MASK))}) = any(${buckets}::bigint[])`;
}

function fingerprinted(ref: PgTableRef, over: FingerprintOver): RawBuilder<unknown> {
  const key = column(over.columns[0]!.name);
  return sql`(select ${key} as k, ${fingerprintValue(over)} as f from ${table(ref)}
    where ${key} is not null offset 0) as fingerprints`;
}

/** Keyset pagination on the key's own order: the last key goes back exactly as it was read. */
export function keyAfter(key: string, last: unknown): RawBuilder<unknown> {
  return sql`${column(key)} > ${last}`;
}

/** `col = any($1)`: one array parameter however many values, and the column's index applies. */
export function columnIn(name: string, values: readonly unknown[]): RawBuilder<unknown> {
  return sql`${column(name)} = any(${values})`;
}

/** The expression a later index on `lower(btrim(col))` will match, so keep its spelling. */
export function columnInFolded(name: string, values: readonly string[]): RawBuilder<unknown> {
  return sql`lower(btrim(${column(name)})) = any(${values})`;
}

export function columnAtLeast(name: string, value: unknown): RawBuilder<unknown> {
  return sql`${column(name)} >= ${value}`;
}

/** Inserts one row and returns its key as stored (given, generated or the fallback). */
export function insertRow(
  ref: PgTableRef,
  key: string,
  values: readonly ColumnValue[],
): RawBuilder<{ k: unknown }> {
  const returning = sql`returning ${column(key)} as k`;
  if (values.length === 0) return sql<{ k: unknown }>`insert into ${table(ref)} default values ${returning}`;
  const names = sql.join(values.map(({ name }) => column(name)));
  const params = sql.join(values.map(param));
  return sql<{ k: unknown }>`insert into ${table(ref)} (${names}) values (${params}) ${returning}`;
}

/** The column still holds the value the sync read; NULL matches NULL (SPEC §3: never overwrite a concurrent edit). */
function holds(expected: ColumnValue): RawBuilder<unknown> {
  const { name, value } = expected;
  if (comparedToTheMillisecond(expected.column, value)) {
    const [from, to] = [value.toISOString(), new Date(value.getTime() + 1).toISOString()];
    return sql`(${column(name)} >= ${from} and ${column(name)} < ${to})`;
  }
  if (comparedAsText(expected.column))
    return sql`cast(${column(name)} as text) is not distinct from cast(${param(expected)} as text)`;
  return sql`${column(name)} is not distinct from ${param(expected)}`;
}

function rowHolds(key: string, keyValue: string, expect: readonly ColumnValue[]): RawBuilder<unknown> {
  return and([sql`${column(key)} = ${keyValue}`, ...expect.map(holds)]);
}

/**
 * Changes the row only if it still holds the expected values; 0 rows changed means stale.
 * With `after`, the row changed comes back with its fingerprint `f` after the update (see
 * RowUpdate.fingerprint); with its `asRead`, only a row that still has that one changes.
 */
export function updateIfUnchanged(
  ref: PgTableRef,
  key: string,
  keyValue: string,
  set: readonly ColumnValue[],
  expect: readonly ColumnValue[],
  after?: { readonly over: FingerprintOver; readonly asRead?: string | undefined },
): RawBuilder<{ f: string }> {
  const assignments = sql.join(set.map((entry) => sql`${column(entry.name)} = ${param(entry)}`));
  const update = sql`update ${table(ref)} set ${assignments} where ${rowHolds(key, keyValue, expect)}`;
  if (!after) return sql<{ f: string }>`${update}`;
  const digest = fingerprint(after.over);
  const asRead = after.asRead === undefined ? sql`` : sql` and ${digest} = ${after.asRead}`;
  return sql<{ f: string }>`${update}${asRead} returning ${digest} as f`;
}

/** How many rows have the key (and hold the expected values). */
export function countRows(
  ref: PgTableRef,
  key: string,
  keyValue: string,
  expect: readonly ColumnValue[] = [],
): RawBuilder<{ n: number }> {
  return sql<{
    n: number;
  }>`select cast(count(*) as int4) as n from ${table(ref)} where ${rowHolds(key, keyValue, expect)}`;
}

export function deleteRow(ref: PgTableRef, key: string, keyValue: string): RawBuilder<unknown> {
  return sql`delete from ${table(ref)} where ${column(key)} = ${keyValue}`;
}

/**
 * One column of a batch, sent as one array parameter of text (so a batch of any size
 * is a few parameters, far from PostgreSQL's 65,535) and cast to the column's own type
 * on the server, as a single row's parameter would be read (`castTo` undefined: kept text).
 */
export interface BatchColumn {
  readonly alias: string;
  readonly values: readonly (string | null)[];
  readonly castTo: PgColumn | undefined;
}

/** A batch of rows for set-based statements: each row's position `i`, its key `k`, and its columns. */
export interface BatchRows {
  readonly positions: readonly number[];
  readonly keys: readonly string[];
  readonly columns: readonly BatchColumn[];
}

/** What a batch statement checks of a column before it counts a row as unchanged. */
export interface BatchExpectation {
  readonly name: string;
  /** `equal`: the cast value, NULL matching NULL; `text`: compared as text; `range`: [alias, alias_to). */
  readonly holding: 'equal' | 'text' | 'range';
  readonly alias: string;
}

const target = (name: string) => sql.id('t', name);
const batchValue = (alias: string) => sql.id('v', alias);
// `castType` comes from the catalog's format_type(), which quotes what needs quoting.
const castTo = (expression: RawBuilder<unknown>, to: PgColumn) =>
  sql`cast(${expression} as ${sql.raw(to.castType)})`;

/** `(select … from unnest($1, $2, …)) as v`: the batch as a relation with typed columns. */
function batchRelation(key: PgColumn, rows: BatchRows): RawBuilder<unknown> {
  const typed = [
    sql`u.i`,
    sql`${castTo(sql`u.k`, key)} as k`,
    ...rows.columns.map(({ alias, castTo: to }) => {
      const raw = sql.id('u', alias);
      return sql`${to ? castTo(raw, to) : raw} as ${sql.id(alias)}`;
    }),
  ];
  const arrays = [
    sql`cast(${rows.positions} as int4[])`,
    sql`cast(${rows.keys} as text[])`,
    ...rows.columns.map(({ values }) => sql`cast(${values} as text[])`),
  ];
  const aliases = sql.join([sql`i`, sql`k`, ...rows.columns.map(({ alias }) => sql.id(alias))]);
  return sql`(select ${sql.join(typed)} from unnest(${sql.join(arrays)}) as u(${aliases})) as v`;
}

/** The same checks as `holds`, for each row of a batch against its own expected values. */
function batchHolds(key: string, expected: readonly BatchExpectation[]): RawBuilder<unknown> {
  return and([
    sql`${target(key)} = v.k`,
    ...expected.map(({ name, holding, alias }) => {
      if (holding === 'range')
        return sql`(${target(name)} >= ${batchValue(alias)} and ${target(name)} < ${batchValue(`${alias}_to`)})`;
      if (holding === 'text')
        return sql`cast(${target(name)} as text) is not distinct from ${batchValue(alias)}`;
      return sql`${target(name)} is not distinct from ${batchValue(alias)}`;
    }),
  ]);
}

/**
 * `updateIfUnchanged` for a whole batch in one statement: each row of the table that
 * still holds its expected values takes its new ones; the positions of the rows changed
 * come back, every other row is stale. `set` maps a column to the alias of its values.
 * `after`: as in updateIfUnchanged, with the alias of each row's fingerprint as read, if any.
 */
export function updateBatchIfUnchanged(
  ref: PgTableRef,
  key: PgColumn,
  rows: BatchRows,
  set: readonly { readonly name: string; readonly alias: string }[],
  expected: readonly BatchExpectation[],
  after?: { readonly over: FingerprintOver; readonly asReadAlias?: string | undefined },
): RawBuilder<{ i: number; f?: string }> {
  const assignments = sql.join(set.map(({ name, alias }) => sql`${column(name)} = ${batchValue(alias)}`));
  let holds = batchHolds(key.name, expected);
  let returning = sql`v.i`;
  if (after) {
    // Qualified: the batch relation's own names (i, k, s0, …) may be the table's too.
    const digest = fingerprint(after.over, target);
    if (after.asReadAlias !== undefined)
      holds = sql`${holds} and ${digest} = ${batchValue(after.asReadAlias)}`;
    returning = sql`v.i, ${digest} as f`;
  }
  return sql<{ i: number; f?: string }>`update ${table(ref)} as t set ${assignments}
    from ${batchRelation(key, rows)} where ${holds} returning ${returning}`;
}

/** The positions of the batch's rows whose table row still holds the expected values (nothing to set). */
export function selectBatchHolding(
  ref: PgTableRef,
  key: PgColumn,
  rows: BatchRows,
  expected: readonly BatchExpectation[],
): RawBuilder<{ i: number }> {
  return sql<{ i: number }>`select distinct v.i from ${table(ref)} as t, ${batchRelation(key, rows)}
    where ${batchHolds(key.name, expected)}`;
}

/** Keys of the batch that more than one row of the table holds (a `key:` without a unique index). */
export function repeatedKeys(
  ref: PgTableRef,
  key: PgColumn,
  keys: readonly string[],
): RawBuilder<{ k: string; n: number }> {
  return sql<{ k: string; n: number }>`select u.k, cast(count(*) as int4) as n
    from unnest(cast(${keys} as text[])) as u(k) join ${table(ref)} as t on ${target(key.name)} = ${castTo(sql`u.k`, key)}
    group by u.k having count(*) > 1`;
}
