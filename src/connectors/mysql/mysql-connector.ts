import type { RawBuilder } from 'kysely';
import { UsersyncError } from '../../core/errors.js';
import { toBucketDigest, type BucketDigest } from '../../core/fingerprint-buckets.js';
import {
  assertWritable,
  type ConnectorCapabilities,
  type ConnectorSettings,
  type InsertResult,
  type LookupOptions,
  type RowInsert,
  type RowUpdate,
  type RowFingerprint,
  type ScanOptions,
  type SourceConnector,
  type SourceDescription,
  type SourceRow,
  type WriteResult,
} from '../connector.js';
import {
  digestedColumns,
  fingerprintRead,
  fingerprintsOf,
  inPages,
  keysetPages,
  toSourceRow,
  type PageRead,
} from '../sql-rows.js';
import { mysqlFailure, type MysqlPlace } from './mysql-errors.js';
import { openMysql, supportsReturning, type MysqlKysely } from './mysql-open.js';
import {
  describeColumns,
  findColumn,
  loadTableInfo,
  resolveKeyColumn,
  resolveTableRef,
  type MysqlColumn,
  type MysqlTableInfo,
} from './mysql-schema.js';
import {
  columnAtLeast,
  columnIn,
  columnInCaseInsensitive,
  columnInFolded,
  digestFingerprints,
  fingerprintsInBuckets,
  keyAfter,
  selectRows,
  type SelectedRow,
} from './mysql-statements.js';
import { parseMysqlUrl, type MysqlTarget } from './mysql-url.js';
import {
  foldsCaseAndTrailingSpaces,
  isTextColumn,
  keyValueOf,
  lookupValue,
  toMysqlValue,
} from './mysql-value.js';
import { deleteRows, insertRows, updateRows, type MysqlWriteTarget } from './mysql-writes.js';

/** `IN (…)` lists are cut to this size: short statements, well under max_allowed_packet. */
const LOOKUP_CHUNK = 1000;

/**
 * `source: mysql://user:pass@host:port/db` (or `mariadb://…`) with `table:`. The
 * factory is synchronous, so it only checks the settings; the first call connects and
 * reads the table's shape, and a wrong host, login, database, table or key fails there.
 */
export function createMysqlConnector(settings: ConnectorSettings): SourceConnector {
  if (!settings.table) {
    throw new UsersyncError(
      'config.invalid',
      'A MySQL source needs `table:` naming the table that holds the users (`members` or `crm.members`).',
    );
  }
  const target = parseMysqlUrl(settings.source);
  if (target.database === undefined && !settings.table.includes('.')) {
    throw new UsersyncError(
      'config.invalid',
      `The MySQL source names no database, so \`table:\` must: write it as DATABASE.${settings.table}, ` +
        'or end the URL with the database (mysql://…/DATABASE).',
    );
  }
  return new MysqlConnector(target, settings.table, settings);
}

/** What the first call learns from the server. */
interface Loaded {
  readonly info: MysqlTableInfo;
  readonly key: MysqlColumn;
  readonly returning: boolean;
}

class MysqlConnector implements SourceConnector {
  readonly capabilities: ConnectorCapabilities;
  private readonly db: MysqlKysely;
  private loading: Promise<Loaded> | undefined;
  private loaded: Loaded | undefined;

  constructor(
    private readonly target: MysqlTarget,
    private readonly table: string,
    private readonly settings: ConnectorSettings,
  ) {
    this.db = openMysql(target, settings.readOnly);
    this.capabilities = {
      readOnly: settings.readOnly,
      supportsCursor: true,
      writeBatchSize: 1000,
      fingerprintsOnServer: true,
    };
  }

  /**
   * The user's spelling of `key:` (so it matches their mapping; MySQL ignores the case of
   * column names), else the primary key, which is known once the table has been read:
   * the runner calls `describe()` first.
   */
  get keyColumn(): string {
    const key = this.settings.key ?? this.loaded?.key.name;
    if (key !== undefined) return key;
    throw new Error(`The key column of ${this.where} is not known before describe() has read the table.`);
  }

  private get where(): string {
    const name = this.loaded ? `${this.loaded.info.ref.schema}.${this.loaded.info.ref.name}` : this.table;
    return `table "${name}" in ${this.target.shown}`;
  }

  private get place(): MysqlPlace {
    const { address, user, database } = this.target;
    return { address, user, database: this.loaded?.info.ref.schema ?? database, where: this.where };
  }

  private ready(): Promise<Loaded> {
    this.loading ??= this.load().catch((error: unknown) => {
      // Let the next call try again (the server may be back).
      this.loading = undefined;
      throw mysqlFailure(error, 'Reading the table', this.place);
    });
    return this.loading;
  }

  private async load(): Promise<Loaded> {
    const returning = await supportsReturning(this.db);
    const ref = await resolveTableRef(this.db, this.table, this.target.database);
    const info = await loadTableInfo(this.db, ref, this.target.shown);
    const key = resolveKeyColumn(
      info,
      this.settings.key,
      `Table "${ref.schema}.${info.ref.name}" in ${this.target.shown}`,
    );
    this.loaded = { info, key, returning };
    return this.loaded;
  }

  async describe(): Promise<SourceDescription> {
    // Read afresh unless this very call just read the table for the first time.
    const reload = this.loaded !== undefined;
    let loaded = await this.ready();
    if (reload) {
      try {
        const info = await loadTableInfo(this.db, loaded.info.ref, this.target.shown);
        // The key as the reloaded table has it (its default or type may have changed).
        loaded = { ...loaded, info, key: findColumn(info, loaded.key.name) ?? loaded.key };
        this.loaded = loaded;
        this.loading = Promise.resolve(loaded);
      } catch (error) {
        throw mysqlFailure(error, 'Reading the table', this.place);
      }
    }
    const { ref } = loaded.info;
    const name = ref.schema === this.target.database ? ref.name : `${ref.schema}.${ref.name}`;
    return { location: `${name} in ${this.target.shown}`, columns: describeColumns(loaded.info) };
  }

  scan(options: ScanOptions): AsyncIterable<SourceRow[]> {
    return this.pages(options, () => []);
  }

  scanFingerprints(options: ScanOptions): AsyncIterable<RowFingerprint[]> {
    if (options.buckets)
      return this.fingerprintsInBuckets(options.columns, options.buckets, options.pageSize);
    return fingerprintsOf(this.pages(fingerprintRead(options), () => [], options.columns));
  }

  /** One pass, not pages by key: each page's query would hash every row up to its last. */
  private async *fingerprintsInBuckets(
    columns: readonly string[],
    buckets: readonly number[],
    pageSize: number,
  ): AsyncIterable<RowFingerprint[]> {
    const { info, key } = await this.ready();
    this.checkColumns(info, columns);
    const rows = await this.read(fingerprintsInBuckets(info.ref, key.name, columns, buckets));
    yield* inPages(rows, pageSize);
  }

  async digestFingerprints(columns: readonly string[]): Promise<BucketDigest[]> {
    const { info, key } = await this.ready();
    this.checkColumns(info, columns);
    return (await this.read(digestFingerprints(info.ref, key.name, columns))).map(toBucketDigest);
  }

  readChangedSince(cursorColumn: string, since: unknown, options: ScanOptions): AsyncIterable<SourceRow[]> {
    return this.pages(
      options,
      (info) => [columnAtLeast(cursorColumn, toMysqlValue(since, findColumn(info, cursorColumn)))],
      [cursorColumn],
    );
  }

  /** Keyset pagination (`key > last ORDER BY key`): stable and fast where OFFSET rescans. */
  private async *pages(
    options: PageRead,
    conditionsOf: (info: MysqlTableInfo) => RawBuilder<unknown>[],
    conditionColumns: readonly string[] = [],
  ): AsyncIterable<SourceRow[]> {
    const { info, key } = await this.ready();
    this.checkColumns(info, [...conditionColumns, ...options.columns]);
    const conditions = conditionsOf(info);
    const fingerprintOf = digestedColumns(options.columns, options);
    const base = { ref: info.ref, key: key.name, columns: options.columns, fingerprintOf };
    yield* keysetPages(options.columns, options.pageSize, (last, limit) => {
      const after = last === undefined ? [] : [keyAfter(key.name, keyValueOf(last.k, key))];
      return this.read(selectRows({ ...base, limit, conditions: [...conditions, ...after] }));
    });
  }

  async lookup(
    column: string,
    values: readonly unknown[],
    columns: readonly string[],
    options: LookupOptions = {},
  ): Promise<SourceRow[]> {
    const { info, key } = await this.ready();
    this.checkColumns(info, [column, ...columns]);
    const target = findColumn(info, column) as MysqlColumn;
    // NULL never equals anything in SQL, so it cannot be looked up.
    const present = values.filter((v) => v !== null && v !== undefined);
    const folded = options.caseInsensitive === true;
    const wanted = [
      ...new Set(
        folded
          ? present.map((v) => String(v).trim().toLowerCase())
          : present.map((v) => lookupValue(v, target)),
      ),
    ];
    // The column's collation is often case-insensitive, so `IN` (which keeps the index) may
    // match more than the exact values asked for; those extra rows are dropped here.
    const exact = !folded && isTextColumn(target) ? new Set(wanted.map(String)) : undefined;
    const selected = exact ? [...columns, column] : columns;
    const found: SourceRow[] = [];
    for (let start = 0; start < wanted.length; start += LOOKUP_CHUNK) {
      const chunk = wanted.slice(start, start + LOOKUP_CHUNK);
      const condition = !folded
        ? columnIn(column, chunk)
        : foldsCaseAndTrailingSpaces(target)
          ? columnInCaseInsensitive(column, chunk as string[])
          : columnInFolded(column, chunk as string[]);
      const rows = await this.read(
        selectRows({
          ref: info.ref,
          key: key.name,
          columns: selected,
          conditions: [condition],
          fingerprintOf: digestedColumns(columns, options),
        }),
      );
      const kept = exact ? rows.filter((row) => exact.has(String(row[`c${columns.length}`]))) : rows;
      found.push(...kept.map((row) => toSourceRow(row, columns)));
    }
    return found;
  }

  async insert(rows: readonly RowInsert[]): Promise<InsertResult[]> {
    assertWritable(this.capabilities, this.where, 'insert');
    return insertRows(await this.writeTarget(), rows);
  }

  async update(updates: readonly RowUpdate[]): Promise<WriteResult[]> {
    assertWritable(this.capabilities, this.where, 'update');
    return updateRows(await this.writeTarget(), updates);
  }

  async delete(keys: readonly string[]): Promise<WriteResult[]> {
    assertWritable(this.capabilities, this.where, 'delete');
    return deleteRows(await this.writeTarget(), keys);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  private async writeTarget(): Promise<MysqlWriteTarget> {
    const { info, key, returning } = await this.ready();
    return { db: this.db, info, key, returning, place: this.place };
  }

  private async read<R = SelectedRow>(query: RawBuilder<R>): Promise<R[]> {
    try {
      return (await query.execute(this.db)).rows;
    } catch (error) {
      // Never end a scan quietly on an error: the runner would take the missing rows as deleted.
      throw mysqlFailure(error, 'Reading rows', this.place);
    }
  }

  private checkColumns(info: MysqlTableInfo, columns: readonly string[]): void {
    const missing = columns.filter((name) => !findColumn(info, name));
    if (missing.length === 0) return;
    throw new UsersyncError(
      'source.invalid',
      `Column ${missing.map((name) => `"${name}"`).join(', ')} not found in ${this.where} ` +
        `(columns: ${info.columns.map((c) => c.name).join(', ')}). Fix the connection's mapping.`,
    );
  }
}
