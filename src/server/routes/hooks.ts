/**
 * `source_webhook` (SPEC §5): a source announces a change and usersync runs an incremental
 * sync of that connection. The call is authenticated by the connection's `webhookSecret`,
 * either as a Standard Webhooks signature (webhook-id, webhook-timestamp,
 * webhook-signature: HMAC-SHA256 of the body, with replay protection) or, for sources
 * that cannot sign (a database trigger), the secret itself in `x-usersync-webhook-secret`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { Webhook } from 'standardwebhooks';
import type { Runtime } from '../../services/runtime.js';
import { errorBody } from '../errors.js';

export const hookRoutes: FastifyPluginAsync<{ runtime: Runtime }> = async (app, { runtime }) => {
  // The signature is over the exact bytes sent: keep the body raw.
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 1 << 20 }, (_request, body, done) =>
    done(null, body),
  );
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'buffer', bodyLimit: 1 << 20 },
    (_request, body, done) => done(null, body),
  );

  app.post<{ Params: { connection: string } }>(
    '/hooks/:connection',
    {
      config: { public: true },
      schema: {
        summary: 'Webhook: the source changed',
        description:
          "Queues an incremental sync of the connection (trigger `source_webhook`). Authenticated by the connection's `webhookSecret`: a Standard Webhooks signature, or the secret in `x-usersync-webhook-secret`.",
        tags: ['hooks'],
      },
    },
    async (request, reply) => {
      const { connections } = await runtime.catalog.config();
      const connection = connections.find((c) => c.name === request.params.connection);
      // The same answer for an unknown connection and a bad signature: nothing to probe.
      const refuse = () =>
        reply
          .status(401)
          .send(
            errorBody('unauthorized', "The webhook call is not signed with this connection's webhookSecret."),
          );
      if (!connection?.webhookSecret) return refuse();
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      if (!authentic(connection.webhookSecret, body, request.headers)) return refuse();
      await runtime.queue.request({ connection: connection.name, trigger: 'source_webhook', full: false });
      return reply.status(202).send({ queued: [connection.name] });
    },
  );
};

function authentic(
  secret: string,
  body: Buffer,
  headers: Record<string, string | string[] | undefined>,
): boolean {
  const plain = headers['x-usersync-webhook-secret'];
  if (typeof plain === 'string') return sameSecret(plain, secret);
  if (typeof headers['webhook-signature'] !== 'string') return false;
  try {
    const key = secret.startsWith('whsec_') ? secret : Buffer.from(secret, 'utf8').toString('base64');
    new Webhook(key).verify(body.toString('utf8'), {
      'webhook-id': String(headers['webhook-id'] ?? ''),
      'webhook-timestamp': String(headers['webhook-timestamp'] ?? ''),
      'webhook-signature': String(headers['webhook-signature']),
    });
    return true;
  } catch {
    return false;
  }
}

function sameSecret(given: string, secret: string): boolean {
  // Hashes first: timingSafeEqual needs equal lengths, and the length must not leak either.
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(secret));
}
