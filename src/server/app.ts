/**
 * The HTTP surface (SPEC §9): the REST API under /api/v1, documented by an OpenAPI
 * document generated from the route schemas, plus health, readiness and metrics.
 */
import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Runtime } from '../services/runtime.js';
import { requireApiKeys } from './auth.js';
import { handleError } from './errors.js';
import { serializerCompiler } from './serializer.js';
import { connectionRoutes } from './routes/connections.js';
import { hookRoutes } from './routes/hooks.js';
import { identityRoutes } from './routes/identity.js';
import { issueRoutes } from './routes/issues.js';
import { runRoutes } from './routes/runs.js';
import { systemRoutes } from './routes/system.js';
import { userRoutes } from './routes/users.js';

export const API_PREFIX = '/api/v1';

export interface ServerSettings {
  /** How long a login waits for its push before answering (SPEC §5: a slow source never blocks a login). */
  readonly loginBudgetMs: number;
  /** How long an app change through the API waits for its push. */
  readonly pushBudgetMs: number;
  /** users_tab: listing users syncs connections whose last run is older than this. */
  readonly usersTabMaxAgeMs: number;
}

export const DEFAULT_SETTINGS: ServerSettings = {
  loginBudgetMs: 1_000,
  pushBudgetMs: 2_000,
  usersTabMaxAgeMs: 5 * 60_000,
};

/** A route the server answers, for checking the OpenAPI document against. */
export interface ServedRoute {
  readonly method: string;
  readonly url: string;
}

export async function buildServer(
  runtime: Runtime,
  settings: ServerSettings = DEFAULT_SETTINGS,
  logger?: FastifyBaseLogger,
): Promise<{ app: FastifyInstance; routes: ServedRoute[]; startClosing: () => void }> {
  let closing = false;
  const routes: ServedRoute[] = [];
  const app = Fastify({
    ...(logger ? { loggerInstance: logger } : {}),
    // One line per request, written in onResponse, instead of Fastify's two.
    logController: new Fastify.LogController({ disableRequestLogging: true }),
    bodyLimit: 1 << 20,
  }).withTypeProvider<ZodTypeProvider>();
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat())
      if (method !== 'HEAD') routes.push({ method, url: route.url });
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({
      error: {
        code: 'not_found',
        message: `No route ${request.method} ${request.url.split('?')[0]}. See ${API_PREFIX}/openapi.json.`,
        problems: [],
      },
    }),
  );
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    runtime.metrics.requests.observe(
      { method: request.method, route, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    request.log.info(
      {
        method: request.method,
        url: request.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    );
  });
  requireApiKeys(app, runtime);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'usersync API',
        version: '1',
        description: "Keep your app's user directory and your data sources in two-way sync.",
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'usersync api-keys create NAME' },
        },
      },
      security: [{ apiKey: [] }],
    },
    transform: jsonSchemaTransform,
    // Schemas with a `.meta({ id })` become components, referenced rather than repeated.
    transformObject: jsonSchemaTransformObject,
  });
  app.get(`${API_PREFIX}/openapi.json`, { config: { public: true }, schema: { hide: true } }, async () =>
    app.swagger(),
  );

  await app.register(systemRoutes, { runtime, isClosing: () => closing });
  await app.register(
    async (api) => {
      await api.register(userRoutes, {
        runtime,
        pushBudgetMs: settings.pushBudgetMs,
        usersTabMaxAgeMs: settings.usersTabMaxAgeMs,
      });
      await api.register(identityRoutes, {
        runtime,
        loginBudgetMs: settings.loginBudgetMs,
        pushBudgetMs: settings.pushBudgetMs,
      });
      await api.register(connectionRoutes, { runtime });
      await api.register(runRoutes, { runtime });
      await api.register(issueRoutes, { runtime });
      await api.register(hookRoutes, { runtime });
    },
    { prefix: API_PREFIX },
  );
  await app.ready();
  return { app, routes, startClosing: () => (closing = true) };
}
