/**
 * The API's shapes, as zod schemas: the same objects validate requests, shape responses
 * and generate the OpenAPI document (no hand-kept copy to drift).
 */
import { z } from 'zod';
import { ISSUE_KINDS } from '../core/issue.js';

export const errorSchema = z
  .object({
    error: z.object({
      code: z
        .string()
        .meta({ description: 'Stable machine-readable code, e.g. `request.invalid`, `not_found`' }),
      message: z.string().meta({ description: 'What is wrong and what to do' }),
      problems: z
        .array(z.object({ path: z.string(), message: z.string() }))
        .meta({ description: 'For invalid input: each problem with the path of the offending value' }),
    }),
  })
  .meta({ id: 'Error' });

const customValue = z.union([z.string(), z.number(), z.boolean()]);

export const userSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    name: z.string().nullable(),
    avatar: z.string().nullable(),
    createdAt: z.string(),
    lastSeenAt: z.string().nullable(),
    magicLink: z.string().nullable(),
    externalId: z.string().nullable(),
    status: z.enum(['active', 'suspended']),
    custom: z.record(z.string(), customValue),
    groups: z.array(z.string()),
    deletedAt: z.string().nullable(),
    version: z
      .number()
      .int()
      .meta({ description: 'Pass back as `version` to update only if nobody changed the user meanwhile' }),
  })
  .meta({ id: 'User' });

const sideCounts = z.object({ created: z.number(), updated: z.number(), deleted: z.number() });
export const countsSchema = z.object({
  app: sideCounts,
  source: sideCounts,
  unchanged: z.number(),
  skipped: z.number(),
  stale: z.number(),
  conflicts: z.number(),
});

const triggerSchema = z.enum([
  'manual',
  'login',
  'publish',
  'users_tab',
  'app_change',
  'schedule',
  'source_webhook',
  'validate_fix',
]);

export const runSchema = z
  .object({
    id: z.string(),
    connection: z.string(),
    trigger: triggerSchema,
    status: z.enum(['running', 'succeeded', 'failed', 'blocked']),
    startedAt: z.string(),
    finishedAt: z.string().nullable(),
    counts: countsSchema,
    error: z.string().nullable(),
    progress: z
      .object({
        phase: z.enum(['read', 'plan', 'apply']),
        rows: z.number().optional(),
        actions: z.number().optional(),
        done: z.number().optional(),
        total: z.number().optional(),
      })
      .nullable(),
  })
  .meta({ id: 'SyncRun' });

/** What pushing a user's change to one connection did (a user-scoped run). */
export const pushSchema = z
  .object({
    connection: z.string(),
    status: z.enum(['succeeded', 'failed', 'blocked', 'skipped', 'pending']),
    runId: z.string().nullable(),
    error: z.string().nullable(),
  })
  .meta({
    id: 'Push',
    description: '`pending`: not finished within the request; it goes on in the background',
  });

export const issueSchema = z
  .object({
    id: z.string(),
    connection: z.string(),
    kind: z.enum(ISSUE_KINDS),
    status: z.enum(['open', 'resolved']),
    message: z.string(),
    fix: z.string(),
    rows: z.array(z.string()),
    users: z.array(z.string()),
    firstSeenAt: z.string(),
    lastSeenAt: z.string(),
    resolvedAt: z.string().nullable(),
    runId: z.string().nullable(),
  })
  .meta({ id: 'SyncIssue' });

export const connectionSchema = z
  .object({
    name: z.string(),
    origin: z
      .enum(['file', 'api'])
      .meta({ description: '`file`: declared in the config file, read-only here' }),
    version: z.number().int().nullable(),
    mode: z
      .enum(['two-way', 'one-way', 'import'])
      .meta({ description: 'The effective mode (after enable-two-way)' }),
    definition: z
      .record(z.string(), z.unknown())
      .meta({ description: 'As in the config file; the password redacted' }),
    nextScheduledRun: z.string().nullable(),
  })
  .meta({ id: 'Connection' });

/** The connection body: the config file's form (SPEC appendix A), checked by the config's own validation. */
export const connectionBodySchema = z.record(z.string(), z.unknown()).meta({
  id: 'ConnectionDefinition',
  description:
    'A connection as in usersync.yaml: name, source, table, key, mode, conflict, fields, custom, filter, createInSource, cursor, schedule, maxChange, webhookSecret',
  example: {
    name: 'crm',
    source: 'postgres://user:secret@db:5432/crm',
    table: 'members',
    fields: { email: 'email', name: 'full_name', userId: 'app_user_id' },
    custom: { plan: 'plan' },
  },
});

export const columnSchema = z.object({
  name: z.string(),
  type: z.string(),
  nullable: z.boolean(),
  generated: z.boolean(),
});

export const email = z.string().trim().min(3).max(320);
export const name = z.string().trim().max(500).nullable();
export const avatar = z.string().trim().max(2000).nullable();
export const externalId = z.string().trim().min(1).max(500);
export const customPatch = z.record(z.string().regex(/^[A-Za-z0-9_]+$/), customValue.nullable());
