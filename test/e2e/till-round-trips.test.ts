import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateMemberCode } from '../../src/domain/codes.js';
import { issueSpendCode } from '../../src/domain/spending/spend-codes.js';
import { createApiKey } from '../../src/domain/staff/api-keys.js';
import { createHttpServer } from '../../src/http/server.js';
import { type RedisHandle, startRedis } from '../../src/redis.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { type DomainHarness, domainHarness } from '../support/domain.js';
import { TEST_REDIS_URL } from '../support/env.js';

// Issue 12: what POST /v1/purchases sends to PostgreSQL once the till's key and store are in the
// lookup cache. Every statement any pg client of this process sends is counted (Prisma's and the
// hot statements on the pool alike), so a lookup or a write that crept back into the request
// shows here.
const ADMIN = 1;
const silent = pino({ level: 'silent' });

let db: TestDatabase;
let h: DomainHarness;
let redisHandle: RedisHandle;
let redis: Redis;
let api: FastifyInstance;
let key: string;
let statements: string[] | null = null;
const originalQuery = pg.Client.prototype.query;

beforeAll(async () => {
  db = await createTestDatabase();
  h = await domainHarness(db, { admins: [ADMIN] });
  redisHandle = await startRedis(TEST_REDIS_URL, silent);
  redis = redisHandle.connect('producer');
  await new Promise<void>((resolve, reject) => {
    redis.once('ready', resolve);
    redis.once('error', reject);
  });
  key = (await createApiKey(h.deps, ADMIN, { name: 'till', storeCode: null })).key;
  api = createHttpServer({
    logger: silent,
    readiness: {},
    api: {
      domain: h.deps,
      redis,
      defaultLocale: 'en',
      rateLimit: { limit: 1000, keyPrefix: `test:ratelimit:${randomBytes(6).toString('hex')}:` },
      lookupCache: { ttlMs: 60_000 },
    },
  });
  await api.ready();
  (pg.Client.prototype as { query: unknown }).query = function (this: pg.Client, ...args: unknown[]) {
    const first = args[0];
    statements?.push(typeof first === 'string' ? first : String((first as { text?: string })?.text ?? first));
    return (originalQuery as (...a: unknown[]) => unknown).apply(this, args);
  };
});

afterAll(async () => {
  pg.Client.prototype.query = originalQuery;
  await api?.close();
  await redisHandle?.stop();
  await db?.drop();
});

async function purchase(memberCode: string, receiptNo: string, pointsToSpend: number, spendCode?: string) {
  const response = await api.inject({
    method: 'POST',
    url: '/v1/purchases',
    headers: { authorization: `Bearer ${key}`, 'idempotency-key': receiptNo },
    payload: { memberCode, storeCode: 'msk-01', receiptNo, amountMinor: 10_000, pointsToSpend, ...(spendCode ? { spendCode } : {}) },
  });
  expect(response.statusCode, response.body).toBe(201);
}

describe('round trips of a till purchase over HTTP', () => {
  it('are two with a warm lookup cache: the snapshot (which finds the member by card code), record_purchase', async () => {
    const seeded = await h.member(7_001, 500);
    const code = generateMemberCode();
    await db.prisma.member.update({ where: { id: seeded.id }, data: { code } });
    // The first purchase warms the cache (key, store) and stamps the key's lastUsedAt.
    await purchase(code, 'RT-HTTP-0', 0);

    const spendCode = (await issueSpendCode(h.deps, seeded.id)).code;
    statements = [];
    await purchase(code, 'RT-HTTP-1', 10, spendCode);
    await purchase(code, 'RT-HTTP-2', 0);
    const sent = statements;
    statements = null;
    expect(sent.length, sent.join('\n')).toBe(4);
    expect(sent.filter((text) => /record_purchase/.test(text))).toHaveLength(2);
  });
});
