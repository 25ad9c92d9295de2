import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/domain/staff/api-keys.js';
import { createHttpServer } from '../../src/http/server.js';
import { type RedisHandle, startRedis } from '../../src/redis.js';
import { type AnalyticsFixture, seedAnalyticsFixture } from '../support/analytics-fixture.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { type DomainHarness, domainHarness } from '../support/domain.js';
import { TEST_REDIS_URL } from '../support/env.js';

/**
 * The analytics and receipts endpoints over HTTP, on the hand-computed fixture of
 * test/support/analytics-fixture.ts (the numbers themselves are checked in test/db/analytics.test.ts).
 */

const ADMIN = 1;
const silent = pino({ level: 'silent' });

let db: TestDatabase;
let h: DomainHarness;
let fx: AnalyticsFixture;
let redisHandle: RedisHandle;
let redis: Redis;
let api: FastifyInstance;
let crmKey: string;
let tillKey: string;

beforeAll(async () => {
  db = await createTestDatabase();
  h = await domainHarness(db, { admins: [ADMIN] });
  fx = await seedAnalyticsFixture(db, h, 9200);
  redisHandle = await startRedis(TEST_REDIS_URL, silent);
  redis = redisHandle.connect('producer');
  await new Promise<void>((resolve, reject) => {
    redis.once('ready', resolve);
    redis.once('error', reject);
  });
  crmKey = (await createApiKey(h.deps, ADMIN, { name: 'crm', storeCode: null })).key;
  tillKey = (await createApiKey(h.deps, ADMIN, { name: 'till msk-02', storeCode: 'msk-02' })).key;
  api = createHttpServer({
    logger: silent,
    readiness: {},
    api: { domain: h.deps, redis, defaultLocale: 'en', rateLimit: { limit: 1000, keyPrefix: `test:ratelimit:${randomBytes(6).toString('hex')}:` } },
  });
  await api.ready();
});

afterAll(async () => {
  await api?.close();
  await redisHandle?.stop();
  await db?.drop();
});

const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const get = (url: string, key: string | null = crmKey) => api.inject({ method: 'GET', url, headers: key ? auth(key) : {} });

describe('GET /v1/analytics/kpis', () => {
  it('needs an API key', async () => {
    for (const url of ['/v1/analytics/kpis?from=2026-03-01&to=2026-04-01', '/v1/analytics/cohorts?from=2026-03-01&to=2026-04-01']) {
      const response = await get(url, null);
      expect(response.statusCode).toBe(401);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(response.json().code).toBe('UNAUTHORIZED');
    }
  });

  it('answers the KPIs as JSON', async () => {
    const response = await get('/v1/analytics/kpis?from=2026-03-01&to=2026-04-01&churnDays=45');
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({
      period: { from: '2026-03-01', to: '2026-04-01', timezone: 'Europe/Moscow' },
      store: null,
      tier: null,
      activeDays: 30,
      churnDays: 45,
      membership: { members: 5, newMembers: 2, activeMembers: 3 },
      buying: { averageCheckMembersMinor: 200_000, averageCheckNonMembersMinor: 100_000 },
      cost: { totalMinor: 270_000, tierDiscountsMinor: 60_000 },
      value: { cltvMinor: 800_000, roi: -0.6296 },
      nps: { nps: 0 },
    });
  });

  it('answers a `metric,value` CSV with format=csv', async () => {
    const response = await get('/v1/analytics/kpis?from=2026-03-01&to=2026-04-01&churnDays=45&format=csv');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(response.headers['content-disposition']).toBe('attachment; filename="kpis_2026-03-01_2026-04-01.csv"');
    const lines = response.body.trimEnd().split('\r\n');
    expect(lines[0]).toBe('metric,value');
    expect(lines.every((line) => line.split(',').length === 2)).toBe(true);
    expect(lines).toEqual(
      expect.arrayContaining([
        'period.from,2026-03-01',
        'store,',
        'membership.members,5',
        'buying.membersRevenueShare,0.7273',
        'churn.byTier.silver.rate,1',
        'points.liabilityMinor,960000',
        'cost.tierDiscountsMinor,60000',
        'cost.totalMinor,270000',
        'value.roi,-0.6296',
        'nps.nps,0',
      ]),
    );
  });

  it('limits a key bound to a store to that store', async () => {
    const own = await get('/v1/analytics/kpis?from=2026-03-01&to=2026-04-01', tillKey);
    expect(own.statusCode).toBe(200);
    // msk-02 in March: M1 100000 (03-20), M4 400000 (03-04); receipt 100000.
    expect(own.json()).toMatchObject({ store: 'msk-02', buying: { memberPurchases: 2, memberRevenueMinor: 500_000, nonMemberReceipts: 1 } });
    const other = await get('/v1/analytics/kpis?from=2026-03-01&to=2026-04-01&store=msk-01', tillKey);
    expect(other.statusCode).toBe(403);
    expect(other.json().code).toBe('FORBIDDEN');
  });

  it('limits members to a segment given as JSON, like the tier filter, on every analytics route', async () => {
    const segment = (value: unknown) => `segment=${encodeURIComponent(JSON.stringify(value))}`;
    const period = 'from=2026-03-01&to=2026-04-01';
    for (const route of ['kpis', 'cohorts', 'series']) {
      const byTier = await get(`/v1/analytics/${route}?${period}&tier=silver`);
      const bySegment = await get(`/v1/analytics/${route}?${period}&${segment({ tiers: ['silver'] })}`);
      expect(bySegment.statusCode, route).toBe(200);
      // The same figures; only the echoed tier differs.
      expect({ ...bySegment.json(), tier: 'silver' }, route).toEqual(byTier.json());
    }
    // English members (M1, M4) in March: 3 purchases, 700000; receipts are not members': all 3.
    const english = await get(`/v1/analytics/kpis?${period}&${segment({ languages: ['en'] })}`);
    expect(english.json()).toMatchObject({
      tier: null,
      membership: { members: 2, newMembers: 1, activeMembers: 2 },
      buying: { memberPurchases: 3, memberRevenueMinor: 700_000, nonMemberReceipts: 3 },
    });
    // The CSV keeps its shape: a segment adds no line; the same metrics as the tier filter's, in the same order.
    const csvLines = async (query: string) =>
      (await get(`/v1/analytics/kpis?${period}&format=csv&${query}`)).body.split('\r\n').map((line) => line.split(',')[0]);
    expect(await csvLines(segment({ tiers: ['silver'] }))).toEqual(await csvLines('tier=silver'));
  });

  it('keeps a store-bound key to its store whatever the segment says', async () => {
    const segment = (value: unknown) => `segment=${encodeURIComponent(JSON.stringify(value))}`;
    // msk-02 in March, silver members: M4's 400000; the store's receipt 100000.
    const silver = await get(`/v1/analytics/kpis?from=2026-03-01&to=2026-04-01&${segment({ tiers: ['silver'] })}`, tillKey);
    expect(silver.json()).toMatchObject({ store: 'msk-02', buying: { memberPurchases: 1, memberRevenueMinor: 400_000, nonMemberReceipts: 1 } });
    // A segment of msk-01's customers (home store msk-01: M2, M3) does not open msk-01's sales: none of them bought at msk-02.
    const otherStore = await get(`/v1/analytics/kpis?from=2026-03-01&to=2026-04-01&${segment({ stores: ['msk-01'] })}`, tillKey);
    expect(otherStore.statusCode).toBe(200);
    expect(otherStore.json()).toMatchObject({
      store: 'msk-02',
      membership: { members: 0 },
      buying: { memberPurchases: 0, memberRevenueMinor: 0, nonMemberReceipts: 1, nonMemberRevenueMinor: 100_000 },
    });
  });

  it('refuses a bad segment with problem details naming the field', async () => {
    const cases: [string, string][] = [
      ['not json', 'segment'],
      ['[1]', 'segment'],
      ['"en"', 'segment'],
      ['{"languages":["de"]}', 'segment.languages'],
      ['{"tiers":["diamond"]}', 'segment.tiers'],
      ['{"minBalance":-1}', 'segment.minBalance'],
      ['{"colour":"red"}', 'segment.colour'],
      ['{"neverPurchased":true,"lastPurchaseWithinDays":30}', 'segment.lastPurchaseWithinDays'],
    ];
    for (const [value, field] of cases) {
      for (const route of ['kpis', 'cohorts', 'series']) {
        const response = await get(`/v1/analytics/${route}?from=2026-03-01&to=2026-04-01&segment=${encodeURIComponent(value)}`);
        expect(response.statusCode, value).toBe(400);
        expect(response.headers['content-type']).toContain('application/problem+json');
        expect(response.json(), value).toMatchObject({ code: 'VALIDATION_FAILED', errors: [expect.objectContaining({ field })] });
      }
    }
    const unknownStore = await get(`/v1/analytics/kpis?from=2026-03-01&to=2026-04-01&segment=${encodeURIComponent('{"stores":["nowhere"]}')}`);
    expect(unknownStore.statusCode).toBe(400);
    expect(unknownStore.json()).toMatchObject({ code: 'SEGMENT_INVALID' });
    expect(JSON.stringify(unknownStore.json())).toContain('segment.stores');
  });

  it('refuses bad parameters with problem details naming the field', async () => {
    const cases: [string, string][] = [
      ['to=2026-04-01', 'from'],
      ['from=2026-3-01&to=2026-04-01', 'from'],
      ['from=2026-02-30&to=2026-04-01', 'from'],
      ['from=2026-04-01&to=2026-04-01', 'to'],
      ['from=2020-01-01&to=2026-04-01', 'to'],
      ['from=2026-03-01&to=2026-04-01&tier=diamond', 'tier'],
      ['from=2026-03-01&to=2026-04-01&activeDays=abc', 'activeDays'],
      ['from=2026-03-01&to=2026-04-01&churnDays=0', 'churnDays'],
      ['from=2026-03-01&to=2026-04-01&format=xml', 'format'],
      ['from=2026-03-01&to=2026-04-01&colour=red', 'colour'],
    ];
    for (const [query, field] of cases) {
      const response = await get(`/v1/analytics/kpis?${query}`);
      expect(response.statusCode, query).toBe(400);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(response.json(), query).toMatchObject({ code: 'VALIDATION_FAILED', errors: [expect.objectContaining({ field })] });
    }
    const unknownStore = await get('/v1/analytics/kpis?from=2026-03-01&to=2026-04-01&store=nowhere');
    expect(unknownStore.statusCode).toBe(404);
    expect(unknownStore.json()).toMatchObject({ code: 'STORE_NOT_FOUND' });
  });
});

describe('GET /v1/analytics/cohorts', () => {
  it('answers the cohort matrix as JSON and as a CSV table', async () => {
    const json = await get('/v1/analytics/cohorts?from=2026-01-01&to=2026-04-01');
    expect(json.statusCode).toBe(200);
    expect(json.json().cohorts.map((row: { cohort: string; size: number }) => [row.cohort, row.size])).toEqual([
      ['2026-01', 3],
      ['2026-02', 1],
      ['2026-03', 2],
    ]);

    const csv = await get('/v1/analytics/cohorts?from=2026-01-01&to=2026-04-01&format=csv');
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.body).toBe(['cohort,size,m0,m1,m2', '2026-01,3,0.6667,0.3333,0.3333', '2026-02,1,1,1,', '2026-03,2,0.5,,', ''].join('\r\n'));
  });
});

describe('GET /v1/analytics/series', () => {
  it('answers the program over time as JSON, and as CSV for format=csv or Accept: text/csv', async () => {
    const json = await get('/v1/analytics/series?from=2026-03-04&to=2026-03-07');
    expect(json.statusCode).toBe(200);
    const body = json.json();
    expect(body).toMatchObject({ period: { from: '2026-03-04', to: '2026-03-07', timezone: 'Europe/Moscow' }, store: null, granularity: 'day' });
    expect(body.points.map((p: { start: string; members: number; memberPurchases: number }) => [p.start, p.members, p.memberPurchases])).toEqual([
      ['2026-03-04', 4, 1],
      ['2026-03-05', 4, 1],
      ['2026-03-06', 4, 0],
    ]);

    const header =
      'start,members,newMembers,activeMembers,memberPurchases,averageCheckMembersMinor,nonMemberReceipts,averageCheckNonMembersMinor,pointsIssued,pointsRedeemed,pointsExpired';
    const expected = [header, '2026-03-04,4,0,1,1,400000,0,,4000,0,0', '2026-03-05,4,0,1,1,200000,1,50000,2000,500,0', '2026-03-06,4,0,0,0,,0,,0,0,0', ''].join(
      '\r\n',
    );
    const csv = await get('/v1/analytics/series?from=2026-03-04&to=2026-03-07&format=csv');
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.headers['content-disposition']).toBe('attachment; filename="series_2026-03-04_2026-03-07.csv"');
    expect(csv.body).toBe(expected);
    const accepted = await api.inject({
      method: 'GET',
      url: '/v1/analytics/series?from=2026-03-04&to=2026-03-07',
      headers: { ...auth(crmKey), accept: 'text/csv' },
    });
    expect(accepted.body).toBe(expected);
    // Accept also works for the older routes; an explicit format still wins.
    const kpis = await api.inject({ method: 'GET', url: '/v1/analytics/kpis?from=2026-03-01&to=2026-04-01', headers: { ...auth(crmKey), accept: 'text/csv' } });
    expect(kpis.body.split('\r\n')[0]).toBe('metric,value');
    const explicit = await api.inject({
      method: 'GET',
      url: '/v1/analytics/series?from=2026-03-04&to=2026-03-07&format=json',
      headers: { ...auth(crmKey), accept: 'text/csv' },
    });
    expect(explicit.json().granularity).toBe('day');
  });

  it('shows a till key only its own store, and checks the query like the other analytics routes', async () => {
    const own = await get('/v1/analytics/series?from=2026-03-04&to=2026-03-07', tillKey);
    expect(own.statusCode).toBe(200);
    expect(own.json()).toMatchObject({ store: 'msk-02' });
    expect(own.json().points.map((p: { members: number; pointsExpired: number | null }) => [p.members, p.pointsExpired])).toEqual([
      [1, null],
      [1, null],
      [1, null],
    ]);
    expect((await get('/v1/analytics/series?from=2026-03-04&to=2026-03-07&store=msk-01', tillKey)).statusCode).toBe(403);
    const bad = await get('/v1/analytics/series?from=2026-03-07&to=2026-03-04');
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['content-type']).toContain('application/problem+json');
    expect(JSON.stringify(bad.json())).toContain('to');
  });
});

describe('POST /v1/receipts', () => {
  const post = (body: unknown, headers: Record<string, string> = {}, key = tillKey) =>
    api.inject({
      method: 'POST',
      url: '/v1/receipts',
      headers: { ...auth(key), 'content-type': 'application/json', ...headers },
      payload: JSON.stringify(body),
    });

  it('records a sale without a member once; a retry is answered from the first', async () => {
    h.clock.set('2026-04-11T08:00:00Z');
    const first = await post({ receiptNo: 'api-1', amountMinor: 4200 }, { 'idempotency-key': 'rk-1' });
    expect(first.statusCode).toBe(201);
    expect(first.json()).toEqual({
      receiptId: expect.any(Number),
      storeCode: 'msk-02',
      receiptNo: 'api-1',
      amountMinor: 4200,
      recordedAt: '2026-04-11T08:00:00.000Z',
      // Basic's 6 % of 42.00 would have been 2.52 with a card.
      memberSavingMinor: 252,
    });
    const retry = await post({ receiptNo: 'api-1', amountMinor: 4200 }, { 'idempotency-key': 'rk-1' });
    expect(retry.statusCode).toBe(200);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.json()).toEqual(first.json());
    const conflict = await post({ receiptNo: 'api-2', amountMinor: 4200 }, { 'idempotency-key': 'rk-1' });
    expect(conflict.statusCode).toBe(409);
    expect(conflict.json().code).toBe('IDEMPOTENCY_CONFLICT');
    // A CRM key names the store.
    const crm = await post({ storeCode: 'msk-01', receiptNo: 'api-3', amountMinor: 100 }, { 'idempotency-key': 'rk-3' }, crmKey);
    expect(crm.statusCode).toBe(201);
    expect(crm.json().storeCode).toBe('msk-01');
  });

  it("refuses a member purchase's receipt number with 409", async () => {
    const response = await post({ receiptNo: `p-${fx.members.m4}-03-04`, amountMinor: 400_000 }, { 'idempotency-key': 'rk-4' });
    expect(response.statusCode).toBe(409);
    expect(response.json().code).toBe('RECEIPT_DUPLICATE');
  });

  it('names every wrong field', async () => {
    const response = await post({ receiptNo: '', amountMinor: -5, memberCode: 'X' });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(
      response
        .json()
        .errors.map((error: { field: string }) => error.field)
        .sort(),
    ).toEqual(['Idempotency-Key', 'amountMinor', 'memberCode', 'receiptNo']);
    const noStore = await post({ receiptNo: 'api-5', amountMinor: 100 }, { 'idempotency-key': 'rk-5' }, crmKey);
    expect(noStore.statusCode).toBe(400);
    expect(noStore.json().errors).toEqual([expect.objectContaining({ field: 'storeCode' })]);
    expect(await db.prisma.receipt.count({ where: { receiptNo: { in: ['', 'api-5'] } } })).toBe(0);
  });

  it('is in the OpenAPI document, with the analytics endpoints', async () => {
    const doc = (await api.inject({ method: 'GET', url: '/v1/openapi.json' })).json();
    expect(doc.paths['/v1/receipts'].post.responses).toHaveProperty('409');
    expect(doc.components.schemas.ReceiptRequest.required.sort()).toEqual(['amountMinor', 'receiptNo']);
    expect(doc.paths['/v1/analytics/kpis'].get.responses['200'].content).toHaveProperty('text/csv');
    expect(doc.paths['/v1/analytics/series'].get.responses['200'].content).toHaveProperty('text/csv');
    expect(Object.keys(doc.components.schemas.SeriesResponse.properties)).toEqual(['period', 'store', 'tier', 'granularity', 'points']);
    expect(doc.paths['/v1/analytics/cohorts'].get.parameters.map((p: { name: string }) => p.name)).toEqual([
      'from',
      'to',
      'store',
      'tier',
      'segment',
      'activeDays',
      'churnDays',
      'format',
    ]);
    for (const route of ['kpis', 'cohorts', 'series']) {
      const segment = doc.paths[`/v1/analytics/${route}`].get.parameters.find((p: { name: string }) => p.name === 'segment');
      expect(segment, route).toMatchObject({ in: 'query', required: false, schema: { type: 'string' } });
      // Its fields are the broadcast segment's, named in the description.
      expect(segment.description ?? segment.schema.description).toContain('lastPurchaseWithinDays');
      expect(doc.paths[`/v1/analytics/${route}`].get.responses).toHaveProperty('400');
    }
    expect(Object.keys(doc.components.schemas.KpiResponse.properties)).toEqual(
      expect.arrayContaining(['membership', 'buying', 'churn', 'points', 'cost', 'value', 'nps']),
    );
    const text = JSON.stringify(doc);
    for (const [, id] of text.matchAll(/"#\/components\/schemas\/([A-Za-z]+)"/g)) expect(doc.components.schemas).toHaveProperty(id as string);
  });
});
