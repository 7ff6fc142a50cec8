/**
 * The config file (SPEC appendix A): found, read, `${NAME}`s substituted, validated with
 * zod, and turned into typed connection and group settings. Every problem in a file is
 * reported at once, each with its key path and what to do, so fixing a config is one
 * round trip rather than one per mistake.
 *
 * Relative paths inside values (`sqlite:./crm.db`, `csv:./members.csv`) are kept as
 * written; whoever opens them resolves them against `baseDir`, the file's folder.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { UsersyncError } from './core/errors.js';
import {
  CUSTOM_OWNERS,
  STANDARD_FIELDS,
  type MappedField,
  type Owner,
  type StandardField,
} from './core/fields.js';
import type { ConflictPolicy, SyncMode } from './core/plan.js';
import { compileRule, type Rule } from './core/rule.js';

export interface ConnectionConfig {
  readonly name: string;
  readonly source: string;
  readonly table?: string;
  /** The key column; undefined: the connector's default (the table's primary key; CSV: the email column). */
  readonly key?: string;
  readonly mode: SyncMode;
  readonly conflict: ConflictPolicy;
  readonly emailColumn: string;
  /** Every mapped field but email, owners resolved; custom fields as `custom.<key>`. */
  readonly fields: readonly MappedField[];
  readonly filter: Rule | null;
  readonly createInSource: boolean;
  readonly acceptEmailChanges: boolean;
  readonly cursor?: string;
  readonly schedule?: string;
  readonly maxChange: number;
  /** Where it sits in the file, e.g. `connections[2]`, for messages. */
  readonly configPath: string;
}

export interface GroupConfig {
  readonly name: string;
  readonly rule: Rule;
}

export interface LoadedConfig {
  /** Absolute path of the file read. */
  readonly file: string;
  /** The file's folder: relative paths in values are relative to it. */
  readonly baseDir: string;
  readonly directory: string;
  readonly connections: readonly ConnectionConfig[];
  readonly groups: readonly GroupConfig[];
}

export interface LoadOptions {
  /** An explicit file (`--config`); wins over $USERSYNC_CONFIG and the defaults. */
  readonly path?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

export interface ParseOptions {
  /** Named in messages; its extension picks JSON or YAML. */
  readonly file?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly baseDir?: string;
}

export const DEFAULT_DIRECTORY = 'sqlite:./usersync.db';
const DEFAULT_FILES = ['usersync.yaml', 'usersync.yml', 'usersync.json'] as const;

// ---------------------------------------------------------------------------------------
// Finding and reading the file

export function locateConfig(options: LoadOptions = {}): string {
  const { paths } = candidates(options);
  return paths.find((path) => existsSync(path)) ?? paths[0];
}

export async function loadConfig(options: LoadOptions = {}): Promise<LoadedConfig> {
  const file = locateConfig(options);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(options);
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsersyncError(
      'config.invalid',
      `Cannot read the config file ${file}: ${reason}. Check that it is a readable file.`,
      {
        cause: error,
      },
    );
  }
  return parseConfig(text, { file, env: options.env ?? process.env, baseDir: dirname(file) });
}

/** The files to try, in order: an explicit path, else $USERSYNC_CONFIG, else the defaults in cwd. */
function candidates(options: LoadOptions): { paths: [string, ...string[]]; from?: string } {
  const cwd = options.cwd ?? process.cwd();
  const fromEnv = (options.env ?? process.env).USERSYNC_CONFIG;
  if (options.path) return { paths: [resolve(cwd, options.path)] };
  if (fromEnv) return { paths: [resolve(cwd, fromEnv)], from: '$USERSYNC_CONFIG' };
  const [first, ...rest] = DEFAULT_FILES;
  return { paths: [resolve(cwd, first), ...rest.map((name) => resolve(cwd, name))] };
}

function notFound(options: LoadOptions): UsersyncError {
  const { paths, from } = candidates(options);
  const looked =
    paths.length === 1
      ? `${paths[0]}${from ? ` (from ${from})` : ''} does not exist`
      : `looked for ${paths.join(', ')}`;
  return new UsersyncError(
    'config.not_found',
    `No config file: ${looked}. Run \`usersync init\` to create one, or point --config or USERSYNC_CONFIG at yours.`,
  );
}

// ---------------------------------------------------------------------------------------
// Parsing, substitution, validation

type Path = readonly PropertyKey[];
interface Problem {
  readonly path: Path;
  readonly message: string;
}

export function parseConfig(text: string, options: ParseOptions = {}): LoadedConfig {
  const file = options.file === undefined ? '(inline config)' : resolve(options.file);
  const raw = parseText(text.replace(/^\uFEFF/, ''), file);
  const envProblems: Problem[] = [];
  const substituted = substituteEnv(raw ?? {}, options.env ?? process.env, [], envProblems);
  const problems: Problem[] = [];
  const validated = validate(substituted, problems);
  // A value with an unset variable is reported once, for the variable, not again for its shape.
  const unset = new Set(envProblems.map((p) => formatPath(p.path)));
  const all = [...envProblems, ...problems.filter((p) => !unset.has(formatPath(p.path)))];
  if (all.length > 0) throw invalidConfig(file, all);
  const baseDir = options.baseDir ?? (options.file === undefined ? process.cwd() : dirname(file));
  return { file, baseDir, ...validated };
}

function parseText(text: string, file: string): unknown {
  const extension = extname(file).toLowerCase();
  const json =
    extension === '.json' ||
    (extension !== '.yaml' && extension !== '.yml' && text.trimStart().startsWith('{'));
  try {
    if (json) return JSON.parse(text);
    const document = parseDocument(text);
    if (document.errors.length > 0) throw new Error(document.errors.map((e) => e.message).join('\n'));
    return document.toJS();
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).replaceAll('\n', '\n    ');
    throw new UsersyncError(
      'config.invalid',
      `The config file ${file} is not valid ${json ? 'JSON' : 'YAML'}:\n    ${reason}\nFix the syntax there and run the command again.`,
      { cause: error },
    );
  }
}

// `${NAME}` is replaced; `$${NAME}` stands for a literal `${NAME}`. A lone `$` (as in a
// password) is left alone, which is why `$$` is not a general escape.
const ENV_REFERENCE = /\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Replaces references in string values only, after parsing, so a value can never change the file's structure. */
function substituteEnv(value: unknown, env: NodeJS.ProcessEnv, path: Path, problems: Problem[]): unknown {
  if (Array.isArray(value)) return value.map((item, i) => substituteEnv(item, env, [...path, i], problems));
  if (isPlainObject(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, substituteEnv(v, env, [...path, k], problems)]),
    );
  }
  if (typeof value !== 'string') return value;
  return value.replace(ENV_REFERENCE, (reference, escaped: string, name: string) => {
    if (escaped) return reference.slice(1);
    const replacement = env[name];
    if (replacement !== undefined) return replacement;
    problems.push({
      path,
      message: `uses \${${name}}, but the environment variable ${name} is not set. Set it, or write $\${${name}} for a literal \${${name}}.`,
    });
    return reference;
  });
}

function validate(raw: unknown, problems: Problem[]): Omit<LoadedConfig, 'file' | 'baseDir'> {
  const root = rootSchema.safeParse(raw);
  if (!root.success) problems.push(...toProblems(root.error, []));
  // Elements are checked one by one, so each one's problems are listed even when another has some.
  const record = isPlainObject(raw) ? raw : {};
  const connectionItems = Array.isArray(record.connections) ? (record.connections as unknown[]) : [];
  const groupItems = Array.isArray(record.groups) ? (record.groups as unknown[]) : [];
  checkUniqueNames(connectionItems, 'connections', 'connection', problems);
  checkUniqueNames(groupItems, 'groups', 'group', problems);
  const connections = connectionItems.flatMap((item, i) => checkConnection(item, i, problems));
  const groups = groupItems.flatMap((item, i) => parseElement(groupSchema, item, ['groups', i], problems));
  return { directory: root.success ? root.data.directory : DEFAULT_DIRECTORY, connections, groups };
}

function parseElement<T>(schema: z.ZodType<T>, item: unknown, path: Path, problems: Problem[]): T[] {
  const result = schema.safeParse(item);
  if (result.success) return [result.data];
  problems.push(...toProblems(result.error, path));
  return [];
}

function checkConnection(item: unknown, index: number, problems: Problem[]): ConnectionConfig[] {
  const path = ['connections', index];
  const [parsed] = parseElement(connectionSchema, item, path, problems);
  if (parsed === undefined) return [];
  const before = problems.length;
  checkTable(parsed, path, problems);
  const connection = toConnection(parsed, index);
  checkColumnsUnique(connection, path, problems);
  return problems.length === before ? [connection] : [];
}

/** Names are compared ignoring case: `crm` and `CRM` would be told apart by nobody. */
function checkUniqueNames(items: unknown[], list: string, noun: string, problems: Problem[]): void {
  const seen = new Map<string, number>();
  items.forEach((item, index) => {
    if (!isPlainObject(item) || typeof item.name !== 'string') return;
    const first = seen.get(item.name.toLowerCase());
    if (first === undefined) return void seen.set(item.name.toLowerCase(), index);
    problems.push({
      path: [list, index, 'name'],
      message: `"${item.name}" is already the name of ${list}[${first}]; give each ${noun} its own name.`,
    });
  });
}

const SQL_KINDS = new Set(['sqlite', 'postgres', 'postgresql', 'mysql', 'mariadb']);

function checkTable(parsed: ParsedConnection, path: Path, problems: Problem[]): void {
  const kind = parsed.source.slice(0, parsed.source.indexOf(':')).toLowerCase();
  if (SQL_KINDS.has(kind) && parsed.table === undefined) {
    problems.push({
      path: [...path, 'table'],
      message: `is missing: a ${kind} source needs the table that holds the users, e.g. table: members.`,
    });
  }
  if (kind === 'csv' && parsed.table !== undefined) {
    problems.push({
      path: [...path, 'table'],
      message: 'must not be set for a csv: source (the file is the table); remove it.',
    });
  }
}

/** Two fields on one column would overwrite each other on every sync. */
function checkColumnsUnique(connection: ConnectionConfig, path: Path, problems: Problem[]): void {
  const owners = new Map<string, Path>([[connection.emailColumn, [...path, 'fields', 'email']]]);
  for (const field of connection.fields) {
    const key = field.id.startsWith('custom.')
      ? ['custom', field.id.slice('custom.'.length)]
      : ['fields', field.id];
    const fieldPath = [...path, ...key];
    const other = owners.get(field.column);
    if (other === undefined) owners.set(field.column, fieldPath);
    else
      problems.push({
        path: fieldPath,
        message: `column "${field.column}" is already mapped by ${formatPath(other)}; map each field to its own column.`,
      });
  }
}

function toConnection(parsed: ParsedConnection, index: number): ConnectionConfig {
  const { fields, custom, filter, ...rest } = parsed;
  const standard = (Object.keys(STANDARD_FIELDS) as StandardField[]).flatMap((id): MappedField[] => {
    const ref = fields[id];
    const spec = STANDARD_FIELDS[id];
    return ref ? [{ id, column: ref.column, owner: ref.owner ?? spec.defaultOwner, kind: spec.kind }] : [];
  });
  // SPEC §1: custom fields are owned by the source unless the config says otherwise.
  const customFields = Object.entries(custom).map(([key, ref]): MappedField => ({
    id: `custom.${key}`,
    column: ref.column,
    owner: ref.owner ?? 'source',
    kind: 'custom',
  }));
  return {
    ...rest,
    emailColumn: fields.email,
    fields: [...standard, ...customFields],
    filter: filter ?? null,
    configPath: `connections[${index}]`,
  };
}

// ---------------------------------------------------------------------------------------
// Schemas. Every message says what is expected; `toProblems` adds the key path.

type RawIssue = z.core.$ZodRawIssue;

function expected(what: string): (issue: RawIssue) => string {
  return (issue) =>
    issue.input === undefined
      ? `is missing: add it (${what}).`
      : `must be ${what}, not ${describe(issue.input)}.`;
}

function text(what: string, pattern = /\S/): z.ZodString {
  return z.string({ error: expected(what) }).regex(pattern, { error: expected(what) });
}

/**
 * An object whose unknown keys are errors. For `unrecognized_keys`, the message holds one
 * line per unknown key, in `keys` order; `toProblems` pairs them up to give each its path.
 */
function strict<S extends z.core.$ZodLooseShape>(shape: S, what: string) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => unknownKey(key, known)).join('\n')
        : expected(what)(issue),
  });
}

function unknownKey(key: string, known: readonly string[]): string {
  const guess = closest(key, known);
  return `unknown key${guess ? ` (did you mean "${guess}"?)` : ''}; valid keys here: ${known.join(', ')}.`;
}

const column = text('a column name');

function fieldRef(field: string, owners: readonly Owner[]) {
  const owner = z.enum(owners as [Owner, ...Owner[]], {
    error: (issue) =>
      `owner ${describe(issue.input)} is not allowed for ${field}: use ${owners.join(' or ')}, or leave owner out for the default (${owners[0]}).`,
  });
  // `name: full_name` is short for `name: { column: full_name }`.
  const short = (value: unknown) => (typeof value === 'string' ? { column: value } : value);
  return z.preprocess(
    short,
    strict({ column, owner: owner.optional() }, 'a column name, or { column, owner }'),
  );
}

const standardRef = (field: StandardField) => fieldRef(field, STANDARD_FIELDS[field].owners).optional();

const fieldsSchema = strict(
  {
    email: text('the column holding the email, e.g. email: email'),
    ...({
      name: standardRef('name'),
      avatar: standardRef('avatar'),
      createdAt: standardRef('createdAt'),
      lastSeenAt: standardRef('lastSeenAt'),
      magicLink: standardRef('magicLink'),
      userId: standardRef('userId'),
      externalId: standardRef('externalId'),
    } satisfies Record<StandardField, unknown>),
  },
  'a mapping of directory field: source column, with at least email',
);

const customSchema = z.record(
  text('a custom field name', /^[A-Za-z0-9_]+$/),
  fieldRef('a custom field', CUSTOM_OWNERS),
  {
    error: (issue) =>
      issue.code === 'invalid_key'
        ? 'is not a valid custom field name: use letters, digits and _ only (it is written custom.<name> in rules).'
        : expected('a mapping of custom field: source column')(issue),
  },
);

const ruleSchema = z
  .string({ error: expected('a rule in quotes, e.g. \'status eq "approved"\'') })
  .transform((rule, ctx) => {
    try {
      return compileRule(rule);
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        message: error instanceof Error ? error.message : String(error),
        input: rule,
      });
      return z.NEVER;
    }
  });

const cronSchema = z
  .string({ error: expected('a cron schedule, e.g. "*/15 * * * *"') })
  .refine((schedule) => [5, 6].includes(schedule.trim().split(/\s+/).length), {
    error: (issue) =>
      `${describe(issue.input)} is not a cron schedule: write 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), e.g. "*/15 * * * *".`,
  });

const flag = (what: string) => z.boolean({ error: expected(`true or false (${what})`) });
const choice = <T extends string>(values: [T, ...T[]]) =>
  z.enum(values, { error: expected(`one of ${values.join(', ')}`) });
const share = 'a share of all users between 0 (excluded) and 1, e.g. 0.5 for 50 %';

const connectionSchema = strict(
  {
    name: text('a name of letters, digits, - and _, e.g. crm', /^[A-Za-z0-9_-]+$/),
    source: text(
      'a source such as sqlite:./crm.db, csv:./members.csv or postgres://host/db',
      /^[A-Za-z][A-Za-z0-9+.-]*:/,
    ),
    table: text('a table name, e.g. members or crm.members').optional(),
    key: column.optional(),
    mode: choice<SyncMode>(['two-way', 'one-way', 'import']).default('two-way'),
    conflict: choice<ConflictPolicy>(['source', 'app']).default('source'),
    fields: fieldsSchema,
    custom: customSchema.default({}),
    filter: ruleSchema.optional(),
    createInSource: flag('create app-made users in this source').default(true),
    acceptEmailChanges: flag('follow email edits made in the source').default(false),
    cursor: column.optional(),
    schedule: cronSchema.optional(),
    maxChange: z
      .number({ error: expected(share) })
      .refine((n) => n > 0 && n <= 1, { error: expected(share) })
      .default(0.5),
  },
  'a connection: a mapping with name, source, fields …',
);
type ParsedConnection = z.output<typeof connectionSchema>;

const groupSchema = strict(
  { name: text('a name of letters, digits, - and _, e.g. pro', /^[A-Za-z0-9_-]+$/), rule: ruleSchema },
  'a group: a mapping with name and rule',
);

const rootSchema = strict(
  {
    directory: text(
      'the directory database: sqlite:PATH or postgres://…',
      /^(sqlite:|postgres(ql)?:\/\/)/i,
    ).default(DEFAULT_DIRECTORY),
    // Elements are validated one by one in `validate`.
    connections: z.array(z.unknown(), { error: expected('a list of connections') }).default([]),
    groups: z.array(z.unknown(), { error: expected('a list of groups') }).default([]),
  },
  'a mapping with directory, connections and groups',
);

// ---------------------------------------------------------------------------------------
// Messages

function toProblems(error: z.ZodError, prefix: Path): Problem[] {
  return error.issues.flatMap((issue): Problem[] => {
    const path = [...prefix, ...issue.path];
    if (issue.code !== 'unrecognized_keys') return [{ path, message: issue.message }];
    const lines = issue.message.split('\n');
    return issue.keys.map((key, i) => ({ path: [...path, key], message: lines[i] ?? issue.message }));
  });
}

function invalidConfig(file: string, problems: readonly Problem[]): UsersyncError {
  const count = problems.length === 1 ? 'a problem' : `${problems.length} problems`;
  // In file order (numbers compared as numbers), so each connection's problems stand together.
  const sorted = [...problems].sort((a, b) =>
    formatPath(a.path).localeCompare(formatPath(b.path), 'en', { numeric: true }),
  );
  const lines = sorted.map((p) => `  - ${formatPath(p.path)}: ${p.message.replaceAll('\n', '\n    ')}`);
  return new UsersyncError(
    'config.invalid',
    [`The config file ${file} has ${count}:`, ...lines, 'Fix the file and run the command again.'].join('\n'),
  );
}

/** `connections[0].fields.email`, as a user would point at it in the file. */
export function formatPath(path: Path): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(String(part))) out += out === '' ? String(part) : `.${String(part)}`;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out || '(top level)';
}

function describe(value: unknown): string {
  if (value === null) return 'empty';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  const shown = JSON.stringify(value) ?? String(value);
  return shown.length > 60 ? `${shown.slice(0, 57)}…` : shown;
}

/** The known key nearest to a typo (at most 2 edits, case ignored), for "did you mean". */
function closest(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
