/**
 * Sync runs (SPEC §1): start one (trigger `manual`), list, get, and follow live with
 * server-sent events. Progress is read from the runs table, which the process running the
 * sync (this one or a worker) writes: any API process can serve the stream.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { UsersyncError } from '../../core/errors.js';
import type { RunRecord } from '../../directory/store.js';
import type { Runtime } from '../../services/runtime.js';
import { errorSchema, runSchema } from '../schemas.js';

const POLL_MS = 500;
const HEARTBEAT_MS = 15_000;

export const runRoutes: FastifyPluginAsyncZod<{ runtime: Runtime }> = async (app, { runtime }) => {
  app.post(
    '/runs',
    {
      schema: {
        summary: 'Start a sync',
        description:
          'Queues a run (trigger `manual`) of one connection, or of all. A run already waiting for the connection absorbs this request. Follow it with GET /runs/events.',
        tags: ['runs'],
        body: z.strictObject({
          connection: z.string().min(1).optional(),
          full: z
            .boolean()
            .default(true)
            .meta({ description: 'Read every row even when the connection has a cursor' }),
        }),
        response: { 202: z.object({ queued: z.array(z.string()) }), 400: errorSchema, 404: errorSchema },
      },
    },
    async (request, reply) => {
      const queued = await runtime.trigger(request.body.connection ?? null, 'manual', request.body.full);
      return reply.status(202).send({ queued });
    },
  );

  app.get(
    '/runs',
    {
      schema: {
        summary: 'List sync runs',
        description: 'Newest first.',
        tags: ['runs'],
        querystring: z.object({
          connection: z.string().optional(),
          limit: z.coerce.number().int().min(1).max(500).default(50),
        }),
        response: { 200: z.object({ runs: z.array(runSchema) }) },
      },
    },
    async (request) => ({ runs: await runtime.store.listRuns(request.query) }),
  );

  app.get(
    '/runs/events',
    {
      schema: {
        summary: 'Follow sync runs live',
        description:
          'Server-sent events: a `run` event (a SyncRun as JSON) each time a run starts, makes progress or finishes. Optionally for one connection.',
        tags: ['runs'],
        querystring: z.object({ connection: z.string().optional() }),
        produces: ['text/event-stream'],
      },
    },
    (request, reply) =>
      stream(
        request,
        reply,
        () => runtime.store.listRuns({ connection: request.query.connection, limit: 20 }),
        () => false,
      ),
  );

  app.get(
    '/runs/:id',
    {
      schema: {
        summary: 'Get a sync run',
        tags: ['runs'],
        params: z.object({ id: z.string().min(1) }),
        response: { 200: runSchema, 404: errorSchema },
      },
    },
    async (request) => requireRun(runtime, request.params.id),
  );

  app.get(
    '/runs/:id/events',
    {
      schema: {
        summary: 'Follow one sync run live',
        description:
          'Server-sent events: a `run` event at each change; the stream ends once the run has finished.',
        tags: ['runs'],
        params: z.object({ id: z.string().min(1) }),
        produces: ['text/event-stream'],
        response: { 404: errorSchema },
      },
    },
    async (request, reply) => {
      await requireRun(runtime, request.params.id);
      const read = async () => {
        const run = await runtime.store.getRun(request.params.id);
        return run ? [run] : [];
      };
      return stream(request, reply, read, (runs) => runs.every((r) => r.status !== 'running'));
    },
  );
};

async function requireRun(runtime: Runtime, id: string): Promise<RunRecord> {
  const run = await runtime.store.getRun(id);
  if (!run) throw new UsersyncError('not_found', `No sync run has the id ${id}.`);
  return run;
}

/** Polls `read` and sends each run whose state changed, until `done` or the client leaves. */
async function stream(
  request: FastifyRequest,
  reply: FastifyReply,
  read: () => Promise<RunRecord[]>,
  done: (runs: RunRecord[]) => boolean,
): Promise<void> {
  reply.hijack();
  const out = reply.raw;
  out.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  // Sends the headers now: a client waits for them before it does anything else.
  out.write(': connected\n\n');
  const sent = new Map<string, string>();
  let closed = false;
  request.raw.on('close', () => (closed = true));
  let lastWrite = Date.now();
  while (!closed) {
    let runs: RunRecord[];
    try {
      runs = await read();
    } catch (error) {
      request.log.error({ err: error }, 'run events: could not read runs');
      break;
    }
    for (const run of [...runs].reverse()) {
      const json = JSON.stringify(run);
      if (sent.get(run.id) === json) continue;
      sent.set(run.id, json);
      out.write(`event: run\nid: ${run.id}\ndata: ${json}\n\n`);
      lastWrite = Date.now();
    }
    if (done(runs)) break;
    if (Date.now() - lastWrite > HEARTBEAT_MS) {
      out.write(': keep-alive\n\n');
      lastWrite = Date.now();
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  out.end();
}
