import type Database from 'better-sqlite3';
import type { RawBuilder } from 'kysely';
import { UsersyncError } from '../../core/errors.js';
import { toBucketDigest, type BucketDigest } from '../../core/fingerprint-buckets.js';
import {
  assertWritable,
  type LookupOptions,
  type ConnectorCapabilities,
  type ConnectorSettings,
  type InsertResult,
  type RowFingerprint,
  type RowInsert,
  type RowUpdate,
  type ScanOptions,
  type SourceConnector,
  type SourceDescription,
  type SourceRow,
  type WriteResult,
} from '../connector.js';
import { sourceFile, type SourceFile } from '../source-path.js';
import {
  digestedColumns,
  fingerprintRead,
  fingerprintsOf,
  inPages,
  keysetPages,
  toSourceRow,
  type PageRead,
} from '../sql-rows.js';
import { sqliteFailure } from './sqlite-errors.js';
import { openSqlite, type SqliteKysely } from './sqlite-open.js';
import {
  describeColumns,
  findColumn,
  loadTableInfo,
  resolveKeyColumn,
  resolveTableRef,
  type RunSync,
  type SqliteColumn,
  type SqliteTableInfo,
} from './sqlite-schema.js';
import {
  columnAtLeast,
  columnIn,
  columnInFolded,
  digestFingerprints,
  fingerprintsInBuckets,
  keyAfter,
  selectRows,
  type SelectedRow,
} from './sqlite-statements.js';
import { toSqliteValue } from './sqlite-value.js';
import { deleteRows, insertRows, updateRows, type SqliteWriteTarget } from './sqlite-writes.js';

/** `IN (…)` lists are cut to this size: far below SQLite's bound-parameter limit. */
const LOOKUP_CHUNK = 500;

/**
 * `source: sqlite:PATH` with `table:`. Opens the file and reads the table's shape at
 * once, so a missing file, table or key column fails here (`source.unreachable` /
 * `source.invalid`) rather than half-way through a run.
 */
export function createSqliteConnector(settings: ConnectorSettings): SourceConnector {
  if (!settings.table) {
    throw new UsersyncError(
      'config.invalid',
      `The source "${settings.source}" needs \`table:\` naming the table that holds the users.`,
    );
  }
  const file = sourceFile(settings.source, 'sqlite:', settings.baseDir);
  const { raw, db } = openSqlite(file, settings.readOnly);
  try {
    return new SqliteConnector(raw, db, file, settings.table, settings);
  } catch (error) {
    raw.close();
    throw sqliteFailure(error, 'Reading the table', `table "${settings.table}" in ${file.path}`);
  }
}

class SqliteConnector implements SourceConnector {
  readonly capabilities: ConnectorCapabilities;
  readonly keyColumn: string;
  private info: SqliteTableInfo;
  private readonly key: SqliteColumn;
  /** `table "members" in /path/crm.db`, for messages. */
  private readonly where: string;

  constructor(
    private readonly raw: Database.Database,
    private readonly db: SqliteKysely,
    private readonly file: SourceFile,
    private readonly table: string,
    settings: ConnectorSettings,
  ) {
    this.where = `table "${table}" in ${file.path}`;
    this.info = loadTableInfo(this.runSync, resolveTableRef(this.runSync, table), file.path);
    this.key = resolveKeyColumn(this.info, settings.key, `Table "${table}" in ${file.path}`);
    // Keep the user's spelling of `key:` so it matches their mapping; SQLite ignores case.
    this.keyColumn = settings.key ?? this.key.name;
    this.capabilities = { readOnly: settings.readOnly, supportsCursor: true, writeBatchSize: 500 };
  }

  private readonly runSync: RunSync = <R>(query: RawBuilder<R>): R[] => {
    const compiled = query.compile(this.db);
    return this.raw.prepare(compiled.sql).all(...compiled.parameters) as R[];
  };

  async describe(): Promise<SourceDescription> {
    try {
      this.info = loadTableInfo(this.runSync, this.info.ref, this.file.path);
    } catch (error) {
      throw sqliteFailure(error, 'Reading the table', this.where);
    }
    return { location: `${this.table} in ${this.file.given}`, columns: describeColumns(this.info) };
  }

  scan(options: ScanOptions): AsyncIterable<SourceRow[]> {
    return this.pages(options, []);
  }

  scanFingerprints(options: ScanOptions): AsyncIterable<RowFingerprint[]> {
    if (options.buckets)
      return this.fingerprintsInBuckets(options.columns, options.buckets, options.pageSize);
    return fingerprintsOf(this.pages(fingerprintRead(options), [], options.columns));
  }

  /** One pass, not pages by key: each page's query would hash every row up to its last. */
  private async *fingerprintsInBuckets(
    columns: readonly string[],
    buckets: readonly number[],
    pageSize: number,
  ): AsyncIterable<RowFingerprint[]> {
    this.checkColumns(columns);
    const rows = await this.read(fingerprintsInBuckets(this.info.ref, this.key.name, columns, buckets));
    yield* inPages(rows, pageSize);
  }

  async digestFingerprints(columns: readonly string[]): Promise<BucketDigest[]> {
    this.checkColumns(columns);
    return (await this.read(digestFingerprints(this.info.ref, this.key.name, columns))).map(toBucketDigest);
  }

  readChangedSince(cursorColumn: string, since: unknown, options: ScanOptions): AsyncIterable<SourceRow[]> {
    return this.pages(options, [columnAtLeast(cursorColumn, toSqliteValue(since))], [cursorColumn]);
  }

  /** Keyset pagination (`key > last ORDER BY key`): stable and fast where OFFSET rescans. */
  private async *pages(
    options: PageRead,
    conditions: readonly RawBuilder<unknown>[],
    conditionColumns: readonly string[] = [],
  ): AsyncIterable<SourceRow[]> {
    this.checkColumns([...conditionColumns, ...options.columns]);
    const fingerprintOf = digestedColumns(options.columns, options);
    const base = { ref: this.info.ref, key: this.key.name, columns: options.columns, fingerprintOf };
    yield* keysetPages(options.columns, options.pageSize, (last, limit) => {
      const after = last ? [keyAfter(this.key.name, last.k)] : [];
      return this.read(selectRows({ ...base, limit, conditions: [...conditions, ...after] }));
    });
  }

  async lookup(
    column: string,
    values: readonly unknown[],
    columns: readonly string[],
    options: LookupOptions = {},
  ): Promise<SourceRow[]> {
    this.checkColumns([column, ...columns]);
    // NULL never equals anything in SQL, so it cannot be looked up.
    const present = values.filter((v) => v !== null && v !== undefined);
    const folded = options.caseInsensitive === true;
    const wanted = [
      ...new Set(folded ? present.map((v) => String(v).trim().toLowerCase()) : present.map(toSqliteValue)),
    ];
    const found: SourceRow[] = [];
    for (let start = 0; start < wanted.length; start += LOOKUP_CHUNK) {
      const chunk = wanted.slice(start, start + LOOKUP_CHUNK);
      const query = selectRows({
        ref: this.info.ref,
        key: this.key.name,
        columns,
        conditions: [folded ? columnInFolded(column, chunk as string[]) : columnIn(column, chunk)],
        fingerprintOf: digestedColumns(columns, options),
      });
      found.push(...(await this.read(query)).map((row) => toSourceRow(row, columns)));
    }
    return found;
  }

  async insert(rows: readonly RowInsert[]): Promise<InsertResult[]> {
    assertWritable(this.capabilities, this.where, 'insert');
    return insertRows(this.writeTarget(), rows);
  }

  async update(updates: readonly RowUpdate[]): Promise<WriteResult[]> {
    assertWritable(this.capabilities, this.where, 'update');
    return updateRows(this.writeTarget(), updates);
  }

  async delete(keys: readonly string[]): Promise<WriteResult[]> {
    assertWritable(this.capabilities, this.where, 'delete');
    return deleteRows(this.writeTarget(), keys);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  private writeTarget(): SqliteWriteTarget {
    // The key as `describe()` last saw it (a reload may have changed its default).
    const key = findColumn(this.info, this.key.name) ?? this.key;
    return { db: this.db, raw: this.raw, info: this.info, key, where: this.where };
  }

  private async read<R = SelectedRow>(query: RawBuilder<R>): Promise<R[]> {
    try {
      return (await query.execute(this.db)).rows;
    } catch (error) {
      // Never end a scan quietly on an error: the runner would take the missing rows as deleted.
      throw sqliteFailure(error, 'Reading rows', this.where);
    }
  }

  private checkColumns(columns: readonly string[]): void {
    const missing = columns.filter((name) => !findColumn(this.info, name));
    if (missing.length === 0) return;
    throw new UsersyncError(
      'source.invalid',
      `Column ${missing.map((name) => `"${name}"`).join(', ')} not found in ${this.where} ` +
        `(columns: ${this.info.columns.map((c) => c.name).join(', ')}). Fix the connection's mapping.`,
    );
  }
}
