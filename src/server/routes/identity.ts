/**
 * Logins and outside identities (SPEC §5 `login`, §6): the app, or the platform its
 * login lives on, tells usersync who logged in or joined.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isUsersyncError, UsersyncError } from '../../core/errors.js';
import type { DirectoryUser } from '../../core/user.js';
import type { Runtime } from '../../services/runtime.js';
import { userView } from '../views.js';
import { pushWithin, type PushView } from '../push.js';
import { avatar, email, errorSchema, externalId, name, pushSchema, userSchema } from '../schemas.js';
import { validAvatar, validEmail } from './users.js';

export interface IdentityRouteOptions {
  readonly runtime: Runtime;
  readonly loginBudgetMs: number;
  readonly pushBudgetMs: number;
}

const identity = z.strictObject({
  externalId: externalId.meta({ description: "The user's id on the outside platform" }),
  email,
  name: name.optional(),
  avatar: avatar.optional(),
});

const ensured = z.object({
  user: userSchema,
  created: z.boolean(),
  pushed: z.array(pushSchema),
});

export const identityRoutes: FastifyPluginAsyncZod<IdentityRouteOptions> = async (app, options) => {
  const { runtime } = options;
  // Groups are declared in the config file only, so no lookup is needed per user.
  const show = (user: DirectoryUser) => userView(user, runtime.file.groups);

  const login = async (user: DirectoryUser): Promise<{ user: DirectoryUser; pushed: PushView[] }> => {
    if (user.status === 'suspended')
      throw new UsersyncError('user.suspended', `${user.email} is suspended and cannot log in.`);
    const seen = (await runtime.store.updateUser(user.id, { lastSeenAt: new Date().toISOString() })) ?? user;
    // SPEC §5: a slow or down source never blocks the login; the push goes on in the background.
    const pushed = await pushWithin(runtime, [user.id], 'login', options.loginBudgetMs);
    return { user: (await runtime.store.getUser(user.id)) ?? seen, pushed };
  };

  app.post(
    '/login',
    {
      schema: {
        summary: 'Record a login',
        description:
          'Call when a user logs in to your app: sets `lastSeenAt` and syncs that one user with every connection through the fast lookup (trigger `login`). Answers within the login budget whatever the sources do; a push not finished by then shows as `pending` and goes on in the background.',
        tags: ['identity'],
        body: z.union([z.strictObject({ email }), z.strictObject({ userId: z.string().min(1) })]),
        response: {
          200: z.object({ user: userSchema, pushed: z.array(pushSchema) }),
          400: errorSchema,
          403: errorSchema,
          404: errorSchema,
        },
      },
    },
    async (request) => {
      const body = request.body;
      const user =
        'email' in body
          ? await runtime.store.findUserByEmail(validEmail(body.email))
          : await runtime.store.getUser(body.userId);
      if (!user || user.deletedAt !== null)
        throw new UsersyncError(
          'not_found',
          'No user has this email or id. Create it first (POST /api/v1/users or /api/v1/ensure-user).',
        );
      const result = await login(user);
      return { user: show(result.user), pushed: result.pushed };
    },
  );

  const ensure = async (body: z.infer<typeof identity>) => {
    const emailValue = validEmail(body.email);
    for (let attempt = 0; ; attempt++) {
      const [byExternal] = await runtime.store.listUsers({ externalId: body.externalId, limit: 1 });
      if (byExternal) return { user: byExternal, created: false };
      const byEmail = await runtime.store.findUserByEmail(emailValue);
      try {
        if (byEmail) {
          if (byEmail.externalId !== null)
            throw new UsersyncError(
              'directory.conflict',
              `${byEmail.email} already belongs to another outside identity (${byEmail.externalId}); it cannot also be ${body.externalId}.`,
              {
                problems: [
                  { path: 'body.externalId', message: 'the email is linked to another external id' },
                ],
              },
            );
          const linked = await runtime.store.updateUser(
            byEmail.id,
            { externalId: body.externalId },
            byEmail.version,
          );
          if (linked) return { user: linked, created: false };
        } else {
          const user = await runtime.store.createUser({
            email: emailValue,
            name: body.name ?? null,
            avatar: validAvatar(body.avatar),
            externalId: body.externalId,
          });
          return { user, created: true };
        }
      } catch (error) {
        // Two calls for one identity at once: the other won; look again (idempotent).
        if (attempt >= 2 || !isUsersyncError(error, 'directory.conflict') || error.problems.length > 0)
          throw error;
      }
    }
  };

  app.post(
    '/ensure-user',
    {
      schema: {
        summary: 'Create a user if missing (outside identity)',
        description:
          'Idempotent: finds the user by external id, else by email (and stores the external id on it), else creates it. A created or linked user is pushed to the sources (trigger `app_change`). 201 when created, 200 otherwise.',
        tags: ['identity'],
        body: identity,
        response: { 200: ensured, 201: ensured, 400: errorSchema, 409: errorSchema },
      },
    },
    async (request, reply) => {
      const { user, created } = await ensure(request.body);
      const pushed = await pushWithin(runtime, [user.id], 'app_change', options.pushBudgetMs);
      const shown = show((await runtime.store.getUser(user.id)) ?? user);
      return reply.status(created ? 201 : 200).send({ user: shown, created, pushed });
    },
  );

  app.post(
    '/identity-events',
    {
      schema: {
        summary: 'An event from the outside identity platform',
        description:
          '`user.joined` ensures the user; `user.logged_in` ensures it and records a login (trigger `login`).',
        tags: ['identity'],
        body: z.strictObject({ type: z.enum(['user.joined', 'user.logged_in']), user: identity }),
        response: { 200: ensured, 201: ensured, 400: errorSchema, 403: errorSchema, 409: errorSchema },
      },
    },
    async (request, reply) => {
      const { user, created } = await ensure(request.body.user);
      const result =
        request.body.type === 'user.logged_in'
          ? await login(user)
          : { user, pushed: await pushWithin(runtime, [user.id], 'app_change', options.pushBudgetMs) };
      return reply
        .status(created ? 201 : 200)
        .send({ user: show(result.user), created, pushed: result.pushed });
    },
  );
};
