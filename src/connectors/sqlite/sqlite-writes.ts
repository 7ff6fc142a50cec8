import type Database from 'better-sqlite3';
import type { RawBuilder } from 'kysely';
import { UsersyncError } from '../../core/errors.js';
import type { InsertResult, RowInsert, RowUpdate, WriteResult } from '../connector.js';
import { compiledByShape } from '../sql-rows.js';
import { isRowError, rowErrorMessage, sqliteFailure } from './sqlite-errors.js';
import type { SqliteKysely } from './sqlite-open.js';
import { isGenerated, isSolePrimaryKey, type SqliteColumn, type SqliteTableInfo } from './sqlite-schema.js';
import {
  countRows,
  deleteRow,
  insertRow,
  updateIfUnchanged,
  type ColumnValues,
} from './sqlite-statements.js';
import { keyToSqlite, toSqliteValue, type SqliteValue } from './sqlite-value.js';

/** What a write needs to know about the table it writes to. */
export interface SqliteWriteTarget {
  readonly db: SqliteKysely;
  readonly raw: Database.Database;
  readonly info: SqliteTableInfo;
  readonly key: SqliteColumn;
  /** `table "members" in /path/crm.db`, for messages. */
  readonly where: string;
}

const OK = { status: 'ok' } as const;
const STALE = { status: 'stale' } as const;

export function insertRows(target: SqliteWriteTarget, rows: readonly RowInsert[]): Promise<InsertResult[]> {
  return eachInTransaction(target, 'Inserting rows', rows, (trx, row) => insertOne(trx, target, row));
}

export function updateRows(target: SqliteWriteTarget, updates: readonly RowUpdate[]): Promise<WriteResult[]> {
  return eachInTransaction(target, 'Updating rows', updates, (trx, update) => updateOne(trx, target, update));
}

export function deleteRows(target: SqliteWriteTarget, keys: readonly string[]): Promise<WriteResult[]> {
  return eachInTransaction(target, 'Deleting rows', keys, (trx, key) => deleteOne(trx, target, key));
}

/**
 * One transaction per call, one statement per row. A row-level error (a constraint)
 * undoes only its own statement, so the row fails alone and the others still commit.
 */
async function eachInTransaction<T, R>(
  target: SqliteWriteTarget,
  action: string,
  items: readonly T[],
  write: (trx: SqliteKysely, item: T) => Promise<R>,
): Promise<R[]> {
  if (items.length === 0) return [];
  let trx: Awaited<ReturnType<ReturnType<SqliteKysely['startTransaction']>['execute']>> | undefined;
  try {
    trx = await target.db.startTransaction().execute();
    const results: R[] = [];
    for (const item of items) results.push(await write(trx, item));
    await trx.commit().execute();
    return results;
  } catch (error) {
    // Always roll back through Kysely: it releases the connection even when SQLite has already
    // rolled back itself (ON CONFLICT ROLLBACK, disk full) and the ROLLBACK fails. The first
    // error is the one worth reporting.
    await trx
      ?.rollback()
      .execute()
      .catch(() => undefined);
    throw sqliteFailure(error, action, target.where);
  }
}

/** A row-level failure, unless SQLite abandoned the whole transaction: then nothing is committed and the batch fails. */
function rowFailure(target: SqliteWriteTarget, error: unknown): { status: 'failed'; error: string } {
  if (!isRowError(error)) throw error;
  if (!target.raw.inTransaction) {
    throw new UsersyncError(
      'source.write_rejected',
      `SQLite rolled back the whole batch on ${target.where} after: ${rowErrorMessage(error)}. ` +
        'A table constraint with ON CONFLICT ROLLBACK does this; nothing from this batch was written.',
      { cause: error },
    );
  }
  return { status: 'failed', error: rowErrorMessage(error) };
}

async function attempt<R>(
  target: SqliteWriteTarget,
  write: () => Promise<R>,
): Promise<R | { status: 'failed'; error: string }> {
  try {
    return await write();
  } catch (error) {
    return rowFailure(target, error);
  }
}

async function insertOne(
  trx: SqliteKysely,
  target: SqliteWriteTarget,
  row: RowInsert,
): Promise<InsertResult> {
  return attempt(target, async () => {
    const { rows } = await insertRow(target.info.ref, target.key.name, insertValues(target, row)).execute(
      trx,
    );
    const [inserted] = rows;
    if (!inserted) {
      return {
        status: 'failed',
        error: `SQLite skipped the row (an ON CONFLICT IGNORE rule or a trigger on ${target.where}).`,
      };
    }
    return { status: 'ok', key: String(inserted.k) };
  });
}

/** SPEC §8: the key comes from the values, else from the source where it generates one, else the directory id. */
function insertValues(target: SqliteWriteTarget, row: RowInsert): ColumnValues {
  // An undefined value is left out, so the column's DEFAULT applies.
  const entries = toEntries(row.values).filter(([name]) => row.values[name] !== undefined);
  const keyName = target.key.name.toLowerCase();
  const given = entries.find(([name]) => name.toLowerCase() === keyName);
  if (given && given[1] !== null) return entries;
  const others = entries.filter((entry) => entry !== given);
  if (isGenerated(target.info, target.key)) return others;
  return [...others, [target.key.name, keyToSqlite(row.fallbackKey, target.key.affinity)]];
}

async function updateOne(
  trx: SqliteKysely,
  target: SqliteWriteTarget,
  update: RowUpdate,
): Promise<WriteResult> {
  const keyValue = keyToSqlite(update.key, target.key.affinity);
  const duplicate = await duplicateKeyError(trx, target, update.key, keyValue);
  if (duplicate) return { status: 'failed', error: duplicate };
  const set = toEntries(update.set);
  const expect = toEntries(update.expect);
  const { ref } = target.info;
  return attempt(target, async () => {
    if (set.length === 0)
      return (await count(trx, countRows(ref, target.key.name, keyValue, expect))) > 0 ? OK : STALE;
    const { statement, parameters } = updateStatement(trx, target, update, keyValue, set, expect);
    if (update.fingerprint) {
      const changed = statement.get(parameters) as { f: string } | undefined;
      return changed ? { status: 'ok', fingerprint: changed.f } : STALE;
    }
    // Nothing matched: the row changed or vanished since the sync read it (SPEC §3).
    return statement.run(parameters).changes === 0 ? STALE : OK;
  });
}

/**
 * A row's `updateIfUnchanged`, built and prepared once per shape (`compiledByShape`): its
 * text depends only on the columns set, the columns checked and the fingerprint asked for
 * (every value is a parameter, NULL too). Its parameters are the values set, the key, the
 * expected values, then the fingerprint as read. Run on the connection the transaction
 * holds, like every statement here.
 */
function updateStatement(
  trx: SqliteKysely,
  target: SqliteWriteTarget,
  update: RowUpdate,
  keyValue: SqliteValue,
  set: ColumnValues,
  expect: ColumnValues,
): { statement: Database.Statement; parameters: readonly unknown[] } {
  const parameters: unknown[] = set.map(([, value]) => value);
  parameters.push(keyValue);
  for (const [, value] of expect) parameters.push(value);
  const after = update.fingerprint;
  if (after?.asRead !== undefined) parameters.push(after.asRead);
  // NUL cannot occur in a SQLite name here (names come from the table's own columns), so it separates them.
  let shape = `${JSON.stringify(target.info.ref)}\0${set.map(([name]) => name).join('\0')}`;
  shape += `\0\0${expect.map(([name]) => name).join('\0')}`;
  if (after) shape += `\0\0${after.asRead !== undefined}\0${after.columns.join('\0')}`;
  let statements = updateStatements.get(target.raw);
  if (!statements) updateStatements.set(target.raw, (statements = new Map()));
  const compile = () =>
    updateIfUnchanged(target.info.ref, target.key.name, keyValue, set, expect, after).compile(trx);
  const prepare = (text: string) => target.raw.prepare(text);
  const prepared = compiledByShape(statements, shape, parameters, compile, prepare);
  return { statement: prepared.made, parameters: prepared.parameters };
}

/** A row's UPDATE by table and shape, prepared on each open connection. */
const updateStatements = new WeakMap<Database.Database, Map<string, Database.Statement>>();

async function deleteOne(trx: SqliteKysely, target: SqliteWriteTarget, key: string): Promise<WriteResult> {
  const keyValue = keyToSqlite(key, target.key.affinity);
  const duplicate = await duplicateKeyError(trx, target, key, keyValue);
  if (duplicate) return { status: 'failed', error: duplicate };
  // A row already gone is what a delete wants, so it is ok too.
  return attempt(target, async () => {
    await deleteRow(target.info.ref, target.key.name, keyValue).execute(trx);
    return OK;
  });
}

/** A `key:` other than the primary key may repeat; usersync only changes a row it can tell apart. */
async function duplicateKeyError(
  trx: SqliteKysely,
  target: SqliteWriteTarget,
  key: string,
  keyValue: SqliteValue,
): Promise<string | undefined> {
  if (isSolePrimaryKey(target.info, target.key)) return undefined;
  const n = await count(trx, countRows(target.info.ref, target.key.name, keyValue));
  if (n <= 1) return undefined;
  return (
    `Key "${key}" matches ${n} rows in ${target.where}, so usersync cannot tell which one to change. ` +
    'Make the key column unique, or set `key:` to a column that is.'
  );
}

async function count(trx: SqliteKysely, query: RawBuilder<{ n: number }>): Promise<number> {
  const { rows } = await query.execute(trx);
  return rows[0]?.n ?? 0;
}

/** `undefined` is written as NULL (and, in `expect`, matches NULL). */
function toEntries(values: Readonly<Record<string, unknown>>): ColumnValues {
  return Object.entries(values).map(([name, value]) => [name, toSqliteValue(value)] as const);
}
