import { isDomainError } from '../errors.js';
import type { DomainDeps, Repositories } from '../ports.js';
import { consumes, eligible, stepTask, targetPeriod } from './engine.js';
import { type GrantedReward, grantMilestone, grantTaskReward, taskRewardKey } from './rewards.js';
import type { Streak, TaskDefinition, TaskEvent } from './types.js';

/** What one event did to one task. */
export interface TaskUpdate {
  task: TaskDefinition;
  periodKey: string;
  progress: number;
  goal: number;
  /** This event completed the instance. */
  completed: boolean;
  /** A return took an unclaimed completion back. */
  reopened: boolean;
  /** Paid now (autoClaim); null when nothing was paid. */
  reward: GrantedReward | null;
  /** Completed now, and the reward waits for the member's «Claim». */
  claimable: boolean;
}

export interface MilestoneReached {
  task: TaskDefinition;
  days: number;
  reward: GrantedReward;
}

export interface TaskEventOutcome {
  /** Every task this event concerns had counted it before: nothing changed. */
  duplicate: boolean;
  updates: TaskUpdate[];
  milestones: MilestoneReached[];
  /** checkIn: the streak after the event (the first check-in task's with a streak). */
  streak: Streak | null;
}

const nothing = (): TaskEventOutcome => ({ duplicate: false, updates: [], milestones: [], streak: null });

/** Attempts of the whole unit of work: processing is idempotent, so a deadlock victim just runs again. */
const ATTEMPTS = 3;

async function apply(
  deps: DomainDeps,
  repos: Repositories,
  memberId: number,
  event: TaskEvent,
  candidates: TaskDefinition[],
  notify: boolean,
): Promise<TaskEventOutcome> {
  const { timezone } = deps.program;
  const now = deps.clock.now();
  // Everything below reads and writes this member's task state under the member's row lock.
  await repos.tasks.lockMember(memberId);
  const member = await repos.members.findById(memberId);
  if (member?.status !== 'ACTIVE') return nothing();
  // A return undoes progress wherever its purchase counted, whatever the member's tier or the date now.
  const tasks = event.type === 'return' ? candidates : candidates.filter((task) => eligible(task, member.tier, event.at, timezone));
  const counted = new Set(
    await repos.tasks.countedBy(
      memberId,
      event.id,
      tasks.map((task) => task.code),
    ),
  );
  const outcome = nothing();
  outcome.duplicate = tasks.length > 0 && tasks.every((task) => counted.has(task.code));

  for (const task of tasks) {
    if (counted.has(task.code)) continue;
    const contribution = event.type === 'return' ? await repos.tasks.findRecord(memberId, task.code, `purchase:${event.purchaseId}`) : null;
    const periodKey = targetPeriod(task, event, timezone, contribution);
    if (periodKey === null) continue;
    const instance = await repos.tasks.instance(memberId, task.code, periodKey);
    const streak = task.kind === 'checkIn' && task.streak ? await repos.tasks.streak(memberId, task.code) : null;
    const step = stepTask({ task, event, timeZone: timezone, instance, contribution, streak });

    // The unique key is the last line of defence: under the lock a twin cannot get here first.
    if (!(await repos.tasks.addRecord(memberId, step.record))) continue;
    if (step.contribution) await repos.tasks.updateRecord(memberId, step.contribution);
    if (step.streak) {
      await repos.tasks.saveStreak(memberId, task.code, step.streak);
      outcome.streak ??= step.streak;
    }
    await repos.tasks.saveInstance(memberId, task.code, step.instance);

    const update: TaskUpdate = {
      task,
      periodKey,
      progress: step.instance.progress,
      goal: step.instance.goal,
      completed: false,
      reopened: false,
      reward: null,
      claimable: false,
    };
    for (const effect of step.effects) {
      switch (effect.type) {
        case 'completed':
          update.completed = true;
          if (effect.reward) update.reward = await grantTaskReward(deps, repos, memberId, task, periodKey, now);
          else update.claimable = true;
          break;
        case 'reopened':
          update.reopened = true;
          break;
        case 'milestone':
          outcome.milestones.push({
            task,
            days: effect.milestone.days,
            reward: await grantMilestone(deps, repos, memberId, task, effect.milestone, effect.startDate, now),
          });
          break;
      }
    }
    outcome.updates.push(update);
  }
  // The messages commit with the progress: a crash after the commit cannot lose them, and a
  // replayed event finds its records and writes none.
  if (notify) await notifyCompletions(repos, memberId, outcome);
  return outcome;
}

/**
 * Applies one event to every task of the program that counts it, for one member, in one unit of
 * work: progress, the records that make the event count once, streaks, and rewards that are due
 * (ledger credits with idempotency keys, badges, gift coupons). Replaying the event, even
 * concurrently, changes nothing. With `notify`, the messages about completions are written to
 * the outbox in the same unit of work (off when the bot answers the member directly, e.g. a check-in).
 */
export async function processTaskEvent(deps: DomainDeps, memberId: number, event: TaskEvent, options: { notify?: boolean } = {}): Promise<TaskEventOutcome> {
  const candidates = deps.program.tasks.list.filter((task) => consumes(task, event));
  if (candidates.length === 0) return nothing();
  let outcome: TaskEventOutcome | undefined;
  for (let attempt = 1; !outcome; attempt++) {
    try {
      outcome = await deps.uow.run((repos) => apply(deps, repos, memberId, event, candidates, options.notify !== false));
    } catch (error) {
      if (isDomainError(error) || attempt >= ATTEMPTS) throw error;
    }
  }
  return outcome;
}

async function notifyCompletions(repos: Repositories, memberId: number, outcome: TaskEventOutcome): Promise<void> {
  for (const update of outcome.updates) {
    if (!update.completed || (!update.reward && !update.claimable)) continue;
    const reward = update.reward;
    await repos.outbox.notify(
      memberId,
      {
        kind: 'taskCompleted',
        title: update.task.title,
        points: reward ? reward.points : update.task.reward.points,
        badge: reward?.badge ? { icon: reward.badge.icon, name: reward.badge.name } : null,
        couponCode: reward?.couponCode ?? null,
        claimable: update.claimable,
      },
      { dedupeKey: `${taskRewardKey(memberId, update.task.code, update.periodKey)}:done`, class: 'transactional' },
    );
  }
}
