import { CompiledQuery, type RawBuilder } from 'kysely';
import { UsersyncError } from '../../core/errors.js';
import type { InsertResult, RowInsert, RowUpdate, WriteResult } from '../connector.js';
import { compiledByShape, toRowFingerprint, type SelectedRow } from '../sql-rows.js';
import { isRowError, messageOf, mysqlFailure, type MysqlPlace } from './mysql-errors.js';
import type { MysqlKysely } from './mysql-open.js';
import { findColumn, isUniqueKey, type MysqlColumn, type MysqlTableInfo } from './mysql-schema.js';
import {
  countRows,
  deleteRow,
  fingerprintsOfKeys,
  insertRow,
  lockAsRead,
  rollbackToRowSavepoint,
  setByKeys,
  setRowSavepoint,
  updateIfUnchanged,
  type ColumnValues,
} from './mysql-statements.js';
import { keyToMysql, toMysqlValue, type MysqlValue } from './mysql-value.js';

/** What a write needs to know about the table it writes to. */
export interface MysqlWriteTarget {
  readonly db: MysqlKysely;
  readonly info: MysqlTableInfo;
  readonly key: MysqlColumn;
  /** The server takes `INSERT … RETURNING` (MariaDB 10.5+). */
  readonly returning: boolean;
  readonly place: MysqlPlace;
}

type Failed = { readonly status: 'failed'; readonly error: string };

const OK = { status: 'ok' } as const;
const STALE = { status: 'stale' } as const;

export function insertRows(target: MysqlWriteTarget, rows: readonly RowInsert[]): Promise<InsertResult[]> {
  const action = 'Inserting rows';
  const write = (trx: MysqlKysely, row: RowInsert) => insertOne(trx, target, row);
  // Never written whole first: a batch written again would skip the AUTO_INCREMENT values
  // the first attempt took (InnoDB never hands them back).
  if (rows.length === 1) return writeOne(target, action, rows[0]!, write);
  return writeBehindSavepoints(target, action, rows, write);
}

export function updateRows(target: MysqlWriteTarget, updates: readonly RowUpdate[]): Promise<WriteResult[]> {
  const together =
    updates.length > 1 &&
    isUniqueKey(target.info, target.key) &&
    updates.every((update) => Object.keys(update.set).length > 0);
  return writeWholeFirst(
    target,
    'Updating rows',
    updates,
    (trx, update) => updateOne(trx, target, update),
    together
      ? (trx) =>
          asReadAlike(updates) ? updateAsRead(trx, target, updates) : updateTogether(trx, target, updates)
      : undefined,
    // A fingerprint after an update is read in the update's transaction (fingerprintsOfKeys).
    { alone: updates.every((update) => !update.fingerprint) },
  );
}

/**
 * Updates of distinct rows that check nothing but the row's fingerprint as read and set
 * the same columns: a first sync's write-back (the ids of the users it imported). A row
 * twice in a batch goes a statement a row, where its second update sees the first.
 */
function asReadAlike(updates: readonly RowUpdate[]): boolean {
  const [first] = updates;
  const set = Object.keys(first?.set ?? {}).join('\0');
  const over = JSON.stringify(first?.fingerprint?.columns);
  if (new Set(updates.map((update) => update.key)).size !== updates.length) return false;
  return updates.every(
    (update) =>
      Object.keys(update.expect).length === 0 &&
      update.fingerprint?.asRead !== undefined &&
      JSON.stringify(update.fingerprint.columns) === over &&
      Object.keys(update.set).join('\0') === set,
  );
}

/**
 * `asReadAlike` updates set-based, in three statements however many rows: the rows still
 * as read are locked (`lockAsRead`), then set (`setByKeys`), then their fingerprints read.
 * A statement a row, as `updateTogether` sends them, cost the server about twelve times
 * as much: it parses and runs each one (a first sync of 300k rows: 22.7 s so, 15.3 s
 * set-based). A value the server refuses fails the statement, and the caller writes the
 * batch again row by row.
 */
async function updateAsRead(
  trx: MysqlKysely,
  target: MysqlWriteTarget,
  updates: readonly RowUpdate[],
): Promise<WriteResult[]> {
  const { ref } = target.info;
  const over = updates[0]!.fingerprint!.columns;
  const keys = updates.map((update) => keyToMysql(update.key, target.key));
  const asRead = updates.map((update, i) => [keys[i]!, update.fingerprint!.asRead!] as const);
  const { rows: locked } = await lockAsRead(ref, target.key, over, asRead).execute(trx);
  const held = locked.map((row) => Number(row.i));
  if (held.length === 0) return updates.map(() => STALE);
  const set = toEntries(target, updates[0]!.set, false).map(([column]) => column);
  const values = held.map((i) => [keys[i]!, ...toEntries(target, updates[i]!.set, false).map(([, v]) => v)]);
  await setByKeys(ref, target.key, set, values).execute(trx);
  const after = fingerprintsByKey(
    (
      await fingerprintsOfKeys(
        ref,
        target.key.name,
        over,
        held.map((i) => keys[i]!),
      ).execute(trx)
    ).rows,
  );
  const written = new Set(held);
  return updates.map((update, i) => {
    if (!written.has(i)) return STALE;
    const fingerprint = after.get(update.key);
    return fingerprint === undefined ? OK : { status: 'ok', fingerprint };
  });
}

/**
 * The batch's updates in one round trip: each row's statement exactly as `updateOne`
 * sends it, sent together as one multi-statement query. The server runs them in order and
 * answers each with the rows it matched (FOUND_ROWS): none, and the row is stale. A row
 * the server refuses stops the query there, and the caller rolls the batch back.
 */
async function updateTogether(
  trx: MysqlKysely,
  target: MysqlWriteTarget,
  updates: readonly RowUpdate[],
): Promise<WriteResult[]> {
  const texts: string[] = [];
  const parameters: unknown[] = [];
  const add = (statement: { sql: string; parameters: readonly unknown[] }) => {
    texts.push(statement.sql);
    for (const value of statement.parameters) parameters.push(value);
  };
  for (const update of updates) add(updateStatement(trx, target, update));
  // Then the fingerprints asked for, one select for each set of columns.
  const asked = new Map<string, RowUpdate[]>();
  for (const update of updates) {
    if (!update.fingerprint) continue;
    const columns = JSON.stringify(update.fingerprint.columns);
    const group = asked.get(columns);
    if (group) group.push(update);
    else asked.set(columns, [update]);
  }
  for (const group of asked.values()) {
    const keys = group.map((update) => keyToMysql(update.key, target.key));
    const { ref } = target.info;
    add(fingerprintsOfKeys(ref, target.key.name, group[0]!.fingerprint!.columns, keys).compile(trx));
  }
  const { rows } = await trx.executeQuery(CompiledQuery.raw(texts.join(';\n'), parameters));
  const results = rows as ReadonlyArray<unknown>;
  if (results.length !== updates.length + asked.size)
    throw new Error(`${texts.length} statements sent together, ${results.length} results back`);
  const fingerprints = new Map<RowUpdate, string>();
  [...asked.values()].forEach((group, i) => {
    const byKey = fingerprintsByKey(results[updates.length + i] as SelectedRow[]);
    for (const update of group) {
      const fingerprint = byKey.get(update.key);
      if (fingerprint !== undefined) fingerprints.set(update, fingerprint);
    }
  });
  return updates.map((update, i) => {
    if (((results[i] as { readonly affectedRows?: number }).affectedRows ?? 0) === 0) return STALE;
    const fingerprint = fingerprints.get(update);
    return fingerprint === undefined ? OK : { status: 'ok', fingerprint };
  });
}

function fingerprintsByKey(rows: readonly SelectedRow[]): Map<string, string> {
  return new Map(rows.map(toRowFingerprint).map(({ key, fingerprint }) => [key, fingerprint]));
}

/**
 * A row's `updateIfUnchanged`, compiled once per shape (`compiledByShape`): its text
 * depends only on the columns set, the columns checked and which expected values are NULL
 * (`is null`, no parameter). Its parameters are the values set, the key, then the expected
 * values that are not NULL.
 */
function updateStatement(
  trx: MysqlKysely,
  target: MysqlWriteTarget,
  update: RowUpdate,
): { sql: string; parameters: readonly unknown[] } {
  const set = toEntries(target, update.set, false);
  const expect = toEntries(target, update.expect, false);
  const keyValue = keyToMysql(update.key, target.key);
  const asRead = asReadOf(update);
  const parameters: unknown[] = set.map(([, value]) => value);
  parameters.push(keyValue);
  for (const [, value] of expect) if (value !== null) parameters.push(value);
  if (asRead) parameters.push(asRead.fingerprint);
  let shape = '';
  for (const [column] of set) shape += `${column.name}\0`;
  shape += '\0';
  for (const [column, value] of expect)
    shape += `${column.name}\0${value === null ? 'null' : typeof value}\0`;
  if (asRead) shape += `\0${JSON.stringify(asRead.columns)}`;
  let texts = updateTexts.get(target.info);
  if (!texts) updateTexts.set(target.info, (texts = new Map()));
  const compile = () =>
    updateIfUnchanged(target.info.ref, target.key.name, keyValue, set, expect, asRead).compile(trx);
  const compiled = compiledByShape(texts, shape, parameters, compile, (text) => text);
  return { sql: compiled.made, parameters: compiled.parameters };
}

/** Text of a row's UPDATE by shape, for each table as loaded (a reload starts afresh). */
const updateTexts = new WeakMap<MysqlTableInfo, Map<string, string>>();

export function deleteRows(target: MysqlWriteTarget, keys: readonly string[]): Promise<WriteResult[]> {
  return writeWholeFirst(target, 'Deleting rows', keys, (trx, key) => deleteOne(trx, target, key));
}

/**
 * One transaction per call, one statement per row (or `whole`, the batch's own way of
 * writing them all), results in input order. The batch is first written whole (the
 * common case), and only if the server rejects a row (a duplicate, a CHECK, a value that
 * does not fit) rolled back and written again behind savepoints, so that row fails alone.
 * A savepoint a row is one more round trip: on a first sync's million write-backs, half
 * of them. Any other error (the connection, a deadlock that ended the transaction) fails
 * the whole call and nothing is committed.
 */
async function writeWholeFirst<T, R>(
  target: MysqlWriteTarget,
  action: string,
  items: readonly T[],
  write: (trx: MysqlKysely, item: T) => Promise<R>,
  whole?: (trx: MysqlKysely) => Promise<R[]>,
  { alone = true } = {},
): Promise<(R | Failed)[]> {
  if (items.length === 0) return [];
  if (items.length === 1 && alone) return writeOne(target, action, items[0]!, write);
  try {
    return await inTransaction(target, async (trx) => {
      if (whole) return whole(trx);
      const results: R[] = [];
      for (const item of items) results.push(await write(trx, item));
      return results;
    });
  } catch (error) {
    if (!isRowError(error)) throw mysqlFailure(error, action, target.place);
  }
  return writeBehindSavepoints(target, action, items, write);
}

/** A single row (a login's write-back) without BEGIN and COMMIT: a statement is atomic on its own. */
async function writeOne<T, R>(
  target: MysqlWriteTarget,
  action: string,
  item: T,
  write: (trx: MysqlKysely, item: T) => Promise<R>,
): Promise<(R | Failed)[]> {
  try {
    return [await write(target.db, item)];
  } catch (error) {
    if (!isRowError(error)) throw mysqlFailure(error, action, target.place);
    return [{ status: 'failed', error: messageOf(error) }];
  }
}

/**
 * One transaction, each row behind a savepoint: a row the server rejects is rolled back
 * to it and fails alone; the others commit. Any other error fails the whole call.
 */
async function writeBehindSavepoints<T, R>(
  target: MysqlWriteTarget,
  action: string,
  items: readonly T[],
  write: (trx: MysqlKysely, item: T) => Promise<R>,
): Promise<(R | Failed)[]> {
  if (items.length === 0) return [];
  try {
    return await inTransaction(target, async (trx) => {
      const results: (R | Failed)[] = [];
      for (const item of items) {
        await setRowSavepoint().execute(trx);
        try {
          results.push(await write(trx, item));
        } catch (error) {
          if (!isRowError(error)) throw error;
          // Fails (and so fails the batch) if the server already ended the transaction.
          await rollbackToRowSavepoint().execute(trx);
          results.push({ status: 'failed', error: messageOf(error) });
        }
      }
      return results;
    });
  } catch (error) {
    throw mysqlFailure(error, action, target.place);
  }
}

async function inTransaction<R>(
  target: MysqlWriteTarget,
  work: (trx: MysqlKysely) => Promise<R>,
): Promise<R> {
  let trx: Awaited<ReturnType<ReturnType<MysqlKysely['startTransaction']>['execute']>> | undefined;
  try {
    trx = await target.db.startTransaction().execute();
    const result = await work(trx);
    await trx.commit().execute();
    return result;
  } catch (error) {
    // The first error is the one worth reporting; the rollback also returns the connection.
    await trx
      ?.rollback()
      .execute()
      .catch(() => undefined);
    throw error;
  }
}

async function insertOne(trx: MysqlKysely, target: MysqlWriteTarget, row: RowInsert): Promise<InsertResult> {
  const { values, keyFrom } = insertValues(target, row);
  const statement = insertRow(target.info.ref, target.key.name, values, target.returning);
  const result = await statement.execute(trx);
  if (target.returning) {
    const inserted = result.rows[0];
    if (inserted?.k === null || inserted?.k === undefined) return noKey(target);
    return { status: 'ok', key: String(inserted.k) };
  }
  if (keyFrom !== 'server') return { status: 'ok', key: keyFrom };
  // AUTO_INCREMENT: the id the server just handed out on this connection.
  return result.insertId === undefined ? noKey(target) : { status: 'ok', key: String(result.insertId) };
}

function noKey(target: MysqlWriteTarget): Failed {
  return {
    status: 'failed',
    error: `The row was inserted but ${target.place.where} reported no value for its key "${target.key.name}".`,
  };
}

/**
 * SPEC §8: the key comes from the values, else from the source where it generates one,
 * else the directory id. `keyFrom` is the key as text, or `server` when only the server knows it.
 */
function insertValues(target: MysqlWriteTarget, row: RowInsert): { values: ColumnValues; keyFrom: string } {
  // An undefined value is left out, so the column's DEFAULT applies.
  const entries = toEntries(target, row.values, true);
  const keyName = target.key.name.toLowerCase();
  const given = entries.find(([c]) => c.name.toLowerCase() === keyName);
  if (given && given[1] !== null) return { values: entries, keyFrom: String(given[1]) };
  const others = entries.filter((entry) => entry !== given);
  const { key } = target;
  // Without RETURNING only an AUTO_INCREMENT key can be read back (as insertId).
  const serverFills = key.autoIncrement || (target.returning && (key.hasDefault || key.computed));
  if (serverFills) return { values: others, keyFrom: 'server' };
  return { values: [...others, [key, keyToMysql(row.fallbackKey, key)]], keyFrom: row.fallbackKey };
}

async function updateOne(
  trx: MysqlKysely,
  target: MysqlWriteTarget,
  update: RowUpdate,
): Promise<WriteResult> {
  const keyValue = keyToMysql(update.key, target.key);
  const duplicate = await duplicateKeyError(trx, target, update.key, keyValue);
  if (duplicate) return { status: 'failed', error: duplicate };
  const set = toEntries(target, update.set, false);
  const expect = toEntries(target, update.expect, false);
  const { ref } = target.info;
  if (set.length === 0)
    return (await count(trx, countRows(ref, target.key.name, keyValue, expect))) > 0 ? OK : STALE;
  const statement = updateIfUnchanged(ref, target.key.name, keyValue, set, expect, asReadOf(update));
  const result = await statement.execute(trx);
  // Nothing matched: the row changed or vanished since the sync read it (SPEC §3).
  if ((result.numAffectedRows ?? 0n) === 0n) return STALE;
  if (!update.fingerprint) return OK;
  const { rows } = await fingerprintsOfKeys(ref, target.key.name, update.fingerprint.columns, [
    keyValue,
  ]).execute(trx);
  const fingerprint = fingerprintsByKey(rows).get(update.key);
  return fingerprint === undefined ? OK : { status: 'ok', fingerprint };
}

/** The fingerprint the row must still have for the update to land (`RowUpdate.fingerprint`). */
function asReadOf(update: RowUpdate): { columns: readonly string[]; fingerprint: string } | undefined {
  const after = update.fingerprint;
  return after?.asRead === undefined ? undefined : { columns: after.columns, fingerprint: after.asRead };
}

async function deleteOne(trx: MysqlKysely, target: MysqlWriteTarget, key: string): Promise<WriteResult> {
  const keyValue = keyToMysql(key, target.key);
  const duplicate = await duplicateKeyError(trx, target, key, keyValue);
  if (duplicate) return { status: 'failed', error: duplicate };
  // A row already gone is what a delete wants, so it is ok too.
  await deleteRow(target.info.ref, target.key.name, keyValue).execute(trx);
  return OK;
}

/** A `key:` that is not unique may repeat; usersync only changes a row it can tell apart. */
async function duplicateKeyError(
  trx: MysqlKysely,
  target: MysqlWriteTarget,
  key: string,
  keyValue: MysqlValue,
): Promise<string | undefined> {
  if (isUniqueKey(target.info, target.key)) return undefined;
  const n = await count(trx, countRows(target.info.ref, target.key.name, keyValue));
  if (n <= 1) return undefined;
  return (
    `Key "${key}" matches ${n} rows in ${target.place.where}, so usersync cannot tell which one to change. ` +
    'Make the key column unique, or set `key:` to a column that is.'
  );
}

async function count(trx: MysqlKysely, query: RawBuilder<{ n: unknown }>): Promise<number> {
  const { rows } = await query.execute(trx);
  // COUNT(*) is a BIGINT, which the pool returns as text.
  return Number(rows[0]?.n ?? 0);
}

/**
 * Column values in each column's own type. A column the table lacks is the mapping's
 * fault, not the row's: it fails the call before anything is written.
 */
function toEntries(
  target: MysqlWriteTarget,
  values: Readonly<Record<string, unknown>>,
  skipUndefined: boolean,
): ColumnValues {
  const entries: [MysqlColumn, MysqlValue][] = [];
  for (const [name, value] of Object.entries(values)) {
    if (skipUndefined && value === undefined) continue;
    const column = findColumn(target.info, name);
    if (!column) throw unknownColumn(target, name);
    entries.push([column, toMysqlValue(value, column)]);
  }
  return entries;
}

function unknownColumn(target: MysqlWriteTarget, name: string): UsersyncError {
  return new UsersyncError(
    'source.invalid',
    `Column "${name}" not found in ${target.place.where} ` +
      `(columns: ${target.info.columns.map((c) => c.name).join(', ')}). Fix the connection's mapping.`,
  );
}
