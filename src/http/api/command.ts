import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { type FieldError, fieldErrors, type ProblemCode, validationProblem } from './problems.js';
import { idempotencyKeySchema } from './schemas.js';

/** Bodies are a few fields; anything bigger is not a till talking to us. */
export const BODY_LIMIT = 16 * 1024;

/** The body and the Idempotency-Key header, validated together so that one answer names every problem. */
export function parseCommand<S extends z.ZodType>(schema: S, request: FastifyRequest): { body: z.output<S>; idempotencyKey: string } {
  const errors: FieldError[] = [];
  const body = schema.safeParse(request.body);
  if (!body.success) errors.push(...fieldErrors(body.error));
  const key = idempotencyKeySchema.safeParse(request.headers['idempotency-key']);
  if (!key.success) errors.push(...fieldErrors(key.error, 'Idempotency-Key'));
  if (!body.success || !key.success) throw validationProblem(errors);
  return { body: body.data, idempotencyKey: key.data };
}

/** What openapi.ts hands each route module that describes its own paths. */
export interface PathHelpers {
  ref: (id: string) => Record<string, unknown>;
  problemsByStatus: (codes: ProblemCode[]) => Record<string, unknown>;
  idempotencyKeyParameter: Record<string, unknown>;
  replayedHeader: Record<string, unknown>;
  common: ProblemCode[];
  bodyErrors: ProblemCode[];
}
