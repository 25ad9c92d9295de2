import { isCouponCode, normalizeCode } from '../codes.js';
import { DomainError } from '../errors.js';
import type { Actor } from '../ledger/types.js';
import type { DomainDeps } from '../ports.js';
import { actorOf, type Principal } from '../staff/access.js';
import { type CouponView, couponView, effectiveStatus } from './coupon.js';
import { expireCoupon } from './expire-coupons.js';
import { assertNotThrottled, lookUpCouponGuarded } from './lookup-throttle.js';
import type { CouponDetails } from './types.js';

/**
 * Who confirms a coupon: a staff member (a principal from `requireRole(..., ['STAFF'])`, the
 * store is theirs) or a till through the API (its actor and the store it acts for).
 */
export type CouponOperator = { kind: 'staff'; principal: Principal } | { kind: 'till'; actor: Actor; storeId: number | null };

export interface CouponForRedemption {
  coupon: CouponView;
  /** The first word of the member's name, for the cashier to greet them; null when unknown. */
  memberFirstName: string | null;
  /** ISSUED and unexpired: a Confirm button makes sense. */
  canRedeem: boolean;
}

export interface RedeemResult extends CouponForRedemption {
  /** True when this operator had redeemed it under the same idempotency key before. */
  replayed: boolean;
}

const operatorKey = (operator: CouponOperator) =>
  operator.kind === 'staff' ? `staff:${operator.principal.telegramId}` : `till:${operator.actor.id ?? 'unknown'}`;
const operatorActor = (operator: CouponOperator): Actor => (operator.kind === 'staff' ? actorOf(operator.principal) : operator.actor);
const operatorStore = (operator: CouponOperator) => (operator.kind === 'staff' ? operator.principal.storeId : operator.storeId);
const firstName = (name: string | null) => name?.trim().split(/\s+/)[0] || null;

/**
 * The coupon behind a typed or scanned code, for the one who confirms it. Guarded: a malformed
 * code is caught by the check character before any lookup (COUPON_CODE_INVALID); well-formed
 * unknown codes count towards the brute-force guard (TOO_MANY_ATTEMPTS); nobody confirms their
 * own coupon (FORBIDDEN).
 */
async function lookUp(deps: DomainDeps, input: { code: string; operator: CouponOperator }): Promise<CouponDetails> {
  const { operator } = input;
  if (operator.kind === 'staff' && operator.principal.role !== 'STAFF' && operator.principal.role !== 'ADMIN') throw new DomainError('FORBIDDEN');
  const key = operatorKey(operator);
  const code = normalizeCode(input.code.trim());
  if (!isCouponCode(code)) {
    // A typo counts nothing, but a blocked operator learns that first, as for any code.
    await assertNotThrottled(deps, key);
    throw new DomainError('COUPON_CODE_INVALID');
  }
  const coupon = await deps.repos.coupons.findById(await lookUpCouponGuarded(deps, key, operatorActor(operator), code));
  // Coupons are never deleted; a vanished one is as unknown as a wrong code (not counted twice).
  if (!coupon) throw new DomainError('COUPON_NOT_FOUND');
  if (operator.kind === 'staff' && coupon.member.telegramId === operator.principal.telegramId) {
    await deps.repos.audit.record({ actor: operatorActor(operator), action: 'coupon.own_redeem_refused', subject: `coupon:${coupon.id}` });
    throw new DomainError('FORBIDDEN', { reason: 'own coupon' });
  }
  return coupon;
}

function present(deps: DomainDeps, coupon: CouponDetails, now: Date): CouponForRedemption {
  const view = couponView(coupon, now, deps.program);
  return { coupon: view, memberFirstName: firstName(coupon.member.name), canRedeem: view.status === 'ISSUED' };
}

/** Shows a coupon before confirmation: reward, member's first name, status, expiry. */
export async function getCouponForRedemption(deps: DomainDeps, input: { code: string; operator: CouponOperator }): Promise<CouponForRedemption> {
  return present(deps, await lookUp(deps, input), deps.clock.now());
}

/**
 * Confirms a coupon: ISSUED -> REDEEMED in one conditional update (unexpired at this moment),
 * recording who, where and when; of any number of concurrent confirmations exactly one wins.
 * The others learn why not: ALREADY_REDEEMED (with when and where), COUPON_EXPIRED (the coupon
 * is marked EXPIRED on the way), COUPON_CANCELLED. With an idempotency key, the same operator
 * repeating the same request gets the first answer. The customer's message is written with the
 * redemption (outbox) and sent after the commit.
 */
export async function redeemCoupon(deps: DomainDeps, input: { code: string; operator: CouponOperator; idempotencyKey?: string }): Promise<RedeemResult> {
  const found = await lookUp(deps, input);
  const now = deps.clock.now();
  const actor = operatorActor(input.operator);
  const redeemKey = input.idempotencyKey ? `${operatorKey(input.operator)}:${input.idempotencyKey}` : null;

  const storeId = operatorStore(input.operator);
  const redeemed = await deps.uow.run(async (repos) => {
    // Concurrent confirmations queue on the row lock; each re-checks the condition after the
    // winner commits, finds the coupon REDEEMED and updates nothing.
    const won = await repos.coupons.markRedeemed(found.id, { at: now, storeId, actor, redeemKey });
    if (!won) return false;
    await repos.audit.record({ actor, action: 'coupon.redeemed', subject: `coupon:${found.id}`, details: { storeId } });
    // The customer's message and the event commit with the redemption.
    const redeemedNow = (await repos.coupons.findById(found.id)) ?? found;
    await repos.outbox.notify(
      found.memberId,
      { kind: 'couponRedeemed', couponCode: found.code, title: found.reward.title, storeName: redeemedNow.redeemedStoreName },
      { dedupeKey: `coupon-redeemed:${found.id}`, class: 'transactional' },
    );
    await repos.outbox.publish({
      type: 'couponRedeemed',
      id: `coupon-redeemed:${found.id}`,
      memberId: found.memberId,
      couponId: found.id,
      rewardId: found.rewardId,
      storeId,
      at: now,
    });
    return true;
  });
  // Read after the commit: whoever won has committed by now, and every later state is final.
  const coupon = await deps.repos.coupons.findById(found.id);
  if (!coupon) throw new DomainError('COUPON_NOT_FOUND');

  if (redeemed) return { ...present(deps, coupon, now), replayed: false };

  switch (effectiveStatus(coupon, now)) {
    case 'REDEEMED':
      if (redeemKey !== null && coupon.redeemKey === redeemKey) return { ...present(deps, coupon, now), replayed: true };
      throw new DomainError('ALREADY_REDEEMED', {
        redeemedAt: coupon.redeemedAt?.toISOString() ?? null,
        storeName: coupon.redeemedStoreName,
      });
    case 'CANCELLED':
      throw new DomainError('COUPON_CANCELLED', { cancelledAt: coupon.cancelledAt?.toISOString() ?? null });
    case 'EXPIRED':
      if (coupon.status === 'ISSUED') await expireCoupon(deps, coupon.id, now);
      throw new DomainError('COUPON_EXPIRED', { expiresAt: coupon.expiresAt.toISOString() });
    case 'ISSUED':
      // Unexpired and issued, yet the conditional update missed: the clock moved backwards?
      throw new Error(`coupon ${coupon.id} is ISSUED but could not be redeemed`);
  }
}
