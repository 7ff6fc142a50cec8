import type { InsertResult, RowInsert, RowUpdate, WriteResult } from '../connector.js';
import { toCell } from './csv-cell.js';
import type { CsvTable } from './csv-table.js';

/**
 * Writes applied to a CSV file held in memory; the caller rewrites the file when
 * `changed`. Columns the sync does not know are left as they are.
 */
export interface CsvTarget {
  readonly table: CsvTable;
  readonly keyIndex: number;
  /** The file, for messages. */
  readonly file: string;
}

export interface CsvEdit<R> {
  readonly changed: boolean;
  readonly result: R[];
}

const OK = { status: 'ok' } as const;
const STALE = { status: 'stale' } as const;
const failed = (error: string) => ({ status: 'failed', error }) as const;

export function applyInserts(target: CsvTarget, rows: readonly RowInsert[]): CsvEdit<InsertResult> {
  const { table, keyIndex } = target;
  const result = rows.map((row): InsertResult => {
    const given = Object.keys(row.values).filter((name) => row.values[name] !== undefined);
    const unknown = unknownColumnError(target, given);
    if (unknown) return failed(unknown);
    const record = table.header.map((name) =>
      Object.hasOwn(row.values, name) ? toCell(row.values[name]) : '',
    );
    // SPEC §8: a file generates no keys, so a row without one gets the directory id.
    if (record[keyIndex] === '') record[keyIndex] = row.fallbackKey;
    table.rows.push(record);
    return { status: 'ok', key: record[keyIndex] ?? row.fallbackKey };
  });
  return { changed: result.some((r) => r.status === 'ok'), result };
}

export function applyUpdates(target: CsvTarget, updates: readonly RowUpdate[]): CsvEdit<WriteResult> {
  const index = indexByKey(target);
  let changed = false;
  const result = updates.map((update): WriteResult => {
    const unknown = unknownColumnError(target, [...Object.keys(update.set), ...Object.keys(update.expect)]);
    if (unknown) return failed(unknown);
    const found = index.get(update.key) ?? [];
    if (found.length > 1) return failed(duplicateKeyError(target, update.key, found.length));
    const at = found[0];
    const row = at === undefined ? undefined : target.table.rows[at];
    // Gone, or changed since the sync read it (SPEC §3): leave it for the next run.
    if (at === undefined || !row || !holds(target, row, update.expect)) return STALE;
    for (const [name, value] of Object.entries(update.set))
      row[target.table.header.indexOf(name)] = toCell(value);
    moveKey(index, update.key, row[target.keyIndex] ?? '', at);
    changed = true;
    return OK;
  });
  return { changed, result };
}

export function applyDeletes(target: CsvTarget, keys: readonly string[]): CsvEdit<WriteResult> {
  const index = indexByKey(target);
  const doomed = new Set<number>();
  const result = keys.map((key): WriteResult => {
    const found = index.get(key) ?? [];
    if (found.length > 1) return failed(duplicateKeyError(target, key, found.length));
    // A row already gone is what a delete wants.
    if (found[0] !== undefined) doomed.add(found[0]);
    index.delete(key);
    return OK;
  });
  removeRows(target.table.rows, doomed);
  return { changed: doomed.size > 0, result };
}

/** Expected values compare as CSV text: a null or undefined expectation means an empty cell. */
function holds(
  target: CsvTarget,
  row: readonly string[],
  expect: Readonly<Record<string, unknown>>,
): boolean {
  return Object.entries(expect).every(
    ([name, value]) => row[target.table.header.indexOf(name)] === toCell(value),
  );
}

function indexByKey(target: CsvTarget): Map<string, number[]> {
  const index = new Map<string, number[]>();
  target.table.rows.forEach((row, i) => {
    const key = row[target.keyIndex] ?? '';
    const rows = index.get(key);
    if (rows) rows.push(i);
    else index.set(key, [i]);
  });
  return index;
}

/** An update may change the key column itself; later writes in the batch must find the row by its new key. */
function moveKey(index: Map<string, number[]>, from: string, to: string, at: number): void {
  if (from === to) return;
  index.delete(from);
  index.set(to, [...(index.get(to) ?? []), at]);
}

/** Removes in place, in one pass: a batch may delete tens of thousands of rows. */
function removeRows(rows: string[][], doomed: ReadonlySet<number>): void {
  if (doomed.size === 0) return;
  let kept = 0;
  rows.forEach((row, i) => {
    if (!doomed.has(i)) rows[kept++] = row;
  });
  rows.length = kept;
}

function unknownColumnError(target: CsvTarget, columns: readonly string[]): string | undefined {
  const unknown = [...new Set(columns.filter((name) => !target.table.header.includes(name)))];
  if (unknown.length === 0) return undefined;
  return (
    `Column ${unknown.map((name) => `"${name}"`).join(', ')} is not in the header of ${target.file}. ` +
    "Add it to the file's first line, or remove it from the connection's mapping."
  );
}

function duplicateKeyError(target: CsvTarget, key: string, count: number): string {
  const column = target.table.header[target.keyIndex] ?? '';
  return (
    `Key "${key}" is in ${count} rows of ${target.file} (column "${column}"), so usersync cannot tell ` +
    'which one to change. Remove or correct the duplicate rows.'
  );
}
