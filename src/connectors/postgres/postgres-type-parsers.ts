import pg, { type CustomTypesConfig } from 'pg';

/**
 * Type OIDs (pg_type.oid, fixed for built-in types) whose text from the server the
 * connector keeps as is:
 * - `timestamp` and `date`: they carry no zone, and the core reads zone-less text as UTC;
 *   pg's default would build a Date in the process's local zone.
 * - `int8` and `numeric`: exact, where a JavaScript number may round.
 * - `json` and `jsonb`: the text the server holds, so a value read compares equal when
 *   it is written back as the expected value of a conditional update.
 */
const RAW_TEXT = new Set<number>([
  1114, // timestamp
  1082, // date
  20, // int8
  1700, // numeric
  114, // json
  3802, // jsonb
]);

const TIMESTAMPTZ = 1184;

const keepText = (value: string): string => value;

/**
 * Parsers for this connector's pool only. pg's global `pg.types` is shared by every pool
 * in the process (the PostgreSQL directory's among them), so it is read, never changed.
 * `timestamptz` is read as pg reads it by default, a Date (exact, since it names its zone),
 * only faster (see parseTimestamptz).
 */
export const typeParsers: CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (format === 'binary') return pg.types.getTypeParser(oid, format);
    if (oid === TIMESTAMPTZ) return parseTimestamptz;
    return RAW_TEXT.has(oid) ? keepText : pg.types.getTypeParser(oid, format);
  }) as CustomTypesConfig['getTypeParser'],
};

const pgParseTimestamptz = pg.types.getTypeParser(TIMESTAMPTZ, 'text') as (text: string) => unknown;

/**
 * The server's text of a `timestamptz` as the Date pg's default parser (postgres-date)
 * makes of it, the common shape read field by field: `YYYY-MM-DD HH:MM:SS[.ffffff]±HH[:MM[:SS]]`
 * with a year from 100 to 9999. The default's regular expressions took 0.45 s of a
 * 300k-row first sync (three timestamps a row). Other shapes (BC, infinity, five-digit or
 * two-digit years) go to the default.
 */
export function parseTimestamptz(text: string): unknown {
  const n = text.length;
  if (
    n < 22 ||
    text.charCodeAt(4) !== DASH ||
    text.charCodeAt(7) !== DASH ||
    text.charCodeAt(10) !== SPACE ||
    text.charCodeAt(13) !== COLON ||
    text.charCodeAt(16) !== COLON
  )
    return pgParseTimestamptz(text);
  let i = 19;
  let fraction = 0;
  if (text.charCodeAt(i) === DOT) {
    const from = i;
    i += 1;
    while (i < n && isDigit(text.charCodeAt(i))) i += 1;
    // As postgres-date: the fraction of a second in milliseconds, which Date.UTC truncates.
    fraction = i > from + 1 ? 1000 * Number(text.slice(from, i)) : NaN;
  }
  const sign = text.charCodeAt(i) === PLUS ? 1 : text.charCodeAt(i) === DASH ? -1 : 0;
  let offset = number(text, i + 1, i + 3) * 3600;
  i += 3;
  if (text.charCodeAt(i) === COLON) {
    offset += number(text, i + 1, i + 3) * 60;
    i += 3;
    if (text.charCodeAt(i) === COLON) {
      offset += number(text, i + 1, i + 3);
      i += 3;
    }
  }
  const year = number(text, 0, 4);
  const time = Date.UTC(
    year,
    number(text, 5, 7) - 1,
    number(text, 8, 10),
    number(text, 11, 13),
    number(text, 14, 16),
    number(text, 17, 19),
    fraction,
  );
  // NaN from any field that is not digits, a missing sign, or text left over: the default decides.
  if (sign === 0 || i !== n || year < 100 || Number.isNaN(time + offset)) return pgParseTimestamptz(text);
  return new Date(time - sign * offset * 1000);
}

const DASH = 45;
const SPACE = 32;
const COLON = 58;
const DOT = 46;
const PLUS = 43;

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

/** The decimal number in text[from, to), or NaN when any of it is not a digit. */
function number(text: string, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i++) {
    const code = text.charCodeAt(i);
    if (!isDigit(code)) return NaN;
    value = value * 10 + (code - 48);
  }
  return value;
}
