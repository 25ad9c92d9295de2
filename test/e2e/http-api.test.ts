import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatCode, generateMemberCode } from '../../src/domain/codes.js';
import type { Member } from '../../src/domain/members/member.js';
import type { DomainDeps } from '../../src/domain/ports.js';
import { issueSpendCode } from '../../src/domain/spending/spend-codes.js';
import { answerSpendRequest } from '../../src/domain/spending/spend-requests.js';
import { createApiKey, revokeApiKey } from '../../src/domain/staff/api-keys.js';
import type { ApiOptions } from '../../src/http/api/plugin.js';
import { createHttpServer } from '../../src/http/server.js';
import { type RedisHandle, startRedis } from '../../src/redis.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { type DomainHarness, domainHarness } from '../support/domain.js';
import { TEST_REDIS_URL } from '../support/env.js';
import { eventually } from '../support/eventually.js';

const ADMIN = 1;
const silent = pino({ level: 'silent' });

let db: TestDatabase;
let h: DomainHarness;
let redisHandle: RedisHandle;
let redis: Redis;
let api: FastifyInstance;
/** A CRM key: not bound to a store, names the store in each request. */
let crmKey: string;
/** A till key bound to msk-01. */
let tillKey: string;
let nextTelegramId = 5000;
let nextPhone = 1_000_000;
const servers: FastifyInstance[] = [];

/** Each server gets Redis keys of its own: test files share one Redis and API key ids repeat across test databases. */
const freshPrefix = () => `test:ratelimit:${randomBytes(6).toString('hex')}:`;

function server(options: Partial<ApiOptions> = {}, logger = silent): FastifyInstance {
  const app = createHttpServer({
    logger,
    readiness: {},
    api: { domain: h.deps, redis, defaultLocale: 'en', rateLimit: { limit: 1000, keyPrefix: freshPrefix() }, ...options },
  });
  servers.push(app);
  return app;
}

beforeAll(async () => {
  db = await createTestDatabase();
  h = await domainHarness(db, { admins: [ADMIN] });
  redisHandle = await startRedis(TEST_REDIS_URL, silent);
  redis = redisHandle.connect('producer');
  await new Promise<void>((resolve, reject) => {
    redis.once('ready', resolve);
    redis.once('error', reject);
  });
  crmKey = (await createApiKey(h.deps, ADMIN, { name: 'crm', storeCode: null })).key;
  tillKey = (await createApiKey(h.deps, ADMIN, { name: 'till msk-01', storeCode: 'msk-01' })).key;
  api = server();
  await api.ready();
});

afterAll(async () => {
  for (const app of servers) await app.close();
  await redisHandle?.stop();
  await db?.drop();
});

/** An active member with a real card code, a full name, a verified phone (a shared contact) and a birthday. */
async function member(points = 0): Promise<Member & { phone: string }> {
  const seeded = await h.member(nextTelegramId++, points);
  const phone = `+7916${nextPhone++}`;
  await db.prisma.member.update({
    where: { id: seeded.id },
    data: { code: generateMemberCode(), name: 'Anna Petrova', phone, phoneVerified: true, birthday: new Date('1990-05-17') },
  });
  return { ...((await h.deps.repos.members.findById(seeded.id)) as Member), phone };
}

/** The code on the member's Card screen right now (what the member reads out at the till). */
const spendCodeOf = async (m: Member) => (await issueSpendCode(h.deps, m.id)).code;

const auth = (key: string) => ({ authorization: `Bearer ${key}` });
let nextIdempotencyKey = 0;
const newIdempotencyKey = () => `idem-${++nextIdempotencyKey}`;

function post(url: string, body: unknown, options: { key?: string | null; idempotencyKey?: string | null; app?: FastifyInstance } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const key = options.key === undefined ? crmKey : options.key;
  if (key) Object.assign(headers, auth(key));
  const idempotencyKey = options.idempotencyKey === undefined ? newIdempotencyKey() : options.idempotencyKey;
  if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
  return (options.app ?? api).inject({ method: 'POST', url, headers, payload: typeof body === 'string' ? body : JSON.stringify(body) });
}

const getMember = (code: string, key: string = crmKey, app: FastifyInstance = api) =>
  app.inject({ method: 'GET', url: `/v1/members/${encodeURIComponent(code)}`, headers: auth(key) });

/** Asserts an RFC 9457 problem answer and returns its body. */
function problem(response: LightMyRequestResponse, status: number, code: string) {
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = response.json();
  expect(body).toMatchObject({
    status,
    code,
    title: expect.any(String),
    detail: expect.any(String),
    type: expect.stringContaining(code.toLowerCase().replaceAll('_', '-')),
  });
  expect(response.statusCode).toBe(status);
  return body as { errors?: { field: string; message: string }[]; details?: Record<string, unknown> };
}

const fieldsOf = (body: { errors?: { field: string }[] }) => (body.errors ?? []).map((error) => error.field);
const purchaseCount = () => db.prisma.purchase.count();

describe('authentication', () => {
  it('answers 401 problem+json for a missing, malformed, unknown or revoked key, before reading the body', async () => {
    const m = await member();
    const body = { memberCode: m.code, storeCode: 'msk-01', receiptNo: 'A-1', amountMinor: 1000 };
    const before = await purchaseCount();

    const missing = await post('/v1/purchases', body, { key: null });
    problem(missing, 401, 'UNAUTHORIZED');
    expect(missing.headers['www-authenticate']).toMatch(/^Bearer/);

    problem(await post('/v1/purchases', body, { key: 'not-a-key' }), 401, 'UNAUTHORIZED');
    // Well-formed, but never issued.
    problem(await post('/v1/purchases', body, { key: `lk_0123abcd_${'A'.repeat(32)}` }), 401, 'UNAUTHORIZED');
    // Authentication comes before parsing: a malformed body without a key is still a 401.
    problem(await post('/v1/purchases', '{"broken', { key: null }), 401, 'UNAUTHORIZED');
    problem(await api.inject({ method: 'GET', url: `/v1/members/${m.code}` }), 401, 'UNAUTHORIZED');

    const { key, record } = await createApiKey(h.deps, ADMIN, { name: 'to revoke', storeCode: null });
    expect((await getMember(m.code, key)).statusCode).toBe(200);
    await db.prisma.apiKey.update({ where: { id: record.id }, data: { revokedAt: new Date() } });
    problem(await getMember(m.code, key), 401, 'UNAUTHORIZED');

    expect(await purchaseCount()).toBe(before);
  });

  it('with the lookup cache on, refuses a revoked key once the TTL has passed, and not before', async () => {
    const m = await member();
    let now = 1_000_000;
    const cached = server({ lookupCache: { ttlMs: 5_000, now: () => now } });
    await cached.ready();
    const { key, record } = await createApiKey(h.deps, ADMIN, { name: 'cached, to revoke', storeCode: null });
    expect((await getMember(m.code, key, cached)).statusCode).toBe(200);
    await db.prisma.apiKey.update({ where: { id: record.id }, data: { revokedAt: new Date() } });
    // Within the TTL the process still trusts what it read (the documented bound) ...
    now += 4_999;
    expect((await getMember(m.code, key, cached)).statusCode).toBe(200);
    // ... and once it has passed, the revocation holds.
    now += 1;
    problem(await getMember(m.code, key, cached), 401, 'UNAUTHORIZED');
    now += 60_000;
    problem(await getMember(m.code, key, cached), 401, 'UNAUTHORIZED');
  });

  it('accepts the key in an X-Api-Key header too', async () => {
    const m = await member();
    const response = await api.inject({ method: 'GET', url: `/v1/members/${m.code}`, headers: { 'x-api-key': crmKey } });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ memberCode: m.code });
  });
});

describe('validation', () => {
  it('answers 400 problems that name the offending field, and records nothing', async () => {
    const m = await member(1000);
    const valid = { memberCode: m.code, storeCode: 'msk-01', receiptNo: 'V-1', amountMinor: 10_000 };
    const before = await purchaseCount();

    const { receiptNo: _omitted, ...withoutReceipt } = valid;
    expect(fieldsOf(problem(await post('/v1/purchases', withoutReceipt), 400, 'VALIDATION_FAILED'))).toEqual(['receiptNo']);
    expect(fieldsOf(problem(await post('/v1/purchases', { ...valid, amountMinor: -5 }), 400, 'VALIDATION_FAILED'))).toEqual(['amountMinor']);
    expect(fieldsOf(problem(await post('/v1/purchases', { ...valid, amountMinor: '100' }), 400, 'VALIDATION_FAILED'))).toEqual(['amountMinor']);
    expect(fieldsOf(problem(await post('/v1/purchases', { ...valid, amountMinor: 10.5 }), 400, 'VALIDATION_FAILED'))).toEqual(['amountMinor']);
    expect(fieldsOf(problem(await post('/v1/purchases', { ...valid, pointsToSpend: -1 }), 400, 'VALIDATION_FAILED'))).toEqual(['pointsToSpend']);
    // A typo is not silently ignored.
    expect(fieldsOf(problem(await post('/v1/purchases', { ...valid, amount: 5 }), 400, 'VALIDATION_FAILED'))).toEqual(['amount']);
    expect(fieldsOf(problem(await post('/v1/returns', { receiptNo: 'V-1', storeCode: 'msk-01', amountMinor: 0 }), 400, 'VALIDATION_FAILED'))).toEqual([
      'amountMinor',
    ]);
    // The header is checked with the body: one answer names both.
    expect(fieldsOf(problem(await post('/v1/purchases', { ...valid, amountMinor: 0 }, { idempotencyKey: null }), 400, 'VALIDATION_FAILED'))).toEqual([
      'amountMinor',
      'Idempotency-Key',
    ]);
    expect(fieldsOf(problem(await post('/v1/purchases', valid, { idempotencyKey: 'x'.repeat(201) }), 400, 'VALIDATION_FAILED'))).toEqual(['Idempotency-Key']);
    // The domain's own checks come back the same way.
    expect(fieldsOf(problem(await post('/v1/purchases', { ...valid, receiptNo: 'no spaces allowed' }), 400, 'RECEIPT_INVALID'))).toEqual(['receiptNo']);
    const typo = `${m.code.slice(0, 8)}${m.code[8] === '2' ? '3' : '2'}`;
    expect(fieldsOf(problem(await post('/v1/purchases', { ...valid, memberCode: typo }), 400, 'MEMBER_CODE_INVALID'))).toEqual(['memberCode']);

    const malformed = problem(await post('/v1/purchases', '{"memberCode": '), 400, 'MALFORMED_JSON');
    expect(malformed.errors).toBeUndefined();
    problem(
      await api.inject({
        method: 'POST',
        url: '/v1/purchases',
        headers: { ...auth(crmKey), 'idempotency-key': 'k', 'content-type': 'application/xml' },
        payload: '<a/>',
      }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );

    expect(await purchaseCount()).toBe(before);
  });
});

describe('POST /v1/purchases', () => {
  it('records a purchase (201), and a retry with the same key and body gets the same answer (200, Idempotent-Replayed)', async () => {
    const m = await member(500);
    const body = {
      memberCode: formatCode(m.code).toLowerCase(),
      storeCode: 'msk-01',
      receiptNo: 'P-1',
      amountMinor: 123_456,
      pointsToSpend: 200,
      spendCode: await spendCodeOf(m),
    };
    const first = await post('/v1/purchases', body, { idempotencyKey: 'till-7:P-1' });
    expect(first.statusCode).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    // 1234.56 RUB - 6 % (74.07) = 1160.49; 200.00 paid with points, 960.49 in money: 3 % = 28 points.
    expect(first.json()).toEqual({
      purchaseId: expect.any(Number),
      memberCode: m.code,
      pointsEarned: 28,
      pointsSpent: 200,
      balance: 500 - 200 + 28,
      tier: { code: 'basic', discountPercent: 6 },
      discountPercent: 6,
      discountMinor: 7407,
      amountDueMinor: 96_049,
      savingMinor: 7407,
    });

    const again = await post('/v1/purchases', body, { idempotencyKey: 'till-7:P-1' });
    expect(again.statusCode).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual(first.json());

    const entries = await db.prisma.ledgerEntry.findMany({ where: { memberId: m.id }, orderBy: { id: 'asc' } });
    expect(entries.map((e) => [e.type, e.amount])).toEqual([
      ['BONUS', 500],
      ['SPEND', -200],
      ['EARN', 28],
    ]);
    expect(entries[2]).toMatchObject({ actorType: 'TILL', actorId: expect.stringMatching(/^apikey:\d+$/) });
  });

  it('refuses a different body under the same key (IDEMPOTENCY_CONFLICT) and a reused receipt with different data (RECEIPT_DUPLICATE)', async () => {
    const m = await member();
    const body = { memberCode: m.code, storeCode: 'msk-01', receiptNo: 'P-2', amountMinor: 10_000 };
    expect((await post('/v1/purchases', body, { idempotencyKey: 'k-p2' })).statusCode).toBe(201);

    problem(await post('/v1/purchases', { ...body, amountMinor: 20_000 }, { idempotencyKey: 'k-p2' }), 409, 'IDEMPOTENCY_CONFLICT');
    problem(await post('/v1/purchases', { ...body, amountMinor: 20_000 }, { idempotencyKey: 'k-p2-other' }), 409, 'RECEIPT_DUPLICATE');
    // The same receipt sent again under a new key is the same purchase, not a second one.
    const twin = await post('/v1/purchases', body, { idempotencyKey: 'k-p2-third' });
    expect(twin.statusCode).toBe(200);
    expect(twin.headers['idempotent-replayed']).toBe('true');
    expect(await db.prisma.purchase.count({ where: { memberId: m.id } })).toBe(1);
    // 100.00 - 6 % = 94.00 paid: 3 % = 2.82, 2 points.
    expect((await h.deps.repos.members.findById(m.id))?.balance).toBe(2);
  });

  it('scopes Idempotency-Key to the API key: two tills using the same key record two purchases', async () => {
    const m = await member();
    const a = await post('/v1/purchases', { memberCode: m.code, receiptNo: 'S-1', amountMinor: 1000 }, { key: tillKey, idempotencyKey: 'shared' });
    const b = await post('/v1/purchases', { memberCode: m.code, storeCode: 'msk-02', receiptNo: 'S-1', amountMinor: 2000 }, { idempotencyKey: 'shared' });
    expect([a.statusCode, b.statusCode]).toEqual([201, 201]);
    expect(a.json().purchaseId).not.toBe(b.json().purchaseId);
  });

  it('lets a store-bound key act only for its store (403 for another) and makes an unbound key name the store', async () => {
    const m = await member();
    const msk01 = await h.store('msk-01');
    const msk02 = await h.store('msk-02');

    const foreign = problem(
      await post('/v1/purchases', { memberCode: m.code, storeCode: 'msk-02', receiptNo: 'F-1', amountMinor: 1000 }, { key: tillKey }),
      403,
      'FORBIDDEN',
    );
    expect(foreign.errors).toBeUndefined();
    problem(await post('/v1/returns', { storeCode: 'msk-02', receiptNo: 'F-1' }, { key: tillKey }), 403, 'FORBIDDEN');
    expect(await db.prisma.purchase.count({ where: { memberId: m.id } })).toBe(0);

    const implicit = await post('/v1/purchases', { memberCode: m.code, receiptNo: 'F-2', amountMinor: 1000 }, { key: tillKey });
    const explicit = await post('/v1/purchases', { memberCode: m.code, storeCode: 'msk-01', receiptNo: 'F-3', amountMinor: 1000 }, { key: tillKey });
    const crm = await post('/v1/purchases', { memberCode: m.code, storeCode: 'msk-02', receiptNo: 'F-4', amountMinor: 1000 });
    expect([implicit.statusCode, explicit.statusCode, crm.statusCode]).toEqual([201, 201, 201]);
    const stores = await db.prisma.purchase.findMany({ where: { memberId: m.id }, orderBy: { id: 'asc' }, select: { receiptNo: true, storeId: true } });
    expect(stores).toEqual([
      { receiptNo: 'F-2', storeId: msk01.id },
      { receiptNo: 'F-3', storeId: msk01.id },
      { receiptNo: 'F-4', storeId: msk02.id },
    ]);

    expect(fieldsOf(problem(await post('/v1/purchases', { memberCode: m.code, receiptNo: 'F-5', amountMinor: 1000 }), 400, 'VALIDATION_FAILED'))).toEqual([
      'storeCode',
    ]);
    problem(await post('/v1/purchases', { memberCode: m.code, storeCode: 'nowhere', receiptNo: 'F-5', amountMinor: 1000 }), 404, 'STORE_NOT_FOUND');
  });

  it('finds the member by phone too, and answers 404 for an unknown member', async () => {
    const m = await member();
    const byPhone = await post('/v1/purchases', { memberCode: m.phone, storeCode: 'msk-01', receiptNo: 'M-1', amountMinor: 5000 });
    expect(byPhone.statusCode).toBe(201);
    // 50.00 - 6 % = 47.00 paid: 3 % = 1.41, 1 point.
    expect(byPhone.json()).toMatchObject({ memberCode: m.code, pointsEarned: 1 });

    let unknown = generateMemberCode();
    while (await h.deps.repos.members.findByCode(unknown)) unknown = generateMemberCode();
    problem(await post('/v1/purchases', { memberCode: unknown, storeCode: 'msk-01', receiptNo: 'M-2', amountMinor: 5000 }), 404, 'MEMBER_NOT_FOUND');
    problem(await post('/v1/purchases', { memberCode: '+79169999999', storeCode: 'msk-01', receiptNo: 'M-3', amountMinor: 5000 }), 404, 'MEMBER_NOT_FOUND');
    // A typed (unverified) phone may be anyone's: the lookup does not find its holder.
    const typed = await member();
    await db.prisma.member.update({ where: { id: typed.id }, data: { phoneVerified: false } });
    problem(await post('/v1/purchases', { memberCode: typed.phone, storeCode: 'msk-01', receiptNo: 'M-4', amountMinor: 5000 }), 404, 'MEMBER_NOT_FOUND');
  });

  it('answers 422 when the rules refuse the spend, with the numbers a till may show', async () => {
    const m = await member(100);
    const overCap = problem(
      await post('/v1/purchases', { memberCode: m.code, storeCode: 'msk-01', receiptNo: 'C-1', amountMinor: 10_000, pointsToSpend: 60 }),
      422,
      'POINTS_OVER_CAP',
    );
    // Half of the 94.00 left after the 6 % discount.
    expect(overCap.details).toEqual({ max: 47 });
    expect(fieldsOf(overCap)).toEqual(['pointsToSpend']);
    problem(
      await post('/v1/purchases', {
        memberCode: m.code,
        storeCode: 'msk-01',
        receiptNo: 'C-2',
        amountMinor: 100_000,
        pointsToSpend: 101,
        spendCode: await spendCodeOf(m),
      }),
      422,
      'INSUFFICIENT_POINTS',
    );
    expect((await h.deps.repos.members.findById(m.id))?.balance).toBe(100);
  });
});

describe('POST /v1/purchases/quote', () => {
  it('quotes the tier discount, the points cap, the money due and the points to earn, and the purchase books exactly that', async () => {
    const m = await member(1000);
    await db.prisma.member.update({ where: { id: m.id }, data: { tier: 'gold' } });
    const body = { memberCode: formatCode(m.code).toLowerCase(), amountMinor: 250_000, pointsToSpend: 300 };
    // No Idempotency-Key and no spend proof: nothing is written or spent.
    const quoted = await post('/v1/purchases/quote', body, { key: tillKey, idempotencyKey: null });
    expect(quoted.statusCode).toBe(200);
    // 2500.00 at Gold: 12 % = 300.00 off, 2200.00; up to 1100 points by the cap, 1000 by the
    // balance; 300 points = 300.00, 1900.00 in money: 3 % = 57 points.
    expect(quoted.json()).toEqual({
      memberCode: m.code,
      tier: { code: 'gold', discountPercent: 12 },
      discountMinor: 30_000,
      netMinor: 220_000,
      maxPoints: 1000,
      pointsToSpend: 300,
      pointsValueMinor: 30_000,
      amountDueMinor: 190_000,
      savingMinor: 30_000,
      pointsToEarn: 57,
      balance: 1000,
    });
    // Nothing about the person beyond what a purchase answers.
    expect(quoted.body).not.toMatch(/Anna|Petrova|7916|1990|phone|birthday/i);
    expect(await db.prisma.purchase.count({ where: { memberId: m.id } })).toBe(0);
    expect((await h.deps.repos.members.findById(m.id))?.balance).toBe(1000);

    const booked = await post(
      '/v1/purchases',
      { memberCode: m.code, receiptNo: 'Q-1', amountMinor: 250_000, pointsToSpend: 300, spendCode: await spendCodeOf(m) },
      { key: tillKey },
    );
    expect(booked.statusCode).toBe(201);
    expect(booked.json()).toMatchObject({
      pointsEarned: 57,
      pointsSpent: 300,
      discountPercent: 12,
      discountMinor: 30_000,
      amountDueMinor: 190_000,
      savingMinor: 30_000,
    });
  });

  it("needs a key and the till's own store, refuses points over the cap or the balance and amounts out of range", async () => {
    const m = await member(100);
    const body = { memberCode: m.code, storeCode: 'msk-01', amountMinor: 10_000 };
    problem(await post('/v1/purchases/quote', body, { key: null, idempotencyKey: null }), 401, 'UNAUTHORIZED');
    // A verified phone finds the member for a purchase (which leaves a record and a message), but
    // a quote tells nobody: it must not turn a phone number into a card code, balance and tier.
    const byPhone = problem(await post('/v1/purchases/quote', { ...body, memberCode: m.phone }), 400, 'MEMBER_CODE_INVALID');
    expect(JSON.stringify(byPhone)).not.toContain(m.code);
    expect(problem(await post('/v1/purchases/quote', { ...body, pointsToSpend: 48 }), 422, 'POINTS_OVER_CAP').details).toEqual({ max: 47 });
    problem(await post('/v1/purchases/quote', { ...body, amountMinor: 1_000_000, pointsToSpend: 101 }), 422, 'INSUFFICIENT_POINTS');
    expect(fieldsOf(problem(await post('/v1/purchases/quote', { ...body, amountMinor: 10 ** 15 }), 400, 'VALIDATION_FAILED'))).toEqual(['amountMinor']);
    expect(fieldsOf(problem(await post('/v1/purchases/quote', { ...body, amountMinor: 0 }), 400, 'VALIDATION_FAILED'))).toEqual(['amountMinor']);
    // The quote takes no spend proof: sending one is a mistake, not silently ignored.
    expect(fieldsOf(problem(await post('/v1/purchases/quote', { ...body, spendCode: '123456' }), 400, 'VALIDATION_FAILED'))).toEqual(['spendCode']);
    problem(await post('/v1/purchases/quote', { ...body, storeCode: 'msk-02' }, { key: tillKey }), 403, 'FORBIDDEN');
    // The largest bill quotes in safe integers.
    const largest = await post('/v1/purchases/quote', { ...body, amountMinor: 10_000_000_000 });
    expect(largest.json()).toMatchObject({ discountMinor: 600_000_000, amountDueMinor: 9_400_000_000, pointsToEarn: 2_820_000 });
  });
});

describe('POST /v1/returns', () => {
  it('returns part of a purchase, then the rest, and refuses more', async () => {
    const m = await member(1000);
    // 1000.00 RUB bill - 6 % = 940.00; 200 points spent, 740.00 in money: 22 points earned (3 % = 22.20).
    const bought = await post('/v1/purchases', {
      memberCode: m.code,
      storeCode: 'msk-01',
      receiptNo: 'R-1',
      amountMinor: 100_000,
      pointsToSpend: 200,
      spendCode: await spendCodeOf(m),
    });
    expect(bought.json()).toMatchObject({ pointsEarned: 22, balance: 822, discountMinor: 6000, amountDueMinor: 74_000 });

    const partialBody = { storeCode: 'msk-01', receiptNo: 'R-1', amountMinor: 25_000 };
    const partial = await post('/v1/returns', partialBody, { idempotencyKey: 'ret-1' });
    expect(partial.statusCode).toBe(201);
    // A quarter of the bill: a quarter of the 200 points spent comes back, a quarter of the 22
    // earned goes (5), 185.00 of the money paid is given back and 15.00 of the discount is undone.
    expect(partial.json()).toEqual({
      returnId: expect.any(Number),
      pointsReversed: 5,
      pointsRefunded: 50,
      shortfall: 0,
      balance: 867,
      refundMinor: 18_500,
      discountMinor: 1500,
    });

    const replay = await post('/v1/returns', partialBody, { idempotencyKey: 'ret-1' });
    expect(replay.statusCode).toBe(200);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toEqual(partial.json());
    problem(await post('/v1/returns', { ...partialBody, amountMinor: 30_000 }, { idempotencyKey: 'ret-1' }), 409, 'IDEMPOTENCY_CONFLICT');

    const rest = await post('/v1/returns', { receiptNo: 'R-1' }, { key: tillKey });
    expect(rest.statusCode).toBe(201);
    expect(rest.json()).toMatchObject({ pointsReversed: 17, pointsRefunded: 150, shortfall: 0, balance: 1000, refundMinor: 55_500, discountMinor: 4500 });

    const more = problem(await post('/v1/returns', { storeCode: 'msk-01', receiptNo: 'R-1', amountMinor: 1 }), 422, 'RETURN_EXCEEDS_PURCHASE');
    expect(more.details).toEqual({ remaining: 0 });
    expect(fieldsOf(more)).toEqual(['amountMinor']);
    problem(await post('/v1/returns', { storeCode: 'msk-01', receiptNo: 'R-unknown' }), 404, 'PURCHASE_NOT_FOUND');
    // The receipt is per store: msk-02 has no R-1.
    problem(await post('/v1/returns', { storeCode: 'msk-02', receiptNo: 'R-1' }), 404, 'PURCHASE_NOT_FOUND');
  });

  it('records a shortfall when the earned points were already spent, and the balance stays at zero', async () => {
    const m = await member();
    // 4000.00 - 6 % = 3760.00 paid: 112 points (3 % = 112.80).
    expect((await post('/v1/purchases', { memberCode: m.code, storeCode: 'msk-01', receiptNo: 'R-2', amountMinor: 400_000 })).json()).toMatchObject({
      balance: 112,
    });
    // 70 of the 112 earned points are gone (an adjustment standing in for a coupon exchange).
    await h.deps.repos.ledger.post({
      kind: 'debit',
      type: 'ADJUST',
      memberId: m.id,
      amount: 70,
      idempotencyKey: `test:spent:${m.id}`,
      actor: { type: 'SYSTEM' },
    });
    const full = await post('/v1/returns', { storeCode: 'msk-01', receiptNo: 'R-2' });
    expect(full.statusCode).toBe(201);
    expect(full.json()).toMatchObject({ pointsReversed: 42, pointsRefunded: 0, shortfall: 70, balance: 0 });
  });
});

describe('GET /v1/members/{memberCode}', () => {
  it('tells a till the first name, tier and balance, and nothing personal beyond that', async () => {
    const m = await member(250);
    const response = await getMember(formatCode(m.code).toLowerCase(), tillKey);
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.json()).toEqual({ memberCode: m.code, name: 'Anna', tier: { code: 'basic', name: 'Basic', discountPercent: 6 }, balance: 250 });
    expect(response.body).not.toMatch(/Petrova|7916|1990|telegram|birthday|phone/i);
  });

  it('answers 404 for an unknown or deleted member and 400 for a code with a typo or a phone number', async () => {
    const m = await member();
    await db.prisma.member.update({ where: { id: m.id }, data: { status: 'DELETED' } });
    problem(await getMember(m.code), 404, 'MEMBER_NOT_FOUND');
    const typo = `${m.code.slice(0, 8)}${m.code[8] === '2' ? '3' : '2'}`;
    expect(fieldsOf(problem(await getMember(typo), 400, 'MEMBER_CODE_INVALID'))).toEqual(['memberCode']);
    // A phone number in a URL would land in access logs: the lookup by phone is for POST bodies only.
    const other = await member();
    expect(fieldsOf(problem(await getMember(other.phone), 400, 'MEMBER_CODE_INVALID'))).toEqual(['memberCode']);
  });
});

describe('errors outside the use cases', () => {
  it('answers unknown routes with a 404 problem, inside and outside /v1', async () => {
    problem(await api.inject({ method: 'GET', url: '/v1/nope', headers: auth(crmKey) }), 404, 'ROUTE_NOT_FOUND');
    problem(await api.inject({ method: 'DELETE', url: '/v1/purchases', headers: auth(crmKey) }), 404, 'ROUTE_NOT_FOUND');
    problem(await api.inject({ method: 'GET', url: '/nope' }), 404, 'ROUTE_NOT_FOUND');
    expect((await api.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
  });

  it('answers an unexpected failure with a bare 500 problem and logs the stack without personal data', async () => {
    const lines: string[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    const failing: DomainDeps = {
      ...h.deps,
      repos: {
        ...h.deps.repos,
        members: {
          ...h.deps.repos.members,
          findByCode: async () => {
            throw new Error('connection reset by peer');
          },
        },
      },
    };
    const app = server({ domain: failing }, logger);
    const m = await member();
    const response = await getMember(m.code, crmKey, app);
    const body = problem(response, 500, 'INTERNAL');
    expect(response.body).not.toMatch(/connection reset|at .*\.ts|stack/);
    expect(body).not.toHaveProperty('stack');

    const logged = lines.map((line) => JSON.parse(line)).find((line) => line.msg === 'unexpected error in API request');
    expect(logged).toMatchObject({ level: 50, route: '/v1/members/:memberCode', err: { message: 'connection reset by peer' } });
    expect(logged.err.stack).toMatch(/http-api\.test\.ts/);
    expect(lines.join('\n')).not.toContain(m.code);
    expect(lines.join('\n')).not.toContain(crmKey);
  });
});

describe('rate limit', () => {
  it('answers 429 problem+json with Retry-After and X-RateLimit-* once a key is over its limit; nothing is recorded', async () => {
    const rateLimit = { limit: 3, windowSeconds: 60, keyPrefix: freshPrefix() };
    const app = server({ rateLimit });
    const m = await member();

    const first = await getMember(m.code, crmKey, app);
    expect(first.statusCode).toBe(200);
    expect(first.headers['x-ratelimit-limit']).toBe('3');
    expect(first.headers['x-ratelimit-remaining']).toBe('2');
    expect(Number(first.headers['x-ratelimit-reset'])).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 2; i++) expect((await getMember(m.code, crmKey, app)).statusCode).toBe(200);

    const limited = await getMember(m.code, crmKey, app);
    problem(limited, 429, 'RATE_LIMITED');
    expect(JSON.parse(limited.body).detail).toContain('3 requests per 60 s');
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.headers['x-ratelimit-remaining']).toBe('0');
    expect(limited.headers['x-ratelimit-limit']).toBe('3');
    problem(await post('/v1/purchases', { memberCode: m.code, storeCode: 'msk-01', receiptNo: 'L-1', amountMinor: 100 }, { app }), 429, 'RATE_LIMITED');
    expect(await db.prisma.purchase.count({ where: { memberId: m.id } })).toBe(0);
    // Counted by the key's id: the secret itself never names a Redis key.
    const names = await redis.keys(`${rateLimit.keyPrefix}*`);
    expect(names).toHaveLength(1);
    expect(names.join()).not.toContain(crmKey);
  });

  it('shares one budget per key across app instances on the same Redis', async () => {
    const rateLimit = { limit: 3, windowSeconds: 60, keyPrefix: freshPrefix() };
    const one = server({ rateLimit });
    const two = server({ rateLimit });
    const m = await member();
    const statuses: number[] = [];
    for (const app of [one, two, one, two]) statuses.push((await getMember(m.code, crmKey, app)).statusCode);
    expect(statuses).toEqual([200, 200, 200, 429]);
    problem(await getMember(m.code, crmKey, one), 429, 'RATE_LIMITED');
  });

  it('does not let one key starve another', async () => {
    const rateLimit = { limit: 2, windowSeconds: 60, keyPrefix: freshPrefix() };
    const app = server({ rateLimit });
    const m = await member();
    // The CRM key floods...
    const flood = await Promise.all(Array.from({ length: 10 }, () => getMember(m.code, crmKey, app)));
    expect(flood.filter((response) => response.statusCode === 200)).toHaveLength(2);
    expect(flood.filter((response) => response.statusCode === 429)).toHaveLength(8);
    // ...and the till still has its whole budget.
    const till = [await getMember(m.code, tillKey, app), await getMember(m.code, tillKey, app), await getMember(m.code, tillKey, app)];
    expect(till.map((response) => response.statusCode)).toEqual([200, 200, 429]);
  });

  it('lets the key in again when its window is over', async () => {
    const rateLimit = { limit: 1, windowSeconds: 1, keyPrefix: freshPrefix() };
    const app = server({ rateLimit });
    const m = await member();
    expect((await getMember(m.code, crmKey, app)).statusCode).toBe(200);
    problem(await getMember(m.code, crmKey, app), 429, 'RATE_LIMITED');
    await eventually(async () => (await getMember(m.code, crmKey, app)).statusCode === 200, { what: 'the next window' });
  });

  it('does not count unauthenticated requests against a key', async () => {
    const rateLimit = { limit: 1, windowSeconds: 60, keyPrefix: freshPrefix() };
    const app = server({ rateLimit });
    const m = await member();
    for (let i = 0; i < 3; i++) problem(await app.inject({ method: 'GET', url: `/v1/members/${m.code}` }), 401, 'UNAUTHORIZED');
    expect((await getMember(m.code, crmKey, app)).statusCode).toBe(200);
  });

  it('lets requests through when Redis is unreachable rather than stopping the tills', async () => {
    const down = redisHandle.connect('producer');
    down.disconnect();
    const lines: string[] = [];
    const logger = pino(
      { level: 'warn' },
      new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    const app = server({ redis: down, rateLimit: { limit: 1, keyPrefix: freshPrefix() } }, logger);
    const m = await member();
    expect((await getMember(m.code, crmKey, app)).statusCode).toBe(200);
    expect((await getMember(m.code, crmKey, app)).statusCode).toBe(200);
    // ...and says so in the log.
    expect(lines.map((line) => JSON.parse(line).msg)).toContain('rate limiter unavailable; letting the request through');
  });
});

describe('GET /v1/openapi.json', () => {
  it('serves an OpenAPI 3.1 document of the three endpoints, their auth and the problem schema', async () => {
    const response = await api.inject({ method: 'GET', url: '/v1/openapi.json' });
    expect(response.statusCode).toBe(200);
    const doc = JSON.parse(response.body);
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/v1/analytics/campaigns',
      '/v1/analytics/cohorts',
      '/v1/analytics/kpis',
      '/v1/analytics/series',
      '/v1/broadcasts',
      '/v1/broadcasts/{id}',
      '/v1/charity/donations',
      '/v1/coupons/{code}',
      '/v1/coupons/{code}/redeem',
      '/v1/members/{memberCode}',
      '/v1/nps',
      '/v1/nps/campaigns',
      '/v1/openapi.json',
      '/v1/purchases',
      '/v1/purchases/quote',
      '/v1/receipts',
      '/v1/returns',
      '/v1/spend-requests',
      '/v1/spend-requests/{id}',
    ]);
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['apiKeyHeader', 'bearerAuth']);

    const purchase = doc.paths['/v1/purchases'].post;
    expect(Object.keys(purchase.responses)).toEqual(expect.arrayContaining(['200', '201', '400', '401', '403', '404', '409', '422', '429']));
    expect(purchase.parameters).toContainEqual(expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: true }));
    expect(purchase.responses['429'].headers).toHaveProperty('Retry-After');
    expect(purchase.responses['409'].content['application/problem+json'].schema).toEqual({ $ref: '#/components/schemas/Problem' });

    // Generated from the schemas that validate requests: strictness and required fields included.
    const request = doc.components.schemas.PurchaseRequest;
    expect(request.additionalProperties).toBe(false);
    expect(request.required.sort()).toEqual(['amountMinor', 'memberCode', 'receiptNo']);
    expect(request.properties.amountMinor.type).toBe('integer');
    expect(doc.components.schemas.Problem.required).toEqual(expect.arrayContaining(['type', 'title', 'status', 'detail', 'code']));
    expect(doc.components.schemas.Problem.properties.code.enum).toEqual(
      expect.arrayContaining(['MEMBER_NOT_FOUND', 'IDEMPOTENCY_CONFLICT', 'VALIDATION_FAILED']),
    );
    expect(Object.keys(doc.components.schemas.MemberResponse.properties).sort()).toEqual(['balance', 'memberCode', 'name', 'tier']);
    // Every $ref resolves.
    for (const [, id] of response.body.matchAll(/"#\/components\/schemas\/([A-Za-z]+)"/g)) expect(doc.components.schemas).toHaveProperty(id as string);
  });
});

describe("spending needs the member's proof of presence", () => {
  const bill = (m: Member, receiptNo: string, extra: Record<string, unknown> = {}) => ({
    memberCode: m.code,
    storeCode: 'msk-01',
    receiptNo,
    // 1200.00 - 6 % = 1128.00: up to 564 points.
    amountMinor: 120_000,
    pointsToSpend: 500,
    ...extra,
  });
  const balance = async (m: Member) => (await h.deps.repos.members.findById(m.id))?.balance;

  it('refuses a till key that knows only the card code (422 naming spendCode), and earning still needs nothing', async () => {
    const victim = await member(2000);
    const refused = problem(
      await post('/v1/purchases', bill(victim, 'X-1', { pointsToSpend: 2000, amountMinor: 500_000 }), { key: tillKey }),
      422,
      'SPEND_PROOF_REQUIRED',
    );
    expect(fieldsOf(refused)).toEqual(['spendCode']);
    expect(await balance(victim)).toBe(2000);
    expect(await db.prisma.purchase.count({ where: { memberId: victim.id } })).toBe(0);
    // Earning is not taking: no proof needed.
    expect((await post('/v1/purchases', bill(victim, 'X-2', { pointsToSpend: 0 }), { key: tillKey })).statusCode).toBe(201);
  });

  it('spends with the code on the Card screen once; a reused, stale or superseded code is refused', async () => {
    const m = await member(2000);
    const code = await spendCodeOf(m);
    const paid = await post('/v1/purchases', bill(m, 'SC-1', { spendCode: `${code.slice(0, 3)} ${code.slice(3)}` }));
    expect(paid.statusCode).toBe(201);
    expect(paid.json()).toMatchObject({ pointsSpent: 500 });
    expect(await db.prisma.spendCode.findFirstOrThrow({ where: { memberId: m.id, purchaseId: paid.json().purchaseId } })).toMatchObject({
      usedAt: expect.any(Date),
    });
    // The stored value is an HMAC, not the code.
    expect((await db.prisma.spendCode.findFirstOrThrow({ where: { memberId: m.id } })).codeHash).not.toContain(code);

    // Reused: refused, nothing spent.
    const reused = problem(await post('/v1/purchases', bill(m, 'SC-2', { spendCode: code })), 422, 'SPEND_CODE_INVALID');
    expect(fieldsOf(reused)).toEqual(['spendCode']);
    // Older than two minutes: refused.
    const stale = await spendCodeOf(m);
    h.clock.advance(2 * 60_000 + 1);
    problem(await post('/v1/purchases', bill(m, 'SC-3', { spendCode: stale })), 422, 'SPEND_CODE_INVALID');
    // Opening the card again makes the previous code useless.
    const first = await spendCodeOf(m);
    const second = await spendCodeOf(m);
    if (first !== second) problem(await post('/v1/purchases', bill(m, 'SC-4', { spendCode: first })), 422, 'SPEND_CODE_INVALID');
    expect((await post('/v1/purchases', bill(m, 'SC-5', { spendCode: second }))).statusCode).toBe(201);
    expect(await db.prisma.purchase.count({ where: { memberId: m.id } })).toBe(2);
  });

  it('locks spending for the member after five wrong codes, even the right one, until the lock ends', async () => {
    const m = await member(2000);
    const right = await spendCodeOf(m);
    const wrong = right === '000000' ? '111111' : '000000';
    for (let attempt = 1; attempt <= 5; attempt++) {
      const body = problem(await post('/v1/purchases', bill(m, `G-${attempt}`, { spendCode: wrong })), 422, 'SPEND_CODE_INVALID');
      expect(body.details).toEqual({ attemptsLeft: 5 - attempt });
    }
    const locked = await post('/v1/purchases', bill(m, 'G-6', { spendCode: right }));
    problem(locked, 429, 'SPENDING_LOCKED');
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect(await balance(m)).toBe(2000);
    expect(await db.prisma.lookupThrottle.findUniqueOrThrow({ where: { key: `spend:${m.id}` } })).toMatchObject({ failures: 5 });

    h.clock.advance(15 * 60_000 + 1);
    expect((await post('/v1/purchases', bill(m, 'G-7', { spendCode: await spendCodeOf(m) }))).statusCode).toBe(201);
  });

  it('creates a spend request, is polled, and pays once after the member approves; a declined one pays nothing', async () => {
    const m = await member(2000);
    const created = await post('/v1/spend-requests', { memberCode: m.code, points: 500 }, { key: tillKey, idempotencyKey: null });
    expect(created.statusCode).toBe(201);
    const request = created.json();
    expect(request).toMatchObject({ id: expect.any(String), status: 'pending', points: 500, storeCode: 'msk-01' });
    const poll = () => api.inject({ method: 'GET', url: `/v1/spend-requests/${request.id}`, headers: auth(tillKey) });
    // Another key cannot see it.
    problem(await api.inject({ method: 'GET', url: `/v1/spend-requests/${request.id}`, headers: auth(crmKey) }), 404, 'SPEND_REQUEST_NOT_FOUND');
    // Not approved yet: refused.
    problem(await post('/v1/purchases', bill(m, 'SR-1', { spendRequestId: request.id }), { key: tillKey }), 422, 'SPEND_REQUEST_INVALID');
    expect(h.notifications.at(-1)).toEqual({ memberId: m.id, notification: expect.objectContaining({ kind: 'spendRequest', points: 500 }) });

    await answerSpendRequest(h.deps, { requestId: request.id, telegramId: m.telegramId as number, approve: true });
    expect((await poll()).json()).toMatchObject({ status: 'approved' });
    // Other points than approved: refused.
    problem(await post('/v1/purchases', bill(m, 'SR-2', { pointsToSpend: 400, spendRequestId: request.id }), { key: tillKey }), 422, 'SPEND_REQUEST_INVALID');
    const paid = await post('/v1/purchases', bill(m, 'SR-3', { spendRequestId: request.id }), { key: tillKey });
    expect(paid.statusCode).toBe(201);
    expect(paid.json()).toMatchObject({ pointsSpent: 500 });
    expect((await poll()).json()).toMatchObject({ status: 'used' });
    // Single use.
    problem(await post('/v1/purchases', bill(m, 'SR-4', { spendRequestId: request.id }), { key: tillKey }), 422, 'SPEND_REQUEST_INVALID');

    const declined = (await post('/v1/spend-requests', { memberCode: m.code, points: 100 }, { key: tillKey })).json();
    await answerSpendRequest(h.deps, { requestId: declined.id, telegramId: m.telegramId as number, approve: false });
    expect((await api.inject({ method: 'GET', url: `/v1/spend-requests/${declined.id}`, headers: auth(tillKey) })).json()).toMatchObject({
      status: 'declined',
    });
    problem(await post('/v1/purchases', bill(m, 'SR-5', { pointsToSpend: 100, spendRequestId: declined.id }), { key: tillKey }), 422, 'SPEND_REQUEST_INVALID');
    // 500 points spent, 18 earned on the 628.00 paid in money (1128.00 - 500.00; 3 % = 18.84);
    // nothing from the declined one.
    expect(await balance(m)).toBe(2000 - 500 + 18);
  });

  it("refuses another member's answer to a request (a forged button)", async () => {
    const m = await member(1000);
    const other = await member(0);
    const request = (await post('/v1/spend-requests', { memberCode: m.code, points: 100 }, { key: tillKey })).json();
    await expect(answerSpendRequest(h.deps, { requestId: request.id, telegramId: other.telegramId as number, approve: true })).rejects.toMatchObject({
      code: 'SPEND_REQUEST_NOT_FOUND',
    });
    expect((await api.inject({ method: 'GET', url: `/v1/spend-requests/${request.id}`, headers: auth(tillKey) })).json()).toMatchObject({ status: 'pending' });
  });
});

describe('keys and bad input', () => {
  it("refuses a key on its creator's own card, and a revoked key at once", async () => {
    // The admin who created the keys is a member too.
    const seeded = await h.member(ADMIN, 100);
    await db.prisma.member.update({ where: { id: seeded.id }, data: { code: generateMemberCode() } });
    const mine = (await h.deps.repos.members.findById(seeded.id)) as Member;
    const refused = problem(
      await post('/v1/purchases', { memberCode: mine.code, storeCode: 'msk-01', receiptNo: 'OWN-1', amountMinor: 1000 }),
      403,
      'OWN_CARD',
    );
    expect(fieldsOf(refused)).toEqual(['memberCode']);
    expect(await db.prisma.purchase.count({ where: { memberId: mine.id } })).toBe(0);
    // Nor a quote: the creator learns nothing about their own card through their till.
    problem(await post('/v1/purchases/quote', { memberCode: mine.code, storeCode: 'msk-01', amountMinor: 1000 }, { idempotencyKey: null }), 403, 'OWN_CARD');

    const { key, record } = await createApiKey(h.deps, ADMIN, { name: 'soon revoked', storeCode: 'msk-01' });
    const m = await member();
    expect((await post('/v1/purchases', { memberCode: m.code, receiptNo: 'RV-1', amountMinor: 1000 }, { key })).statusCode).toBe(201);
    expect((await db.prisma.apiKey.findUniqueOrThrow({ where: { id: record.id } })).lastUsedAt).toEqual(h.clock.now());
    await revokeApiKey(h.deps, ADMIN, record.id);
    problem(await post('/v1/purchases', { memberCode: m.code, receiptNo: 'RV-2', amountMinor: 1000 }, { key }), 401, 'UNAUTHORIZED');
  });

  it('answers 400 naming the field for amounts beyond their documented maximum, never a 500', async () => {
    const m = await member(100);
    const huge = problem(
      await post('/v1/purchases', { memberCode: m.code, storeCode: 'msk-01', receiptNo: 'H-1', amountMinor: 10 ** 15 }),
      400,
      'VALIDATION_FAILED',
    );
    expect(fieldsOf(huge)).toEqual(['amountMinor']);
    const points = problem(
      await post('/v1/purchases', { memberCode: m.code, storeCode: 'msk-01', receiptNo: 'H-2', amountMinor: 1000, pointsToSpend: 2 ** 31 }),
      400,
      'VALIDATION_FAILED',
    );
    expect(fieldsOf(points)).toEqual(['pointsToSpend']);
    expect(fieldsOf(problem(await post('/v1/returns', { storeCode: 'msk-01', receiptNo: 'H-1', amountMinor: 10 ** 15 }), 400, 'VALIDATION_FAILED'))).toEqual([
      'amountMinor',
    ]);
    expect(fieldsOf(problem(await post('/v1/spend-requests', { memberCode: m.code, storeCode: 'msk-01', points: 2 ** 31 }), 400, 'VALIDATION_FAILED'))).toEqual(
      ['points'],
    );
    // The largest valid bill is recorded (its points fit the columns).
    expect((await post('/v1/purchases', { memberCode: m.code, storeCode: 'msk-01', receiptNo: 'H-3', amountMinor: 10_000_000_000 })).statusCode).toBe(201);
    const doc = JSON.parse((await api.inject({ method: 'GET', url: '/v1/openapi.json' })).body);
    expect(doc.components.schemas.PurchaseRequest.properties.amountMinor.maximum).toBe(10_000_000_000);
    expect(doc.components.schemas.PurchaseRequest.properties.pointsToSpend.maximum).toBe(1_000_000_000);
  });

  it('answers 415 to a JSON body sent as text/plain, and 404 naming storeCode for an unknown store', async () => {
    const m = await member();
    const response = await api.inject({
      method: 'POST',
      url: '/v1/purchases',
      headers: { ...auth(crmKey), 'content-type': 'text/plain', 'idempotency-key': newIdempotencyKey() },
      payload: JSON.stringify({ memberCode: m.code, storeCode: 'msk-01', receiptNo: 'T-1', amountMinor: 1000 }),
    });
    problem(response, 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(
      fieldsOf(problem(await post('/v1/purchases', { memberCode: m.code, storeCode: 'nowhere', receiptNo: 'T-2', amountMinor: 1000 }), 404, 'STORE_NOT_FOUND')),
    ).toEqual(['storeCode']);
  });
});
