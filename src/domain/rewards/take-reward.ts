import { formatCouponCode } from '../codes.js';
import { DomainError } from '../errors.js';
import { activeMember } from '../members/overview.js';
import type { DomainDeps } from '../ports.js';
import { takenWithinLimit, unavailability } from './availability.js';
import { COUPON_CODE_ATTEMPTS, couponLedgerKey, newCoupon } from './coupon.js';
import type { Coupon, Reward } from './types.js';

export interface TakeRewardInput {
  telegramId: number;
  rewardCode: string;
  /** One per confirmation screen: a double tap or a retry returns the first coupon. */
  idempotencyKey: string;
}

export interface TakeRewardResult {
  coupon: Coupon;
  /** The code in groups of four for display, e.g. ABCD-EFGH-JKMN. */
  displayCode: string;
  reward: Reward;
  /** Balance after the points were spent (now, for a replay). */
  balance: number;
  /** True when the key had been used before and nothing was written now. */
  replayed: boolean;
}

/**
 * A member exchanges points for a coupon. In one transaction: the reward row is locked (takes
 * of one reward are serialised), its rules are checked (active, window, tier, per-member limit),
 * the stock is taken by a conditional update, the points are spent through the ledger (key
 * `coupon:<id>:spend`) and the coupon is issued with a fresh code. Any refusal rolls all of it
 * back. Replaying the idempotency key returns the same coupon.
 */
export async function takeReward(deps: DomainDeps, input: TakeRewardInput): Promise<TakeRewardResult> {
  if (!input.idempotencyKey || input.idempotencyKey.length > 100) throw new DomainError('AMOUNT_INVALID', { field: 'idempotencyKey' });
  const member = await activeMember(deps.repos, input.telegramId);
  // Scoped to the member: one member's key can neither replay nor block another's.
  const key = `take:${member.id}:${input.idempotencyKey}`;

  const earlier = await deps.repos.coupons.findByKey(key);
  if (earlier) return replay(deps, earlier, input.rewardCode);

  const now = deps.clock.now();
  const outcome = await deps.uow.run(async (repos) => {
    const reward = await repos.rewards.lockByCode(input.rewardCode);
    if (!reward) throw new DomainError('REWARD_NOT_FOUND', { code: input.rewardCode });
    // A twin with the same key waited for the lock above: after it, its coupon is visible.
    const twin = await repos.coupons.findByKey(key);
    if (twin) return { kind: 'twin' as const, twin };

    const fresh = await repos.members.findById(member.id);
    if (fresh?.status !== 'ACTIVE') throw new DomainError('MEMBER_NOT_ACTIVE');
    const taken = await takenWithinLimit(repos, fresh, reward, now);
    const refusal = unavailability(deps.program, reward, fresh, taken, now);
    if (refusal) throw new DomainError(refusal, refusalDetails(reward, refusal));
    if (fresh.balance < reward.cost) {
      throw new DomainError('INSUFFICIENT_POINTS', { balance: fresh.balance, needed: reward.cost, missing: reward.cost - fresh.balance });
    }
    if (!(await repos.rewards.takeStock(reward.id))) throw new DomainError('OUT_OF_STOCK', { reward: reward.code });

    let coupon: Coupon | null = null;
    for (let attempt = 0; attempt < COUPON_CODE_ATTEMPTS && !coupon; attempt++) {
      coupon = await repos.coupons.create(newCoupon(reward, { memberId: member.id, cost: reward.cost, idempotencyKey: key, now }));
    }
    if (!coupon) throw new Error('could not draw an unused coupon code');

    let balance = fresh.balance;
    if (reward.cost > 0) {
      const spent = await repos.ledger.post({
        kind: 'debit',
        type: 'SPEND',
        memberId: member.id,
        amount: reward.cost,
        idempotencyKey: couponLedgerKey.spend(coupon.id),
        actor: { type: 'MEMBER' },
        reason: `reward:${reward.code}`,
      });
      balance = spent.entry.balanceAfter;
    }
    const after = (await repos.rewards.findById(reward.id)) ?? reward;
    return {
      kind: 'taken' as const,
      result: { coupon, displayCode: formatCouponCode(coupon.code), reward: after, balance, replayed: false } satisfies TakeRewardResult,
    };
  });

  if (outcome.kind === 'twin') return replay(deps, outcome.twin, input.rewardCode);
  return outcome.result;
}

async function replay(deps: DomainDeps, coupon: Coupon, rewardCode: string): Promise<TakeRewardResult> {
  const reward = await deps.repos.rewards.findById(coupon.rewardId);
  if (!reward || reward.code !== rewardCode) throw new DomainError('IDEMPOTENCY_CONFLICT', { couponId: coupon.id });
  const member = await deps.repos.members.findById(coupon.memberId);
  return { coupon, displayCode: formatCouponCode(coupon.code), reward, balance: member?.balance ?? 0, replayed: true };
}

function refusalDetails(reward: Reward, refusal: string): Record<string, string | number | null> {
  switch (refusal) {
    case 'TIER_TOO_LOW':
      return { reward: reward.code, minTier: reward.minTier };
    case 'LIMIT_REACHED':
      return { reward: reward.code, count: reward.limit?.count ?? 0, periodDays: reward.limit?.periodDays ?? null };
    default:
      return { reward: reward.code };
  }
}
