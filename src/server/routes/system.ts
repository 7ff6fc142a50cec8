/** Health, readiness and metrics: public, for load balancers and Prometheus. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Runtime } from '../../services/runtime.js';

export const systemRoutes: FastifyPluginAsyncZod<{ runtime: Runtime; isClosing: () => boolean }> = async (
  app,
  { runtime, isClosing },
) => {
  app.get(
    '/health',
    {
      config: { public: true },
      schema: {
        summary: 'Liveness',
        tags: ['system'],
        response: { 200: z.object({ status: z.literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/ready',
    {
      config: { public: true },
      schema: {
        summary: 'Readiness',
        description: '503 while the directory cannot be reached or the server is shutting down.',
        tags: ['system'],
        response: {
          200: z.object({
            status: z.literal('ready'),
            directory: z.enum(['sqlite', 'postgres']),
            queue: z.enum(['local', 'pg-boss']),
          }),
          503: z.object({ status: z.literal('unavailable'), reason: z.string() }),
        },
      },
    },
    async (_request, reply) => {
      if (isClosing())
        return reply.status(503).send({ status: 'unavailable' as const, reason: 'shutting down' });
      try {
        await runtime.store.getUser('-'); // a primary-key lookup: cheap at any size
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        return reply.status(503).send({ status: 'unavailable' as const, reason: `directory: ${reason}` });
      }
      return { status: 'ready' as const, directory: runtime.store.dialect, queue: runtime.queue.kind };
    },
  );

  app.get(
    '/metrics',
    {
      config: { public: true },
      schema: { summary: 'Prometheus metrics', tags: ['system'], produces: ['text/plain'] },
    },
    async (_request, reply) => {
      const text = await runtime.metrics.registry.metrics();
      return reply.type(runtime.metrics.registry.contentType).send(text);
    },
  );
};
