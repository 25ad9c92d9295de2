import type { Member } from '../members/member.js';
import type { Repositories } from '../ports.js';
import type { Program } from '../program.js';
import type { Reward } from './types.js';

/** Why a member may not take a reward now; these are also the DomainError codes of `takeReward`. */
export type Unavailability = 'REWARD_UNAVAILABLE' | 'TIER_TOO_LOW' | 'OUT_OF_STOCK' | 'LIMIT_REACHED';

const DAY_MS = 86_400_000;

/** Start of the per-member limit's period at `now` (null: the limit counts for ever; also when there is no limit). */
export function limitPeriodStart(reward: Reward, now: Date): Date | null {
  const days = reward.limit?.periodDays;
  return days ? new Date(now.getTime() - days * DAY_MS) : null;
}

/** Active and inside the availability window at `now`. */
export function isOffered(reward: Reward, now: Date): boolean {
  if (!reward.active) return false;
  if (reward.availableFrom && now < reward.availableFrom) return false;
  if (reward.availableTo && now >= reward.availableTo) return false;
  return true;
}

/**
 * Whether a member's tier reaches the reward's minimum. Tiers compare by their place in the
 * program; a minimum naming a tier the program no longer has admits nobody (fail closed).
 */
export function tierAllows(program: Program, reward: Reward, memberTier: string | null): boolean {
  if (reward.minTier === null) return true;
  const levels = program.tiers.levels;
  const needed = levels.findIndex((level) => level.code === reward.minTier);
  if (needed < 0) return false;
  const held = Math.max(
    0,
    levels.findIndex((level) => level.code === memberTier),
  );
  return held >= needed;
}

/**
 * The first rule that keeps the member from taking the reward at `now`, or null. `taken` is how
 * many coupons of it the member holds in the limit's period (cancelled ones not counted).
 * Points are checked separately: a reward one cannot afford yet is still shown, with what is missing.
 */
export function unavailability(program: Program, reward: Reward, member: { tier: string | null }, taken: number, now: Date): Unavailability | null {
  if (!isOffered(reward, now)) return 'REWARD_UNAVAILABLE';
  if (!tierAllows(program, reward, member.tier)) return 'TIER_TOO_LOW';
  if (reward.stock !== null && reward.stock <= 0) return 'OUT_OF_STOCK';
  if (reward.limit && taken >= reward.limit.count) return 'LIMIT_REACHED';
  return null;
}

/**
 * Coupons of the reward the member took within its limit period: their own, and those an erased
 * account of the same person took (`inheritedTakes`, carried by the erasure fingerprint), so
 * that deleting the account and joining again does not reset a "once per 30 days" limit.
 */
export async function takenWithinLimit(repos: Repositories, member: Member, reward: Reward, now: Date): Promise<number> {
  if (!reward.limit) return 0;
  const since = limitPeriodStart(reward, now);
  const own = await repos.coupons.countTaken(member.id, reward.id, since);
  const inherited = member.inheritedTakes.filter((take) => take.reward === reward.code && (since === null || take.at > since)).length;
  return own + inherited;
}
