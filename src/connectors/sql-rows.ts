/**
 * What the SQL connectors (SQLite, PostgreSQL, MySQL) share about reading rows: result
 * columns aliased `k`, `c0`, `c1` … (so any column name reads back as asked), and keyset
 * pagination on the key (`key > last ORDER BY key`), stable and fast where OFFSET rescans.
 * And about writing them: a row's statement built once per shape (`compiledByShape`).
 */
import type { CompiledQuery } from 'kysely';
import type { SourceRow } from '../core/source-row.js';
import type { RowFingerprint, ScanOptions } from './connector.js';

/**
 * A row's statement, built once per shape: when its text depends only on a shape (the
 * columns it names, how it checks them), Kysely compiles it for the shape's first row,
 * `make` turns the text into what is kept in `kept` (the text, or a prepared statement),
 * and later rows of the shape reuse that with their own `parameters`, which the caller
 * lists as the statement places them. Kept only if Kysely's parameters for the first
 * row are exactly those: otherwise (a value the statement sends otherwise than as it is)
 * every row of that shape is compiled. Building a statement a row cost more than running it.
 */
export function compiledByShape<T>(
  kept: Map<string, T>,
  shape: string,
  parameters: readonly unknown[],
  compile: () => CompiledQuery,
  make: (sql: string) => T,
): { readonly made: T; readonly parameters: readonly unknown[] } {
  const known = kept.get(shape);
  if (known !== undefined) return { made: known, parameters };
  const compiled = compile();
  const made = make(compiled.sql);
  const same =
    compiled.parameters.length === parameters.length &&
    compiled.parameters.every((p, i) => p === parameters[i]);
  if (same) kept.set(shape, made);
  return { made, parameters: compiled.parameters };
}

export interface SelectedRow {
  readonly k: unknown;
  /** The row's fingerprint, when the query asked for one. */
  readonly f?: unknown;
  readonly [column: `c${number}`]: unknown;
}

export function toSourceRow(row: SelectedRow, columns: readonly string[]): SourceRow {
  const values: Record<string, unknown> = {};
  columns.forEach((name, i) => {
    values[name] = row[`c${i}`];
  });
  return row.f === undefined
    ? { key: String(row.k), values }
    : { key: String(row.k), values, fingerprint: String(row.f) };
}

/**
 * Pages of rows: `fetch` reads up to `limit` rows after the last row of the previous page
 * (or, from a server-side cursor, its next `limit` rows); fewer than `limit` ends the read.
 * The next page is asked for before this one is handed over, so a server reads it while
 * the caller works (a first sync's import: its directory writes and write-backs).
 */
export async function* keysetPages(
  columns: readonly string[],
  pageSize: number,
  fetch: (after: SelectedRow | undefined, limit: number) => Promise<SelectedRow[]>,
): AsyncIterable<SourceRow[]> {
  const limit = Math.max(1, Math.floor(pageSize));
  let next: Promise<SelectedRow[]> | undefined = fetch(undefined, limit);
  while (next) {
    const rows: SelectedRow[] = await next;
    next = rows.length < limit ? undefined : fetch(rows[rows.length - 1], limit);
    // Its failure is thrown where it is awaited; a caller that stops early never awaits it.
    next?.catch(() => undefined);
    if (rows.length > 0) yield rows.map((row) => toSourceRow(row, columns));
  }
}

/** A keyset read as the connectors page it: `digest`, the columns of each row's fingerprint. */
export interface PageRead extends ScanOptions {
  readonly digest?: readonly string[];
}

/** The read behind `scanFingerprints`: no values, each row's fingerprint of `options.columns`. */
export function fingerprintRead(options: ScanOptions): PageRead {
  return { columns: [], pageSize: options.pageSize, digest: options.columns };
}

/** The columns a query digests: `digest`, else the columns read when a fingerprint is asked. */
export function digestedColumns(
  columns: readonly string[],
  options: { readonly fingerprint?: boolean; readonly digest?: readonly string[] },
): readonly string[] | undefined {
  return options.digest ?? (options.fingerprint ? columns : undefined);
}

/** `scanFingerprints` from the pages of a `fingerprintRead`. */
export async function* fingerprintsOf(pages: AsyncIterable<SourceRow[]>): AsyncIterable<RowFingerprint[]> {
  for await (const page of pages) yield page.map((row) => ({ key: row.key, fingerprint: row.fingerprint! }));
}

/** A row selected with only its key and fingerprint, as `scanFingerprints` gives it. */
export function toRowFingerprint(row: SelectedRow): RowFingerprint {
  const { key, fingerprint } = toSourceRow(row, []);
  return { key, fingerprint: fingerprint! };
}

/** The fingerprints of rows read in one query, `pageSize` at a time. */
export function* inPages(rows: readonly SelectedRow[], pageSize: number): Iterable<RowFingerprint[]> {
  const size = Math.max(1, Math.floor(pageSize));
  for (let i = 0; i < rows.length; i += size) yield rows.slice(i, i + size).map(toRowFingerprint);
}
