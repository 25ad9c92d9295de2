import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { formatCouponCode, generateCouponCode } from '../../src/domain/codes.js';
import { isDomainError } from '../../src/domain/errors.js';
import type { Member } from '../../src/domain/members/member.js';
import type { DomainDeps } from '../../src/domain/ports.js';
import { addReward, editReward, pauseReward, resumeReward } from '../../src/domain/rewards/admin.js';
import { listCatalogue, syncRewards } from '../../src/domain/rewards/catalogue.js';
import { expireCoupons } from '../../src/domain/rewards/expire-coupons.js';
import { cancelCoupon, listMyCoupons } from '../../src/domain/rewards/my-coupons.js';
import { type CouponOperator, getCouponForRedemption, redeemCoupon } from '../../src/domain/rewards/redeem-coupon.js';
import { takeReward } from '../../src/domain/rewards/take-reward.js';
import type { RewardDefinition } from '../../src/domain/rewards/types.js';
import { requireRole } from '../../src/domain/staff/access.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { type DomainHarness, domainHarness } from '../support/domain.js';
import { exampleProgram } from '../support/program.js';
import { rewardDefinition } from '../support/rewards.js';

let db: TestDatabase;
let h: DomainHarness;
let start: Date;
let nextUser = 10_000;
let nextStaff = 900_000;
let nextKey = 0;
const ADMIN = 1;
const DAY = 86_400_000;

beforeAll(async () => {
  db = await createTestDatabase({ poolSize: 20 });
  h = await domainHarness(db);
  start = h.clock.now();
  await syncRewards(h.deps);
});
afterAll(async () => db?.drop());
afterEach(() => h.clock.set(start));

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!isDomainError(error)) throw new Error(`expected a DomainError, got ${String(error)}`);
  return error.code;
}

const key = () => `k-${++nextKey}`;

async function member(points = 0): Promise<Member & { telegramId: number }> {
  return (await h.member(nextUser++, points)) as Member & { telegramId: number };
}

async function staff(options: { telegramId?: number; role?: 'STAFF' | 'ADMIN' } = {}): Promise<CouponOperator> {
  const telegramId = options.telegramId ?? nextStaff++;
  const store = await h.store();
  await db.prisma.staff.create({ data: { telegramId: BigInt(telegramId), role: options.role ?? 'STAFF', storeId: store.id } });
  return { kind: 'staff', principal: await requireRole(h.deps, telegramId, ['STAFF']) };
}

let rewardCounter = 0;
async function reward(overrides: Partial<RewardDefinition> = {}): Promise<string> {
  const code = overrides.code ?? `test-${++rewardCounter}`;
  await addReward(h.deps, ADMIN, rewardDefinition({ description: { ru: 'Описание', en: 'Description' }, ...overrides, code }));
  return code;
}

const take = (telegramId: number, rewardCode: string, idempotencyKey = key()) => takeReward(h.deps, { telegramId, rewardCode, idempotencyKey });
const entriesOf = (memberId: number) => db.prisma.ledgerEntry.findMany({ where: { memberId }, orderBy: { id: 'asc' } });
const stockOf = async (code: string) => (await db.prisma.reward.findUniqueOrThrow({ where: { code } })).stock;
const balanceOf = async (memberId: number) => (await db.prisma.member.findUniqueOrThrow({ where: { id: memberId } })).balance;

describe('the catalogue', () => {
  it('is synced from the program file, and a rerun changes nothing', async () => {
    const rows = await db.prisma.reward.findMany({ where: { code: { in: ['free-coffee', 'discount-10', 'coupon-200'] } }, orderBy: { code: 'asc' } });
    expect(rows.map((r) => [r.code, r.kind, r.value, r.cost, r.stock, r.minTier, r.limitCount, r.limitPeriodDays])).toEqual([
      ['coupon-200', 'FIXED_COUPON', 20_000, 2000, 100, null, null, null],
      ['discount-10', 'PERCENT_COUPON', 10, 500, null, 'silver', null, null],
      ['free-coffee', 'FREE_ITEM', null, 150, null, null, 1, 30],
    ]);
    expect(await syncRewards(h.deps)).toEqual({ created: [], updated: [], retired: [] });
  });

  it('keeps an admin pause over a restart, applies a changed file entry and pauses a removed one', async () => {
    await pauseReward(h.deps, ADMIN, 'free-coffee');
    expect(await syncRewards(h.deps)).toEqual({ created: [], updated: [], retired: [] });
    expect((await db.prisma.reward.findUniqueOrThrow({ where: { code: 'free-coffee' } })).active).toBe(false);
    await resumeReward(h.deps, ADMIN, 'free-coffee');

    const changed: DomainDeps = {
      ...h.deps,
      program: exampleProgram((raw) => {
        const rewards = raw.rewards as { catalogue: Record<string, unknown>[] };
        rewards.catalogue = rewards.catalogue.filter((r) => r.code !== 'coupon-200').map((r) => (r.code === 'free-coffee' ? { ...r, cost: 120 } : r));
      }),
    };
    expect(await syncRewards(changed)).toEqual({ created: [], updated: ['free-coffee'], retired: ['coupon-200'] });
    expect(await db.prisma.reward.findUniqueOrThrow({ where: { code: 'free-coffee' } })).toMatchObject({ cost: 120, active: true });
    expect(await db.prisma.reward.findUniqueOrThrow({ where: { code: 'coupon-200' } })).toMatchObject({ active: false, programHash: null, stock: 100 });

    // Back to the shipped file: both are as it says again, stock untouched.
    expect(await syncRewards(h.deps)).toEqual({ created: [], updated: ['free-coffee', 'coupon-200'], retired: [] });
    expect(await db.prisma.reward.findUniqueOrThrow({ where: { code: 'coupon-200' } })).toMatchObject({ active: true, stock: 100 });
    expect(await db.prisma.auditLog.count({ where: { action: { in: ['reward.paused', 'reward.resumed'] } } })).toBe(2);
  });

  it('lets only admins change it, and refuses invalid rewards', async () => {
    const staffOperator = await staff();
    const staffId = staffOperator.kind === 'staff' ? staffOperator.principal.telegramId : 0;
    expect(await codeOf(pauseReward(h.deps, staffId, 'free-coffee'))).toBe('FORBIDDEN');
    expect(await codeOf(reward({ kind: 'PERCENT_COUPON', value: 120 }))).toBe('REWARD_INVALID');
    expect(await codeOf(reward({ minTier: 'diamond' }))).toBe('REWARD_INVALID');
    expect(await codeOf(reward({ code: 'free-coffee' }))).toBe('REWARD_INVALID');
    expect(await codeOf(editReward(h.deps, ADMIN, 'no-such-reward', { cost: 1 }))).toBe('REWARD_NOT_FOUND');
  });

  it('lists what the member may take, cheapest first, with the points still missing', async () => {
    const basic = await member(100);
    const page = await listCatalogue(h.deps, basic.telegramId, 0, 50);
    const byCode = new Map(page.items.map((item) => [item.reward.code, item]));
    expect(byCode.get('free-coffee')).toMatchObject({ cost: 150, affordable: false, missing: 50 });
    expect(byCode.get('coupon-200')).toMatchObject({ cost: 2000, affordable: false, missing: 1900 });
    expect(byCode.has('discount-10')).toBe(false); // Silver and above
    expect(page.items.map((item) => item.cost)).toEqual([...page.items.map((item) => item.cost)].sort((a, b) => a - b));
    expect(page.balance).toBe(100);

    await db.prisma.member.update({ where: { id: basic.id }, data: { tier: 'silver' } });
    const silver = await listCatalogue(h.deps, basic.telegramId, 0, 50);
    expect(silver.items.map((item) => item.reward.code)).toContain('discount-10');

    const paged = await listCatalogue(h.deps, basic.telegramId, 99, 1);
    expect(paged).toMatchObject({ pages: silver.total, page: silver.total - 1, total: silver.total });
    expect(paged.items).toHaveLength(1);
  });

  it('hides paused rewards, rewards outside their window and rewards out of stock', async () => {
    const m = await member(1000);
    const paused = await reward();
    await pauseReward(h.deps, ADMIN, paused);
    const later = await reward({ availableFrom: '2027-01-01' });
    const over = await reward({ availableFrom: '2026-01-01', availableTo: '2026-11-01' });
    const empty = await reward({ stock: 0 });
    const open = await reward({ availableFrom: '2026-11-23', availableTo: '2026-11-23' });
    const codes = (await listCatalogue(h.deps, m.telegramId, 0, 100)).items.map((item) => item.reward.code);
    expect(codes).toContain(open);
    for (const hidden of [paused, later, over, empty]) expect(codes).not.toContain(hidden);
    expect(await codeOf(take(m.telegramId, paused))).toBe('REWARD_UNAVAILABLE');
    expect(await codeOf(take(m.telegramId, later))).toBe('REWARD_UNAVAILABLE');
    expect(await codeOf(take(m.telegramId, empty))).toBe('OUT_OF_STOCK');
    expect(await codeOf(take(m.telegramId, 'no-such-reward'))).toBe('REWARD_NOT_FOUND');
  });
});

describe('taking a reward', () => {
  it('spends the points through the ledger and issues a coupon with a fresh code', async () => {
    const m = await member(1000);
    const result = await take(m.telegramId, 'free-coffee');
    expect(result).toMatchObject({ balance: 850, replayed: false, displayCode: formatCouponCode(result.coupon.code) });
    expect(result.coupon).toMatchObject({ status: 'ISSUED', kind: 'FREE_ITEM', cost: 150, memberId: m.id, expiresAt: new Date(start.getTime() + 14 * DAY) });
    expect((await entriesOf(m.id)).map((e) => [e.type, e.amount, e.idempotencyKey])).toEqual([
      ['BONUS', 1000, `seed:${m.id}`],
      ['SPEND', -150, `coupon:${result.coupon.id}:spend`],
    ]);
  });

  it('is idempotent: a replayed key returns the same coupon, also when the replays race', async () => {
    const m = await member(5000);
    const first = await take(m.telegramId, 'coupon-200', 'same-key');
    const again = await take(m.telegramId, 'coupon-200', 'same-key');
    expect(again).toMatchObject({ replayed: true, coupon: { id: first.coupon.id, code: first.coupon.code }, balance: 3000 });
    expect(await codeOf(take(m.telegramId, 'free-coffee', 'same-key'))).toBe('IDEMPOTENCY_CONFLICT');

    const racing = await Promise.all(Array.from({ length: 10 }, () => take(m.telegramId, 'coupon-200', 'race-key')));
    expect(new Set(racing.map((r) => r.coupon.id)).size).toBe(1);
    expect(racing.filter((r) => !r.replayed)).toHaveLength(1);
    expect(await db.prisma.coupon.count({ where: { memberId: m.id } })).toBe(2);
    expect(await balanceOf(m.id)).toBe(1000);
  });

  it('refuses a member short of points and leaves everything as it was', async () => {
    const m = await member(1999);
    const stock = await stockOf('coupon-200');
    const error = await take(m.telegramId, 'coupon-200').catch((e: unknown) => e);
    expect(isDomainError(error, 'INSUFFICIENT_POINTS') && error.details).toMatchObject({ balance: 1999, needed: 2000, missing: 1 });
    expect(await stockOf('coupon-200')).toBe(stock);
    expect(await db.prisma.coupon.count({ where: { memberId: m.id } })).toBe(0);
    expect(await entriesOf(m.id)).toHaveLength(1);
  });

  it('enforces the per-member limit per period', async () => {
    const m = await member(1000);
    await take(m.telegramId, 'free-coffee');
    expect(await codeOf(take(m.telegramId, 'free-coffee'))).toBe('LIMIT_REACHED');
    expect((await listCatalogue(h.deps, m.telegramId, 0, 100)).items.map((i) => i.reward.code)).not.toContain('free-coffee');
    h.clock.advance(30 * DAY + 1);
    await take(m.telegramId, 'free-coffee');
    expect(await balanceOf(m.id)).toBe(700);

    // A lifetime limit (no period) never resets; a cancelled coupon does not count.
    const once = await reward({ limit: { count: 1, periodDays: null } });
    const first = await take(m.telegramId, once);
    await cancelCoupon(h.deps, { telegramId: m.telegramId, couponId: first.coupon.id });
    await take(m.telegramId, once);
    h.clock.advance(3000 * DAY);
    expect(await codeOf(take(m.telegramId, once))).toBe('LIMIT_REACHED');
  });

  it('enforces the minimum tier', async () => {
    const m = await member(1000);
    expect(await codeOf(take(m.telegramId, 'discount-10'))).toBe('TIER_TOO_LOW');
    await db.prisma.member.update({ where: { id: m.id }, data: { tier: 'gold' } });
    const result = await take(m.telegramId, 'discount-10');
    expect(result.coupon).toMatchObject({ kind: 'PERCENT_COUPON', value: 10 });
  });

  it('issues exactly n coupons when many members race for a stock of n; the others keep their points', async () => {
    const n = 5;
    const code = await reward({ stock: n, cost: 100 });
    const members = await Promise.all(Array.from({ length: 30 }, () => member(100)));
    const results = await Promise.allSettled(members.map((m) => take(m.telegramId, code)));
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(n);
    expect(lost.map((r) => (isDomainError(r.reason) ? r.reason.code : String(r.reason)))).toEqual(Array(30 - n).fill('OUT_OF_STOCK'));
    expect(await stockOf(code)).toBe(0);
    expect(await db.prisma.coupon.count({ where: { reward: { code } } })).toBe(n);
    const balances = await Promise.all(members.map((m) => balanceOf(m.id)));
    expect(balances.filter((b) => b === 0)).toHaveLength(n);
    expect(balances.filter((b) => b === 100)).toHaveLength(30 - n);
    expect(await db.prisma.ledgerEntry.count({ where: { memberId: { in: members.map((m) => m.id) }, type: 'SPEND' } })).toBe(n);
  });
});

describe('my coupons', () => {
  it('cancels an unused coupon: points back through the ledger, stock back, once', async () => {
    const m = await member(0);
    // Points that expire: the refund must not outlive them.
    const lotExpiry = new Date(start.getTime() + 100 * DAY);
    await h.deps.repos.ledger.post({
      kind: 'credit',
      type: 'EARN',
      memberId: m.id,
      amount: 2500,
      idempotencyKey: `earn:${m.id}`,
      actor: { type: 'SYSTEM' },
      expiresAt: lotExpiry,
    });
    const stock = await stockOf('coupon-200');
    const taken = await take(m.telegramId, 'coupon-200');
    expect(await stockOf('coupon-200')).toBe((stock ?? 0) - 1);

    const other = await member(0);
    expect(await codeOf(cancelCoupon(h.deps, { telegramId: other.telegramId, couponId: taken.coupon.id }))).toBe('FORBIDDEN');

    const cancelled = await cancelCoupon(h.deps, { telegramId: m.telegramId, couponId: taken.coupon.id });
    expect(cancelled).toMatchObject({ pointsRefunded: 2000, balance: 2500, replayed: false, coupon: { status: 'CANCELLED' } });
    expect(await stockOf('coupon-200')).toBe(stock);
    const refund = await db.prisma.ledgerEntry.findUniqueOrThrow({ where: { idempotencyKey: `coupon:${taken.coupon.id}:cancel` }, include: { lot: true } });
    expect(refund).toMatchObject({ type: 'REFUND', amount: 2000, actorType: 'MEMBER' });
    expect(refund.lot?.expiresAt).toEqual(lotExpiry);

    expect(await cancelCoupon(h.deps, { telegramId: m.telegramId, couponId: taken.coupon.id })).toMatchObject({ replayed: true, balance: 2500 });
    expect(await entriesOf(m.id)).toHaveLength(3);
    expect(await stockOf('coupon-200')).toBe(stock);

    const mine = await listMyCoupons(h.deps, m.telegramId);
    expect(mine.cancelled.map((c) => c.id)).toEqual([taken.coupon.id]);
    expect(mine.active).toEqual([]);
  });

  it('groups coupons into active, used, expired and cancelled', async () => {
    const m = await member(10_000);
    const op = await staff();
    const used = await take(m.telegramId, 'coupon-200');
    await redeemCoupon(h.deps, { code: used.coupon.code, operator: op });
    const active = await take(m.telegramId, 'coupon-200');
    const soon = await take(m.telegramId, await reward({ validityDays: 1 }));
    const cancelled = await take(m.telegramId, 'coupon-200');
    await cancelCoupon(h.deps, { telegramId: m.telegramId, couponId: cancelled.coupon.id });
    h.clock.advance(DAY + 1);
    const mine = await listMyCoupons(h.deps, m.telegramId);
    expect(mine.active.map((c) => c.id)).toEqual([active.coupon.id]);
    expect(mine.used.map((c) => [c.id, c.redeemedStoreName])).toEqual([[used.coupon.id, 'Tverskaya 1']]);
    expect(mine.expired.map((c) => c.id)).toEqual([soon.coupon.id]);
    expect(mine.cancelled.map((c) => c.id)).toEqual([cancelled.coupon.id]);
    expect(mine.active[0]?.displayCode).toMatch(/^\w{4}-\w{4}-\w{4}$/);
    expect(await codeOf(cancelCoupon(h.deps, { telegramId: m.telegramId, couponId: used.coupon.id }))).toBe('ALREADY_REDEEMED');
    expect(await codeOf(cancelCoupon(h.deps, { telegramId: m.telegramId, couponId: soon.coupon.id }))).toBe('COUPON_EXPIRED');
  });
});

describe('redemption', () => {
  it('shows the coupon to staff, then redeems it once with staff, store and time, and tells the customer', async () => {
    const m = await member(1000);
    await db.prisma.member.update({ where: { id: m.id }, data: { name: 'Anna Petrova' } });
    const taken = await take(m.telegramId, 'free-coffee');
    const op = await staff();
    const typed = formatCouponCode(taken.coupon.code).toLowerCase().replace(/-/g, ' ');

    const shown = await getCouponForRedemption(h.deps, { code: typed, operator: op });
    expect(shown).toMatchObject({ memberFirstName: 'Anna', canRedeem: true, coupon: { status: 'ISSUED', reward: { code: 'free-coffee' } } });

    h.clock.advance(60_000);
    const redeemed = await redeemCoupon(h.deps, { code: typed, operator: op });
    expect(redeemed).toMatchObject({ replayed: false, canRedeem: false, coupon: { status: 'REDEEMED', redeemedStoreName: 'Tverskaya 1' } });
    const row = await db.prisma.coupon.findUniqueOrThrow({ where: { id: taken.coupon.id } });
    expect(row).toMatchObject({
      status: 'REDEEMED',
      redeemedByType: 'STAFF',
      redeemedById: String(op.kind === 'staff' && op.principal.telegramId),
      redeemedAt: h.clock.now(),
    });
    expect(h.notifications.filter((n) => n.memberId === m.id).map((n) => n.notification)).toEqual([
      { kind: 'couponRedeemed', couponCode: taken.coupon.code, title: { ru: 'Кофе в подарок', en: 'A free coffee' }, storeName: 'Tverskaya 1' },
    ]);

    const again = await redeemCoupon(h.deps, { code: taken.coupon.code, operator: op }).catch((e: unknown) => e);
    expect(isDomainError(again, 'ALREADY_REDEEMED') && again.details).toEqual({ redeemedAt: h.clock.now().toISOString(), storeName: 'Tverskaya 1' });
    expect(await getCouponForRedemption(h.deps, { code: taken.coupon.code, operator: op })).toMatchObject({ canRedeem: false, coupon: { status: 'REDEEMED' } });
  });

  it('lets exactly one of 50 concurrent confirmations by different staff win', async () => {
    const m = await member(1000);
    const taken = await take(m.telegramId, 'free-coffee');
    const operators: CouponOperator[] = [];
    for (let i = 0; i < 50; i++) operators.push(await staff());
    const results = await Promise.allSettled(operators.map((operator) => redeemCoupon(h.deps, { code: taken.coupon.code, operator })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const errors = results
      .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      .map((r) => (isDomainError(r.reason) ? r.reason.code : String(r.reason)));
    expect(errors).toEqual(Array(49).fill('ALREADY_REDEEMED'));
    expect(h.notifications.filter((n) => n.memberId === m.id && n.notification.kind === 'couponRedeemed')).toHaveLength(1);
    expect(await db.prisma.auditLog.count({ where: { action: 'coupon.redeemed', subject: `coupon:${taken.coupon.id}` } })).toBe(1);
  });

  it('answers a replayed request with the same key as before, and only for the same operator', async () => {
    const m = await member(1000);
    const taken = await take(m.telegramId, 'free-coffee');
    const till: CouponOperator = { kind: 'till', actor: { type: 'TILL', id: 'apikey:7' }, storeId: (await h.store('msk-02')).id };
    const first = await redeemCoupon(h.deps, { code: taken.coupon.code, operator: till, idempotencyKey: 'till-req-1' });
    const replay = await redeemCoupon(h.deps, { code: taken.coupon.code, operator: till, idempotencyKey: 'till-req-1' });
    expect(first).toMatchObject({ replayed: false, coupon: { redeemedStoreName: 'Arbat 12' } });
    expect(replay).toMatchObject({ replayed: true, coupon: { status: 'REDEEMED' } });
    const otherTill: CouponOperator = { kind: 'till', actor: { type: 'TILL', id: 'apikey:8' }, storeId: null };
    expect(await codeOf(redeemCoupon(h.deps, { code: taken.coupon.code, operator: otherTill, idempotencyKey: 'till-req-1' }))).toBe('ALREADY_REDEEMED');
    expect(await codeOf(redeemCoupon(h.deps, { code: taken.coupon.code, operator: till, idempotencyKey: 'till-req-2' }))).toBe('ALREADY_REDEEMED');
  });

  it('does not let a member redeem their own coupon as staff', async () => {
    const m = await member(1000);
    const taken = await take(m.telegramId, 'free-coffee');
    const self = await staff({ telegramId: m.telegramId });
    expect(await codeOf(getCouponForRedemption(h.deps, { code: taken.coupon.code, operator: self }))).toBe('FORBIDDEN');
    expect(await codeOf(redeemCoupon(h.deps, { code: taken.coupon.code, operator: self }))).toBe('FORBIDDEN');
    expect((await db.prisma.coupon.findUniqueOrThrow({ where: { id: taken.coupon.id } })).status).toBe('ISSUED');
    expect(await db.prisma.auditLog.count({ where: { action: 'coupon.own_redeem_refused', subject: `coupon:${taken.coupon.id}` } })).toBe(2);
  });

  it('tells expired, cancelled, unknown and mistyped codes apart', async () => {
    const m = await member(1000);
    const op = await staff();
    const expiring = await take(m.telegramId, await reward({ validityDays: 1, cost: 10 }));
    const cancelled = await take(m.telegramId, await reward({ cost: 10 }));
    await cancelCoupon(h.deps, { telegramId: m.telegramId, couponId: cancelled.coupon.id });

    h.clock.advance(DAY);
    const expired = await redeemCoupon(h.deps, { code: expiring.coupon.code, operator: op }).catch((e: unknown) => e);
    expect(isDomainError(expired, 'COUPON_EXPIRED') && expired.details).toEqual({ expiresAt: expiring.coupon.expiresAt.toISOString() });
    expect(await db.prisma.coupon.findUniqueOrThrow({ where: { id: expiring.coupon.id } })).toMatchObject({ status: 'EXPIRED', expiredAt: h.clock.now() });
    expect(await codeOf(redeemCoupon(h.deps, { code: expiring.coupon.code, operator: op }))).toBe('COUPON_EXPIRED');
    expect(await codeOf(redeemCoupon(h.deps, { code: cancelled.coupon.code, operator: op }))).toBe('COUPON_CANCELLED');

    expect(await codeOf(redeemCoupon(h.deps, { code: generateCouponCode(), operator: op }))).toBe('COUPON_NOT_FOUND');
    const code = expiring.coupon.code;
    const typo = code.slice(0, 3) + (code[3] === 'A' ? 'B' : 'A') + code.slice(4);
    expect(await codeOf(getCouponForRedemption(h.deps, { code: typo, operator: op }))).toBe('COUPON_CODE_INVALID');
    expect(await codeOf(getCouponForRedemption(h.deps, { code: 'hello', operator: op }))).toBe('COUPON_CODE_INVALID');
  });

  it('makes a staff account wait after 5 unknown codes in 10 minutes, and logs it; typos do not count', async () => {
    const m = await member(1000);
    const taken = await take(m.telegramId, 'free-coffee');
    const op = await staff();
    const subject = op.kind === 'staff' ? `staff:${op.principal.telegramId}` : '';
    for (let i = 0; i < 3; i++) expect(await codeOf(getCouponForRedemption(h.deps, { code: 'ABCD-EFGH-JKM2', operator: op }))).toBe('COUPON_CODE_INVALID');
    for (let i = 0; i < 5; i++) {
      h.clock.advance(60_000);
      expect(await codeOf(getCouponForRedemption(h.deps, { code: generateCouponCode(), operator: op }))).toBe('COUPON_NOT_FOUND');
    }
    const blocked = await getCouponForRedemption(h.deps, { code: taken.coupon.code, operator: op }).catch((e: unknown) => e);
    expect(isDomainError(blocked, 'TOO_MANY_ATTEMPTS') && blocked.details).toEqual({ retryAfterSeconds: 600 });
    expect(await codeOf(redeemCoupon(h.deps, { code: taken.coupon.code, operator: op }))).toBe('TOO_MANY_ATTEMPTS');
    // Another staff account is not affected.
    expect(await getCouponForRedemption(h.deps, { code: taken.coupon.code, operator: await staff() })).toMatchObject({ canRedeem: true });
    expect(await db.prisma.auditLog.count({ where: { action: 'coupon.lookup_failed', subject } })).toBe(5);
    expect(await db.prisma.auditLog.count({ where: { action: 'coupon.lookup_blocked', subject } })).toBe(1);

    h.clock.advance(10 * 60_000);
    expect(await redeemCoupon(h.deps, { code: taken.coupon.code, operator: op })).toMatchObject({ replayed: false });
  });
});

// Last: these expire every coupon that is due in the database, including other tests' ones.
describe('expiry', () => {
  it('marks due coupons EXPIRED in batches, returns stock, keeps the points by default, and a rerun changes nothing', async () => {
    const m = await member(10_000);
    const limited = await reward({ stock: 10, cost: 100, validityDays: 5 });
    const coupons = [];
    for (let i = 0; i < 5; i++) coupons.push((await take(m.telegramId, limited)).coupon);
    const keeper = await take(m.telegramId, await reward({ validityDays: 30, cost: 100 }));
    expect(await stockOf(limited)).toBe(5);

    const now = new Date(start.getTime() + 6 * DAY);
    const first = await expireCoupons(h.deps, now, { batchSize: 2 });
    expect(first.expired).toBeGreaterThanOrEqual(5);
    expect(first.pointsRefunded).toBe(0);
    const rows = await db.prisma.coupon.findMany({ where: { id: { in: coupons.map((c) => c.id) } } });
    expect(rows.map((r) => r.status)).toEqual(Array(5).fill('EXPIRED'));
    expect((await db.prisma.coupon.findUniqueOrThrow({ where: { id: keeper.coupon.id } })).status).toBe('ISSUED');
    expect(await stockOf(limited)).toBe(10);
    expect(await balanceOf(m.id)).toBe(10_000 - 600);
    expect(h.notifications.filter((n) => n.memberId === m.id && n.notification.kind === 'couponExpired').map((n) => n.notification)).toEqual(
      coupons.map((c) => ({ kind: 'couponExpired', couponCode: c.code, title: { ru: 'Подарок', en: 'A gift' }, pointsRefunded: 0 })),
    );

    expect(await expireCoupons(h.deps, now)).toEqual({ expired: 0, pointsRefunded: 0 });
    expect(await stockOf(limited)).toBe(10);
  });

  it('refunds the points when the program says so, once', async () => {
    const refunding: DomainDeps = {
      ...h.deps,
      program: exampleProgram((raw) => {
        (raw.rewards as Record<string, unknown>).refundOnExpiry = true;
      }),
    };
    const m = await member(1000);
    const a = await take(m.telegramId, await reward({ cost: 300, validityDays: 2 }));
    const b = await take(m.telegramId, await reward({ cost: 200, validityDays: 2 }));
    expect(await balanceOf(m.id)).toBe(500);
    const now = new Date(start.getTime() + 3 * DAY);
    const [one, two] = await Promise.all([expireCoupons(refunding, now), expireCoupons(refunding, now)]);
    expect(one.expired + two.expired).toBe(2);
    expect(one.pointsRefunded + two.pointsRefunded).toBe(500);
    expect(await balanceOf(m.id)).toBe(1000);
    expect(await expireCoupons(refunding, now)).toEqual({ expired: 0, pointsRefunded: 0 });
    expect(
      await db.prisma.ledgerEntry.findMany({
        where: { memberId: m.id, type: 'REFUND' },
        select: { idempotencyKey: true, amount: true },
        orderBy: { id: 'asc' },
      }),
    ).toEqual([
      { idempotencyKey: `coupon:${a.coupon.id}:expire`, amount: 300 },
      { idempotencyKey: `coupon:${b.coupon.id}:expire`, amount: 200 },
    ]);
    expect(await db.prisma.coupon.findMany({ where: { memberId: m.id }, select: { status: true, pointsRefunded: true }, orderBy: { id: 'asc' } })).toEqual([
      { status: 'EXPIRED', pointsRefunded: 300 },
      { status: 'EXPIRED', pointsRefunded: 200 },
    ]);
  });
});

describe('the rewards section of the program file', () => {
  const withCatalogue = (edit: (catalogue: Record<string, unknown>[]) => void) => () =>
    exampleProgram((raw) => edit((raw.rewards as { catalogue: Record<string, unknown>[] }).catalogue));

  it('defaults to no rewards and no refund on expiry', () => {
    expect(exampleProgram((raw) => delete raw.rewards).rewards).toEqual({
      refundOnExpiry: false,
      auto: [],
      catalogue: [],
      online: { shopUrl: null, rewardCodes: [] },
    });
  });

  it.each([
    ['an unknown key', (c: Record<string, unknown>[]) => Object.assign(c[0] as object, { price: 1 }), /rewards\.catalogue\[free-coffee\]: Unrecognized key/],
    [
      'a value on a free item',
      (c: Record<string, unknown>[]) => Object.assign(c[0] as object, { value: 5 }),
      /rewards\.catalogue\[free-coffee\]\.value: must be left out/,
    ],
    ['a percent over 100', (c: Record<string, unknown>[]) => Object.assign(c[1] as object, { value: 150 }), /rewards\.catalogue\[discount-10\]\.value/],
    [
      'an unknown tier',
      (c: Record<string, unknown>[]) => Object.assign(c[1] as object, { minTier: 'diamond' }),
      /rewards\.catalogue\[discount-10\]\.minTier: one of the tiers/,
    ],
    ['a duplicate code', (c: Record<string, unknown>[]) => Object.assign(c[1] as object, { code: 'free-coffee' }), /duplicate reward code "free-coffee"/],
    [
      'a window that ends before it starts',
      (c: Record<string, unknown>[]) => Object.assign(c[0] as object, { availableFrom: '2026-12-31', availableTo: '2026-12-01' }),
      /availableTo/,
    ],
    [
      'a missing locale',
      (c: Record<string, unknown>[]) => Object.assign(c[0] as object, { title: { ru: 'Кофе' } }),
      /rewards\.catalogue\[free-coffee\]\.title\.en/,
    ],
  ])('refuses %s, naming the key', (_, edit, message) => {
    expect(withCatalogue(edit)).toThrow(message);
  });
});
