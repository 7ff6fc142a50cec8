import { sql, type RawBuilder } from 'kysely';
import type { PgColumn, PgTableRef } from './postgres-schema.js';
import { comparedAsText, comparedToTheMillisecond, toPgValue } from './postgres-value.js';
import type { SelectedRow } from '../sql-rows.js';

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
  ];
  // A row whose key is NULL cannot be addressed by key, so it is not the sync's to manage.
  const where = and([sql`${key} is not null`, ...query.conditions]);
  const limit = query.limit === undefined ? sql`` : sql` limit ${query.limit}`;
  return sql<SelectedRow>`select ${sql.join(selected)} from ${table(query.ref)} where ${where} order by ${key}${limit}`;
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

/** Changes the row only if it still holds the expected values; 0 rows changed means stale. */
export function updateIfUnchanged(
  ref: PgTableRef,
  key: string,
  keyValue: string,
  set: readonly ColumnValue[],
  expect: readonly ColumnValue[],
): RawBuilder<unknown> {
  const assignments = sql.join(set.map((entry) => sql`${column(entry.name)} = ${param(entry)}`));
  return sql`update ${table(ref)} set ${assignments} where ${rowHolds(key, keyValue, expect)}`;
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
