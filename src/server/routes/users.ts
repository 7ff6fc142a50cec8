/** Users (SPEC §1): list, get, create, update, delete. Changes are app changes, pushed at once. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { UsersyncError } from '../../core/errors.js';
import { parseEmail, parseValue } from '../../core/normalize.js';
import type { CustomValue, DirectoryUser } from '../../core/user.js';
import type { AppUserPatch } from '../../directory/store.js';
import type { Runtime } from '../../services/runtime.js';
import { userView } from '../views.js';
import { pushWithin } from '../push.js';
import {
  avatar,
  customPatch,
  email,
  errorSchema,
  externalId,
  name,
  pushSchema,
  userSchema,
} from '../schemas.js';

export interface UserRouteOptions {
  readonly runtime: Runtime;
  /** How long a change waits for its push before answering. */
  readonly pushBudgetMs: number;
  /** users_tab (SPEC §5): listing users syncs connections whose last run is older than this. */
  readonly usersTabMaxAgeMs: number;
}

const idParams = z.object({ id: z.string().min(1) });
const changed = z.object({ user: userSchema, pushed: z.array(pushSchema) });
const errors = { 400: errorSchema, 404: errorSchema, 409: errorSchema };

export const userRoutes: FastifyPluginAsyncZod<UserRouteOptions> = async (app, options) => {
  const { runtime, pushBudgetMs } = options;
  // Groups are declared in the config file only, so no lookup is needed per user.
  const show = (user: DirectoryUser) => userView(user, runtime.file.groups);
  const usersTab = usersTabTrigger(runtime, options.usersTabMaxAgeMs, (error) =>
    app.log.error({ err: error }, 'users_tab: could not queue syncs'),
  );

  app.get(
    '/users',
    {
      schema: {
        summary: 'List users',
        description:
          "Newest id last; page with `after` = the previous page's `next`. Opening the list also queues a background sync (trigger `users_tab`) of connections whose last run is older than the configured age; the response does not wait for it.",
        tags: ['users'],
        querystring: z.object({
          search: z.string().max(200).optional().meta({ description: 'Part of the email or name, any case' }),
          status: z.enum(['active', 'suspended']).optional(),
          externalId: z.string().optional(),
          limit: z.coerce.number().int().min(1).max(500).default(50),
          after: z.string().optional().meta({ description: 'The `next` of the previous page' }),
          includeDeleted: z.stringbool().default(false),
        }),
        response: {
          200: z.object({ users: z.array(userSchema), next: z.string().nullable() }),
          400: errorSchema,
        },
      },
    },
    async (request) => {
      usersTab();
      const { limit, ...filters } = request.query;
      // One more than asked tells whether there is a next page without counting.
      const found = await runtime.store.listUsers({ ...filters, limit: limit + 1 });
      const page = found.slice(0, limit);
      return {
        users: page.map(show),
        next: found.length > limit ? page[page.length - 1]!.id : null,
      };
    },
  );

  app.get(
    '/users/:id',
    {
      schema: {
        summary: 'Get a user',
        tags: ['users'],
        params: idParams,
        response: { 200: userSchema, 404: errorSchema },
      },
    },
    async (request) => show(await requireUser(runtime, request.params.id)),
  );

  app.post(
    '/users',
    {
      schema: {
        summary: 'Create a user',
        description: 'An app change (trigger `app_change`): the user is pushed to every connection at once.',
        tags: ['users'],
        body: z.strictObject({
          email,
          name: name.optional(),
          avatar: avatar.optional(),
          externalId: externalId.optional(),
          status: z.enum(['active', 'suspended']).optional(),
          custom: z
            .record(z.string().regex(/^[A-Za-z0-9_]+$/), z.union([z.string(), z.number(), z.boolean()]))
            .optional(),
        }),
        response: { 201: changed, ...errors },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const user = await runtime.store.createUser({
        email: validEmail(body.email),
        name: body.name ?? null,
        avatar: validAvatar(body.avatar),
        externalId: body.externalId ?? null,
        ...(body.status ? { status: body.status } : {}),
        custom: body.custom ?? {},
      });
      const pushed = await pushWithin(runtime, [user.id], 'app_change', pushBudgetMs);
      return reply.status(201).send({ user: show(await current(runtime, user)), pushed });
    },
  );

  app.patch(
    '/users/:id',
    {
      schema: {
        summary: 'Update a user',
        description:
          'Only the given fields change; in `custom`, null removes a key. With `version`, the update is made only if the user is still at that version (else 409).',
        tags: ['users'],
        params: idParams,
        body: z.strictObject({
          email: email.optional(),
          name: name.optional(),
          avatar: avatar.optional(),
          status: z.enum(['active', 'suspended']).optional(),
          externalId: externalId.nullable().optional(),
          custom: customPatch.optional(),
          version: z.number().int().min(1).optional(),
        }),
        response: { 200: changed, ...errors },
      },
    },
    async (request) => {
      const { version, ...body } = request.body;
      const patch: AppUserPatch = {};
      if (body.email !== undefined) patch.email = validEmail(body.email);
      if (body.name !== undefined) patch.name = body.name === '' ? null : body.name;
      if (body.avatar !== undefined) patch.avatar = validAvatar(body.avatar);
      if (body.status !== undefined) patch.status = body.status;
      if (body.externalId !== undefined) patch.externalId = body.externalId;
      if (body.custom !== undefined) patch.custom = body.custom as Record<string, CustomValue | null>;
      if (Object.keys(patch).length === 0)
        throw new UsersyncError('usage.invalid', 'Nothing to change: give at least one field.');
      await requireUser(runtime, request.params.id);
      const updated = await runtime.store.updateUser(request.params.id, patch, version);
      if (!updated)
        throw new UsersyncError(
          'directory.conflict',
          `The user changed since version ${version}. Load it again and redo your change.`,
        );
      const pushed = await pushWithin(runtime, [updated.id], 'app_change', pushBudgetMs);
      return { user: show(await current(runtime, updated)), pushed };
    },
  );

  app.delete(
    '/users/:id',
    {
      schema: {
        summary: 'Delete a user',
        description:
          "The user's rows are deleted from the sources (SPEC §3); the user stays as a tombstone until then.",
        tags: ['users'],
        params: idParams,
        response: { 200: changed, 404: errorSchema },
      },
    },
    async (request) => {
      const user = await requireUser(runtime, request.params.id);
      const deleted = (await runtime.store.deleteUser(user.id)) ?? user;
      const pushed = await pushWithin(runtime, [user.id], 'app_change', pushBudgetMs);
      return { user: show(await current(runtime, deleted)), pushed };
    },
  );
};

export async function requireUser(runtime: Runtime, id: string): Promise<DirectoryUser> {
  const user = await runtime.store.getUser(id);
  if (!user || user.deletedAt !== null) throw new UsersyncError('not_found', `No user has the id ${id}.`);
  return user;
}

/** After a push, a source that owns a field may have set it back: show the user as it is now. */
async function current(runtime: Runtime, user: DirectoryUser): Promise<DirectoryUser> {
  return (await runtime.store.getUser(user.id)) ?? user;
}

export function validEmail(raw: string, path = 'body.email'): string {
  const parsed = parseEmail(raw);
  if (parsed.ok) return parsed.email;
  throw new UsersyncError('usage.invalid', `Invalid email: ${parsed.reason}.`, {
    problems: [{ path, message: parsed.reason }],
  });
}

export function validAvatar(raw: string | null | undefined): string | null {
  if (raw === undefined || raw === null || raw === '') return null;
  const parsed = parseValue(raw, 'url');
  if (parsed.ok) return parsed.value as string;
  throw new UsersyncError('usage.invalid', `Invalid avatar: ${parsed.reason}.`, {
    problems: [{ path: 'body.avatar', message: parsed.reason }],
  });
}

/**
 * Returns a function that queues users_tab syncs for stale connections, looking at most
 * every few seconds, so a busy users list does not turn into a query storm.
 */
function usersTabTrigger(runtime: Runtime, maxAgeMs: number, onError: (error: unknown) => void): () => void {
  const CHECK_EVERY_MS = 5_000;
  let lastCheck = 0;
  return () => {
    const now = Date.now();
    if (now - lastCheck < CHECK_EVERY_MS) return;
    lastCheck = now;
    void (async () => {
      const { connections } = await runtime.catalog.config();
      for (const connection of connections) {
        const [last] = await runtime.store.listRuns({
          connection: connection.name,
          limit: 1,
          excludeTriggers: ['login', 'app_change'], // user-scoped runs do not refresh the list
        });
        if (last && (last.status === 'running' || now - Date.parse(last.startedAt) < maxAgeMs)) continue;
        await runtime.queue.request({ connection: connection.name, trigger: 'users_tab', full: false });
      }
    })().catch(onError);
  };
}
