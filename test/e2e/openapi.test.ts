import { randomBytes } from 'node:crypto';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpServer } from '../../src/http/server.js';
import { type RedisHandle, startRedis } from '../../src/redis.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { type DomainHarness, domainHarness } from '../support/domain.js';
import { TEST_REDIS_URL } from '../support/env.js';

/**
 * /v1/openapi.json is generated from the routes' zod schemas: it must be a valid OpenAPI 3.1
 * document, and no route may be missing from it (a route added without a schema would be).
 */

const silent = pino({ level: 'silent' });
let db: TestDatabase;
let h: DomainHarness;
let redisHandle: RedisHandle;
let redis: Redis;
let api: FastifyInstance;
const routes: { method: string; url: string }[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  h = await domainHarness(db, { admins: [1] });
  redisHandle = await startRedis(TEST_REDIS_URL, silent);
  redis = redisHandle.connect('producer');
  api = createHttpServer({
    logger: silent,
    readiness: {},
    api: { domain: h.deps, redis, defaultLocale: 'en', rateLimit: { limit: 1000, keyPrefix: `test:ratelimit:${randomBytes(6).toString('hex')}:` } },
  });
  // The API plugin registers its routes when the app gets ready: this hook sees every one.
  api.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) if (method !== 'HEAD') routes.push({ method, url: route.url });
  });
  await api.ready();
});

afterAll(async () => {
  await api?.close();
  await redisHandle?.stop();
  await db?.drop();
});

const documentOf = async () => {
  const response = await api.inject({ method: 'GET', url: '/v1/openapi.json' });
  expect(response.statusCode).toBe(200);
  return response.json() as { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>> };
};

describe('GET /v1/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await new Validator().validate(await documentOf());
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
  });

  it('documents every route of the API, and nothing else', async () => {
    const doc = await documentOf();
    const apiRoutes = routes.filter((route) => route.url.startsWith('/v1/'));
    expect(apiRoutes.length).toBeGreaterThan(10);
    const documented = Object.entries(doc.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`));
    const registered = apiRoutes.map((route) => `${route.method} ${route.url.replace(/:([A-Za-z]+)/g, '{$1}')}`);
    expect(documented.sort()).toEqual([...new Set(registered)].sort());
  });

  it('documents the non-JSON answers: CSV tables and problem+json errors on every operation', async () => {
    const doc = await documentOf();
    expect(doc.paths['/v1/analytics/kpis']?.get?.responses['200']?.content).toHaveProperty('text/csv');
    expect(doc.paths['/v1/analytics/cohorts']?.get?.responses['200']?.content).toHaveProperty('text/csv');
    for (const [path, operations] of Object.entries(doc.paths)) {
      if (path === '/v1/openapi.json') continue;
      for (const operation of Object.values(operations)) {
        expect(operation.responses['401']?.content, path).toHaveProperty('application/problem+json');
        expect(operation.responses['429']?.content, path).toHaveProperty('application/problem+json');
      }
    }
  });
});
