/**
 * The loyalty program as the domain sees it: plain data, validated by the adapter in
 * src/program.ts. Amounts of money are integers in minor units (kopecks, cents).
 */
import type { RewardDefinition } from './rewards/types.js';
import type { TasksProgram } from './tasks/types.js';

export type Locale = 'ru' | 'en';
export const LOCALES: readonly Locale[] = ['ru', 'en'];
export const isLocale = (value: unknown): value is Locale => value === 'ru' || value === 'en';

export type Localized = Record<Locale, string>;

/**
 * What the program calls its points, per language, in every form the texts need. Russian:
 * `one`/`few`/`many` (1 звезда, 2 звезды, 5 звёзд), `plural` (обменяйте звёзды) and
 * `instrumental` (оплата звёздами); English: `one`/`other` (1 star, 2 stars).
 */
export interface PointsName {
  ru: { one: string; few: string; many: string; plural: string; instrumental: string };
  en: { one: string; other: string };
}

export const DEFAULT_POINTS_NAME: PointsName = {
  ru: { one: 'балл', few: 'балла', many: 'баллов', plural: 'баллы', instrumental: 'баллами' },
  en: { one: 'point', other: 'points' },
};

/** When the balance is at least `whenBalanceAtLeast`, the reward's cost in points becomes its coupon. */
export interface AutoRewardRule {
  reward: string;
  whenBalanceAtLeast: number;
}

export type EarnRate = { pointsPerUnit: number } | { percent: number };

export interface TierLevel {
  code: string;
  name: Localized;
  threshold: number;
  discountPercent: number;
  earn?: EarnRate | undefined;
}

export type ExpiryPolicy = { kind: 'never' } | { kind: 'days'; days: number } | { kind: 'endOfMonth'; monthsAfter: number };

export interface Program {
  name: Localized;
  currency: string;
  timezone: string;
  defaultCountry: string;
  policy: { url: string; version: string };
  welcomeBonus: { points: number };
  /** `enabled: false` (the file's `points: none`): a discount-only program, points hidden everywhere. */
  points: { name: PointsName; expiry: ExpiryPolicy; maxBillSharePercent: number; pointValueMinor: number; enabled?: boolean };
  earn: {
    rate: EarnRate;
    rounding: 'floor' | 'round' | 'ceil';
    minPurchaseMinor: number;
    promos: { name: Localized; from: string; to: string; multiplier: number }[];
  };
  tiers: {
    qualification: { metric: 'spend' | 'pointsEarned'; window: { kind: 'lifetime' } | { kind: 'rollingDays'; days: number } };
    downgrade: 'never' | 'reevaluate';
    levels: TierLevel[];
  };
  stores: { code: string; name: string }[];
  /** The points-for-coupons catalogue (synced into the database at start-up) and its policy. */
  rewards: {
    /** Whether the points paid for a coupon come back when it expires unused. */
    refundOnExpiry: boolean;
    catalogue: RewardDefinition[];
    /** Automatic rewards: a coupon issued by itself when the balance reaches a threshold. */
    auto: AutoRewardRule[];
    /** Rewards whose coupons are codes for the web shop at `shopUrl` (no QR, no till). */
    online: { shopUrl: string | null; rewardCodes: string[] };
  };
  notifications: NotificationSchedules;
  /** Gamified tasks, badges, referrals and the leaderboard (src/domain/tasks). */
  tasks: TasksProgram;
  /** Paid broadcasts (`allow_paid_broadcast`, billed by Telegram) and their rate, up to 1000/s. */
  /** `controlPercent`: the default control group of a broadcast; `attributionDays`: its lift window. */
  broadcasts: { paid: boolean; paidRatePerSecond: number; controlPercent: number; attributionDays: number };
  /** NPS surveys after purchases and what happens with the answers (src/domain/nps). */
  nps: NpsProgram;
  /** The program's rules (terms), linked from Help. */
  rulesUrl?: string;
  /** Where members get help: a Telegram @username, a URL, or a sentence (one, or one per language). */
  support?: string | Localized;
  /** Money figures of the program's analytics (src/domain/analytics). */
  economics: ProgramEconomics;
  /** Causes members may give points to (src/domain/charity); absent: no charity. */
  charity?: CharityProgram;
}

/** A cause members may give points to. `code` is what donations keep; `open: false` stops new donations. */
export interface CharityCause {
  code: string;
  name: Localized;
  description: Localized;
  url?: string | undefined;
  open: boolean;
}

/**
 * Donations of points. A donated point is worth `points.pointValueMinor` in money, the same
 * as when it pays at the till: that is what the chain transfers to the cause.
 */
export interface CharityProgram {
  /** The smallest donation, in points. */
  minPoints: number;
  causes: CharityCause[];
}

/** What turns points and sales into money in the program's analytics. */
export interface ProgramEconomics {
  /** Gross margin on sales, percent (0-100). */
  grossMarginPercent: number;
  /** What one redeemed point costs the business, in minor units. */
  pointCostMinor: number;
}

/** A quick-reply reason of the NPS follow-up question; `code` is what answers and statistics keep. */
export interface NpsReason {
  code: string;
  title: Localized;
}

export interface NpsProgram {
  /** Off: no new surveys (answers to those already sent are still taken). */
  enabled: boolean;
  /** A survey is sent this long after a purchase (then the delivery queue's quiet hours apply). */
  delayMinutes: number;
  /** At most one survey per member in this many days. */
  minDaysBetweenSurveys: number;
  /** After answering, the member may change the score (and add reasons or a comment) this long. */
  changeWindowMinutes: number;
  /** An unanswered survey closes after this many days. */
  answerWithinDays: number;
  /** Points for an answered survey, once per survey (0: none). */
  rewardPoints: number;
  /** Detractors' answers go to this chat (a manager or a group) instead of the store's staff. */
  managerChatId: number | null;
  /** The language of alerts to the manager chat, and to staff whose language is unknown. */
  alertLocale: Locale;
  /** The quick-reply reasons of the follow-up question, per group. */
  reasons: { promoter: NpsReason[]; passive: NpsReason[]; detractor: NpsReason[] };
}

/** A local wall-clock time in the program's time zone, HH:MM (24 h). */
export type LocalTime = string;

/**
 * When the scheduled jobs talk to members, all in the program's time zone. Reminders due in the
 * quiet hours wait until they end (`from` > `to` spans midnight; `from` = `to`: no quiet hours).
 */
export interface NotificationSchedules {
  quietHours: { from: LocalTime; to: LocalTime };
  /**
   * A greeting on the member's birthday, from `hour` on, with `points` as a gift (0: none) and/or
   * a coupon of the catalogue reward `reward` (null: none).
   */
  birthday: { enabled: boolean; hour: number; points: number; reward: string | null };
  /** A reminder `daysBefore` (each) points expire, from `hour` on; [] turns reminders off. */
  expiringReminders: { daysBefore: number[]; hour: number };
  /** When the points expiry job runs (cron, program time zone). */
  pointsExpiry: { cron: string };
  /** A reminder to members with no purchase for `inactiveDays`, then every `everyDays`. */
  winBack: { enabled: boolean; inactiveDays: number; everyDays: number; hour: number };
}
