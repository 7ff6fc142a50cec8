import { UsersyncError } from '../../core/errors.js';
import {
  assertWritable,
  type LookupOptions,
  type ConnectorCapabilities,
  type ConnectorSettings,
  type InsertResult,
  type RowInsert,
  type RowUpdate,
  type ScanOptions,
  type SourceConnector,
  type SourceDescription,
  type SourceRow,
  type WriteResult,
} from '../connector.js';
import { sourceFile, type SourceFile } from '../source-path.js';
import { toCell } from './csv-cell.js';
import { applyDeletes, applyInserts, applyUpdates, type CsvEdit, type CsvTarget } from './csv-edits.js';
import { readCsvFile, rewriteCsvFile } from './csv-file.js';
import type { CsvTable } from './csv-table.js';

/**
 * `source: csv:PATH`. The file is read whole on every call (files are small and
 * rewritten whole anyway), so the connector holds no state and sees edits made by
 * people between calls. Nothing is opened until first use.
 */
export function createCsvConnector(settings: ConnectorSettings): SourceConnector {
  return new CsvConnector(sourceFile(settings.source, 'csv:', settings.baseDir), settings);
}

class CsvConnector implements SourceConnector {
  readonly capabilities: ConnectorCapabilities;
  readonly keyColumn: string;

  constructor(
    private readonly file: SourceFile,
    settings: ConnectorSettings,
  ) {
    // A file has no primary key; the email column is the natural one.
    this.keyColumn = settings.key ?? settings.emailColumn;
    // One rewrite of the whole file per batch, so the bigger the batch the better.
    this.capabilities = { readOnly: settings.readOnly, supportsCursor: false, writeBatchSize: 100_000 };
  }

  async describe(): Promise<SourceDescription> {
    const { header } = await readCsvFile(this.file);
    return {
      location: this.file.given,
      columns: header.map((name) => ({ name, type: 'text', nullable: true, generated: false })),
    };
  }

  async *scan(options: ScanOptions): AsyncIterable<SourceRow[]> {
    const table = await readCsvFile(this.file);
    const read = this.rowReader(table, options.columns);
    const size = Math.max(1, Math.floor(options.pageSize));
    for (let start = 0; start < table.rows.length; start += size) {
      yield table.rows.slice(start, start + size).map(read);
    }
  }

  async lookup(
    column: string,
    values: readonly unknown[],
    columns: readonly string[],
    options: LookupOptions = {},
  ): Promise<SourceRow[]> {
    const table = await readCsvFile(this.file);
    const at = this.columnIndexes(table, [column])[0] ?? -1;
    const read = this.rowReader(table, columns);
    const fold = options.caseInsensitive
      ? (cell: string) => cell.trim().toLowerCase()
      : (cell: string) => cell;
    // An empty cell is CSV's NULL, and NULL matches nothing.
    const wanted = new Set(values.map((v) => fold(toCell(v))).filter((value) => value !== ''));
    return table.rows.filter((row) => wanted.has(fold(row[at] ?? ''))).map(read);
  }

  async insert(rows: readonly RowInsert[]): Promise<InsertResult[]> {
    return this.rewrite('insert', rows, applyInserts);
  }

  async update(updates: readonly RowUpdate[]): Promise<WriteResult[]> {
    return this.rewrite('update', updates, applyUpdates);
  }

  async delete(keys: readonly string[]): Promise<WriteResult[]> {
    return this.rewrite('delete', keys, applyDeletes);
  }

  async close(): Promise<void> {
    // Nothing is held open between calls.
  }

  private async rewrite<T, R>(
    action: string,
    items: readonly T[],
    apply: (target: CsvTarget, items: readonly T[]) => CsvEdit<R>,
  ): Promise<R[]> {
    assertWritable(this.capabilities, this.file.path, action);
    if (items.length === 0) return [];
    return rewriteCsvFile(this.file, (table) => {
      const keyIndex = this.columnIndexes(table, [this.keyColumn])[0] ?? -1;
      return apply({ table, keyIndex, file: this.file.path }, items);
    });
  }

  /** Reads a row as the key plus the asked-for columns (all text; '' for an empty cell). */
  private rowReader(table: CsvTable, columns: readonly string[]): (row: readonly string[]) => SourceRow {
    const [keyIndex = -1, ...indexes] = this.columnIndexes(table, [this.keyColumn, ...columns]);
    return (row) => {
      const values: Record<string, unknown> = {};
      columns.forEach((name, i) => {
        values[name] = row[indexes[i] ?? -1] ?? '';
      });
      return { key: row[keyIndex] ?? '', values };
    };
  }

  /** Positions of columns in the header; a missing one is a `source.invalid` naming the file. */
  private columnIndexes(table: CsvTable, columns: readonly string[]): number[] {
    const missing = columns.filter((name) => !table.header.includes(name));
    if (missing.length > 0) {
      const role = missing[0] === this.keyColumn ? 'Key column' : 'Column';
      throw new UsersyncError(
        'source.invalid',
        `${role} ${missing.map((name) => `"${name}"`).join(', ')} not found in the header of ${this.file.path} ` +
          `(columns: ${table.header.join(', ')}). Fix the connection's \`key:\`, email column or mapping, ` +
          'or the header line of the file.',
      );
    }
    return columns.map((name) => table.header.indexOf(name));
  }
}
