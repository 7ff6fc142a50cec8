/**
 * Rules: which source rows are users (a connection's `filter`) and which users belong to
 * a group (a group's `rule`). The syntax is SCIM 2.0's filter grammar (RFC 7644 §3.4.2.2),
 * parsed by scim2-parse-filter. Evaluation reuses the library's tree walk (`and`, `or`,
 * `not`, attribute lookup) with our own comparisons, because the library's compare with
 * `===` and JS `<`, which is wrong for source data:
 *
 * - Attribute names are case-insensitive, and `a.b` reads `b` inside `a` (so a group rule
 *   says `custom.plan`). Connection filters name source columns, which are flat.
 * - Text compares trimmed and case-insensitively, as SCIM does by default (caseExact is
 *   false): `"Approved"` eq `"approved"`. `gt`/`lt` on text are lexicographic, which
 *   orders ISO-8601 dates correctly.
 * - The literal's type says how to read the value, because a CSV hands over text ("42",
 *   "true") where SQLite hands over numbers (42, 1): a number literal reads the value as
 *   a number, a boolean literal reads true/false/1/0, a text literal reads numbers,
 *   booleans and dates as text. A value that cannot be read that way does not match.
 * - null, a missing attribute and "" (an empty CSV cell) are "no value", as everywhere in
 *   usersync: `pr` is false, `eq null` is true, `ne` is true, every other operator false.
 */
import { parse, Tester, type Filter } from 'scim2-parse-filter';
import { UsersyncError } from './errors.js';

export interface Rule {
  /** As written in the config, for messages. */
  readonly text: string;
  /** Whether a record (raw source row values, or a user's fields) satisfies the rule. */
  matches(record: Readonly<Record<string, unknown>>): boolean;
}

type Literal = string | number | boolean | null;
type Readable = string | number | boolean;

const SYNTAX_HINT =
  'Rules use SCIM filter syntax, e.g. status eq "approved" and not (role eq "guest"): ' +
  'text in double quotes; operators eq, ne, co, sw, ew, gt, ge, lt, le, pr; and, or, not, parentheses.';

/** Rules keep their parsed form out of sight, so `Rule` stays a plain two-member type. */
const parsedRules = new WeakMap<Rule, Filter>();

export function compileRule(text: string): Rule {
  const ast = parseRule(text);
  const tester = new RuleTester();
  // An arrow function, so `rule.matches` can be handed around detached (e.g. as the planner's filter).
  const rule: Rule = Object.freeze({
    text,
    matches: (record: Readonly<Record<string, unknown>>) => tester.test(record, ast),
  });
  parsedRules.set(rule, ast);
  return rule;
}

function parseRule(text: string): Filter {
  if (text.trim() === '') throw invalidRule(text, 'the rule is empty');
  let ast: Filter;
  try {
    ast = parse(text);
  } catch (error) {
    throw invalidRule(text, error instanceof Error ? error.message : String(error), error);
  }
  if (usesValuePath(ast)) {
    throw invalidRule(
      text,
      'value filters like emails[type eq "work"] are not supported (rules compare single values)',
    );
  }
  return ast;
}

function invalidRule(text: string, reason: string, cause?: unknown): UsersyncError {
  return new UsersyncError(
    'config.invalid',
    `cannot read the rule ${JSON.stringify(text)}: ${reason}. ${SYNTAX_HINT}`,
    {
      cause,
    },
  );
}

function usesValuePath(filter: Filter): boolean {
  if (filter.op === '[]') return true;
  if (filter.op === 'and' || filter.op === 'or') return filter.filters.some(usesValuePath);
  if (filter.op === 'not') return usesValuePath(filter.filter);
  return false;
}

/**
 * The column values a new row needs to match the rule, when the rule is a plain `eq`, an
 * `and` of them (`status eq "approved" and region eq "eu"` → `{status: "approved", region: "eu"}`)
 * or an `or` with such a branch (the first), so a row usersync creates in the source counts
 * as a user. Null for any other rule.
 * `col eq null` adds nothing: a new row leaves an unmapped column empty, which matches it.
 */
export function equalityDefaults(rule: Rule): Record<string, string | number | boolean> | null {
  const ast = parsedRules.get(rule);
  if (ast === undefined) return null;
  const defaults = new Map<string, Readable>();
  return collectEqualities(ast, defaults) ? Object.fromEntries(defaults) : null;
}

function collectEqualities(filter: Filter, into: Map<string, Readable>): boolean {
  if (filter.op === 'and') return filter.filters.every((f) => collectEqualities(f, into));
  if (filter.op === 'or') {
    // Any branch will do: the first one made only of equalities.
    for (const branch of filter.filters) {
      const tried = new Map(into);
      if (!collectEqualities(branch, tried)) continue;
      for (const [k, v] of tried) into.set(k, v);
      return true;
    }
    return false;
  }
  // A dotted path reads a nested value, which no source column is.
  if (filter.op !== 'eq' || /[.:]/.test(filter.attrPath)) return false;
  const value = filter.compValue;
  if (value === null) return true;
  const earlier = into.get(filter.attrPath);
  if (earlier !== undefined && earlier !== value) return false; // `a eq 1 and a eq 2` cannot be met
  into.set(filter.attrPath, value);
  return true;
}

/** The attribute names a rule reads (e.g. the source columns a filter needs fetched). */
export function ruleAttributes(rule: Rule): string[] {
  const ast = parsedRules.get(rule);
  const names = new Set<string>();
  if (ast !== undefined) collectAttributes(ast, names);
  return [...names];
}

function collectAttributes(filter: Filter, into: Set<string>): void {
  switch (filter.op) {
    case 'and':
    case 'or':
      for (const f of filter.filters) collectAttributes(f, into);
      return;
    case 'not':
      collectAttributes(filter.filter, into);
      return;
    default:
      into.add(filter.attrPath);
  }
}

/** The library's tree walk with the comparisons described at the top of this file. */
class RuleTester extends Tester {
  override attrTest(path: string[], record: unknown, op: (value: unknown) => boolean): boolean {
    const [head, ...rest] = path;
    if (head === undefined) return op(record);
    if (Array.isArray(record)) return record.some((item) => this.attrTest(path, item, op));
    // The library answers false for a missing attribute whatever the operator; we let
    // the operator see "no value", so `ne` is true and `not (x eq 1)` agrees with it.
    if (typeof record !== 'object' || record === null) return op(undefined);
    const wanted = head.toLowerCase();
    const key = Object.keys(record).find((k) => k.toLowerCase() === wanted);
    return this.attrTest(rest, key === undefined ? undefined : (record as Record<string, unknown>)[key], op);
  }

  override pr(value: unknown): boolean {
    return !isAbsent(value);
  }
  override eq(value: unknown, literal: Literal): boolean {
    return literal === null ? isAbsent(value) : compare(value, literal) === 0;
  }
  override ne(value: unknown, literal: Literal): boolean {
    return !this.eq(value, literal);
  }
  override gt(value: unknown, literal: Literal): boolean {
    return compare(value, literal) === 1;
  }
  override ge(value: unknown, literal: Literal): boolean {
    const order = compare(value, literal);
    return order === 1 || order === 0;
  }
  override lt(value: unknown, literal: Literal): boolean {
    return compare(value, literal) === -1;
  }
  override le(value: unknown, literal: Literal): boolean {
    const order = compare(value, literal);
    return order === -1 || order === 0;
  }
  override co(value: unknown, literal: Literal): boolean {
    return textTest(value, literal, (text, part) => text.includes(part));
  }
  override sw(value: unknown, literal: Literal): boolean {
    return textTest(value, literal, (text, part) => text.startsWith(part));
  }
  override ew(value: unknown, literal: Literal): boolean {
    return textTest(value, literal, (text, part) => text.endsWith(part));
  }
}

function isAbsent(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

/** -1, 0 or 1 for value vs literal; undefined when they cannot be compared (no match). */
function compare(value: unknown, literal: Literal): number | undefined {
  if (literal === null || isAbsent(value)) return undefined;
  const read = readAs(value, literal);
  if (read === undefined) return undefined;
  const target = typeof literal === 'string' ? literal.trim().toLowerCase() : literal;
  if (read < target) return -1;
  return read > target ? 1 : 0;
}

function readAs(value: unknown, literal: Readable): Readable | undefined {
  if (typeof literal === 'number') return readNumber(value);
  if (typeof literal === 'boolean') return readBoolean(value);
  return readText(value)?.toLowerCase();
}

function readNumber(value: unknown): number | undefined {
  if (typeof value === 'bigint') return Number(value);
  const number =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && value.trim() !== ''
        ? Number(value)
        : NaN;
  return Number.isNaN(number) ? undefined : number;
}

/** SQLite and MySQL store booleans as 1/0; CSVs write true/false. */
function readBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  const text = readText(value)?.toLowerCase();
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  return undefined;
}

function readText(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
    return String(value);
  if (value instanceof Date && !Number.isNaN(value.getTime())) return value.toISOString();
  return undefined;
}

function textTest(value: unknown, literal: Literal, test: (text: string, part: string) => boolean): boolean {
  if (literal === null || isAbsent(value)) return false;
  const text = readText(value);
  return text !== undefined && test(text.toLowerCase(), String(literal).trim().toLowerCase());
}
