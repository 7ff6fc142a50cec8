import { UsersyncError } from '../../core/errors.js';

/** What the driver says: a server error has `errno` (1062 …) and `sqlMessage`; a socket error a `code`. */
interface DriverError {
  readonly code?: unknown;
  readonly errno?: unknown;
  readonly sqlMessage?: unknown;
  readonly errors?: unknown;
}

/**
 * Server errors that concern the one row being written, so the row fails alone and the
 * rest of the batch commits (https://mariadb.com/kb/en/mariadb-error-codes/).
 */
const ROW_ERRORS: ReadonlySet<number> = new Set([
  1048, // column cannot be null
  1062, // duplicate entry
  1142, // command denied to user for table (a write the account may not do)
  1216, // foreign key: no parent row (older servers)
  1217, // foreign key: row still referenced (older servers)
  1264, // out of range value
  1265, // data truncated
  1292, // incorrect date/time value
  1364, // field has no default value
  1366, // incorrect value for the column
  1406, // data too long
  1451, // foreign key: row still referenced
  1452, // foreign key: no parent row
  1644, // a trigger's SIGNAL rejected the row
  1690, // value out of range in an expression
  3140, // invalid JSON text (MySQL)
  3819, // CHECK constraint violated (MySQL)
  4025, // CHECK constraint failed (MariaDB)
]);

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
const CONNECTION_LOST = new Set(['PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'EPIPE']);

function errnoOf(error: unknown): number | undefined {
  const errno = (error as DriverError | null)?.errno;
  // Socket errors carry a negative errno of their own; server errors are 1000 and up.
  return typeof errno === 'number' && errno >= 1000 ? errno : undefined;
}

function codeOf(error: unknown): string {
  const driver = error as DriverError | null;
  if (typeof driver?.code === 'string') return driver.code;
  // Node reports a connection tried on several addresses as an AggregateError of them.
  const first = Array.isArray(driver?.errors) ? (driver.errors as unknown[])[0] : undefined;
  return first === undefined ? '' : codeOf(first);
}

/** The server's own words where there are some. */
export function messageOf(error: unknown): string {
  const sqlMessage = (error as DriverError | null)?.sqlMessage;
  if (typeof sqlMessage === 'string') return sqlMessage;
  return error instanceof Error ? error.message : String(error);
}

export function isRowError(error: unknown): boolean {
  const errno = errnoOf(error);
  return errno !== undefined && ROW_ERRORS.has(errno);
}

/** Where a failure happened, for messages: never the password. */
export interface MysqlPlace {
  /** `db.example.com:3306` */
  readonly address: string;
  readonly user: string | undefined;
  readonly database: string | undefined;
  /** `table "members" in mysql://crm@db.example.com:3306/crm` */
  readonly where: string;
}

/** A driver error as a UsersyncError saying what failed, where, and what to try. */
export function mysqlFailure(error: unknown, action: string, place: MysqlPlace): UsersyncError {
  if (error instanceof UsersyncError) return error;
  const code = codeOf(error);
  const errno = errnoOf(error);
  const said = messageOf(error);
  const make = (kind: 'source.unreachable' | 'source.invalid', message: string) =>
    new UsersyncError(kind, message, { cause: error });
  if (UNREACHABLE.has(code)) {
    return make(
      'source.unreachable',
      `Cannot reach MySQL at ${place.address} (${code}). Check the host and port in \`source:\`, ` +
        'and that the server is running and accepts connections from this machine.',
    );
  }
  if (CONNECTION_LOST.has(code)) {
    return make(
      'source.unreachable',
      `${action} failed on ${place.where}: the connection to MySQL at ${place.address} was lost (${code}). ` +
        'Try again; if it keeps happening, check the server and the network.',
    );
  }
  if (errno === 1045) {
    return make(
      'source.unreachable',
      `MySQL at ${place.address} refused the login of user "${place.user ?? ''}" (${said}). ` +
        'Check the user name and password in `source:` (percent-encode special characters, e.g. @ as %40).',
    );
  }
  if (errno === 1044 || errno === 1049) {
    const problem = errno === 1049 ? 'does not exist' : `may not be used by user "${place.user ?? ''}"`;
    return make(
      'source.unreachable',
      `Database "${place.database ?? ''}" ${problem} on MySQL at ${place.address} (${said}). ` +
        'Check the database name in `source:` (or the `db.` before the table in `table:`).',
    );
  }
  if (errno === 1146 || errno === 1054) {
    return make(
      'source.invalid',
      `${action} failed on ${place.where}: ${said}. Check \`table:\` and the mapped columns of the connection.`,
    );
  }
  if (errno === 1142 || errno === 1143) {
    return make(
      'source.unreachable',
      `${action} failed on ${place.where}: ${said}. Grant the user in \`source:\` the rights it needs on the table.`,
    );
  }
  const hint = WRITE_HINTS.get(errno ?? 0);
  if (hint) {
    return new UsersyncError(
      'source.write_rejected',
      `${action} failed on ${place.where}: ${said}. ${hint}`,
      {
        cause: error,
      },
    );
  }
  return make('source.unreachable', `${action} failed on ${place.where}: ${said}.`);
}

/** Errors that undo or refuse a whole batch of writes: nothing of it was committed. */
const WRITE_HINTS: ReadonlyMap<number, string> = new Map([
  [1205, 'Another session held a lock on the rows too long; nothing from this batch was written. Try again.'],
  [1213, 'The server ended a deadlock by rolling this batch back; nothing from it was written. Try again.'],
  [1290, 'The server is read-only (--read-only); nothing was written. Write to the primary server instead.'],
  [1792, 'The session is read-only; nothing was written.'],
]);
