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

const keepText = (value: string): string => value;

/**
 * Parsers for this connector's pool only. pg's global `pg.types` is shared by every pool
 * in the process (the PostgreSQL directory's among them), so it is read, never changed.
 * `timestamptz` keeps pg's default: a Date, which is exact since it names its zone.
 */
export const typeParsers: CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    RAW_TEXT.has(oid) && format !== 'binary'
      ? keepText
      : pg.types.getTypeParser(oid, format)) as CustomTypesConfig['getTypeParser'],
};
