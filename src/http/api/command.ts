import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { idempotencyKeySchema } from './schemas.js';

/** Bodies are a few fields; anything bigger is not a till talking to us. */
export const BODY_LIMIT = 16 * 1024;

/**
 * The Idempotency-Key header of a command. Header names are matched in lower case (the document
 * and error messages spell it `Idempotency-Key`); other headers pass through untouched.
 */
export const idempotencyHeaders = z.looseObject({ 'idempotency-key': idempotencyKeySchema });

/*
 * Adding a route (the one pattern; see README "HTTP"): register it on the typed scope the
 * register function gets (`ApiScope`), with a `schema` that says everything:
 *
 *   app.post('/purchases/quote', {
 *     bodyLimit: BODY_LIMIT,
 *     schema: {
 *       operationId: 'quotePurchase',
 *       summary: '...',
 *       headers: idempotencyHeaders,              // commands only
 *       body: quoteRequestSchema,                 // a zod schema with .meta({ id: 'QuoteRequest' })
 *       response: {
 *         200: json(quoteResponseSchema, 'The quote'),
 *         ...problemResponses([...BODY_PROBLEMS, ...COMMON_PROBLEMS, 'STORE_NOT_FOUND']),
 *       },
 *     },
 *   }, async (request) => { request.body ... request.headers['idempotency-key'] ... });
 *
 * The body, params, query and headers arrive validated and typed; a failure is a 400
 * problem+json naming each field (openapi-doc.ts). The route appears in /v1/openapi.json by itself.
 */

/** The scope route modules register on: request parts typed from the route's zod schemas. */
export type ApiScope = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>;

/** Whether the Accept header ranks text/csv above JSON (by q, then by order); JSON by default. */
export function prefersCsv(accept: string | undefined): boolean {
  let best: { csv: boolean; q: number } | null = null;
  for (const part of (accept ?? '').split(',')) {
    const [type = '', ...params] = part.trim().toLowerCase().split(';');
    const csv = type.trim() === 'text/csv';
    if (!csv && type.trim() !== 'application/json') continue;
    const q = Number(
      params
        .map((param) => param.trim())
        .find((param) => param.startsWith('q='))
        ?.slice(2) ?? 1,
    );
    if (!Number.isFinite(q) || q <= 0) continue;
    if (!best || q > best.q) best = { csv, q };
  }
  return best?.csv ?? false;
}
