/**
 * Reading a `postgres://user:password@host:port/database?schema=NAME&prepare=false`
 * directory URL. `schema` and `prepare` are ours (the driver would ignore them), so they
 * are taken out before the URL reaches the driver; the rest (sslmode, application_name …)
 * is the driver's.
 */
import { UsersyncError } from '../../core/errors.js';

export interface PostgresDirectoryTarget {
  /** The URL for the driver, without our `schema` parameter. */
  readonly connectionString: string;
  /** The schema that holds the directory's tables. */
  readonly schema: string;
  /**
   * Name the statements sent often so that each connection parses them once (see
   * prepared-statements.ts); `prepare=false` for a pooler that cannot keep named
   * statements (PgBouncer in transaction mode before 1.21, or with max_prepared_statements = 0).
   */
  readonly prepare: boolean;
  /** user@host:port/database: where the directory is, for messages (never the password). */
  readonly where: string;
  readonly user: string;
  readonly database: string;
  /** Scrubbed from driver messages before they are shown, should one ever echo it. */
  readonly password: string;
}

export const DEFAULT_SCHEMA = 'public';
/** PostgreSQL cuts longer identifiers silently, which would put the directory elsewhere. */
const MAX_IDENTIFIER_BYTES = 63;
const EXAMPLE = 'postgres://USER@HOST:5432/DATABASE?schema=usersync';

export function parsePostgresDirectoryUrl(url: string): PostgresDirectoryTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    // Not repeated: a URL may hold a password.
    throw new UsersyncError('config.invalid', `The directory URL is not a valid URL. Use ${EXAMPLE}.`, {
      cause: error,
    });
  }
  const schema = parsed.searchParams.get('schema') ?? DEFAULT_SCHEMA;
  checkSchemaName(schema);
  const prepare = prepareParameter(parsed.searchParams.get('prepare'));
  parsed.searchParams.delete('schema');
  parsed.searchParams.delete('prepare');
  const user = decode(parsed.username) || 'the default user';
  const database = decode(parsed.pathname.replace(/^\//, '')) || user;
  const host = decode(parsed.hostname) || 'localhost';
  return {
    connectionString: parsed.toString(),
    schema,
    prepare,
    where: `${user}@${host}:${parsed.port || '5432'}/${database}`,
    user,
    database,
    password: decode(parsed.password),
  };
}

function checkSchemaName(schema: string): void {
  if (schema.trim() === '') {
    throw new UsersyncError(
      'config.invalid',
      `The directory URL has an empty schema parameter. Name a schema (${EXAMPLE}) or leave the parameter out for "public".`,
    );
  }
  if (Buffer.byteLength(schema) > MAX_IDENTIFIER_BYTES) {
    throw new UsersyncError(
      'config.invalid',
      `The directory URL's schema "${schema}" is longer than PostgreSQL's ${MAX_IDENTIFIER_BYTES}-byte limit. Choose a shorter name.`,
    );
  }
}

function prepareParameter(value: string | null): boolean {
  if (value === null || value === 'true') return true;
  if (value === 'false') return false;
  throw new UsersyncError(
    'config.invalid',
    `The directory URL's prepare parameter is "${value}". Use prepare=false to send every statement unnamed (behind a pooler that cannot keep prepared statements), or leave it out.`,
  );
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
