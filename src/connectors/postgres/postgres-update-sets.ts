import type { RawBuilder } from 'kysely';
import type { RowUpdate, WriteResult } from '../connector.js';
import type { PgKysely } from './postgres-open.js';
import { fingerprintOver, type FingerprintOver, type PgColumn } from './postgres-schema.js';
import {
  repeatedKeys,
  selectBatchHolding,
  updateBatchIfUnchanged,
  type BatchColumn,
  type BatchExpectation,
  type BatchRows,
} from './postgres-statements.js';
import { comparedAsText, comparedToTheMillisecond, isJson, toPgValue } from './postgres-value.js';
import type { PgWriteTarget } from './postgres-writes.js';

/**
 * A batch of conditional updates as a few set-based statements instead of one per row:
 * the updates that set and check the same columns the same way (a "shape") become one
 * `UPDATE … FROM unnest(…)`, which returns the rows it changed; the others are stale.
 * Each row is judged exactly as `updateOne` judges it alone, so this is only faster.
 * A row error (a constraint, a value the column refuses) fails the whole statement: the
 * caller then does the batch again one row at a time.
 */
export interface UpdateSets {
  /**
   * How many statements `write` sends. With one (a first sync's write-back: every row
   * the same shape), the batch needs no transaction of its own: a statement is atomic,
   * and BEGIN and COMMIT would be two more round trips, each waiting its turn while the
   * process writes the directory.
   */
  readonly statements: number;
  write(db: PgKysely, updateOne: (update: RowUpdate) => Promise<WriteResult>): Promise<WriteResult[]>;
}

/** Works out the statements of a batch; it reads (the keys a non-unique key column repeats), never writes. */
export async function updateSets(
  db: PgKysely,
  target: PgWriteTarget,
  updates: readonly RowUpdate[],
): Promise<UpdateSets> {
  const failed = new Map<number, WriteResult>();
  const repeated = await repeatedKeysOf(db, target, updates);
  const columns = new Map(target.info.columns.map((column) => [column.name, column]));
  const shapeOf = shapes(columns);
  // Rows run one after another in order; a key repeated in the batch must see the first
  // update done, so it starts a new segment. In a segment the keys all differ, so the
  // order does not matter and the rows go by shape.
  const segments: Segment[] = [];
  let segment = new Segment();
  let keys = new Set<string>();
  for (const [i, update] of updates.entries()) {
    const n = repeated.get(update.key);
    if (n !== undefined) {
      failed.set(i, { status: 'failed', error: repeatedKeyError(target, update.key, n) });
      continue;
    }
    if (keys.has(update.key)) {
      segments.push(segment);
      [segment, keys] = [new Segment(), new Set()];
    }
    keys.add(update.key);
    segment.add(i, shapeOf(update));
  }
  segments.push(segment);
  return {
    statements: segments.reduce((n, { alone, groups }) => n + alone.length + groups.size, 0),
    async write(db, updateOne) {
      const results: WriteResult[] = new Array<WriteResult>(updates.length);
      for (const [i, result] of failed) results[i] = result;
      for (const { alone, groups } of segments) {
        for (const i of alone) results[i] = await updateOne(updates[i]!);
        for (const group of groups.values()) {
          const changed = await updateGroup(db, target, updates, group);
          for (const i of group.positions) {
            const fingerprint = changed.get(i);
            if (fingerprint === undefined) results[i] = { status: 'stale' };
            else results[i] = fingerprint === null ? { status: 'ok' } : { status: 'ok', fingerprint };
          }
        }
      }
      return results;
    },
  };
}

/** A `key:` without a unique index may repeat; usersync only changes a row it can tell apart. */
export function repeatedKeyError(target: PgWriteTarget, key: string, n: number): string {
  return (
    `Key "${key}" matches ${n} rows in ${target.place.where}, so usersync cannot tell which one to change. ` +
    'Make the key column unique, or set `key:` to a column that is.'
  );
}

async function repeatedKeysOf(
  db: PgKysely,
  target: PgWriteTarget,
  updates: readonly RowUpdate[],
): Promise<Map<string, number>> {
  if (target.key.unique) return new Map();
  const keys = [...new Set(updates.map((update) => update.key))];
  const { rows } = await repeatedKeys(target.info.ref, target.key, keys).execute(db);
  return new Map(rows.map((row) => [row.k, row.n]));
}

/** Updates whose keys all differ: those of one shape go together, the others alone. */
class Segment {
  readonly alone: number[] = [];
  readonly groups = new Map<string, Group>();

  add(i: number, shape: Shape | undefined): void {
    if (!shape) {
      this.alone.push(i);
      return;
    }
    const group = this.groups.get(shape.signature) ?? { shape, positions: [] };
    group.positions.push(i);
    this.groups.set(shape.signature, group);
  }
}

interface Entry {
  readonly name: string;
  readonly column: PgColumn;
}

interface Expectation extends Entry {
  readonly holding: BatchExpectation['holding'];
}

interface Shape {
  readonly signature: string;
  readonly set: readonly Entry[];
  readonly expect: readonly Expectation[];
  /** The fingerprint asked for after (`RowUpdate.fingerprint`): its columns, and whether as read. */
  readonly after: { readonly columns: readonly string[]; readonly asRead: boolean } | null;
}

interface Group {
  readonly shape: Shape;
  readonly positions: number[];
}

/**
 * `shapeOf`, worked out once per arrangement of an update: the names it sets and checks,
 * in their order, and the kind of each value, which is all a shape depends on. A first
 * sync's write-backs share one arrangement, so each row costs a string and a lookup.
 */
function shapes(columns: ReadonlyMap<string, PgColumn>): (update: RowUpdate) => Shape | undefined {
  const known = new Map<string, Shape | null>();
  return (update) => {
    const arrangement = arrangementOf(update);
    let shape = known.get(arrangement);
    if (shape === undefined) known.set(arrangement, (shape = shapeOf(columns, update) ?? null));
    return shape ?? undefined;
  };
}

function arrangementOf(update: RowUpdate): string {
  let arrangement = '';
  for (const name in update.set) arrangement += `${name}\0${kindOf(update.set[name])}`;
  arrangement += '\0\0';
  for (const name in update.expect) arrangement += `${name}\0${kindOf(update.expect[name])}`;
  const after = update.fingerprint;
  if (after) arrangement += `\0\0${after.asRead !== undefined}\0${joined(after.columns)}`;
  return arrangement;
}

/** The fingerprint's columns, joined once per array: a batch's updates share one. */
const joinedColumns = new WeakMap<readonly string[], string>();
function joined(columns: readonly string[]): string {
  let text = joinedColumns.get(columns);
  if (text === undefined) joinedColumns.set(columns, (text = columns.join('\0')));
  return text;
}

/** What isPlain and holdingOf see of a value: a Date, another plain value, or neither. */
function kindOf(value: unknown): string {
  if (value instanceof Date) return 'd';
  if (value === null || value === undefined) return 'p';
  const type = typeof value;
  return type === 'string' || type === 'number' || type === 'boolean' || type === 'bigint' ? 'p' : 'o';
}

/**
 * The columns an update sets and checks, and how each is checked (as `holds` would), or
 * undefined when it must go alone: a column the table lacks (its error is the row's), or
 * a value that is not plain (a Buffer, an array, an object outside a JSON column).
 */
function shapeOf(columns: ReadonlyMap<string, PgColumn>, update: RowUpdate): Shape | undefined {
  // NUL cannot occur in a PostgreSQL name, so it separates them unambiguously.
  let signature = '';
  const set: Entry[] = [];
  for (const name of Object.keys(update.set).sort()) {
    const column = columns.get(name);
    if (!column || !isPlain(update.set[name], column)) return undefined;
    set.push({ name, column });
    signature += `${name}\0`;
  }
  signature += '\0';
  const expect: Expectation[] = [];
  for (const name of Object.keys(update.expect).sort()) {
    const column = columns.get(name);
    const value = update.expect[name];
    if (!column || !isPlain(value, column)) return undefined;
    const holding = holdingOf(column, value);
    expect.push({ name, column, holding });
    signature += `${name}\0${holding}\0`;
  }
  let after: Shape['after'] = null;
  if (update.fingerprint) {
    after = { columns: update.fingerprint.columns, asRead: update.fingerprint.asRead !== undefined };
    signature += `\0${after.asRead}\0${after.columns.join('\0')}`;
  }
  return { signature, set, expect, after };
}

function isPlain(value: unknown, column: PgColumn): boolean {
  if (value === null || value === undefined || value instanceof Date || isJson(column)) return true;
  const type = typeof value;
  return type === 'string' || type === 'number' || type === 'boolean' || type === 'bigint';
}

function holdingOf(column: PgColumn, value: unknown): BatchExpectation['holding'] {
  if (comparedToTheMillisecond(column, value)) return 'range';
  if (comparedAsText(column)) return 'text';
  return 'equal';
}

/** The positions of the rows changed, each with its new fingerprint when asked for (else null). */
async function updateGroup(
  db: PgKysely,
  target: PgWriteTarget,
  updates: readonly RowUpdate[],
  { shape, positions }: Group,
): Promise<Map<number, string | null>> {
  const group = positions.map((i) => updates[i]!);
  const columns: BatchColumn[] = [];
  const set = shape.set.map(({ name, column }, n) => {
    const alias = `s${n}`;
    columns.push({ alias, castTo: column, values: group.map((u) => asText(u.set[name], column)) });
    return { name, alias };
  });
  const expected = shape.expect.map(({ name, column, holding }, n): BatchExpectation => {
    const alias = `e${n}`;
    const values = group.map((u) => u.expect[name]);
    if (holding === 'range') {
      const dates = values as Date[];
      columns.push({ alias, castTo: column, values: dates.map((d) => d.toISOString()) });
      const ends = dates.map((d) => new Date(d.getTime() + 1).toISOString());
      columns.push({ alias: `${alias}_to`, castTo: column, values: ends });
    } else {
      const castTo = holding === 'text' ? undefined : column;
      columns.push({ alias, castTo, values: values.map((value) => asText(value, column)) });
    }
    return { name, holding, alias };
  });
  let after: { over: FingerprintOver; asReadAlias?: string } | undefined;
  if (shape.after && set.length > 0) {
    const over = fingerprintOver(target.info, target.key.name, shape.after.columns);
    after = { over, ...(shape.after.asRead ? { asReadAlias: 'fp' } : {}) };
    if (shape.after.asRead)
      columns.push({ alias: 'fp', castTo: undefined, values: group.map((u) => u.fingerprint!.asRead!) });
  }
  const rows: BatchRows = { positions, keys: group.map((u) => u.key), columns };
  const { ref } = target.info;
  const statement: RawBuilder<{ i: number; f?: string }> =
    set.length === 0
      ? selectBatchHolding(ref, target.key, rows, expected)
      : updateBatchIfUnchanged(ref, target.key, rows, set, expected, after);
  const { rows: changed } = await statement.execute(db);
  return new Map(changed.map((row) => [row.i, row.f ?? null]));
}

/** The text a single row's parameter would carry (pg sends parameters as text). */
function asText(value: unknown, column: PgColumn): string | null {
  const param = toPgValue(value, column);
  return param === null ? null : String(param);
}
