import { expiryFor } from '../ledger/expiry.js';
import type { DomainDeps, Repositories } from '../ports.js';
import { issueGiftCoupon } from '../rewards/issue-gift.js';
import type { BadgeDefinition, TaskDefinition, TaskReward } from './types.js';

/** What a completion (or a streak milestone) paid. */
export interface GrantedReward {
  points: number;
  badge: BadgeDefinition | null;
  /** The gift coupon's code; null when none was due, or the reward was paused or out of stock. */
  couponCode: string | null;
}

const TASKS_ACTOR = { type: 'SYSTEM' as const, id: 'tasks' };

export const taskRewardKey = (memberId: number, taskCode: string, periodKey: string) => `task:${memberId}:${taskCode}:${periodKey}`;
export const milestoneKey = (memberId: number, taskCode: string, startDate: string, days: number) => `streak:${memberId}:${taskCode}:${startDate}:${days}`;

export function badgeOf(deps: DomainDeps, code: string | undefined): BadgeDefinition | null {
  if (code === undefined) return null;
  return deps.program.tasks.badges.find((badge) => badge.code === code) ?? { code, icon: '🏅', name: { ru: code, en: code } };
}

/** Pays a reward under `key` (ledger credit, badge, coupon); each part is idempotent by itself. */
async function pay(
  deps: DomainDeps,
  repos: Repositories,
  memberId: number,
  reward: TaskReward,
  key: string,
  reason: string,
  taskCode: string,
  now: Date,
): Promise<GrantedReward> {
  if (reward.points > 0) {
    await repos.ledger.post({
      kind: 'credit',
      type: 'BONUS',
      memberId,
      amount: reward.points,
      idempotencyKey: key,
      actor: TASKS_ACTOR,
      reason,
      expiresAt: expiryFor(deps.program.points.expiry, now, deps.program.timezone),
    });
  }
  if (reward.badge !== undefined) await repos.tasks.awardBadge(memberId, reward.badge, taskCode, now);
  // A paused or sold-out reward gives no coupon: the rest of the reward is paid all the same.
  const coupon =
    reward.coupon !== undefined ? await issueGiftCoupon(repos, { memberId, rewardCode: reward.coupon, idempotencyKey: `${key}:coupon`, now }) : null;
  const couponCode = coupon?.code ?? null;
  return { points: reward.points, badge: badgeOf(deps, reward.badge), couponCode };
}

/**
 * The reward of a completed task instance, once: the instance is marked rewarded by a conditional
 * update first, so a second claim (or a racing twin) gets null and pays nothing. Call it inside
 * the unit of work that holds the member's task lock.
 */
export async function grantTaskReward(
  deps: DomainDeps,
  repos: Repositories,
  memberId: number,
  task: TaskDefinition,
  periodKey: string,
  now: Date,
): Promise<GrantedReward | null> {
  if (!(await repos.tasks.markRewarded(memberId, task.code, periodKey, now))) return null;
  return pay(deps, repos, memberId, task.reward, taskRewardKey(memberId, task.code, periodKey), 'task', task.code, now);
}

/** A streak milestone's bonus, once per streak run (the ledger key names the run's first day). */
export function grantMilestone(
  deps: DomainDeps,
  repos: Repositories,
  memberId: number,
  task: TaskDefinition,
  milestone: { days: number; points: number; badge?: string | undefined },
  startDate: string,
  now: Date,
): Promise<GrantedReward> {
  return pay(
    deps,
    repos,
    memberId,
    { points: milestone.points, badge: milestone.badge },
    milestoneKey(memberId, task.code, startDate, milestone.days),
    'streak',
    task.code,
    now,
  );
}
