import { randomBytes } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { formatCouponCode, generateCouponCode } from '../../src/domain/codes.js';
import { addReward } from '../../src/domain/rewards/admin.js';
import { cancelCoupon } from '../../src/domain/rewards/my-coupons.js';
import { takeReward } from '../../src/domain/rewards/take-reward.js';
import { createApiKey } from '../../src/domain/staff/api-keys.js';
import { createHttpServer } from '../../src/http/server.js';
import { type RedisHandle, startRedis } from '../../src/redis.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { type DomainHarness, domainHarness } from '../support/domain.js';
import { TEST_REDIS_URL } from '../support/env.js';
import { rewardDefinition } from '../support/rewards.js';

/** The till/CRM coupon endpoints: look a coupon up, redeem it; the same states as in the bot. */

const ADMIN = 1;
const silent = pino({ level: 'silent' });

let db: TestDatabase;
let h: DomainHarness;
let redisHandle: RedisHandle;
let redis: Redis;
let api: FastifyInstance;
/** Not bound to a store: names one, or none (online). */
let crmKey: string;
/** Bound to msk-01. */
let tillKey: string;
let start: Date;
let nextTelegramId = 8000;
let nextKey = 0;

beforeAll(async () => {
  db = await createTestDatabase();
  h = await domainHarness(db, { admins: [ADMIN] });
  start = h.clock.now();
  redisHandle = await startRedis(TEST_REDIS_URL, silent);
  redis = redisHandle.connect('producer');
  await new Promise<void>((resolve, reject) => {
    redis.once('ready', resolve);
    redis.once('error', reject);
  });
  crmKey = (await createApiKey(h.deps, ADMIN, { name: 'crm', storeCode: null })).key;
  tillKey = (await createApiKey(h.deps, ADMIN, { name: 'till msk-01', storeCode: 'msk-01' })).key;
  await addReward(
    h.deps,
    ADMIN,
    rewardDefinition({
      code: 'cake',
      kind: 'FIXED_COUPON',
      value: 20_000,
      cost: 10,
      validityDays: 7,
      title: { ru: 'Торт', en: 'A cake' },
      description: { ru: '', en: '' },
    }),
  );
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
afterEach(() => h.clock.set(start));

/** A member (first name Anna) holding a fresh coupon; returns its code. */
async function coupon(): Promise<{ code: string; memberId: number; telegramId: number }> {
  const telegramId = nextTelegramId++;
  const member = await h.member(telegramId, 100);
  await db.prisma.member.update({ where: { id: member.id }, data: { name: 'Anna Petrova' } });
  const taken = await takeReward(h.deps, { telegramId, rewardCode: 'cake', idempotencyKey: `take-${telegramId}` });
  return { code: taken.coupon.code, memberId: member.id, telegramId };
}

const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const lookUp = (code: string, key = tillKey) => api.inject({ method: 'GET', url: `/v1/coupons/${encodeURIComponent(code)}`, headers: auth(key) });

function redeem(code: string, options: { key?: string; idempotencyKey?: string | null; body?: unknown } = {}) {
  const headers: Record<string, string> = auth(options.key ?? tillKey);
  const idempotencyKey = options.idempotencyKey === undefined ? `redeem-${++nextKey}` : options.idempotencyKey;
  if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  return api.inject({
    method: 'POST',
    url: `/v1/coupons/${encodeURIComponent(code)}/redeem`,
    headers,
    ...(options.body !== undefined ? { payload: JSON.stringify(options.body) } : {}),
  });
}

function problem(response: LightMyRequestResponse, status: number, code: string) {
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(response.json()).toMatchObject({ status, code, type: expect.stringContaining(code.toLowerCase().replaceAll('_', '-')) });
  expect(response.statusCode).toBe(status);
  return response.json() as { errors?: { field: string }[]; details?: Record<string, unknown> };
}

const row = (code: string) => db.prisma.coupon.findUniqueOrThrow({ where: { code } });

describe('GET /v1/coupons/{code}', () => {
  it('shows the coupon as printed, typed any way: reward, first name, status and expiry', async () => {
    const { code } = await coupon();
    const stored = await row(code);
    const response = await lookUp(formatCouponCode(code).toLowerCase());
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      code: formatCouponCode(code),
      status: 'ISSUED',
      canRedeem: true,
      reward: { code: 'cake', title: 'A cake' },
      kind: 'FIXED_COUPON',
      value: 20_000,
      memberName: 'Anna',
      issuedAt: stored.issuedAt.toISOString(),
      expiresAt: stored.expiresAt.toISOString(),
      redeemedAt: null,
      redeemedStoreName: null,
      cancelledAt: null,
    });
    // A lookup changes nothing.
    expect(await row(code)).toMatchObject({ status: 'ISSUED' });
  });

  it('answers a typo 400, an unknown code 404, and needs a key', async () => {
    const { code } = await coupon();
    const typo = `${code.slice(0, 11)}${code.at(-1) === '2' ? '3' : '2'}`;
    expect(problem(await lookUp(typo, crmKey), 400, 'COUPON_CODE_INVALID').errors?.map((e) => e.field)).toEqual(['couponCode']);
    expect(problem(await lookUp(generateCouponCode(), crmKey), 404, 'COUPON_NOT_FOUND').details).toEqual({ attemptsLeft: 4 });
    problem(await api.inject({ method: 'GET', url: `/v1/coupons/${code}` }), 401, 'UNAUTHORIZED');
  });
});

describe('POST /v1/coupons/{code}/redeem', () => {
  it('redeems once at the key store, replays the same request, and says when and where to any other', async () => {
    const { code, memberId } = await coupon();
    const store = await h.store('msk-01');
    const first = await redeem(code, { idempotencyKey: 'till-op-1' });
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({ status: 'REDEEMED', canRedeem: false, redeemedStoreName: 'Tverskaya 1', redeemedAt: start.toISOString() });
    expect(await row(code)).toMatchObject({ status: 'REDEEMED', redeemedStoreId: store.id, redeemedByType: 'TILL' });
    expect(h.notifications.filter((n) => n.memberId === memberId)).toEqual([
      { memberId, notification: { kind: 'couponRedeemed', couponCode: code, title: { ru: 'Торт', en: 'A cake' }, storeName: 'Tverskaya 1' } },
    ]);

    // A retry of the same request: the first answer, nothing written, nobody told twice.
    const replay = await redeem(code, { idempotencyKey: 'till-op-1' });
    expect(replay.statusCode).toBe(200);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toEqual(first.json());
    expect(h.notifications.filter((n) => n.memberId === memberId)).toHaveLength(1);

    // Another request (another key or another till) is refused with when and where.
    const again = problem(await redeem(code, { idempotencyKey: 'till-op-2' }), 409, 'ALREADY_REDEEMED');
    expect(again.details).toEqual({ redeemedAt: start.toISOString(), storeName: 'Tverskaya 1' });
    problem(await redeem(code, { key: crmKey }), 409, 'ALREADY_REDEEMED');
    const looked = await lookUp(code);
    expect(looked.json()).toMatchObject({ status: 'REDEEMED', canRedeem: false, redeemedStoreName: 'Tverskaya 1' });
  });

  it('lets exactly one of concurrent redemptions win', async () => {
    const { code } = await coupon();
    const keys = await Promise.all([1, 2, 3, 4, 5].map(async (i) => (await createApiKey(h.deps, ADMIN, { name: `race-${i}`, storeCode: 'msk-02' })).key));
    const statuses = (await Promise.all(keys.map((key) => redeem(code, { key })))).map((response) => response.statusCode).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409]);
  });

  it('refuses expired, cancelled and unknown coupons with their state and when', async () => {
    const expiring = await coupon();
    const expiresAt = (await row(expiring.code)).expiresAt;
    h.clock.advance(8 * 86_400_000);
    expect(problem(await redeem(expiring.code), 422, 'COUPON_EXPIRED').details).toEqual({ expiresAt: expiresAt.toISOString() });
    expect(await row(expiring.code)).toMatchObject({ status: 'EXPIRED' });
    expect((await lookUp(expiring.code)).json()).toMatchObject({ status: 'EXPIRED', canRedeem: false });
    h.clock.set(start);

    const cancelled = await coupon();
    await cancelCoupon(h.deps, { telegramId: cancelled.telegramId, couponId: (await row(cancelled.code)).id });
    expect(problem(await redeem(cancelled.code), 422, 'COUPON_CANCELLED').details).toEqual({ cancelledAt: start.toISOString() });

    problem(await redeem(generateCouponCode()), 404, 'COUPON_NOT_FOUND');
    expect(problem(await redeem('NOT-A-CODE'), 400, 'COUPON_CODE_INVALID').errors).toEqual([{ field: 'couponCode', message: expect.any(String) }]);
  });

  it('follows the store rules of the key: a bound key redeems at its store only, an unbound one where it says or online', async () => {
    const atOther = await coupon();
    problem(await redeem(atOther.code, { body: { storeCode: 'msk-02' } }), 403, 'FORBIDDEN');
    expect(await row(atOther.code)).toMatchObject({ status: 'ISSUED' });
    expect((await redeem(atOther.code, { body: { storeCode: 'msk-01' } })).statusCode).toBe(201);

    const named = await coupon();
    problem(await redeem(named.code, { key: crmKey, body: { storeCode: 'nowhere' } }), 404, 'STORE_NOT_FOUND');
    const arbat = await redeem(named.code, { key: crmKey, body: { storeCode: 'msk-02' } });
    expect(arbat.json()).toMatchObject({ status: 'REDEEMED', redeemedStoreName: 'Arbat 12' });

    const online = await coupon();
    const response = await redeem(online.code, { key: crmKey, body: {} });
    expect(response.statusCode).toBe(201);
    expect(response.json()).toMatchObject({ status: 'REDEEMED', redeemedStoreName: null });
    expect(await row(online.code)).toMatchObject({ status: 'REDEEMED', redeemedStoreId: null, redeemedByType: 'TILL' });
  });

  it('needs an Idempotency-Key and a valid body', async () => {
    const { code } = await coupon();
    expect(problem(await redeem(code, { idempotencyKey: null }), 400, 'VALIDATION_FAILED').errors?.map((e) => e.field)).toEqual(['Idempotency-Key']);
    expect(problem(await redeem(code, { body: { store: 'msk-01' } }), 400, 'VALIDATION_FAILED').errors?.map((e) => e.field)).toEqual(['store']);
    expect(await row(code)).toMatchObject({ status: 'ISSUED' });
  });

  it('slows down a key that guesses codes: 429 with Retry-After', async () => {
    const { key } = await createApiKey(h.deps, ADMIN, { name: 'guesser', storeCode: 'msk-01' });
    const { code } = await coupon();
    for (let i = 0; i < 5; i++) problem(await redeem(generateCouponCode(), { key }), 404, 'COUPON_NOT_FOUND');
    const blocked = await redeem(code, { key });
    expect(problem(blocked, 429, 'TOO_MANY_ATTEMPTS').details).toEqual({ retryAfterSeconds: 600 });
    expect(blocked.headers['retry-after']).toBe('600');
    problem(await lookUp(code, key), 429, 'TOO_MANY_ATTEMPTS');
    expect(await row(code)).toMatchObject({ status: 'ISSUED' });
    // Other keys are not affected.
    expect((await redeem(code)).statusCode).toBe(201);
  });
});
