import { DomainError } from '../errors.js';
import type { DomainDeps } from '../ports.js';
import { issueGiftCoupon } from '../rewards/issue-gift.js';
import type { Coupon, Reward } from '../rewards/types.js';

/**
 * Personal offers: a broadcast may name a catalogue reward; each recipient then gets a free
 * coupon of it, issued when their copy is sent (not when the broadcast is created: the audience
 * is only known at the start, and stock goes to those actually reached first). The coupon's
 * idempotency key is the delivery's own dedupe key, `broadcast:<broadcastId>:<memberId>`, so a
 * retried or re-queued delivery finds the coupon it issued before and never issues a second.
 *
 * When the reward is paused or out of stock by then, the member gets the message without a
 * coupon; the delivery is recorded SENT with the reason NO_OFFER_REASON (and the worker logs
 * it), so those are counted from the delivery list (see BroadcastRepository.offerCounts).
 */

export const broadcastOfferKey = (broadcastId: number, memberId: number) => `broadcast:${broadcastId}:${memberId}`;

/** The reason on a SENT delivery whose member got the message without the coupon. */
export const NO_OFFER_REASON = 'sent without the coupon: reward paused or out of stock';

/**
 * Room the coupon line needs at the end of the message ("\n\n🎁 Your personal coupon: …, valid
 * until …" in any language): a broadcast with an offer may use the text limit less this.
 */
export const OFFER_LINE_RESERVE = 160;

/** The reward a broadcast may offer: it exists and is active now. Refusals name `offerRewardCode`. */
export async function assertOfferReward(deps: DomainDeps, rewardCode: string): Promise<Reward> {
  const reward = await deps.repos.rewards.findByCode(rewardCode);
  if (!reward) throw new DomainError('BROADCAST_INVALID', { field: 'offerRewardCode', message: `no reward with the code ${rewardCode}` });
  if (!reward.active) throw new DomainError('BROADCAST_INVALID', { field: 'offerRewardCode', message: `the reward ${rewardCode} is paused` });
  return reward;
}

/**
 * The member's coupon of the broadcast's offer: issued once (a free coupon through the rewards
 * use case, in one transaction), the same coupon on every retry. Null when the reward is paused,
 * out of stock or gone: the message then goes without it.
 */
export function issueBroadcastOffer(
  deps: Pick<DomainDeps, 'uow' | 'clock'>,
  broadcast: { id: number; offerRewardCode: string },
  memberId: number,
): Promise<Coupon | null> {
  const now = deps.clock.now();
  return deps.uow.run((repos) =>
    issueGiftCoupon(repos, { memberId, rewardCode: broadcast.offerRewardCode, idempotencyKey: broadcastOfferKey(broadcast.id, memberId), now }),
  );
}
