import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { UsersyncError } from '../../core/errors.js';
import { BOM, detectCsvFormat, type CsvFormat } from './csv-format.js';

/** A whole CSV file in memory: writes edit `rows` and rewrite the file (SPEC §8). */
export interface CsvTable {
  readonly header: readonly string[];
  /** Data rows, each with exactly one cell per header column; values are text. */
  readonly rows: string[][];
  readonly format: CsvFormat;
}

interface ParsedRecord {
  readonly record: string[];
  /** `bytes`: UTF-8 offset just past the record; used to name the line of a bad one. */
  readonly info: { readonly bytes: number };
}

/** Parses and checks a file's text; `file` names it in messages. */
export function parseCsvTable(content: string, file: string): CsvTable {
  const bom = content.startsWith(BOM);
  const text = bom ? content.slice(BOM.length) : content;
  const format = detectCsvFormat(text, bom);
  const [first, ...rest] = parseRecords(text, format, file);
  if (!first || text.trim() === '') {
    throw new UsersyncError(
      'source.invalid',
      `The CSV file ${file} is empty. Its first line must be a header naming the columns.`,
    );
  }
  checkHeader(first.record, file);
  const width = first.record.length;
  let previousEnd = first.info.bytes;
  for (const { record, info } of rest) {
    if (record.length !== width) raggedRow(text, previousEnd, record.length, width, format, file);
    previousEnd = info.bytes;
  }
  return { header: first.record, rows: rest.map((parsed) => parsed.record), format };
}

function parseRecords(text: string, format: CsvFormat, file: string): ParsedRecord[] {
  try {
    return parse(text, {
      delimiter: format.delimiter,
      // A stray quote inside a bare value (`5" screen`) is common in hand-made files; keep it as text.
      relax_quotes: true,
      // Checked below, to name the line in our own words.
      relax_column_count: true,
      skip_empty_lines: true,
      info: true,
    }) as unknown as ParsedRecord[];
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsersyncError(
      'source.invalid',
      `The CSV file ${file} cannot be read as CSV: ${reason}. ` +
        'Fix the file (often a value whose opening quote is never closed) and run again.',
      { cause: error },
    );
  }
}

function checkHeader(header: readonly string[], file: string): void {
  const seen = new Map<string, number>();
  header.forEach((name, i) => {
    if (name.trim() === '') {
      throw new UsersyncError(
        'source.invalid',
        `Column ${i + 1} of the header in ${file} is blank. Name every column in the first line, ` +
          'or delete the empty column.',
      );
    }
    const earlier = seen.get(name);
    if (earlier !== undefined) {
      throw new UsersyncError(
        'source.invalid',
        `Columns ${earlier + 1} and ${i + 1} of the header in ${file} are both named "${name}". ` +
          'Rename one so that every column has its own name.',
      );
    }
    seen.set(name, i);
  });
}

function raggedRow(
  text: string,
  previousEnd: number,
  cells: number,
  width: number,
  format: CsvFormat,
  file: string,
): never {
  const line = startLine(Buffer.from(text), previousEnd);
  throw new UsersyncError(
    'source.invalid',
    `Line ${line} of ${file} has ${cells} cells but the header has ${width}. ` +
      `Look for a stray "${format.delimiter}" or a value containing one that is not quoted.`,
  );
}

/** 1-based line where the record after byte `offset` starts (skipping the blank lines csv-parse skipped). */
function startLine(bytes: Buffer, offset: number): number {
  let start = offset;
  while (bytes[start] === 0x0d || bytes[start] === 0x0a) start++;
  let line = 1;
  for (let i = 0; i < start; i++) if (bytes[i] === 0x0a) line++;
  return line;
}

/** The file's text in its own format: BOM, delimiter, line endings and quoting style kept. */
export function formatCsvTable(table: CsvTable): string {
  const { format } = table;
  let text = stringify([table.header as string[], ...table.rows], {
    delimiter: format.delimiter,
    record_delimiter: format.lineEnding,
    quoted: format.quoteAll,
    // csv-stringify only quotes the record delimiter itself; a bare LF in a CRLF file must be quoted too.
    quoted_match: /[\r\n]/,
  });
  if (!format.finalNewline && text.endsWith(format.lineEnding))
    text = text.slice(0, -format.lineEnding.length);
  return (format.bom ? BOM : '') + text;
}
