import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { formatCouponCode, generateCouponCode } from '../../src/domain/codes.js';
import { isDomainError } from '../../src/domain/errors.js';
import { syncRewards } from '../../src/domain/rewards/catalogue.js';
import { afterFailure, COUPON_LOOKUP_POLICY, waitSeconds } from '../../src/domain/rewards/lookup-throttle.js';
import { type CouponOperator, getCouponForRedemption, redeemCoupon } from '../../src/domain/rewards/redeem-coupon.js';
import { takeReward } from '../../src/domain/rewards/take-reward.js';
import type { ThrottleState } from '../../src/domain/rewards/types.js';
import { requireRole } from '../../src/domain/staff/access.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { type DomainHarness, domainHarness } from '../support/domain.js';

// The attacker review's finding: unknown coupon codes were counted after the lookup, so lookups
// sent at once by one staff account or till all saw "fewer than 5 misses" and were all answered.
// These run the real use cases (the bot's and the till API's) on real PostgreSQL, with as many
// connections as lookups in flight.
let db: TestDatabase;
let h: DomainHarness;
let start: Date;
let nextUser = 40_000;
let nextStaff = 940_000;
let nextKey = 0;

beforeAll(async () => {
  db = await createTestDatabase({ poolSize: 24 });
  h = await domainHarness(db);
  start = h.clock.now();
  await syncRewards(h.deps);
});
afterAll(async () => db?.drop());
afterEach(() => h.clock.set(start));

/** The error code a lookup ends with ('OK' when it answered). */
async function outcomeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'OK';
  } catch (error) {
    if (!isDomainError(error)) throw error;
    return error.code;
  }
}

/** A fresh ISSUED coupon of a fresh member; its code as printed (dashes). */
async function coupon(): Promise<string> {
  const telegramId = nextUser++;
  await h.member(telegramId, 1_000);
  const taken = await takeReward(h.deps, { telegramId, rewardCode: 'free-coffee', idempotencyKey: `guess-${++nextKey}` });
  return formatCouponCode(taken.coupon.code);
}

/** The two ways a code reaches the use case: a staff member typing it in the bot, a till's API key. */
const operators: Record<'staff' | 'till', () => Promise<{ operator: CouponOperator; key: string }>> = {
  staff: async () => {
    const telegramId = nextStaff++;
    const store = await h.store();
    await db.prisma.staff.create({ data: { telegramId: BigInt(telegramId), role: 'STAFF', storeId: store.id } });
    return { operator: { kind: 'staff', principal: await requireRole(h.deps, telegramId, ['STAFF']) }, key: `staff:${telegramId}` };
  },
  till: async () => {
    const store = await h.store();
    const id = `guess-key-${++nextKey}`;
    return { operator: { kind: 'till', actor: { type: 'TILL', id }, storeId: store.id }, key: `till:${id}` };
  },
};

const throttleOf = (key: string) => db.prisma.lookupThrottle.findUnique({ where: { key } });
const auditCount = (key: string, action: string) => db.prisma.auditLog.count({ where: { subject: key, action } });
const statusOf = async (code: string) => (await db.prisma.coupon.findUniqueOrThrow({ where: { code: code.replaceAll('-', '') } })).status;

describe.each(['staff', 'till'] as const)('coupon code guessing by a %s', (kind) => {
  it('answers at most 5 of 50 concurrent unknown codes; the rest, and an existing code, meet the block', async () => {
    const { operator, key } = await operators[kind]();
    const right = await coupon();
    const codes = Array.from({ length: 50 }, () => generateCouponCode());
    // The right code rides in the middle of the flood; looking up and redeeming alternate.
    codes.splice(25, 0, right);
    const outcomes = await Promise.all(
      codes.map((code, i) => outcomeOf(i % 2 === 0 ? getCouponForRedemption(h.deps, { code, operator }) : redeemCoupon(h.deps, { code, operator }))),
    );

    const answeredWrong = outcomes.filter((o, i) => o === 'COUPON_NOT_FOUND' && codes[i] !== right);
    expect(answeredWrong.length).toBe(COUPON_LOOKUP_POLICY.maxFailures);
    for (const [i, outcome] of outcomes.entries()) {
      if (codes[i] === right) expect(['OK', 'TOO_MANY_ATTEMPTS']).toContain(outcome);
      else expect(['COUPON_NOT_FOUND', 'TOO_MANY_ATTEMPTS']).toContain(outcome);
    }
    // Exactly the answered misses are counted and logged, and they blocked the operator.
    const throttle = await throttleOf(key);
    expect(throttle?.failures).toBe(COUPON_LOOKUP_POLICY.maxFailures);
    expect(throttle?.blockedUntil?.getTime()).toBe(h.clock.now().getTime() + COUPON_LOOKUP_POLICY.blockMs);
    expect(await auditCount(key, 'coupon.lookup_failed')).toBe(COUPON_LOOKUP_POLICY.maxFailures);
    expect(await auditCount(key, 'coupon.lookup_blocked')).toBe(1);

    // Blocked: even an existing code is neither shown nor redeemed, and nothing more is counted.
    const other = await coupon();
    const refused = await getCouponForRedemption(h.deps, { code: other, operator }).catch((e: unknown) => e);
    expect(isDomainError(refused, 'TOO_MANY_ATTEMPTS') && refused.details).toEqual({ retryAfterSeconds: COUPON_LOOKUP_POLICY.blockMs / 1000 });
    expect(await outcomeOf(redeemCoupon(h.deps, { code: other, operator }))).toBe('TOO_MANY_ATTEMPTS');
    // A typo is not counted either, but the blocked operator is told to wait first.
    expect(await outcomeOf(getCouponForRedemption(h.deps, { code: 'ABCD-EFGH-JKM2', operator }))).toBe('TOO_MANY_ATTEMPTS');
    expect(await statusOf(other)).toBe('ISSUED');
    expect((await throttleOf(key))?.failures).toBe(COUPON_LOOKUP_POLICY.maxFailures);

    // When the block is over, the operator redeems again.
    h.clock.advance(COUPON_LOOKUP_POLICY.blockMs);
    expect(await redeemCoupon(h.deps, { code: other, operator })).toMatchObject({ replayed: false, coupon: { status: 'REDEEMED' } });
  });

  it('redeems at once when not blocked without counting anything; typos never count, even at once', async () => {
    const { operator, key } = await operators[kind]();
    const right = await coupon();
    expect(await getCouponForRedemption(h.deps, { code: right, operator })).toMatchObject({ canRedeem: true });
    expect(await redeemCoupon(h.deps, { code: right, operator })).toMatchObject({ replayed: false });
    expect(await outcomeOf(redeemCoupon(h.deps, { code: right, operator }))).toBe('ALREADY_REDEEMED');

    const typos = await Promise.all(Array.from({ length: 20 }, () => outcomeOf(getCouponForRedemption(h.deps, { code: 'ABCD-EFGH-JKM2', operator }))));
    expect(new Set(typos)).toEqual(new Set(['COUPON_CODE_INVALID']));
    // Right codes and typos wrote nothing, not even an empty row: the first miss creates it.
    expect(await throttleOf(key)).toBeNull();

    // Four misses leave one try; an existing code still works then.
    for (let i = 0; i < 4; i++) expect(await outcomeOf(getCouponForRedemption(h.deps, { code: generateCouponCode(), operator }))).toBe('COUPON_NOT_FOUND');
    expect(await redeemCoupon(h.deps, { code: await coupon(), operator })).toMatchObject({ replayed: false });
    expect((await throttleOf(key))?.failures).toBe(4);
  });
});

describe('the count in the database', () => {
  it('follows afterFailure exactly (windows, the block and its end)', async () => {
    const key = `till:walk-${++nextKey}`;
    // Minutes from the start of each miss: a window running out, five in a row, a miss during
    // the block, and the first after it.
    const minutes = [0, 1, 2, 12, 13, 14, 15, 16, 20, 31, 32];
    let expected: ThrottleState | null = null;
    const outcomes: string[] = [];
    for (const minute of minutes) {
      const now = new Date(start.getTime() + minute * 60_000);
      const attempt = await h.deps.repos.lookupThrottle.attemptCoupon({ code: generateCouponCode(), throttleKey: key, now, policy: COUPON_LOOKUP_POLICY });
      outcomes.push(attempt.outcome);
      if (waitSeconds(expected, now) > 0) {
        expect(attempt, `minute ${minute}`).toEqual({ outcome: 'locked', blockedUntil: expected?.blockedUntil });
        continue;
      }
      expected = afterFailure(expected, now, COUPON_LOOKUP_POLICY);
      expect(attempt, `minute ${minute}`).toEqual({ outcome: 'wrong', throttle: expected });
    }
    expect(outcomes).toEqual([...Array(8).fill('wrong'), 'locked', 'wrong', 'wrong']);
  });
});
