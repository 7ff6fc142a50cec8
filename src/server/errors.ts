/** Every error leaves the API in one shape (`errorSchema`), with one status per error code. */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { isUsersyncError, type ErrorCode } from '../core/errors.js';

const STATUS: Record<ErrorCode, number> = {
  'usage.invalid': 400,
  'config.invalid': 400,
  'config.not_found': 500,
  not_found: 404,
  'user.suspended': 403,
  'directory.conflict': 409,
  'run.locked': 409,
  'source.read_only': 409,
  'source.unreachable': 502,
  'source.invalid': 502,
  'source.write_rejected': 502,
  'directory.invalid': 500,
  'directory.unreachable': 503,
};

export function errorBody(
  code: string,
  message: string,
  problems: readonly { path: string; message: string }[] = [],
) {
  return { error: { code, message, problems: [...problems] } };
}

export function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (hasZodFastifySchemaValidationErrors(error)) {
    const where = error.validationContext ?? 'request';
    const problems = error.validation.flatMap((v) => {
      const at = `${where}${v.instancePath === '/' ? '' : v.instancePath.replaceAll('/', '.')}`;
      // An unknown key is reported at the key itself, so a client can point at it.
      const keys = (v.params as { keys?: unknown }).keys;
      if (v.keyword === 'unrecognized_keys' && Array.isArray(keys))
        return keys.map((key) => ({
          path: `${at}.${String(key)}`,
          message: 'is not a known field; remove it',
        }));
      return [{ path: at, message: v.message ?? 'is invalid' }];
    });
    const summary = problems.map((p) => `${p.path}: ${p.message}`).join('; ');
    return reply
      .status(400)
      .send(errorBody('request.invalid', `The request is invalid: ${summary}.`, problems));
  }
  if (isUsersyncError(error)) {
    const status = STATUS[error.code];
    if (status >= 500) request.log.error({ err: error }, error.message);
    return reply.status(status).send(errorBody(error.code, error.message, error.problems));
  }
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    // Fastify's own: malformed JSON, unsupported media type, a body too large …
    return reply.status(error.statusCode).send(errorBody('request.invalid', error.message));
  }
  request.log.error({ err: error }, 'unexpected error');
  return reply
    .status(500)
    .send(errorBody('internal', 'Something went wrong on the server; the log has the details.'));
}
