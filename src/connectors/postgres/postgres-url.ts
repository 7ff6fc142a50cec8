import { UsersyncError } from '../../core/errors.js';

/** A `source: postgres://…` value, and what messages may say about it (never the password). */
export interface PostgresTarget {
  /** Handed to pg as is: pg decodes the user, password and options itself. */
  readonly connectionString: string;
  /** `host:port`, e.g. `db.internal:5432`. */
  readonly server: string;
  readonly database: string;
  readonly user: string;
}

const EXAMPLE = 'postgres://USER:PASSWORD@HOST:5432/DATABASE';

/** Checks the shape of the URL; connecting waits for the first use. */
export function parsePostgresUrl(source: string): PostgresTarget {
  let url: URL;
  try {
    url = new URL(source);
  } catch {
    // Not echoing the source, nor keeping the URL error as a cause: both carry the password.
    throw new UsersyncError(
      'config.invalid',
      `The source is not a valid PostgreSQL URL. Write it as ${EXAMPLE} ` +
        '(percent-encode characters such as @, : and / in the password, or take it from ${ENV}).',
    );
  }
  const database = decode(url.pathname.replace(/^\//, ''));
  if (database === '') {
    throw new UsersyncError(
      'config.invalid',
      `The PostgreSQL source on ${serverOf(url)} names no database. Write it as ${EXAMPLE}.`,
    );
  }
  const user = decode(url.username) || process.env.PGUSER || 'the default user';
  return { connectionString: source, server: serverOf(url), database, user };
}

function serverOf(url: URL): string {
  // pg takes the host from `?host=` too (a Unix socket folder), and falls back to PGHOST/PGPORT.
  const host = url.searchParams.get('host') || decode(url.hostname) || process.env.PGHOST || 'localhost';
  const port = url.port || url.searchParams.get('port') || process.env.PGPORT || '5432';
  return `${host}:${port}`;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
