import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { chmod, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { UsersyncError } from '../../core/errors.js';
import type { SourceFile } from '../source-path.js';
import { formatCsvTable, parseCsvTable, type CsvTable } from './csv-table.js';

/** A file's table and the version it was read at (to notice an edit made while we write). */
interface CsvSnapshot {
  readonly table: CsvTable;
  readonly version: string;
  readonly mode: number;
}

/** Rewrites attempted before giving up on a file another program keeps changing. */
const REWRITE_ATTEMPTS = 3;

export async function readCsvFile(file: SourceFile): Promise<CsvTable> {
  return (await readSnapshot(file)).table;
}

/**
 * Re-reads the file (so edits made since the scan are seen), lets `edit` change the
 * table, and writes it back atomically: a temporary file in the same folder, then a
 * rename, so readers see the old file or the new one, never half of one. If the file
 * changed while we worked, the edit is redone on the new content.
 */
export async function rewriteCsvFile<R>(
  file: SourceFile,
  edit: (table: CsvTable) => { readonly changed: boolean; readonly result: R },
): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    const snapshot = await readSnapshot(file);
    const { changed, result } = edit(snapshot.table);
    if (!changed) return result;
    if (await replaceIfUnchanged(file, formatCsvTable(snapshot.table), snapshot)) return result;
    if (attempt === REWRITE_ATTEMPTS) {
      throw new UsersyncError(
        'source.write_rejected',
        `The CSV file ${file.path} kept changing while usersync was writing to it; nothing was written. ` +
          'Close the program editing it and run again.',
      );
    }
  }
}

async function readSnapshot(file: SourceFile): Promise<CsvSnapshot> {
  let stats: Stats;
  let bytes: Buffer;
  try {
    stats = await stat(file.path);
    bytes = await readFile(file.path);
  } catch (error) {
    throw unreachable(file, error);
  }
  const table = parseCsvTable(decodeUtf8(bytes, file.path), file.path);
  return { table, version: versionOf(stats), mode: stats.mode };
}

function unreachable(file: SourceFile, error: unknown): UsersyncError {
  const code = (error as { code?: unknown }).code;
  const problem =
    code === 'ENOENT'
      ? 'does not exist'
      : code === 'EISDIR'
        ? 'is a folder, not a file'
        : `cannot be read (${error instanceof Error ? error.message : String(error)})`;
  return new UsersyncError(
    'source.unreachable',
    `The CSV file ${file.path} ${problem}. Check the path in \`source:\` ` +
      "(a relative path starts from the config file's folder).",
    { cause: error },
  );
}

/** Rejects rather than guesses: rewriting a Latin-1 file as if it were UTF-8 would garble it. The BOM is kept (ignoreBOM) so a rewrite keeps it too. */
function decodeUtf8(bytes: Buffer, path: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (error) {
    throw new UsersyncError(
      'source.invalid',
      `The CSV file ${path} is not UTF-8 text. Save it as "CSV UTF-8" (or convert it) and run again.`,
      { cause: error },
    );
  }
}

function versionOf(stats: Stats): string {
  return `${stats.ino}:${stats.size}:${stats.mtimeMs}`;
}

async function replaceIfUnchanged(file: SourceFile, text: string, snapshot: CsvSnapshot): Promise<boolean> {
  const temp = join(
    dirname(file.path),
    `.${basename(file.path)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`,
  );
  try {
    const handle = await open(temp, 'wx');
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await chmod(temp, snapshot.mode & 0o7777);
    if (versionOf(await stat(file.path)) !== snapshot.version) {
      await rm(temp, { force: true });
      return false;
    }
    await rename(temp, file.path);
    return true;
  } catch (error) {
    await rm(temp, { force: true });
    throw new UsersyncError(
      'source.write_rejected',
      `Cannot write the CSV file ${file.path}: ${error instanceof Error ? error.message : String(error)}. ` +
        'usersync writes a temporary file next to it and renames it, so the folder must be writable.',
      { cause: error },
    );
  }
}
