import { UsersyncError } from '../../core/errors.js';

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A problem with this one row (a constraint, a type in a STRICT table, an unknown
 * column): the row fails alone. Anything else (locked, disk full, I/O) fails the batch.
 */
export function isRowError(error: unknown): boolean {
  const code = codeOf(error);
  if (code.startsWith('SQLITE_CONSTRAINT') || code === 'SQLITE_MISMATCH' || code === 'SQLITE_TOOBIG')
    return true;
  return code === 'SQLITE_ERROR' && /no such column|has no column named/i.test(messageOf(error));
}

export function rowErrorMessage(error: unknown): string {
  return messageOf(error);
}

/** A driver error as a UsersyncError saying what failed, where, and what to try. */
export function sqliteFailure(error: unknown, action: string, where: string): UsersyncError {
  if (error instanceof UsersyncError) return error;
  const code = codeOf(error);
  const message = messageOf(error);
  if (/no such (table|column)|has no column named/i.test(message)) {
    return new UsersyncError(
      'source.invalid',
      `${action} failed on ${where}: ${message}. Check \`table:\` and the mapped columns of the connection.`,
      { cause: error },
    );
  }
  const hint =
    code === 'SQLITE_BUSY'
      ? 'Another program holds a lock on the database; try again when it is done.'
      : code === 'SQLITE_READONLY'
        ? 'The file or its folder is not writable by this process; fix its permissions.'
        : 'Check that the file is a healthy SQLite database and is reachable.';
  return new UsersyncError('source.unreachable', `${action} failed on ${where}: ${message}. ${hint}`, {
    cause: error,
  });
}
