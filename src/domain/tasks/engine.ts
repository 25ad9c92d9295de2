import { localDate } from '../time.js';
import { daysBetween, isAvailable, periodKeyFor } from './periods.js';
import type { Streak, StreakMilestone, StreakRules, TaskDefinition, TaskEvent, TaskInstance, TaskRecord } from './types.js';

/**
 * The task engine: pure functions from (task, state, event) to (new state, effects), in the
 * shape of grammY conversations' engine. No I/O: the use case in process-event.ts loads the
 * state, runs `stepTask`, writes what it returns and carries out the effects (ledger credits,
 * badges, coupons, messages) in the same transaction.
 */

/** What the caller must do beyond saving the new state. */
export type TaskEffect =
  /** The instance reached its goal; `reward`: pay now (autoClaim), else a «Claim» button waits. */
  | { type: 'completed'; taskCode: string; periodKey: string; reward: boolean }
  /** A return took an unclaimed completion back below the goal. */
  | { type: 'reopened'; taskCode: string; periodKey: string }
  /** The check-in streak reached a milestone; `startDate` identifies the streak run. */
  | { type: 'milestone'; taskCode: string; milestone: StreakMilestone; startDate: string };

export interface TaskStepInput {
  task: TaskDefinition;
  event: TaskEvent;
  timeZone: string;
  /** The instance of the period the event touches (see `targetPeriod`); null when none exists yet. */
  instance: TaskInstance | null;
  /** A return: what its purchase gave this task (null: nothing, the return is a no-op here). */
  contribution: TaskRecord | null;
  /** checkIn: the member's streak in this task. */
  streak: Streak | null;
}

export interface TaskStepOutput {
  instance: TaskInstance;
  /** Marks the event counted (the unique key makes a replay a no-op). */
  record: TaskRecord;
  /** A return: the purchase's record after it. */
  contribution?: TaskRecord;
  streak?: Streak;
  effects: TaskEffect[];
}

/** Whether the task counts this kind of event at all (filters included), whatever the member. */
export function consumes(task: TaskDefinition, event: TaskEvent): boolean {
  const storeOk = (code: string) => !task.stores || task.stores.includes(code);
  const amountOk = (amount: number) => amount >= (task.minPurchaseMinor ?? 0);
  switch (event.type) {
    case 'purchase':
      if (!storeOk(event.storeCode) || !amountOk(event.amountMinor)) return false;
      return task.kind === 'purchases' || task.kind === 'spend' || task.kind === 'stores' || (task.kind === 'firstPurchase' && event.first);
    case 'return':
      return task.kind === 'purchases' || task.kind === 'spend' || task.kind === 'stores' || task.kind === 'firstPurchase';
    case 'checkIn':
      return task.kind === 'checkIn';
    case 'storeVisit':
      return task.kind === 'storeVisit' && storeOk(event.storeCode);
    case 'channelJoined':
      return task.kind === 'channel';
    case 'profileCompleted':
      return task.kind === 'profile';
    case 'surveyAnswered':
      return task.kind === 'survey' && (!task.survey || task.survey === event.survey);
    case 'referralConverted':
      return task.kind === 'referrals';
  }
}

/** Whether a member of `tier` may progress the task at `at` (tier limit and dates). */
export function eligible(task: TaskDefinition, tier: string | null, at: Date, timeZone: string): boolean {
  if (task.tiers && !(tier !== null && task.tiers.includes(tier))) return false;
  return isAvailable(task, at, timeZone);
}

/**
 * The period instance the event touches: the period of its time, or for a return the period its
 * purchase counted in (even a past one). Null: nothing to do (a return of an uncounted purchase).
 */
export function targetPeriod(task: TaskDefinition, event: TaskEvent, timeZone: string, contribution: TaskRecord | null): string | null {
  if (event.type === 'return') return contribution ? contribution.periodKey : null;
  return periodKeyFor(task.period, event.at, timeZone);
}

export const emptyInstance = (task: TaskDefinition, periodKey: string): TaskInstance => ({
  periodKey,
  goal: task.goal,
  progress: 0,
  stores: {},
  completedAt: null,
  rewardedAt: null,
});

/**
 * The streak after a check-in on local date `today`. Up to `graceDays` missed days keep the
 * streak (it counts check-in days, not calendar days); more start a new run. A check-in not later
 * than the last one changes nothing. Milestones are those reached by this check-in.
 */
export function advanceStreak(streak: Streak | null, today: string, rules: StreakRules): { streak: Streak; milestones: StreakMilestone[]; changed: boolean } {
  if (streak?.lastDate) {
    const gap = daysBetween(streak.lastDate, today);
    if (gap <= 0) return { streak, milestones: [], changed: false };
    if (gap <= 1 + rules.graceDays) {
      const current = streak.current + 1;
      const next = { current, best: Math.max(streak.best, current), startDate: streak.startDate ?? today, lastDate: today };
      return { streak: next, milestones: rules.milestones.filter((m) => m.days === current), changed: true };
    }
  }
  const next = { current: 1, best: Math.max(streak?.best ?? 0, 1), startDate: today, lastDate: today };
  return { streak: next, milestones: rules.milestones.filter((m) => m.days === 1), changed: true };
}

/** The streak as of `today`: its length while it is alive (no more than the grace missed), else 0. */
export function liveStreak(streak: Streak | null, today: string, rules: StreakRules | undefined): number {
  if (!streak?.lastDate) return 0;
  const gap = daysBetween(streak.lastDate, today);
  return gap <= 1 + (rules?.graceDays ?? 0) ? streak.current : 0;
}

function complete(task: TaskDefinition, instance: TaskInstance, at: Date, effects: TaskEffect[]): void {
  if (instance.completedAt === null && instance.progress >= instance.goal) {
    instance.completedAt = at;
    effects.push({ type: 'completed', taskCode: task.code, periodKey: instance.periodKey, reward: task.autoClaim });
  }
}

/**
 * One event applied to one task. The caller has checked `consumes` and `eligible` (returns apply
 * wherever their purchase counted) and that the task has not counted this event before.
 *
 * Returns: a spend task loses the returned amount; a count task (purchases, first purchase,
 * stores) loses the purchase once what is left of it no longer qualifies (below the task's
 * minimum, or nothing). A completion not yet rewarded is taken back when progress falls below
 * the goal; a reward already paid is kept, and the instance stays completed, so the period never
 * pays twice however often the goal is crossed.
 */
export function stepTask(input: TaskStepInput): TaskStepOutput {
  const { task, event, timeZone } = input;
  const effects: TaskEffect[] = [];
  const periodKey = targetPeriod(task, event, timeZone, input.contribution) ?? 'all';
  const instance: TaskInstance = input.instance ? { ...input.instance, stores: { ...input.instance.stores } } : emptyInstance(task, periodKey);
  const record: TaskRecord = { taskCode: task.code, eventId: event.id, periodKey, value: 0, amountMinor: 0, storeId: null };

  if (event.type === 'return') {
    const given = input.contribution;
    if (!given) return { instance, record, effects };
    const left = Math.max(0, given.amountMinor - event.amountMinor);
    let value: number;
    if (task.kind === 'spend') value = Math.max(0, given.value - event.amountMinor);
    else value = left >= Math.max(1, task.minPurchaseMinor ?? 0) ? given.value : 0;
    const taken = given.value - value;
    instance.progress = Math.max(0, instance.progress - taken);
    if (task.kind === 'stores' && taken > 0 && given.storeId !== null) {
      const key = String(given.storeId);
      const count = (instance.stores[key] ?? 0) - 1;
      if (count > 0) instance.stores[key] = count;
      else delete instance.stores[key];
      instance.progress = Object.keys(instance.stores).length;
    }
    if (instance.completedAt !== null && instance.rewardedAt === null && instance.progress < instance.goal) {
      instance.completedAt = null;
      effects.push({ type: 'reopened', taskCode: task.code, periodKey });
    }
    return {
      instance,
      record: { ...record, value: -taken, amountMinor: event.amountMinor },
      contribution: { ...given, value, amountMinor: left },
      effects,
    };
  }

  let streak: Streak | undefined;
  const milestones: TaskEffect[] = [];
  switch (event.type) {
    case 'purchase':
      record.amountMinor = event.amountMinor;
      record.storeId = event.storeId;
      if (task.kind === 'spend') {
        record.value = event.amountMinor;
        instance.progress += event.amountMinor;
      } else if (task.kind === 'stores') {
        record.value = 1;
        const key = String(event.storeId);
        instance.stores[key] = (instance.stores[key] ?? 0) + 1;
        instance.progress = Object.keys(instance.stores).length;
      } else {
        record.value = 1;
        instance.progress += 1;
      }
      break;
    case 'checkIn': {
      record.value = 1;
      instance.progress += 1;
      if (task.streak) {
        const advanced = advanceStreak(input.streak, localDate(event.at, timeZone), task.streak);
        if (advanced.changed) {
          streak = advanced.streak;
          for (const milestone of advanced.milestones) {
            milestones.push({ type: 'milestone', taskCode: task.code, milestone, startDate: advanced.streak.startDate ?? localDate(event.at, timeZone) });
          }
        }
      }
      break;
    }
    case 'storeVisit':
      record.storeId = event.storeId;
      record.value = 1;
      instance.progress += 1;
      break;
    default:
      record.value = 1;
      instance.progress += 1;
  }
  complete(task, instance, event.at, effects);
  effects.push(...milestones);
  return { instance, record, ...(streak ? { streak } : {}), effects };
}
