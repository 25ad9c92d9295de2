import type { DomainDeps, Store } from '../ports.js';
import type { Reward } from '../rewards/types.js';

/**
 * What the broadcast composer offers to choose from (the bot's audience and offer pickers), so
 * that the adapter reads no repository itself. Choosing is checked again when the broadcast is
 * created (assertOfferReward, assertSegment).
 */

/** The reward a wizard names as its offer, as it is now (null: none chosen, or gone). */
export async function chosenOffer(deps: DomainDeps, rewardCode: string | null | undefined): Promise<Reward | null> {
  return rewardCode ? deps.repos.rewards.findByCode(rewardCode) : null;
}

/** Active rewards that may be offered, at most `limit`. */
export async function offerChoices(deps: DomainDeps, limit: number): Promise<Reward[]> {
  return (await deps.repos.rewards.list({ activeOnly: true })).slice(0, limit);
}

/** Active stores an audience may be limited to, at most `limit`. */
export async function storeChoices(deps: DomainDeps, limit: number): Promise<Store[]> {
  return (await deps.repos.stores.list()).filter((store) => store.active).slice(0, limit);
}
