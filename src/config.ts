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
import { STANDARD_FIELDS, type MappedField, type StandardField } from './core/fields.js';
import type { ConflictPolicy, SyncMode } from './core/plan.js';
import type { Rule } from './core/rule.js';
import {
  formatPath,
  invalidConfig,
  isPlainObject,
  toProblems,
  type Path,
  type Problem,
} from './config/messages.js';
import {
  connectionSchema,
  DEFAULT_DIRECTORY,
  groupSchema,
  rootSchema,
  type ParsedConnection,
} from './config/schema.js';

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
  /** Authenticates the source's webhook calls (`source_webhook` trigger). */
  readonly webhookSecret?: string;
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
  const connections = connectionItems.flatMap((item, i) =>
    checkConnection(item, ['connections', i], `connections[${i}]`, problems),
  );
  checkSingleSourceOwner(
    connections.map((c) => ({ connection: c, path: c.configPath })),
    problems,
  );
  const groups = groupItems.flatMap((item, i) => parseElement(groupSchema, item, ['groups', i], problems));
  return { directory: root.success ? root.data.directory : DEFAULT_DIRECTORY, connections, groups };
}

function parseElement<T>(schema: z.ZodType<T>, item: unknown, path: Path, problems: Problem[]): T[] {
  const result = schema.safeParse(item);
  if (result.success) return [result.data];
  problems.push(...toProblems(result.error, path));
  return [];
}

/**
 * A connection made outside the file (through the API): checked as the file's entries
 * are, and against the connections there are already (`others`). Problems' paths are
 * relative to `raw`; `label` names it in messages about other connections.
 */
export function parseConnection(
  raw: unknown,
  others: readonly ConnectionConfig[],
  label: string,
): ConnectionConfig {
  const problems: Problem[] = [];
  const [connection] = checkConnection(raw, [], label, problems);
  if (connection !== undefined) {
    const taken = others.find((c) => c.name.toLowerCase() === connection.name.toLowerCase());
    if (taken)
      problems.push({
        path: ['name'],
        message: `"${connection.name}" is already the name of a connection (${taken.configPath}); choose another.`,
      });
    checkSingleSourceOwner(
      [...others, connection].map((c) => ({ connection: c, path: c === connection ? '' : c.configPath })),
      problems,
    );
  }
  if (problems.length > 0) throw invalidConnection(label, problems);
  return connection!;
}

function invalidConnection(label: string, problems: readonly Problem[]): UsersyncError {
  const lines = problems.map((p) => `  - ${formatPath(p.path) || '(the connection)'}: ${p.message}`);
  return new UsersyncError('usage.invalid', [`${label} has problems:`, ...lines].join('\n'), {
    problems: problems.map((p) => ({ path: formatPath(p.path), message: p.message })),
  });
}

function checkConnection(item: unknown, path: Path, label: string, problems: Problem[]): ConnectionConfig[] {
  const [parsed] = parseElement(connectionSchema, item, path, problems);
  if (parsed === undefined) return [];
  const before = problems.length;
  checkTable(parsed, path, problems);
  const connection = toConnection(parsed, label);
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
/**
 * Two connections that both own a field as `source` would each put their value into the
 * directory and the other's back on every sync, for ever. One may own it, or all `both`.
 */
function checkSingleSourceOwner(
  connections: readonly { connection: ConnectionConfig; path: string }[],
  problems: Problem[],
): void {
  const owners = new Map<string, string>();
  for (const { connection, path } of connections) {
    if (connection.mode === 'one-way') continue; // the app owns every field of a one-way connection
    const base: Path =
      path === '' ? [] : (path.match(/[^[\].]+/g) ?? []).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
    for (const field of connection.fields) {
      if (field.owner !== 'source') continue;
      const fieldPath = [...base, ...fieldKey(field)];
      const first = owners.get(field.id);
      if (first === undefined) owners.set(field.id, formatPath(fieldPath) || connection.name);
      else
        problems.push({
          path: fieldPath,
          message: `${field.id} is owned by the source here and in ${first}; two sources cannot both own a field (each would undo the other on every sync). Give one of them owner: app, or both of them owner: both (the conflict policy then decides).`,
        });
    }
  }
}

function fieldKey(field: MappedField): string[] {
  return field.id.startsWith('custom.') ? ['custom', field.id.slice('custom.'.length)] : ['fields', field.id];
}

function checkColumnsUnique(connection: ConnectionConfig, path: Path, problems: Problem[]): void {
  const owners = new Map<string, Path>([[connection.emailColumn, [...path, 'fields', 'email']]]);
  for (const field of connection.fields) {
    const fieldPath = [...path, ...fieldKey(field)];
    const other = owners.get(field.column);
    if (other === undefined) owners.set(field.column, fieldPath);
    else
      problems.push({
        path: fieldPath,
        message: `column "${field.column}" is already mapped by ${formatPath(other)}; map each field to its own column.`,
      });
  }
}

function toConnection(parsed: ParsedConnection, configPath: string): ConnectionConfig {
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
    configPath,
  };
}

export { DEFAULT_DIRECTORY, formatPath };
