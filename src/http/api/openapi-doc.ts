import swagger from '@fastify/swagger';
import type { FastifyInstance, FastifySchema, FastifySchemaCompiler } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import { ApiProblem, type FieldError, fieldErrors, PROBLEMS, type ProblemCode, problemSchema } from './problems.js';

/**
 * Schema-first routes: each route's zod schemas (params, querystring, headers, body, responses)
 * validate and type the request and generate /v1/openapi.json through @fastify/swagger. Route
 * modules describe problems with `problemResponses` and replays with `recorded`; nothing here
 * lists paths by hand.
 */

type JsonObject = Record<string, unknown>;

/** Headers are matched in lower case; documents and error messages use their usual spelling. */
const HEADER_NAMES: Record<string, string> = { 'idempotency-key': 'Idempotency-Key' };
const headerName = (field: string) => HEADER_NAMES[field] ?? field;

/** Which part of the request a validation problem is about (the error handler completes a body problem with the headers). */
export class RequestValidationProblem extends ApiProblem {
  constructor(
    readonly part: string,
    errors: FieldError[],
  ) {
    super('VALIDATION_FAILED', { detail: errors.map((e) => `${e.field}: ${e.message}`).join('; '), errors });
  }
}

function issuesOf(part: string, error: z.ZodError): FieldError[] {
  const root = part === 'querystring' ? 'query' : part;
  const errors = fieldErrors(error, root);
  return part === 'headers' ? errors.map((e) => ({ ...e, field: headerName(e.field) })) : errors;
}

/**
 * Zod validates every part; a failure is a problem+json naming the fields (as the handlers did by
 * hand before). A missing body arrives as null: it is validated as undefined, so an optional body
 * may default.
 */
export const zodValidatorCompiler: FastifySchemaCompiler<z.ZodType> =
  ({ schema, httpPart }) =>
  (data) => {
    const part = httpPart ?? 'body';
    const result = schema.safeParse(part === 'body' && data === null ? undefined : data);
    if (result.success) return { value: result.data };
    return { error: new RequestValidationProblem(part, issuesOf(part, result.error)) };
  };

/** Bodies are plain JSON: the response schemas document, they do not filter (no behaviour change). */
export const jsonSerializerCompiler = () => (data: unknown) => JSON.stringify(data);

/**
 * Fastify validates params, body, query and headers in turn and stops at the first failure; one
 * answer should name every wrong field, so a body problem is completed with the header problems.
 */
export function completeValidationProblem(error: unknown, schema: FastifySchema | undefined, headers: unknown): unknown {
  if (!(error instanceof RequestValidationProblem) || error.part !== 'body') return error;
  const headerSchema = schema?.headers as z.ZodType | undefined;
  if (!headerSchema || typeof headerSchema.safeParse !== 'function') return error;
  const parsed = headerSchema.safeParse(headers);
  if (parsed.success) return error;
  return new RequestValidationProblem('body', [...(error.options.errors ?? []), ...issuesOf('headers', parsed.error)]);
}

const RETRY_AFTER = { type: 'integer', minimum: 1 } as const;

/** Responses for problem codes, grouped by status; each lists its codes (and headers where the status has some). */
export function problemResponses(codes: ProblemCode[]): Record<string, JsonObject> {
  const byStatus = new Map<number, ProblemCode[]>();
  for (const code of new Set(codes)) byStatus.set(PROBLEMS[code].status, [...(byStatus.get(PROBLEMS[code].status) ?? []), code]);
  const responses: Record<string, JsonObject> = {};
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    const headers =
      status === 429
        ? {
            'Retry-After': { ...RETRY_AFTER, description: 'Seconds until the key may send again' },
            'X-RateLimit-Limit': { type: 'integer', description: 'Requests per window for this API key (RATE_LIMITED)' },
            'X-RateLimit-Remaining': { type: 'integer', description: 'Requests left in the window' },
            'X-RateLimit-Reset': { type: 'integer', description: 'Seconds until the window resets' },
          }
        : status === 503
          ? { 'Retry-After': { ...RETRY_AFTER, description: 'Seconds after which a retry (with the same Idempotency-Key) may succeed' } }
          : status === 401
            ? { 'WWW-Authenticate': { type: 'string' } }
            : undefined;
    responses[String(status)] = {
      description: list.map((code) => `\`${code}\`: ${PROBLEMS[code].title}`).join('; '),
      content: { 'application/problem+json': { schema: problemSchema } },
      ...(headers ? { headers } : {}),
    };
  }
  return responses;
}

/** Problems any authenticated route may answer. */
export const COMMON_PROBLEMS: ProblemCode[] = ['UNAUTHORIZED', 'RATE_LIMITED', 'INTERNAL', 'SERVICE_UNAVAILABLE'];
/** Problems of reading a JSON body. */
export const BODY_PROBLEMS: ProblemCode[] = ['VALIDATION_FAILED', 'MALFORMED_JSON', 'UNSUPPORTED_MEDIA_TYPE', 'PAYLOAD_TOO_LARGE'];

export const REPLAYED_HEADER = {
  'Idempotent-Replayed': { type: 'string', enum: ['true'], description: 'Present (`true`) when the answer is the stored result of an earlier request' },
};

/** 201 for a new record, 200 (Idempotent-Replayed) for a retry that returns the first result. */
export function recorded(schema: z.ZodType, what: string, replay?: string): Record<string, JsonObject> {
  return {
    201: { description: `The ${what} was recorded`, content: { 'application/json': { schema } } },
    200: {
      description: replay ?? `A retry: the ${what} had been recorded under this Idempotency-Key (or receipt) before; nothing was written now`,
      headers: REPLAYED_HEADER,
      content: { 'application/json': { schema } },
    },
  };
}

export const json = (schema: z.ZodType, description: string) => ({ description, content: { 'application/json': { schema } } });

/**
 * The swagger transform: zod to JSON Schema (fastify-type-provider-zod), keeping the response
 * headers that the zod transform drops from content-typed responses.
 */
const transform: typeof jsonSchemaTransform = (input) => {
  const response = (input.schema as { response?: Record<string, JsonObject> } | undefined)?.response;
  const result = jsonSchemaTransform(input);
  const out = (result.schema as { response?: Record<string, JsonObject> } | undefined)?.response;
  if (response && out) {
    for (const [status, entry] of Object.entries(response)) {
      const target = out[status];
      if (entry.headers && target) target.headers = entry.headers;
    }
  }
  return result;
};

/** Registers @fastify/swagger on the API scope: every route registered after it is documented. */
export async function registerOpenApi(app: FastifyInstance, info: { description: string }): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Loyalty program till/CRM API', version: '1.0.0', description: info.description },
      servers: [{ url: '/' }],
      security: [{ bearerAuth: [] }, { apiKeyHeader: [] }],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key issued by an admin in the bot: `Authorization: Bearer lk_...`' },
          apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-Api-Key', description: 'The same key in an X-Api-Key header' },
        },
      },
    },
    transform,
    transformObject: jsonSchemaTransformObject,
  });
}

const REF = '#/components/schemas/';

function collectRefs(value: unknown, into: Set<string>): void {
  if (Array.isArray(value)) for (const item of value) collectRefs(item, into);
  else if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if (key === '$ref' && typeof inner === 'string' && inner.startsWith(REF)) into.add(inner.slice(REF.length));
      else collectRefs(inner, into);
    }
  }
}

function rewriteRefs(value: unknown, rename: Map<string, string>): unknown {
  if (Array.isArray(value)) return value.map((item) => rewriteRefs(item, rename));
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => {
      if (key === '$ref' && typeof inner === 'string' && inner.startsWith(REF))
        return [key, `${REF}${rename.get(inner.slice(REF.length)) ?? inner.slice(REF.length)}`];
      if (key === 'name' && typeof inner === 'string') return [key, headerName(inner)];
      return [key, rewriteRefs(inner, rename)];
    }),
  );
}

/**
 * The generator emits every registered schema twice (`X` as responses see it, `XInput` as
 * requests do). Clients read one name per shape: a schema only requests use is published as `X`,
 * components nothing refers to are dropped, and header parameters get their usual spelling.
 */
export function tidyDocument(document: JsonObject): JsonObject {
  const components = (document.components as { schemas?: Record<string, unknown> } | undefined)?.schemas ?? {};
  const used = new Set<string>();
  collectRefs(document.paths, used);
  // Transitively: components referring to components.
  for (let size = -1; size !== used.size; ) {
    size = used.size;
    for (const id of [...used]) collectRefs(components[id], used);
  }
  const rename = new Map<string, string>();
  for (const id of used) {
    if (!id.endsWith('Input')) continue;
    const base = id.slice(0, -'Input'.length);
    if (!used.has(base) || JSON.stringify(components[id]) === JSON.stringify(components[base])) rename.set(id, base);
  }
  const schemas: Record<string, unknown> = {};
  for (const id of used) {
    const name = rename.get(id) ?? id;
    if (schemas[name] === undefined || !rename.has(id)) schemas[name] = components[id];
  }
  // A route whose body may be left out says so with `x-optional-body` (swagger marks every body required).
  for (const operations of Object.values((document.paths ?? {}) as Record<string, Record<string, JsonObject>>)) {
    for (const operation of Object.values(operations)) {
      if (operation['x-optional-body'] === true && operation.requestBody) (operation.requestBody as JsonObject).required = false;
      delete operation['x-optional-body'];
    }
  }
  const { components: componentsObject, paths, ...rest } = document;
  return {
    ...rest,
    paths: rewriteRefs(paths, rename),
    components: {
      ...(componentsObject as JsonObject),
      schemas: rewriteRefs(Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b))), rename),
    },
  };
}
