/**
 * Multi-row INSERTs of rows of one shape: a first sync's users and links, ten thousand
 * statements of 200 rows for a million users. Kysely parsing and compiling each one cost
 * about as much as SQLite running it (and the statement cache then hashed its long new
 * text), yet the text of a full statement depends only on the dialect and the shape. So
 * Kysely builds it once; later full statements send that text with their own values.
 */
import { CompiledQuery, sql, type Compilable, type Kysely } from 'kysely';
import type { Database } from './schema.js';

/** Rows per multi-row INSERT: well under SQLite's and PostgreSQL's parameter limits. */
export const ROWS_PER_INSERT = 200;

/** Text of a full statement, by dialect and shape. */
const texts = new Map<string, string>();

/**
 * Inserts `rows`, ROWS_PER_INSERT to a statement `build` makes (an INSERT of the rows it
 * is given, and whatever else it adds, the same for every call with this `shape`).
 * Every row must have the columns of the first, in its order, none undefined (Kysely
 * would write DEFAULT for it, and the values would shift).
 */
export async function insertMany<Row extends object>(
  db: Kysely<Database>,
  shape: string,
  rows: readonly Row[],
  build: (rows: readonly Row[]) => Compilable,
): Promise<void> {
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    const chunk = rows.slice(i, i + ROWS_PER_INSERT);
    if (chunk.length < ROWS_PER_INSERT) await db.executeQuery(build(chunk).compile());
    else await db.executeQuery(CompiledQuery.raw(fullStatement(db, shape, chunk, build), valuesOf(chunk)));
  }
}

function fullStatement<Row extends object>(
  db: Kysely<Database>,
  shape: string,
  rows: readonly Row[],
  build: (rows: readonly Row[]) => Compilable,
): string {
  // The placeholder tells the dialect apart: "?" on SQLite, "$1" on PostgreSQL.
  const key = `${sql`${0}`.compile(db).sql}\0${shape}\0${Object.keys(rows[0]!).join('\0')}`;
  let text = texts.get(key);
  if (text === undefined) {
    const compiled = build(rows).compile();
    const values = valuesOf(rows);
    if (compiled.parameters.length !== values.length || compiled.parameters.some((p, i) => p !== values[i]))
      throw new Error(`insertMany(${shape}): the statement's parameters are not the rows' values in order`);
    text = compiled.sql;
    texts.set(key, text);
  }
  return text;
}

function valuesOf(rows: readonly object[]): unknown[] {
  const columns = Object.keys(rows[0]!);
  const values: unknown[] = [];
  for (const row of rows) {
    for (const column of columns) {
      const value = (row as Record<string, unknown>)[column];
      if (value === undefined) throw new Error(`insertMany: column ${column} has no value`);
      values.push(value);
    }
  }
  return values;
}
