import { formatCouponCode, generateCouponCode } from '../codes.js';
import type { Actor } from '../ledger/types.js';
import type { Repositories } from '../ports.js';
import type { Program } from '../program.js';
import type { CouponDetails, CouponStatus, NewCoupon, Reward } from './types.js';

/** Ledger idempotency keys of a coupon's point movements: each happens once, whatever retries. */
export const couponLedgerKey = {
  spend: (couponId: number) => `coupon:${couponId}:spend`,
  cancel: (couponId: number) => `coupon:${couponId}:cancel`,
  expire: (couponId: number) => `coupon:${couponId}:expire`,
};

/** How many fresh codes an issuer draws before it gives up: a collision of 54-bit codes is already rare. */
export const COUPON_CODE_ATTEMPTS = 5;
const DAY_MS = 86_400_000;

/**
 * A new coupon of `reward` for a member, with a freshly drawn code: it carries the reward's kind
 * and value as they are now, and is valid for the reward's `validityDays` from `now`. The one rule
 * of what an issued coupon is, whoever issues it (a take, a gift, an automatic reward).
 */
export function newCoupon(
  reward: Pick<Reward, 'id' | 'kind' | 'value' | 'validityDays'>,
  input: { memberId: number; cost: number; idempotencyKey: string; now: Date },
): NewCoupon {
  return {
    code: generateCouponCode(),
    rewardId: reward.id,
    memberId: input.memberId,
    kind: reward.kind,
    value: reward.value,
    cost: input.cost,
    idempotencyKey: input.idempotencyKey,
    issuedAt: input.now,
    expiresAt: new Date(input.now.getTime() + reward.validityDays * DAY_MS),
  };
}

/** ISSUED past its expiry counts as EXPIRED even before the expiry job has marked it. */
export function effectiveStatus(coupon: { status: CouponStatus; expiresAt: Date }, now: Date): CouponStatus {
  return coupon.status === 'ISSUED' && coupon.expiresAt <= now ? 'EXPIRED' : coupon.status;
}

/** What screens show of a coupon. */
export interface CouponView {
  id: number;
  code: string;
  /** The code in groups of four, e.g. ABCD-EFGH-JKMN. */
  displayCode: string;
  status: CouponStatus;
  reward: CouponDetails['reward'];
  kind: CouponDetails['kind'];
  value: number | null;
  cost: number;
  issuedAt: Date;
  expiresAt: Date;
  redeemedAt: Date | null;
  redeemedStoreName: string | null;
  cancelledAt: Date | null;
  pointsRefunded: number;
  /** Used on the web shop at this address (enter the code at checkout), not shown at a till. */
  onlineShopUrl: string | null;
}

/** The web shop where a reward's coupons are used, or null for a coupon shown at the till. */
export function onlineShopFor(program: Pick<Program, 'rewards'>, rewardCode: string): string | null {
  const { online } = program.rewards;
  return online.shopUrl !== null && online.rewardCodes.includes(rewardCode) ? online.shopUrl : null;
}

export function couponView(coupon: CouponDetails, now: Date, program: Pick<Program, 'rewards'>): CouponView {
  return {
    onlineShopUrl: onlineShopFor(program, coupon.reward.code),
    id: coupon.id,
    code: coupon.code,
    displayCode: formatCouponCode(coupon.code),
    status: effectiveStatus(coupon, now),
    reward: coupon.reward,
    kind: coupon.kind,
    value: coupon.value,
    cost: coupon.cost,
    issuedAt: coupon.issuedAt,
    expiresAt: coupon.expiresAt,
    redeemedAt: coupon.redeemedAt,
    redeemedStoreName: coupon.redeemedStoreName,
    cancelledAt: coupon.cancelledAt,
    pointsRefunded: coupon.pointsRefunded,
  };
}

/**
 * When points given back for a coupon expire: as late as the latest of the lots they were paid
 * from (never, if any of those never expires). So a take and a cancel neither cost the member
 * validity nor let them stretch points that were about to expire beyond what they held.
 */
export async function refundExpiry(repos: Repositories, couponId: number): Promise<Date | null> {
  const expiries = await repos.coupons.lotExpiriesOf(couponLedgerKey.spend(couponId));
  if (expiries.length === 0 || expiries.some((expiry) => expiry === null)) return null;
  return new Date(Math.max(...expiries.map((expiry) => (expiry as Date).getTime())));
}

/**
 * Gives a coupon's points back through the ledger (a REFUND credit under `key`, idempotent) and
 * records how many. Returns the balance after, or null when nothing was paid.
 */
export async function refundCoupon(
  repos: Repositories,
  coupon: { id: number; memberId: number; cost: number },
  key: string,
  actor: Actor,
  reason: string,
): Promise<number | null> {
  if (coupon.cost <= 0) return null;
  const posted = await repos.ledger.post({
    kind: 'credit',
    type: 'REFUND',
    memberId: coupon.memberId,
    amount: coupon.cost,
    idempotencyKey: key,
    actor,
    reason,
    expiresAt: await refundExpiry(repos, coupon.id),
  });
  await repos.coupons.setPointsRefunded(coupon.id, coupon.cost);
  return posted.entry.balanceAfter;
}
