/**
 * Turning the driver's errors into the directory's: which ones are lost races, and what
 * to do when the directory cannot be opened. SQLSTATE codes: PostgreSQL appendix A.
 */
import { UsersyncError } from '../../core/errors.js';
import type { PostgresDirectoryTarget } from './postgres-url.js';

interface DriverError {
  code?: unknown;
  constraint?: unknown;
  message?: unknown;
}

const UNIQUE_VIOLATION = '23505';
/**
 * Primary keys as the migrations name them: PostgreSQL's default `<table>_pkey`, and
 * `links_pk`. A violation of one is a reused id (a bug), not a race to report as a conflict.
 */
const PRIMARY_KEY = /(_pkey|_pk)$/;

export function isUniqueViolation(error: unknown): boolean {
  const { code, constraint } = (error ?? {}) as DriverError;
  if (code !== UNIQUE_VIOLATION) return false;
  return !(typeof constraint === 'string' && PRIMARY_KEY.test(constraint));
}

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** What went wrong opening the directory, and what to change. */
export function openError(error: unknown, target: PostgresDirectoryTarget): UsersyncError {
  const { code } = (error ?? {}) as DriverError;
  const reason = driverMessage(error, target);
  const at = `the PostgreSQL directory ${target.where}`;
  // Down or unreachable is a failure to retry; the rest are settings to fix.
  if (typeof code === 'string' && UNREACHABLE.has(code)) {
    const message = `Cannot reach ${at} (${reason}). Check that the server is running and that the host and port in \`directory\` are right.`;
    return new UsersyncError('directory.unreachable', message, { cause: error });
  }
  if (/timeout/i.test(reason)) {
    const message = `Connecting to ${at} timed out. Check that the server is running and reachable from this machine.`;
    return new UsersyncError('directory.unreachable', message, { cause: error });
  }
  let message: string;
  if (code === '3D000') {
    message = `The database "${target.database}" does not exist (${target.where}). Create it (createdb ${target.database}) or fix the database name in \`directory\`.`;
  } else if (code === '28P01' || code === '28000') {
    message = `PostgreSQL refused to log in user "${target.user}" (${reason}). Check the user and password in \`directory\`; keep the password out of the file with \${NAME}.`;
  } else if (code === '42501') {
    message = `User "${target.user}" may not create the schema "${target.schema}" (${target.where}). Create the schema, or grant CREATE on the database to that user.`;
  } else {
    message = `Cannot open ${at}: ${reason}.`;
  }
  return new UsersyncError('directory.invalid', message, { cause: error });
}

/** The driver's message, without the password should a server or driver ever echo it. */
function driverMessage(error: unknown, target: PostgresDirectoryTarget): string {
  const { message, code } = (error ?? {}) as DriverError;
  // Node's AggregateError (every address of `localhost` refused) has no message, only a code.
  let text = String(error);
  if (typeof message === 'string' && message !== '') text = message;
  else if (typeof code === 'string') text = code;
  return target.password === '' ? text : text.split(target.password).join('***');
}
