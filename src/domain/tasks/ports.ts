import type { Streak, TaskInstance, TaskRecord } from './types.js';

/** What the task engine keeps per member, on PostgreSQL (src/db/task-repository.ts). */
export interface TaskRepository {
  /** Locks the member's row until the transaction ends: task work for one member is serialised. */
  lockMember(memberId: number): Promise<void>;
  instance(memberId: number, taskCode: string, periodKey: string): Promise<TaskInstance | null>;
  /** The instances of these (task, period) pairs that exist. */
  instances(memberId: number, keys: { taskCode: string; periodKey: string }[]): Promise<(TaskInstance & { taskCode: string })[]>;
  /** Completed instances whose reward is still to be claimed. */
  unclaimed(memberId: number): Promise<(TaskInstance & { taskCode: string })[]>;
  saveInstance(memberId: number, taskCode: string, instance: TaskInstance): Promise<void>;
  /** Completed -> rewarded, in one conditional update; false when it was not completed or already rewarded. */
  markRewarded(memberId: number, taskCode: string, periodKey: string, at: Date): Promise<boolean>;
  findRecord(memberId: number, taskCode: string, eventId: string): Promise<TaskRecord | null>;
  /** Which of `taskCodes` have counted the event already. */
  countedBy(memberId: number, eventId: string, taskCodes: string[]): Promise<string[]>;
  /** False when the task had counted this event already (unique member + task + event). */
  addRecord(memberId: number, record: TaskRecord): Promise<boolean>;
  updateRecord(memberId: number, record: TaskRecord): Promise<void>;
  streak(memberId: number, taskCode: string): Promise<Streak | null>;
  saveStreak(memberId: number, taskCode: string, streak: Streak): Promise<void>;
  /** False when the member held the badge already. */
  awardBadge(memberId: number, code: string, taskCode: string | null, at: Date): Promise<boolean>;
  badges(memberId: number): Promise<{ code: string; awardedAt: Date }[]>;
  /** Every task instance of the member, oldest first (their data export). */
  allInstances(memberId: number): Promise<(TaskInstance & { taskCode: string })[]>;
  /** The member's check-in streaks, by task code (their data export). */
  streaks(memberId: number): Promise<(Streak & { taskCode: string })[]>;
  /** Whether the purchase is the member's first (no earlier purchase of theirs exists). */
  isFirstPurchase(memberId: number, purchaseId: number): Promise<boolean>;
  hasPurchases(memberId: number): Promise<boolean>;
  /** Records a visit on a local date; false when the member had visited the store that day. */
  recordVisit(memberId: number, storeId: number, day: string, at: Date): Promise<boolean>;
  gameProfile(memberId: number): Promise<GameProfile>;
  saveGameProfile(memberId: number, profile: GameProfile): Promise<void>;
  /** Erasure: forgets the member's leaderboard choices (off the board, default name style). */
  deleteGameProfile(memberId: number): Promise<void>;
  /** The opted-in members ranked by `metric` in [from, to): the top `size` and the member's own row. */
  leaderboard(query: {
    metric: 'points' | 'tasks';
    from: Date;
    to: Date;
    size: number;
    memberId: number;
  }): Promise<{ top: LeaderRow[]; own: LeaderRow | null; participants: number }>;
}

export type NameStyle = 'INITIALS' | 'FIRST_NAME' | 'HIDDEN';
export const NAME_STYLES: readonly NameStyle[] = ['INITIALS', 'FIRST_NAME', 'HIDDEN'];

export interface GameProfile {
  /** Opted in to the monthly leaderboard. */
  leaderboard: boolean;
  nameStyle: NameStyle;
}

export interface LeaderRow {
  memberId: number;
  rank: number;
  score: number;
  name: string | null;
  nameStyle: NameStyle;
}

export type ReferralStatus = 'PENDING' | 'CONVERTED' | 'EXPIRED';

export interface Referral {
  id: number;
  referrerId: number;
  friendId: number;
  status: ReferralStatus;
  referrerRewarded: boolean;
  purchaseId: number | null;
  createdAt: Date;
  convertedAt: Date | null;
}

export interface ReferralRepository {
  /** Null when the friend has been referred before (one referral per friend, ever). */
  create(value: { referrerId: number; friendId: number; createdAt: Date }): Promise<Referral | null>;
  /** The friend's referral, locked until the transaction ends. */
  lockByFriend(friendId: number): Promise<Referral | null>;
  findByFriend(friendId: number): Promise<Referral | null>;
  /** PENDING -> CONVERTED (or EXPIRED) in one conditional update; false when it was not pending. */
  finish(id: number, value: { status: 'CONVERTED' | 'EXPIRED'; at: Date; purchaseId: number | null; referrerRewarded: boolean }): Promise<boolean>;
  /** Conversions that rewarded the referrer in [from, to). */
  countRewarded(referrerId: number, from: Date, to: Date): Promise<number>;
  stats(referrerId: number): Promise<{ joined: number; bought: number; pending: number }>;
}
