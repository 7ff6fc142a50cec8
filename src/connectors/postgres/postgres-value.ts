import type { PgColumn } from './postgres-schema.js';

/** Types compared as text: they have no `=` operator (json) or none that means "the same" (xml). */
const COMPARED_AS_TEXT = new Set(['json', 'xml']);

/** Types whose values pg reads as Dates with millisecond precision, where the server keeps microseconds. */
const TIMESTAMPS = new Set(['timestamptz', 'timestamp']);

/**
 * A value from the sync as a query parameter. pg sends parameters as untyped text, so
 * PostgreSQL reads them as the column's type ('42' into an integer, 'true' into a boolean).
 */
export function toPgValue(value: unknown, column: PgColumn | undefined): unknown {
  if (value === null || value === undefined) return null;
  // ISO with its zone, whatever the process's zone: a `timestamp` column drops the Z and
  // keeps UTC wall time, which is how the core reads zone-less timestamps back.
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return String(value);
  if (column && isJson(column)) return typeof value === 'string' ? value : JSON.stringify(value);
  return value;
}

export function isJson(column: PgColumn): boolean {
  return column.baseType === 'json' || column.baseType === 'jsonb';
}

export function comparedAsText(column: PgColumn | undefined): boolean {
  return column !== undefined && COMPARED_AS_TEXT.has(column.baseType);
}

/**
 * A Date read from a `timestamptz` is the server's value cut to the millisecond (pg's
 * parser truncates the microseconds), so it stands for the millisecond it starts: the
 * row still holds it if its value lies in [date, date + 1 ms). Compared exactly, a value
 * with microseconds (`now()`) would never match and its row would be stale for ever.
 */
export function comparedToTheMillisecond(column: PgColumn | undefined, value: unknown): value is Date {
  return value instanceof Date && column !== undefined && TIMESTAMPS.has(column.baseType);
}
