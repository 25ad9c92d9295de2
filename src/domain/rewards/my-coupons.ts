import { DomainError } from '../errors.js';
import { activeMember, type MemberRef } from '../members/overview.js';
import type { DomainDeps } from '../ports.js';
import { type CouponView, couponLedgerKey, couponView, effectiveStatus, refundCoupon } from './coupon.js';
import type { Coupon } from './types.js';

export interface MyCoupons {
  /** Usable now, soonest to expire first. */
  active: CouponView[];
  /** Redeemed, latest first. */
  used: CouponView[];
  /** Expired unused, latest first. */
  expired: CouponView[];
  /** Cancelled by the member, latest first. */
  cancelled: CouponView[];
}

/** The member's coupons, grouped by what they can still do with them. */
export async function listMyCoupons(deps: DomainDeps, who: MemberRef): Promise<MyCoupons> {
  const member = await activeMember(deps.repos, who);
  const now = deps.clock.now();
  const groups: MyCoupons = { active: [], used: [], expired: [], cancelled: [] };
  for (const coupon of await deps.repos.coupons.listByMember(member.id)) {
    const view = couponView(coupon, now, deps.program);
    const group = { ISSUED: groups.active, REDEEMED: groups.used, EXPIRED: groups.expired, CANCELLED: groups.cancelled }[view.status];
    group.push(view);
  }
  const latest = (at: (view: CouponView) => Date | null) => (a: CouponView, b: CouponView) => (at(b) ?? b.issuedAt).getTime() - (at(a) ?? a.issuedAt).getTime();
  groups.active.sort((a, b) => a.expiresAt.getTime() - b.expiresAt.getTime());
  groups.used.sort(latest((view) => view.redeemedAt));
  groups.expired.sort(latest((view) => view.expiresAt));
  groups.cancelled.sort(latest((view) => view.cancelledAt));
  return groups;
}

export interface CancelCouponResult {
  coupon: Coupon;
  pointsRefunded: number;
  balance: number;
  /** True when the coupon had been cancelled before and nothing was written now. */
  replayed: boolean;
}

/**
 * The owner gives back an unused coupon: ISSUED -> CANCELLED, its points return through the
 * ledger (a REFUND under `coupon:<id>:cancel`) and a limited stock gets the unit back, all in
 * one transaction. Cancelling a cancelled coupon again answers as before.
 */
export async function cancelCoupon(deps: DomainDeps, input: { telegramId: number; couponId: number }): Promise<CancelCouponResult> {
  const member = await activeMember(deps.repos, input.telegramId);
  const found = await deps.repos.coupons.findById(input.couponId);
  if (!found) throw new DomainError('COUPON_NOT_FOUND');
  if (found.memberId !== member.id) throw new DomainError('FORBIDDEN', { reason: 'not your coupon' });
  const now = deps.clock.now();

  return deps.uow.run(async (repos) => {
    // Lock order reward -> coupon -> member, as in takeReward and expireCoupons: no deadlocks.
    await repos.rewards.lockById(found.rewardId);
    const coupon = await repos.coupons.lock(found.id);
    if (!coupon) throw new DomainError('COUPON_NOT_FOUND');
    if (coupon.status === 'CANCELLED') {
      const current = await repos.members.findById(member.id);
      return { coupon, pointsRefunded: coupon.pointsRefunded, balance: current?.balance ?? 0, replayed: true };
    }
    const status = effectiveStatus(coupon, now);
    if (status === 'REDEEMED') throw new DomainError('ALREADY_REDEEMED', { redeemedAt: coupon.redeemedAt?.toISOString() ?? null });
    if (status === 'EXPIRED') throw new DomainError('COUPON_EXPIRED', { expiresAt: coupon.expiresAt.toISOString() });
    if (!(await repos.coupons.markCancelled(coupon.id, now))) throw new Error(`coupon ${coupon.id} changed under its row lock`);

    const balance = await refundCoupon(repos, coupon, couponLedgerKey.cancel(coupon.id), { type: 'MEMBER' }, 'coupon cancelled');
    await repos.rewards.returnStock(coupon.rewardId, 1);
    const current = balance ?? (await repos.members.findById(member.id))?.balance ?? 0;
    return {
      coupon: { ...coupon, status: 'CANCELLED' as const, cancelledAt: now, pointsRefunded: coupon.cost },
      pointsRefunded: coupon.cost,
      balance: current,
      replayed: false,
    };
  });
}
