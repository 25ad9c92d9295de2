import type { Repositories } from '../ports.js';
import { COUPON_CODE_ATTEMPTS, newCoupon } from './coupon.js';
import type { Coupon } from './types.js';

export interface IssueGiftInput {
  memberId: number;
  rewardCode: string;
  /**
   * Names the gift, and makes it once: a replay returns the first coupon. The key says where it
   * came from (`task:…:coupon`, `broadcast:<broadcastId>:<memberId>`), as coupons keep no reason.
   */
  idempotencyKey: string;
  now: Date;
}

/**
 * A coupon of a catalogue reward as a gift (no points spent: cost 0), once per idempotency key:
 * tasks, streak milestones and personal offers in broadcasts issue through it. Null when the
 * reward does not exist, is paused or out of stock (nothing is written then). Stock is taken by
 * the same conditional update as a take; the tier, window and per-member limits of a take do not
 * apply to a gift. Call it inside a unit of work (`repos` of the transaction), so that the stock
 * taken and the coupon are written together or not at all.
 */
export async function issueGiftCoupon(repos: Repositories, input: IssueGiftInput): Promise<Coupon | null> {
  const earlier = await repos.coupons.findByKey(input.idempotencyKey);
  if (earlier) return earlier;
  const reward = await repos.rewards.findByCode(input.rewardCode);
  if (!reward?.active) return null;
  if (!(await repos.rewards.takeStock(reward.id))) return null;
  const { now } = input;
  for (let attempt = 0; attempt < COUPON_CODE_ATTEMPTS; attempt++) {
    const coupon = await repos.coupons.create(newCoupon(reward, { memberId: input.memberId, cost: 0, idempotencyKey: input.idempotencyKey, now }));
    if (coupon) return coupon;
    // Not written: a code collision (draw again), or a concurrent twin with this key committed
    // first: its coupon is the gift, and the unit of stock taken here goes back.
    const twin = await repos.coupons.findByKey(input.idempotencyKey);
    if (twin) {
      await repos.rewards.returnStock(reward.id, 1);
      return twin;
    }
  }
  throw new Error('could not draw an unused coupon code');
}
