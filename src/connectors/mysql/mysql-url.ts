import { UsersyncError } from '../../core/errors.js';

/** Where a `mysql://` (or `mariadb://`) source points, with the password kept out of `shown`. */
export interface MysqlTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string | undefined;
  readonly password: string | undefined;
  /** The database after the slash; undefined when the URL names none (then `table:` must). */
  readonly database: string | undefined;
  /** `mysql://crm@db.example.com:3306/crm`: safe to print, it never holds the password. */
  readonly shown: string;
  /** `db.example.com:3306`, for "cannot reach MySQL at …". */
  readonly address: string;
}

const DEFAULT_PORT = 3306;
const EXAMPLE = 'mysql://USER:PASSWORD@HOST:3306/DATABASE';

/**
 * Parses `mysql://user:pass@host:port/db` (`mariadb://` too). Every message here is
 * written without the source text: it may carry a password.
 */
export function parseMysqlUrl(source: string): MysqlTarget {
  const scheme = /^([a-z]+):/i.exec(source)?.[1]?.toLowerCase() ?? 'mysql';
  let url: URL;
  try {
    url = new URL(source);
  } catch {
    // Not kept as `cause`: Node's URL error carries the input, password and all.
    throw invalid('is not a valid URL');
  }
  if (!source.slice(scheme.length + 1).startsWith('//') || url.hostname === '') {
    throw invalid('names no host');
  }
  const params = [...url.searchParams.keys()];
  if (params.length > 0) {
    throw invalid(`has options this connector does not support (${params.join(', ')}); remove them`);
  }
  const port = url.port === '' ? DEFAULT_PORT : Number(url.port);
  const path = url.pathname.replace(/^\//, '');
  if (path.includes('/')) throw invalid('has more than one path segment; only the database name goes there');
  const user = decode(url.username, 'user name');
  const database = decode(path, 'database name');
  // URL keeps IPv6 hosts in brackets; the driver wants them bare.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const address = `${url.hostname}:${port}`;
  const userPart = user === undefined ? '' : `${encodeURIComponent(user)}@`;
  return {
    host,
    port,
    user,
    password: decode(url.password, 'password'),
    database,
    shown: `${scheme}://${userPart}${address}/${database === undefined ? '' : encodeURIComponent(database)}`,
    address,
  };
}

function decode(part: string, what: string): string | undefined {
  if (part === '') return undefined;
  try {
    return decodeURIComponent(part);
  } catch {
    throw invalid(`has a badly percent-encoded ${what}`);
  }
}

function invalid(problem: string): UsersyncError {
  return new UsersyncError(
    'config.invalid',
    `The MySQL source ${problem}. Write it as ${EXAMPLE} ` +
      '(percent-encode special characters in the user name and password, e.g. @ as %40).',
  );
}
