import { UsersyncError, type ErrorCode } from '../../core/errors.js';
import type { PostgresTarget } from './postgres-url.js';

/** What an error says about where it happened, for messages. */
export interface PgPlace {
  readonly target: PostgresTarget;
  /** `table "members" in PostgreSQL database "crm" on db:5432`. */
  readonly where: string;
}

/** The SQLSTATE of a server error, or the Node error code (ECONNREFUSED …) of a network one. */
function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

function messageOf(error: unknown): string {
  // Node reports a refused connection to every address of a host as an AggregateError
  // with an empty message and the code.
  const message = error instanceof Error ? error.message : String(error);
  return message === '' ? codeOf(error) || 'no reason given' : message;
}

/**
 * A problem with this one row, which PostgreSQL reports and then carries on: a
 * constraint (class 23), a value the column cannot hold (class 22), no right to write
 * (42501), a column not there (42703), a value for a GENERATED ALWAYS column (428C9),
 * an exception a trigger raised (P0001). Anything else fails the batch.
 */
export function isRowError(error: unknown): boolean {
  const code = codeOf(error);
  return (
    code.startsWith('23') || code.startsWith('22') || ['42501', '42703', '428C9', 'P0001'].includes(code)
  );
}

/** The server's own words, with its detail when it has one (`Key (email)=(a@x.io) already exists.`). */
export function rowErrorMessage(error: unknown): string {
  const detail = (error as { detail?: unknown } | null)?.detail;
  const message = messageOf(error);
  return typeof detail === 'string' && detail !== '' ? `${message}: ${detail}` : message;
}

const NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

/** Connection-class SQLSTATEs: the server went away or would not take the session. */
function isUnreachable(error: unknown): boolean {
  const code = codeOf(error);
  if (NETWORK.has(code) || code.startsWith('08') || ['57P01', '57P02', '57P03', '53300'].includes(code))
    return true;
  return code === '' && /timeout|terminated|Connection ended|closed/i.test(messageOf(error));
}

/**
 * A driver error as a UsersyncError saying what failed, where, and what to try. It names
 * the server, the database and the user, never the password (none of pg's messages hold it).
 * A server error not known here is `otherwise`: `source.invalid` when reading,
 * `source.write_rejected` when writing (a deadlock, a serialization failure …).
 */
export function pgFailure(
  error: unknown,
  action: string,
  place: PgPlace,
  otherwise: 'source.invalid' | 'source.write_rejected' = 'source.invalid',
): UsersyncError {
  if (error instanceof UsersyncError) return error;
  const { target, where } = place;
  const code = codeOf(error);
  const message = messageOf(error);
  const fail = (kind: ErrorCode, text: string) => new UsersyncError(kind, text, { cause: error });
  if (isUnreachable(error))
    return fail(
      'source.unreachable',
      `${action} failed: cannot reach PostgreSQL at ${target.server} (${message}). ` +
        'Check that the server is running and that the host and port in `source:` are right.',
    );
  if (code === '28P01' || code === '28000' || /password must be a string/i.test(message))
    return fail(
      'source.unreachable',
      `${action} failed: PostgreSQL at ${target.server} refused the login of user "${target.user}" ` +
        `(${message}). Check the user and password in \`source:\`.`,
    );
  if (code === '3D000')
    return fail(
      'source.unreachable',
      `${action} failed: database "${target.database}" does not exist on PostgreSQL at ${target.server}. ` +
        'Check the database name in `source:`.',
    );
  if (code === '42P01' || code === '42703')
    return fail(
      'source.invalid',
      `${action} failed on ${where}: ${message}. Check \`table:\` and the mapped columns of the connection.`,
    );
  if (code === '42501')
    return fail(
      'source.invalid',
      `${action} failed on ${where}: ${message}. Grant user "${target.user}" the rights it needs ` +
        '(SELECT to read; INSERT, UPDATE and DELETE to write), or connect as a user who has them.',
    );
  if (code === '25006')
    return fail(
      'source.read_only',
      `${action} failed on ${where}: ${message}. The session refuses writes: usersync opens import-only ` +
        'connections read-only, and a standby or a read-only database or user refuses them too.',
    );
  if (code !== '') return fail(otherwise, `${action} failed on ${where}: ${message} (SQLSTATE ${code}).`);
  return fail('source.unreachable', `${action} failed on ${where}: ${message}.`);
}
