import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDomainError } from '../../src/domain/errors.js';
import { deleteMember } from '../../src/domain/members/settings.js';
import { addReward } from '../../src/domain/rewards/admin.js';
import { type CouponOperator, redeemCoupon } from '../../src/domain/rewards/redeem-coupon.js';
import { takeReward } from '../../src/domain/rewards/take-reward.js';
import { requireRole } from '../../src/domain/staff/access.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { type DomainHarness, domainHarness } from '../support/domain.js';

const ADMIN = 1;
let db: TestDatabase;
let h: DomainHarness;
let staff: CouponOperator;

beforeAll(async () => {
  db = await createTestDatabase();
  h = await domainHarness(db, { admins: [ADMIN] });
  const store = await h.store();
  await db.prisma.staff.create({ data: { telegramId: 777_001n, role: 'STAFF', storeId: store.id } });
  staff = { kind: 'staff', principal: await requireRole(h.deps, 777_001, ['STAFF']) };
  await addReward(h.deps, ADMIN, {
    code: 'limited',
    kind: 'GIFT',
    value: null,
    cost: 100,
    stock: 5,
    limit: null,
    minTier: null,
    validityDays: 10,
    availableFrom: null,
    availableTo: null,
    imageUrl: null,
    title: { ru: 'Подарок', en: 'A gift' },
    description: { ru: '', en: '' },
    active: true,
  });
});
afterAll(async () => db?.drop());

describe('deleting an account', () => {
  it("cancels the member's unused coupons without a refund, so they can no longer be redeemed", async () => {
    const member = await h.member(40_001, 350);
    const telegramId = member.telegramId as number;
    const used = await takeReward(h.deps, { telegramId, rewardCode: 'limited', idempotencyKey: 'a' });
    const open = await takeReward(h.deps, { telegramId, rewardCode: 'limited', idempotencyKey: 'b' });
    await redeemCoupon(h.deps, { code: used.coupon.code, operator: staff });
    const other = await h.member(40_002, 100);
    const theirs = await takeReward(h.deps, { telegramId: other.telegramId as number, rewardCode: 'limited', idempotencyKey: 'c' });
    expect((await db.prisma.reward.findUniqueOrThrow({ where: { code: 'limited' } })).stock).toBe(2);

    h.clock.advance(60_000);
    await deleteMember(h.deps, telegramId);

    expect(await db.prisma.coupon.findUniqueOrThrow({ where: { id: open.coupon.id } })).toMatchObject({
      status: 'CANCELLED',
      cancelledAt: h.clock.now(),
      pointsRefunded: 0,
    });
    // Redeemed stays redeemed; another member's coupon is untouched; the unit goes back to stock.
    expect(await db.prisma.coupon.findUniqueOrThrow({ where: { id: used.coupon.id } })).toMatchObject({ status: 'REDEEMED' });
    expect(await db.prisma.coupon.findUniqueOrThrow({ where: { id: theirs.coupon.id } })).toMatchObject({ status: 'ISSUED' });
    expect((await db.prisma.reward.findUniqueOrThrow({ where: { code: 'limited' } })).stock).toBe(3);

    // The points were closed, not refunded.
    const entries = await db.prisma.ledgerEntry.findMany({ where: { memberId: member.id }, orderBy: { id: 'asc' } });
    expect(entries.map((e) => [e.type, e.amount, e.balanceAfter])).toEqual([
      ['BONUS', 350, 350],
      ['SPEND', -100, 250],
      ['SPEND', -100, 150],
      ['CLOSE', -150, 0],
    ]);

    const refused = await redeemCoupon(h.deps, { code: open.coupon.code, operator: staff }).catch((error: unknown) => error);
    expect(isDomainError(refused, 'COUPON_CANCELLED')).toBe(true);
    expect(await db.prisma.coupon.findUniqueOrThrow({ where: { id: open.coupon.id } })).toMatchObject({ status: 'CANCELLED', redeemedAt: null });
  });
});
