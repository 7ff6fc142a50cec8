/**
 * Responses are written by fast-json-stringify from the JSON Schema of each route's zod
 * response schema: the output has exactly the documented shape (keys not in the schema
 * are left out), several times faster than encoding every response through zod, which
 * matters for a page of 50 users at thousands of requests a second.
 */
import type { FastifySerializerCompiler } from 'fastify/types/schema.js';
import fastJson from 'fast-json-stringify';
import { z } from 'zod';

export const serializerCompiler: FastifySerializerCompiler<unknown> = ({ schema }) => {
  const zodSchema = (
    schema instanceof z.ZodType ? schema : (schema as { properties: unknown }).properties
  ) as z.ZodType;
  const json = z.toJSONSchema(zodSchema, { target: 'draft-7', io: 'output', unrepresentable: 'any' });
  return fastJson(json as Parameters<typeof fastJson>[0]);
};
