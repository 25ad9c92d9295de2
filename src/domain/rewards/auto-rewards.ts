import { isDomainError } from '../errors.js';
import type { DomainEvent, EventHandler } from '../events.js';
import type { DomainDeps } from '../ports.js';
import type { AutoRewardRule } from '../program.js';
import { COUPON_CODE_ATTEMPTS, couponLedgerKey, newCoupon } from './coupon.js';
import type { Coupon } from './types.js';

/**
 * Automatic rewards (Nordstrom Notes): when a member's balance reaches a rule's threshold, the
 * reward's cost in points becomes a coupon by itself, as many times as the balance allows.
 * Run by the events worker after a purchase, a registration, a profile or a survey commits
 * (never inside the request). Each issue is one transaction under the reward's row lock (takes of one reward are
 * serialised) that re-reads the balance, issues the coupon and spends its cost through the
 * ledger: two purchases or a replayed event cannot turn one crossing into two coupons, because
 * the first issue has already taken the points the second would need.
 */

/** Coupons issued per rule and event at most: a bound on one handler run, the next event goes on. */
const MAX_PER_EVENT = 50;

/** `auto:<memberId>:<reward>:<n>`: the n-th automatic coupon of a reward for a member. */
export const autoRewardKey = (memberId: number, rewardCode: string, n: number) => `auto:${memberId}:${rewardCode}:${n}`;

export function autoRewardSubscriber(deps: DomainDeps): EventHandler {
  return {
    handle: async (event: DomainEvent) => {
      if (deps.program.rewards.auto.length === 0) return;
      // Events after which the balance may have grown (a purchase, a welcome bonus, task or survey rewards).
      if (event.type === 'returnRecorded' || event.type === 'couponRedeemed') return;
      await applyAutoRewards(deps, event.memberId);
    },
  };
}

/** Issues every automatic reward the member's balance allows now; returns the coupons issued. */
export async function applyAutoRewards(deps: DomainDeps, memberId: number): Promise<Coupon[]> {
  const issued: Coupon[] = [];
  // Most events leave the balance below every threshold: one read, no lock, no transaction.
  const member = await deps.repos.members.findById(memberId);
  const lowest = Math.min(...deps.program.rewards.auto.map((rule) => rule.whenBalanceAtLeast));
  if (member?.status !== 'ACTIVE' || member.balance < lowest) return issued;
  for (const rule of deps.program.rewards.auto) {
    for (let i = 0; i < MAX_PER_EVENT; i++) {
      const coupon = await issueOnce(deps, memberId, rule);
      if (!coupon) break;
      issued.push(coupon);
    }
  }
  return issued;
}

async function issueOnce(deps: DomainDeps, memberId: number, rule: AutoRewardRule): Promise<Coupon | null> {
  const now = deps.clock.now();
  try {
    return await deps.uow.run(async (repos) => {
      const reward = await repos.rewards.lockByCode(rule.reward);
      // Paused, removed or out of stock: nothing now; a later event tries again.
      if (!reward?.active) return null;
      const member = await repos.members.findById(memberId);
      if (member?.status !== 'ACTIVE' || member.balance < Math.max(rule.whenBalanceAtLeast, reward.cost)) return null;
      if (!(await repos.rewards.takeStock(reward.id))) return null;
      let n = (await repos.coupons.countTaken(memberId, reward.id, null)) + 1;
      let coupon: Coupon | null = null;
      for (let attempt = 0; attempt < COUPON_CODE_ATTEMPTS + MAX_PER_EVENT && !coupon; attempt++) {
        const idempotencyKey = autoRewardKey(memberId, reward.code, n);
        coupon = await repos.coupons.create(newCoupon(reward, { memberId, cost: reward.cost, idempotencyKey, now }));
        // Not written: a code collision (draw again) or the n-th key used by a cancelled coupon (next n).
        if (!coupon && (await repos.coupons.findByKey(idempotencyKey))) n++;
      }
      if (!coupon) throw new Error('could not issue an automatic coupon');
      let balance = member.balance;
      if (reward.cost > 0) {
        const spent = await repos.ledger.post({
          kind: 'debit',
          type: 'SPEND',
          memberId,
          amount: reward.cost,
          idempotencyKey: couponLedgerKey.spend(coupon.id),
          actor: { type: 'SYSTEM' },
          reason: `auto-reward:${reward.code}`,
        });
        balance = spent.entry.balanceAfter;
      }
      await repos.outbox.notify(
        memberId,
        { kind: 'autoRewardIssued', couponCode: coupon.code, title: reward.title, points: reward.cost, balance },
        { dedupeKey: `${coupon.idempotencyKey}:issued`, class: 'transactional' },
      );
      return coupon;
    });
  } catch (error) {
    // A till spent the points between the read and the debit: the transaction rolled back.
    if (isDomainError(error, 'INSUFFICIENT_POINTS')) return null;
    throw error;
  }
}
