/**
 * SPEC §9: every admin endpoint requires an API key, sent as `Authorization: Bearer usk_…`.
 * Routes that authenticate otherwise (health, metrics, the OpenAPI document, source
 * webhooks with their signature) say so with `config: { public: true }`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiKeyRecord } from '../directory/store.js';
import { ApiKeyChecker } from '../services/api-keys.js';
import type { Runtime } from '../services/runtime.js';
import { errorBody } from './errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    public?: boolean;
  }
  interface FastifyRequest {
    apiKey: ApiKeyRecord | null;
  }
}

export function requireApiKeys(app: FastifyInstance, runtime: Runtime): void {
  const checker = new ApiKeyChecker(runtime.store);
  app.decorateRequest('apiKey', null);
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config.public) return;
    const token = bearer(request);
    const key = await checker.check(token);
    if (key) {
      request.apiKey = key;
      return;
    }
    const message =
      token === undefined
        ? 'This endpoint needs an API key: send `Authorization: Bearer <key>`. Create one with `usersync api-keys create NAME`.'
        : 'The API key is not valid (unknown or revoked). Create a new one with `usersync api-keys create NAME`.';
    return reply.status(401).header('www-authenticate', 'Bearer').send(errorBody('unauthorized', message));
  });
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
