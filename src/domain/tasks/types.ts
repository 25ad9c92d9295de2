import type { Localized } from '../program.js';

/**
 * Gamified tasks as the program file states them (validated in src/program-tasks.ts) and the
 * state the engine works on. Calendar dates are local to the program's time zone (YYYY-MM-DD,
 * inclusive); money is in minor units.
 */

export const TASK_KINDS = ['checkIn', 'firstPurchase', 'purchases', 'spend', 'stores', 'profile', 'survey', 'storeVisit', 'channel', 'referrals'] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

/** Kinds that happen once in a member's life: their period is always `none` and their goal 1. */
export const ONCE_KINDS: readonly TaskKind[] = ['firstPurchase', 'profile', 'channel'];
/** Kinds driven by purchases: a return takes back what its purchase gave. */
export const PURCHASE_KINDS: readonly TaskKind[] = ['firstPurchase', 'purchases', 'spend', 'stores'];

/**
 * The window progress accumulates in, in the program's time zone. A periodic task starts afresh
 * each period and can be completed (and rewarded) once per period; `none` once ever; a date
 * range once, within the range.
 */
export type TaskPeriod = 'day' | 'week' | 'month' | 'none' | { from: string; to: string };

export interface TaskReward {
  /** Credited through the ledger (a BONUS lot that expires under the program's policy). */
  points: number;
  /** A badge code from `tasks.badges`. */
  badge?: string | undefined;
  /** A reward code from `rewards.catalogue`: a coupon of it is issued as a gift (no points spent). */
  coupon?: string | undefined;
}

export interface StreakMilestone {
  /** Paid when the streak reaches this many check-in days (once per streak run). */
  days: number;
  points: number;
  badge?: string | undefined;
}

export interface StreakRules {
  /** Days that may be missed without breaking the streak (0: check in every day). */
  graceDays: number;
  milestones: StreakMilestone[];
}

export interface TaskDefinition {
  /** Stable identifier: lower-case letters, digits, `_` and `-`, up to 32 characters. */
  code: string;
  kind: TaskKind;
  /**
   * checkIn: check-in days in the period; purchases: purchases; spend: minor units; stores:
   * different stores; survey: answers; storeVisit: visits; referrals: friends who bought;
   * firstPurchase, profile, channel: 1.
   */
  goal: number;
  period: TaskPeriod;
  reward: TaskReward;
  /** True: the reward is paid on completion; false: the member taps «Claim». */
  autoClaim: boolean;
  title: Localized;
  description?: Localized | undefined;
  /** Only members of these tiers see and progress the task (left out: every tier). */
  tiers?: string[] | undefined;
  /** The task is available from/to these local dates, inclusive (a seasonal quest). */
  from?: string | undefined;
  to?: string | undefined;
  /** Purchase kinds: purchases below this amount do not count. */
  minPurchaseMinor?: number | undefined;
  /** Purchase kinds and storeVisit: only these store codes count (left out: every store). */
  stores?: string[] | undefined;
  /** survey: only answers to this survey count (left out: any survey). */
  survey?: string | undefined;
  /** checkIn: the streak's grace and milestone bonuses. */
  streak?: StreakRules | undefined;
}

export interface BadgeDefinition {
  code: string;
  icon: string;
  name: Localized;
}

/**
 * Invite-a-friend: a friend who registers through a member's `ref_<token>` link is pending; their
 * first purchase of at least `minPurchaseMinor` within `windowDays` of registering rewards both.
 */
export interface ReferralRules {
  enabled: boolean;
  minPurchaseMinor: number;
  referrerPoints: number;
  friendPoints: number;
  /** Referrer rewards per calendar month (program time zone); conversions beyond it reward only the friend. */
  monthlyCap: number;
  windowDays: number;
}

export interface LeaderboardRules {
  enabled: boolean;
  /** points: points earned in the month (purchases and bonuses, less returns); tasks: tasks completed. */
  metric: 'points' | 'tasks';
  size: number;
}

/** The brand's channel for `channel` tasks; the bot must be an administrator there to check members. */
export interface ChannelRules {
  /** @username or the numeric id (-100…). */
  chat: string;
  /** The link the «Open channel» button opens. */
  url: string;
}

export interface TasksProgram {
  channel?: ChannelRules | undefined;
  badges: BadgeDefinition[];
  referrals: ReferralRules;
  leaderboard: LeaderboardRules;
  list: TaskDefinition[];
}

export const DEFAULT_TASKS: () => TasksProgram = () => ({
  badges: [],
  referrals: { enabled: false, minPurchaseMinor: 0, referrerPoints: 0, friendPoints: 0, monthlyCap: 10, windowDays: 90 },
  leaderboard: { enabled: false, metric: 'points', size: 10 },
  list: [],
});

// ---- engine state ---------------------------------------------------------------------------

/**
 * What drives progress. `id` makes an event idempotent: it is counted at most once per member
 * and task (purchase:<id>, return:<id>, checkin:<member>:<date>, visit:<member>:<store>:<date>,
 * channel:<member>, profile:<member>, survey:<response id>, referral:<referral id>).
 */
export type TaskEvent =
  | { type: 'purchase'; id: string; at: Date; purchaseId: number; storeId: number; storeCode: string; amountMinor: number; first: boolean }
  /** `amountMinor`: the part of the purchase returned by this return. */
  | { type: 'return'; id: string; at: Date; purchaseId: number; amountMinor: number }
  | { type: 'checkIn'; id: string; at: Date }
  | { type: 'storeVisit'; id: string; at: Date; storeId: number; storeCode: string }
  | { type: 'channelJoined'; id: string; at: Date }
  | { type: 'profileCompleted'; id: string; at: Date }
  | { type: 'surveyAnswered'; id: string; at: Date; survey: string }
  | { type: 'referralConverted'; id: string; at: Date };

/** A member's progress in one task in one period. */
export interface TaskInstance {
  periodKey: string;
  goal: number;
  progress: number;
  /** The `stores` kind: purchases still standing per store id. */
  stores: Record<string, number>;
  completedAt: Date | null;
  rewardedAt: Date | null;
}

/**
 * That a task counted an event, and what of it still stands: `value` is the progress it gave
 * (a return lowers it), `amountMinor` what is left of its purchase. A return's own record holds
 * what it took back (negative `value`).
 */
export interface TaskRecord {
  taskCode: string;
  eventId: string;
  periodKey: string;
  value: number;
  amountMinor: number;
  storeId: number | null;
}

export interface Streak {
  current: number;
  best: number;
  /** The local date the current run started and the last check-in's. */
  startDate: string | null;
  lastDate: string | null;
}
