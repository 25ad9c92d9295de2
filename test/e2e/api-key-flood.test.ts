import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { generateMemberCode } from '../../src/domain/codes.js';
import type { DomainDeps } from '../../src/domain/ports.js';
import { createApiKey } from '../../src/domain/staff/api-keys.js';
import { addressBucket } from '../../src/http/api/lookup-limit.js';
import type { ApiOptions } from '../../src/http/api/plugin.js';
import { createHttpServer } from '../../src/http/server.js';
import { type RedisHandle, startRedis } from '../../src/redis.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { type DomainHarness, domainHarness } from '../support/domain.js';
import { TEST_REDIS_URL } from '../support/env.js';

// The attacker review's finding: a request with a made-up (well-formed) API key cost a hash and a
// database query each, with no limit before the lookup. Lookups are counted where the API asks the
// database, through the repository the API is given.
const ADMIN = 1;
const silent = pino({ level: 'silent' });

let db: TestDatabase;
let h: DomainHarness;
let redisHandle: RedisHandle;
let redis: Redis;
let crmKey: string;
let memberCode: string;
let lookups = 0;
/** While set, the key lookups fail as they do when the database is down. */
let databaseDown = false;
let counted: DomainDeps;
const servers: FastifyInstance[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  h = await domainHarness(db, { admins: [ADMIN] });
  redisHandle = await startRedis(TEST_REDIS_URL, silent);
  redis = redisHandle.connect('producer');
  // Without an offline queue a command sent before the connection is up fails, and the limiters
  // let the request through (by design): the counts below would be off by those requests.
  if (redis.status !== 'ready') await once(redis, 'ready');
  crmKey = (await createApiKey(h.deps, ADMIN, { name: 'crm', storeCode: null })).key;
  const member = await h.member(4_000, 0);
  await db.prisma.member.update({ where: { id: member.id }, data: { code: generateMemberCode() } });
  memberCode = (await h.deps.repos.members.findById(member.id))?.code as string;
  const apiKeys = h.deps.repos.apiKeys;
  const countingKeys: typeof apiKeys = Object.assign(Object.create(apiKeys), {
    findByHash: async (hash: string) => {
      lookups++;
      if (databaseDown) throw new Error('connection refused');
      return apiKeys.findByHash(hash);
    },
  });
  counted = { ...h.deps, repos: { ...h.deps.repos, apiKeys: countingKeys } };
});

afterAll(async () => {
  for (const app of servers) await app.close();
  await redisHandle?.stop();
  await db?.drop();
});

async function server(options: Partial<ApiOptions> = {}, trustProxy?: string): Promise<FastifyInstance> {
  const prefix = `test:ratelimit:${randomBytes(6).toString('hex')}:`;
  const app = createHttpServer({
    logger: silent,
    readiness: {},
    // As the app passes it: TRUST_PROXY parsed by the config.
    ...(trustProxy === undefined ? {} : { trustProxy: loadConfig({ BOT_TOKEN: '123456:ABCdefGHIjklMNOpqr', TRUST_PROXY: trustProxy }).TRUST_PROXY }),
    api: { domain: counted, redis, defaultLocale: 'en', rateLimit: { limit: 10_000, keyPrefix: prefix }, ...options },
  });
  servers.push(app);
  await app.ready();
  return app;
}

const madeUpKey = () => `lk_${randomBytes(4).toString('hex')}_${randomBytes(24).toString('base64url')}`;
const getMember = (app: FastifyInstance, key: string, remoteAddress: string, forwardedFor?: string) =>
  app.inject({
    method: 'GET',
    url: `/v1/members/${encodeURIComponent(memberCode)}`,
    headers: { authorization: `Bearer ${key}`, ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) },
    remoteAddress,
  });
const codeOf = (response: LightMyRequestResponse) => {
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  return `${response.statusCode} ${response.json().code}`;
};

describe('a flood of made-up API keys', () => {
  it('costs at most the per-address budget of lookups, answered 401 then 429, and valid keys still work', async () => {
    const app = await server({ lookupLimit: { limit: 5, windowSeconds: 60 }, lookupCache: { ttlMs: 60_000 } });
    // A till that was seen before the flood (its key is in the lookup cache), from the same address.
    expect((await getMember(app, crmKey, '203.0.113.7')).statusCode).toBe(200);

    lookups = 0;
    const flood = await Promise.all(Array.from({ length: 200 }, () => getMember(app, madeUpKey(), '203.0.113.7')));
    const answers = flood.map(codeOf);
    expect(lookups).toBe(5);
    expect(answers.filter((answer) => answer === '401 UNAUTHORIZED')).toHaveLength(5);
    expect(answers.filter((answer) => answer === '429 RATE_LIMITED')).toHaveLength(195);
    const limited = flood.find((response) => response.statusCode === 429);
    expect(Number(limited?.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(limited?.headers['retry-after'])).toBeLessThanOrEqual(60);

    // The cached till at the flooded address, and a till elsewhere that needs a lookup: unaffected.
    expect((await getMember(app, crmKey, '203.0.113.7')).statusCode).toBe(200);
    const elsewhere = await server({ lookupLimit: { limit: 5, windowSeconds: 60 } });
    lookups = 0;
    for (let i = 0; i < 10; i++) expect((await getMember(elsewhere, crmKey, '198.51.100.20')).statusCode).toBe(200);
    expect(lookups).toBe(10);
    // A valid key never uses up its address's budget: the made-up ones still get their 5.
    const after = await Promise.all(Array.from({ length: 20 }, () => getMember(elsewhere, madeUpKey(), '198.51.100.20')));
    expect(after.map(codeOf).filter((answer) => answer === '401 UNAUTHORIZED')).toHaveLength(5);
    // The price, at the flooded address only: a key not yet cached waits out the window there.
    expect(codeOf(await getMember(app, (await createApiKey(h.deps, ADMIN, { name: 'new', storeCode: null })).key, '203.0.113.7'))).toBe('429 RATE_LIMITED');
  });

  it('looks a key it found before up again without the budget when its cache entry runs out; a revoked one meets the budget again', async () => {
    let now = 1_000_000;
    const app = await server({ lookupLimit: { limit: 2, windowSeconds: 60 }, lookupCache: { ttlMs: 1_000, now: () => now } });
    const { key, record } = await createApiKey(h.deps, ADMIN, { name: 'till', storeCode: null });
    expect((await getMember(app, key, '203.0.113.9')).statusCode).toBe(200);
    const flood = await Promise.all(Array.from({ length: 10 }, () => getMember(app, madeUpKey(), '203.0.113.9')));
    expect(flood.map(codeOf).filter((answer) => answer === '429 RATE_LIMITED')).toHaveLength(8);

    // Past the cache's TTL the key is read from the database again (a revocation shows), but
    // the flooded address's budget is not asked: the key is known to this process.
    now += 1_001;
    lookups = 0;
    expect((await getMember(app, key, '203.0.113.9')).statusCode).toBe(200);
    expect(lookups).toBe(1);

    await db.prisma.apiKey.update({ where: { id: record.id }, data: { revokedAt: new Date() } });
    now += 1_001;
    expect(codeOf(await getMember(app, key, '203.0.113.9'))).toBe('401 UNAUTHORIZED');
    // Forgotten once found revoked: the next lookup of it meets the spent budget.
    now += 1_001;
    expect(codeOf(await getMember(app, key, '203.0.113.9'))).toBe('429 RATE_LIMITED');
  });

  it('does not count lookups the database could not answer: after an outage the tills get in again', async () => {
    const app = await server({ lookupLimit: { limit: 3, windowSeconds: 60 } });
    databaseDown = true;
    try {
      for (let i = 0; i < 10; i++) expect((await getMember(app, crmKey, '192.0.2.77')).statusCode).toBe(503);
    } finally {
      databaseDown = false;
    }
    expect((await getMember(app, crmKey, '192.0.2.77')).statusCode).toBe(200);
    expect(codeOf(await getMember(app, madeUpKey(), '192.0.2.77'))).toBe('401 UNAUTHORIZED');
  });

  it('counts an IPv6 client per /64, so rotating addresses inside it gains nothing', async () => {
    const app = await server({ lookupLimit: { limit: 3, windowSeconds: 60 } });
    lookups = 0;
    const answers: string[] = [];
    for (let i = 1; i <= 10; i++) answers.push(codeOf(await getMember(app, madeUpKey(), `2001:db8:5:7::${i.toString(16)}`)));
    expect(lookups).toBe(3);
    expect(answers.slice(3).every((answer) => answer === '429 RATE_LIMITED')).toBe(true);
    expect(addressBucket('2001:db8:5:7:a:b:c:d')).toBe('2001:db8:5:7::/64');
    expect(addressBucket('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressBucket('::ffff:192.0.2.1')).toBe('192.0.2.1');
  });

  it('counts the client a trusted proxy names (TRUST_PROXY), and ignores X-Forwarded-For from anyone else', async () => {
    const limit = { lookupLimit: { limit: 3, windowSeconds: 60 } };
    /** The answers to `n` made-up keys sent one after another. */
    const flood = async (n: number, send: (key: string, i: number) => Promise<LightMyRequestResponse>) => {
      const answers: string[] = [];
      for (let i = 0; i < n; i++) answers.push(codeOf(await send(madeUpKey(), i)));
      return answers;
    };
    const unauthorized = (answers: string[]) => answers.filter((answer) => answer === '401 UNAUTHORIZED').length;

    // Behind the proxies 10.0.0.1 and 10.0.0.2: each client they forward has its own budget, so
    // one flooding client does not lock out the others that share the proxy's address.
    const proxied = await server(limit, '10.0.0.1, 10.0.0.2');
    expect(unauthorized(await flood(6, (key) => getMember(proxied, key, '10.0.0.1', '203.0.113.50')))).toBe(3);
    expect(unauthorized(await flood(3, (key) => getMember(proxied, key, '10.0.0.1', '203.0.113.51')))).toBe(3);
    // The client is counted, whichever proxy it comes through.
    expect(codeOf(await getMember(proxied, madeUpKey(), '10.0.0.2', '203.0.113.51'))).toBe('429 RATE_LIMITED');
    // A client reaching the server directly cannot claim other addresses: its own is counted.
    expect(unauthorized(await flood(6, (key, i) => getMember(proxied, key, '198.51.100.9', `203.0.113.${100 + i}`)))).toBe(3);

    // A hop count trusts only the hops the deployment has: what the client wrote in front of the
    // proxy's entry changes nothing, and the next client still has its budget.
    const oneHop = await server(limit, '1');
    expect(unauthorized(await flood(6, (key, i) => getMember(oneHop, key, '10.0.0.1', `192.0.2.${i}, 203.0.113.60`)))).toBe(3);
    expect(codeOf(await getMember(oneHop, madeUpKey(), '10.0.0.1', '203.0.113.61'))).toBe('401 UNAUTHORIZED');

    // Not set (the default): the header is ignored, every address it names is the socket's.
    const direct = await server(limit);
    expect(unauthorized(await flood(6, (key, i) => getMember(direct, key, '198.51.100.10', `203.0.113.${150 + i}`)))).toBe(3);
  });
});
