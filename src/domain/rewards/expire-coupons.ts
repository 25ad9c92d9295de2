import type { DomainDeps } from '../ports.js';
import { couponLedgerKey, refundCoupon } from './coupon.js';
import type { Coupon } from './types.js';

export interface ExpireCouponsResult {
  /** Coupons marked EXPIRED by this run. */
  expired: number;
  /** Points given back (only under `rewards.refundOnExpiry`). */
  pointsRefunded: number;
}

export const EXPIRE_BATCH_SIZE = 500;
const JOB_ACTOR = { type: 'JOB' as const, id: 'coupons.expire' };

/**
 * Marks ISSUED coupons past their expiry at `now` as EXPIRED, in batches, one transaction per
 * reward in a batch. An expired coupon gives its unit back to a limited stock; its points come
 * back only if the program says so (`rewards.refundOnExpiry`, off by default), through the
 * ledger under `coupon:<id>:expire`. Idempotent: a coupon is expired once (conditional update),
 * so a rerun, or two runs at once, change nothing more. Members are told after each commit.
 */
export async function expireCoupons(deps: DomainDeps, now: Date = deps.clock.now(), options: { batchSize?: number } = {}): Promise<ExpireCouponsResult> {
  const batchSize = Math.max(1, options.batchSize ?? EXPIRE_BATCH_SIZE);
  const total: ExpireCouponsResult = { expired: 0, pointsRefunded: 0 };
  for (;;) {
    const due = await deps.repos.coupons.findDue(now, batchSize);
    const byReward = new Map<number, number[]>();
    for (const { id, rewardId } of due) byReward.set(rewardId, [...(byReward.get(rewardId) ?? []), id]);
    let progress = 0;
    for (const rewardId of [...byReward.keys()].sort((a, b) => a - b)) {
      const done = await expireGroup(deps, rewardId, byReward.get(rewardId) ?? [], now);
      progress += done.expired;
      total.expired += done.expired;
      total.pointsRefunded += done.pointsRefunded;
    }
    // A short batch was the last one; a batch that changed nothing means others took it.
    if (due.length < batchSize || progress === 0) return total;
  }
}

/** Expires one coupon found past its expiry (e.g. when someone tries to redeem it). */
export async function expireCoupon(deps: DomainDeps, couponId: number, now: Date = deps.clock.now()): Promise<ExpireCouponsResult> {
  const coupon = await deps.repos.coupons.findById(couponId);
  if (!coupon) return { expired: 0, pointsRefunded: 0 };
  return expireGroup(deps, coupon.rewardId, [coupon.id], now);
}

async function expireGroup(deps: DomainDeps, rewardId: number, ids: number[], now: Date): Promise<ExpireCouponsResult> {
  const { expired, refunded } = await deps.uow.run(async (repos) => {
    // Lock order reward -> coupons -> members, as in takeReward and cancelCoupon.
    await repos.rewards.lockById(rewardId);
    const expired = await repos.coupons.markExpired(ids, now);
    if (expired.length > 0) await repos.rewards.returnStock(rewardId, expired.length);
    const refunded = new Map<number, number>();
    if (deps.program.rewards.refundOnExpiry) {
      // Members in id order, so that two concurrent runs lock them in the same order.
      for (const coupon of [...expired].sort((a, b) => a.memberId - b.memberId || a.id - b.id)) {
        const balance = await refundCoupon(repos, coupon, couponLedgerKey.expire(coupon.id), JOB_ACTOR, 'coupon expired');
        if (balance !== null) refunded.set(coupon.id, coupon.cost);
      }
    }
    return { expired, refunded };
  });
  if (expired.length === 0) return { expired: 0, pointsRefunded: 0 };
  await notifyExpired(deps, rewardId, expired, refunded);
  let pointsRefunded = 0;
  for (const points of refunded.values()) pointsRefunded += points;
  return { expired: expired.length, pointsRefunded };
}

async function notifyExpired(deps: DomainDeps, rewardId: number, coupons: Coupon[], refunded: Map<number, number>): Promise<void> {
  const reward = await deps.repos.rewards.findById(rewardId);
  if (!reward) return;
  for (const coupon of coupons) {
    await deps.notifier.notify(
      coupon.memberId,
      { kind: 'couponExpired', couponCode: coupon.code, title: reward.title, pointsRefunded: refunded.get(coupon.id) ?? 0 },
      { dedupeKey: `coupon-expired:${coupon.id}`, class: 'reminder' },
    );
  }
}
