/** Sync issues (SPEC §4): list, see details, validate a fix (trigger `validate_fix`). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { UsersyncError } from '../../core/errors.js';
import { userView } from '../views.js';
import type { Runtime } from '../../services/runtime.js';
import { errorSchema, issueSchema, userSchema } from '../schemas.js';

const idParams = z.object({ id: z.string().min(1) });

export const issueRoutes: FastifyPluginAsyncZod<{ runtime: Runtime }> = async (app, { runtime }) => {
  const requireIssue = async (id: string) => {
    const issue = await runtime.store.getIssue(id);
    if (!issue) throw new UsersyncError('not_found', `No sync issue has the id ${id}.`);
    return issue;
  };

  app.get(
    '/issues',
    {
      schema: {
        summary: 'List sync issues',
        tags: ['issues'],
        querystring: z.object({
          connection: z.string().optional(),
          status: z.enum(['open', 'resolved']).optional(),
        }),
        response: { 200: z.object({ issues: z.array(issueSchema) }) },
      },
    },
    async (request) => ({
      issues: (await runtime.store.listIssues(request.query)).map((i) => ({
        ...i,
        rows: [...i.rows],
        users: [...i.users],
      })),
    }),
  );

  app.get(
    '/issues/:id',
    {
      schema: {
        summary: 'See details of a sync issue',
        description: 'The issue, with the users it concerns.',
        tags: ['issues'],
        params: idParams,
        response: { 200: z.object({ issue: issueSchema, users: z.array(userSchema) }), 404: errorSchema },
      },
    },
    async (request) => {
      const issue = await requireIssue(request.params.id);
      const users = await runtime.store.getUsers(issue.users);
      return {
        issue: { ...issue, rows: [...issue.rows], users: [...issue.users] },
        users: users.map((u) => userView(u, runtime.file.groups)),
      };
    },
  );

  app.post(
    '/issues/:id/validate',
    {
      schema: {
        summary: 'Validate a fix',
        description:
          "Re-runs the issue's connection (a full sync, trigger `validate_fix`); issues that no longer occur become resolved. Follow the run with GET /runs/events.",
        tags: ['issues'],
        params: idParams,
        response: { 202: z.object({ queued: z.array(z.string()) }), 404: errorSchema },
      },
    },
    async (request, reply) => {
      const issue = await requireIssue(request.params.id);
      return reply
        .status(202)
        .send({ queued: await runtime.trigger(issue.connection, 'validate_fix', true) });
    },
  );
};
