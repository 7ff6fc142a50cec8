import type { ControlledTransaction, RawBuilder } from 'kysely';
import type { InsertResult, RowInsert, RowUpdate, WriteResult } from '../connector.js';
import { isRowError, pgFailure, rowErrorMessage, type PgPlace } from './postgres-errors.js';
import type { PgKysely } from './postgres-open.js';
import {
  findColumn,
  fingerprintOver,
  isGenerated,
  type PgColumn,
  type PgTableInfo,
} from './postgres-schema.js';
import {
  countRows,
  deleteRow,
  insertRow,
  updateIfUnchanged,
  type ColumnValue,
} from './postgres-statements.js';
import { repeatedKeyError, updateSets, type UpdateSets } from './postgres-update-sets.js';

/** What a write needs to know about the table it writes to. */
export interface PgWriteTarget {
  readonly db: PgKysely;
  readonly info: PgTableInfo;
  readonly key: PgColumn;
  readonly place: PgPlace;
}

type Failed = { readonly status: 'failed'; readonly error: string };
type Transaction = ControlledTransaction<Record<string, never>>;

const OK = { status: 'ok' } as const;
const STALE = { status: 'stale' } as const;
const SAVEPOINT = 'usersync_row';

export function insertRows(target: PgWriteTarget, rows: readonly RowInsert[]): Promise<InsertResult[]> {
  return writeEach(target, 'Inserting rows', rows, (db, row) => insertOne(db, target, row));
}

/** A statement per shape of update for the whole batch (see postgres-update-sets.ts), else row by row. */
export async function updateRows(
  target: PgWriteTarget,
  updates: readonly RowUpdate[],
): Promise<WriteResult[]> {
  if (updates.length === 0) return [];
  const action = 'Updating rows';
  let sets: UpdateSets;
  try {
    sets = await updateSets(target.db, target, updates);
  } catch (error) {
    throw pgFailure(error, action, target.place, 'source.write_rejected');
  }
  const one = (db: PgKysely, update: RowUpdate) => updateOne(db, target, update);
  return writeBatch(
    target,
    action,
    updates,
    (db) => sets.write(db, (update) => one(db, update)),
    one,
    sets.statements,
  );
}

export function deleteRows(target: PgWriteTarget, keys: readonly string[]): Promise<WriteResult[]> {
  return writeEach(target, 'Deleting rows', keys, (db, key) => deleteOne(db, target, key));
}

function writeEach<T, R>(
  target: PgWriteTarget,
  action: string,
  items: readonly T[],
  write: (db: PgKysely, item: T) => Promise<R>,
): Promise<(R | Failed)[]> {
  return writeBatch(target, action, items, (trx) => eachInOrder(items, (item) => write(trx, item)), write);
}

/**
 * One transaction per call, results in input order. PostgreSQL refuses every statement
 * after an error until the transaction ends, so a row that fails would take the batch
 * with it: the batch is first written whole (the common case: `all`, a statement per
 * row or per set of rows), and only if a row fails, rolled back and done again one row
 * at a time with a savepoint around each, so that row alone is undone and the others commit.
 * A batch that `all` writes in one statement (a login's write-back, a first sync's
 * write-back of a thousand rows) goes without BEGIN and COMMIT: two round trips fewer,
 * and a statement that fails has written nothing.
 */
async function writeBatch<T, R>(
  target: PgWriteTarget,
  action: string,
  items: readonly T[],
  all: (db: PgKysely) => Promise<(R | Failed)[]>,
  write: (db: PgKysely, item: T) => Promise<R>,
  statements = items.length,
): Promise<(R | Failed)[]> {
  if (items.length === 0) return [];
  try {
    return await (statements <= 1 ? all(target.db) : inTransaction(target.db, all));
  } catch (error) {
    if (!isRowError(error)) throw pgFailure(error, action, target.place, 'source.write_rejected');
    if (items.length === 1) return [{ status: 'failed', error: rowErrorMessage(error) }];
  }
  try {
    return await inTransaction(target.db, (trx) =>
      eachInOrder(items, (item) => withSavepoint(trx, () => write(trx, item))),
    );
  } catch (error) {
    // A row error here came at commit (a deferred constraint): no single row to blame.
    throw pgFailure(error, action, target.place, 'source.write_rejected');
  }
}

async function inTransaction<R>(db: PgKysely, work: (trx: Transaction) => Promise<R>): Promise<R> {
  let trx: Transaction | undefined;
  try {
    trx = await db.startTransaction().execute();
    const result = await work(trx);
    await trx.commit().execute();
    return result;
  } catch (error) {
    // Through Kysely, so the connection goes back to the pool even when ROLLBACK fails
    // (a dropped connection); the first error is the one worth reporting.
    await trx
      ?.rollback()
      .execute()
      .catch(() => undefined);
    throw error;
  }
}

async function eachInOrder<T, R>(items: readonly T[], write: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (const item of items) results.push(await write(item));
  return results;
}

async function withSavepoint<R>(trx: Transaction, write: () => Promise<R>): Promise<R | Failed> {
  const saved = await trx.savepoint(SAVEPOINT).execute();
  try {
    const result = await write();
    await saved.releaseSavepoint(SAVEPOINT).execute();
    return result;
  } catch (error) {
    if (!isRowError(error)) throw error;
    const restored = await saved.rollbackToSavepoint(SAVEPOINT).execute();
    await restored.releaseSavepoint(SAVEPOINT).execute();
    return { status: 'failed', error: rowErrorMessage(error) };
  }
}

async function insertOne(db: PgKysely, target: PgWriteTarget, row: RowInsert): Promise<InsertResult> {
  const { rows } = await insertRow(target.info.ref, target.key.name, insertValues(target, row)).execute(db);
  const [inserted] = rows;
  if (!inserted || inserted.k === null || inserted.k === undefined) {
    return {
      status: 'failed',
      error: `PostgreSQL stored no row with a key (a trigger or rule on ${target.place.where} skipped it).`,
    };
  }
  return { status: 'ok', key: String(inserted.k) };
}

/** SPEC §8: the key comes from the values, else from the source where it generates one, else the directory id. */
function insertValues(target: PgWriteTarget, row: RowInsert): ColumnValue[] {
  // An undefined value is left out, so the column's DEFAULT applies.
  const entries = columnValues(target.info, row.values).filter(({ value }) => value !== undefined);
  const given = entries.find(({ name }) => name === target.key.name);
  if (given && given.value !== null) return entries;
  const others = entries.filter((entry) => entry !== given);
  if (isGenerated(target.key)) return others;
  return [...others, { name: target.key.name, value: row.fallbackKey, column: target.key }];
}

async function updateOne(db: PgKysely, target: PgWriteTarget, update: RowUpdate): Promise<WriteResult> {
  const duplicate = await duplicateKeyError(db, target, update.key);
  if (duplicate) return { status: 'failed', error: duplicate };
  const set = columnValues(target.info, update.set);
  const expect = columnValues(target.info, update.expect);
  const { ref } = target.info;
  if (set.length === 0)
    return (await count(db, countRows(ref, target.key.name, update.key, expect))) > 0 ? OK : STALE;
  const result = await updateIfUnchanged(
    ref,
    target.key.name,
    update.key,
    set,
    expect,
    update.fingerprint && {
      over: fingerprintOver(target.info, target.key.name, update.fingerprint.columns),
      asRead: update.fingerprint.asRead,
    },
  ).execute(db);
  if (update.fingerprint) {
    const changed = result.rows[0];
    return changed ? { status: 'ok', fingerprint: changed.f } : STALE;
  }
  // Nothing matched: the row changed or vanished since the sync read it (SPEC §3).
  return (result.numAffectedRows ?? 0n) === 0n ? STALE : OK;
}

async function deleteOne(db: PgKysely, target: PgWriteTarget, key: string): Promise<WriteResult> {
  const duplicate = await duplicateKeyError(db, target, key);
  if (duplicate) return { status: 'failed', error: duplicate };
  // A row already gone is what a delete wants, so it is ok too.
  await deleteRow(target.info.ref, target.key.name, key).execute(db);
  return OK;
}

/** A `key:` without a unique index may repeat; usersync only changes a row it can tell apart. */
async function duplicateKeyError(
  db: PgKysely,
  target: PgWriteTarget,
  key: string,
): Promise<string | undefined> {
  if (target.key.unique) return undefined;
  const n = await count(db, countRows(target.info.ref, target.key.name, key));
  return n <= 1 ? undefined : repeatedKeyError(target, key, n);
}

async function count(db: PgKysely, query: RawBuilder<{ n: number }>): Promise<number> {
  const { rows } = await query.execute(db);
  return rows[0]?.n ?? 0;
}

/** `undefined` is written as NULL (and, in `expect`, matches NULL). */
function columnValues(info: PgTableInfo, values: Readonly<Record<string, unknown>>): ColumnValue[] {
  return Object.entries(values).map(([name, value]) => ({ name, value, column: findColumn(info, name) }));
}
