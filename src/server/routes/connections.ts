/**
 * Connections (SPEC §1, §9): made, changed and deleted through the API (those of the
 * config file are read-only here), tested, described, switched to two-way. Creating or
 * changing one is a `publish`: a full sync is queued.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ConnectionConfig } from '../../config.js';
import { createConnector } from '../../connectors/index.js';
import { isUsersyncError, UsersyncError } from '../../core/errors.js';
import type { ConnectionView } from '../../services/connections.js';
import type { Runtime } from '../../services/runtime.js';
import { effectiveMode } from '../../sync/plan-context.js';
import { findConnection } from '../../sync/sync-all.js';
import { columnSchema, connectionBodySchema, connectionSchema, errorSchema, runSchema } from '../schemas.js';

const nameParams = z.object({ name: z.string().min(1) });
const described = z.object({ location: z.string(), columns: z.array(columnSchema) });
const tested = z.union([
  z.object({ ok: z.literal(true), location: z.string(), columns: z.array(columnSchema) }),
  z.object({ ok: z.literal(false), error: z.object({ code: z.string(), message: z.string() }) }),
]);
const published = z.object({ connection: connectionSchema, queued: z.boolean() });

export const connectionRoutes: FastifyPluginAsyncZod<{ runtime: Runtime }> = async (app, { runtime }) => {
  const find = async (name: string): Promise<ConnectionConfig> =>
    findConnection((await runtime.catalog.config()).connections, name);
  const show = async ({ connection, ...view }: ConnectionView) => {
    const state = await runtime.store.getConnectionState(view.name);
    return {
      ...view,
      mode: effectiveMode(connection, state),
      nextScheduledRun: runtime.nextScheduledRuns()[view.name] ?? null,
    };
  };
  const publish = async (name: string) => {
    await runtime.refreshSchedules();
    await runtime.trigger(name, 'publish', true);
    return true;
  };

  app.get(
    '/connections',
    {
      schema: {
        summary: 'List connections',
        tags: ['connections'],
        response: { 200: z.object({ connections: z.array(connectionSchema) }) },
      },
    },
    async () => ({ connections: await Promise.all((await runtime.catalog.list()).map(show)) }),
  );

  app.post(
    '/connections',
    {
      schema: {
        summary: 'Create a connection',
        description:
          'Validated like a connection of the config file; stored in the directory with its credentials encrypted. Queues a full sync (trigger `publish`).',
        tags: ['connections'],
        body: connectionBodySchema,
        response: { 201: published, 400: errorSchema, 409: errorSchema },
      },
    },
    async (request, reply) => {
      const view = await runtime.catalog.create(request.body);
      return reply.status(201).send({ connection: await show(view), queued: await publish(view.name) });
    },
  );

  app.get(
    '/connections/:name',
    {
      schema: {
        summary: 'Get a connection',
        tags: ['connections'],
        params: nameParams,
        response: { 200: connectionSchema, 404: errorSchema },
      },
    },
    async (request) => show(await runtime.catalog.get(request.params.name)),
  );

  app.put(
    '/connections/:name',
    {
      schema: {
        summary: 'Replace a connection',
        description:
          'Only connections made through the API. With `version`, only if nobody changed it since (else 409). Queues a full sync (trigger `publish`).',
        tags: ['connections'],
        params: nameParams,
        querystring: z.object({ version: z.coerce.number().int().min(1).optional() }),
        body: connectionBodySchema,
        response: { 200: published, 400: errorSchema, 404: errorSchema, 409: errorSchema },
      },
    },
    async (request) => {
      const view = await runtime.catalog.update(request.params.name, request.body, request.query.version);
      return { connection: await show(view), queued: await publish(view.name) };
    },
  );

  app.delete(
    '/connections/:name',
    {
      schema: {
        summary: 'Delete a connection',
        description: 'Only connections made through the API. Users stay in the directory.',
        tags: ['connections'],
        params: nameParams,
        response: { 204: z.null(), 400: errorSchema, 404: errorSchema },
      },
    },
    async (request, reply) => {
      await runtime.catalog.remove(request.params.name);
      await runtime.refreshSchedules();
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/connections/:name/test',
    {
      schema: {
        summary: 'Test a connection',
        description:
          'Opens the source and reads its columns. A source that cannot be reached is a result (`ok: false`), not an error.',
        tags: ['connections'],
        params: nameParams,
        response: { 200: tested, 404: errorSchema },
      },
    },
    async (request) => {
      return test(runtime, await find(request.params.name));
    },
  );

  app.get(
    '/connections/:name/columns',
    {
      schema: {
        summary: "The source's columns",
        description:
          'What the mapping can use: each column with its type, whether it may be null and whether the source fills it in.',
        tags: ['connections'],
        params: nameParams,
        response: { 200: described, 404: errorSchema, 502: errorSchema },
      },
    },
    async (request) => describe(runtime, await find(request.params.name)),
  );

  app.post(
    '/sources/describe',
    {
      schema: {
        summary: "A source's columns, before making a connection",
        description:
          'For the "connect a data source" flow: settings → test → map fields from the list of columns.',
        tags: ['connections'],
        body: z.strictObject({
          source: z.string().min(3),
          table: z.string().min(1).optional(),
          key: z.string().min(1).optional(),
        }),
        response: { 200: tested, 400: errorSchema },
      },
    },
    async (request) => {
      const { source, table, key } = request.body;
      return test(runtime, {
        source,
        emailColumn: 'email',
        ...(table ? { table } : {}),
        ...(key ? { key } : {}),
      });
    },
  );

  app.post(
    '/connections/:name/enable-two-way',
    {
      schema: {
        summary: 'Switch a one-way connection to two-way',
        description: 'SPEC §2: the next sync imports the rows only the source has. Queues that sync.',
        tags: ['connections'],
        params: nameParams,
        response: {
          200: z.object({ connection: connectionSchema, changed: z.boolean() }),
          400: errorSchema,
          404: errorSchema,
        },
      },
    },
    async (request) => {
      const connection = await find(request.params.name);
      if (connection.mode === 'import')
        throw new UsersyncError(
          'usage.invalid',
          `${connection.name} is an import connection (its source is read-only); it cannot be two-way.`,
        );
      const state = await runtime.store.getConnectionState(connection.name);
      const changed = effectiveMode(connection, state) !== 'two-way';
      if (changed) {
        await runtime.store.setConnectionState(connection.name, {
          twoWayEnabledAt: new Date().toISOString(),
        });
        await runtime.trigger(connection.name, 'publish', true);
      }
      return { connection: await show(await runtime.catalog.get(connection.name)), changed };
    },
  );

  app.get(
    '/connections/:name/runs',
    {
      schema: {
        summary: "A connection's sync runs",
        tags: ['connections', 'runs'],
        params: nameParams,
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }),
        response: { 200: z.object({ runs: z.array(runSchema) }), 404: errorSchema },
      },
    },
    async (request) => {
      await find(request.params.name);
      return {
        runs: await runtime.store.listRuns({ connection: request.params.name, limit: request.query.limit }),
      };
    },
  );
};

/** A source that cannot be reached is a result here (`ok: false`), not an error. */
async function test(runtime: Runtime, connection: Parameters<typeof describe>[1]) {
  try {
    return { ok: true as const, ...(await describe(runtime, connection)) };
  } catch (error) {
    if (!isUsersyncError(error)) throw error;
    return { ok: false as const, error: { code: error.code, message: error.message } };
  }
}

async function describe(
  runtime: Runtime,
  connection: Pick<ConnectionConfig, 'source' | 'table' | 'key' | 'emailColumn'>,
): Promise<{
  location: string;
  columns: Array<{ name: string; type: string; nullable: boolean; generated: boolean }>;
}> {
  const source = await createConnector({
    source: connection.source,
    table: connection.table,
    key: connection.key,
    emailColumn: connection.emailColumn,
    baseDir: runtime.file.baseDir,
    readOnly: true,
  });
  try {
    const { location, columns } = await source.describe();
    return { location, columns: columns.map((c) => ({ ...c })) };
  } finally {
    await source.close();
  }
}
