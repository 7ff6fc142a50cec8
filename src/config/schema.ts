/** The config file's zod schemas. Every message says what is expected; `toProblems` adds the key path. */
import { z } from 'zod';
import { CUSTOM_OWNERS, STANDARD_FIELDS, type Owner, type StandardField } from '../core/fields.js';
import type { ConflictPolicy, SyncMode } from '../core/plan.js';
import { compileRule } from '../core/rule.js';
import { closest, describe } from './messages.js';

export const DEFAULT_DIRECTORY = 'sqlite:./usersync.db';

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

export const connectionSchema = strict(
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
    webhookSecret: text(
      'a secret of at least 24 characters (or whsec_… from your source) for signed webhook calls',
      /^\S{24,}$/,
    ).optional(),
    maxChange: z
      .number({ error: expected(share) })
      .refine((n) => n > 0 && n <= 1, { error: expected(share) })
      .default(0.5),
  },
  'a connection: a mapping with name, source, fields …',
);
export type ParsedConnection = z.output<typeof connectionSchema>;

export const groupSchema = strict(
  { name: text('a name of letters, digits, - and _, e.g. pro', /^[A-Za-z0-9_-]+$/), rule: ruleSchema },
  'a group: a mapping with name and rule',
);

export const rootSchema = strict(
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
