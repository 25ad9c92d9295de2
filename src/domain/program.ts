/**
 * The loyalty program as the domain sees it: plain data, validated by the adapter in
 * src/program.ts. Amounts of money are integers in minor units (kopecks, cents).
 */
import type { RewardDefinition } from './rewards/types.js';

export type Locale = 'ru' | 'en';
export const LOCALES: readonly Locale[] = ['ru', 'en'];
export const isLocale = (value: unknown): value is Locale => value === 'ru' || value === 'en';

export type Localized = Record<Locale, string>;

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
  points: { expiry: ExpiryPolicy; maxBillSharePercent: number; pointValueMinor: number };
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
  };
  notifications: NotificationSchedules;
}

/** A local wall-clock time in the program's time zone, HH:MM (24 h). */
export type LocalTime = string;

/**
 * When the scheduled jobs talk to members, all in the program's time zone. Reminders due in the
 * quiet hours wait until they end (`from` > `to` spans midnight; `from` = `to`: no quiet hours).
 */
export interface NotificationSchedules {
  quietHours: { from: LocalTime; to: LocalTime };
  /** A greeting (and `points` as a gift, 0 for none) on the member's birthday, from `hour` on. */
  birthday: { enabled: boolean; hour: number; points: number };
  /** A reminder `daysBefore` (each) points expire, from `hour` on; [] turns reminders off. */
  expiringReminders: { daysBefore: number[]; hour: number };
  /** When the points expiry job runs (cron, program time zone). */
  pointsExpiry: { cron: string };
  /** A reminder to members with no purchase for `inactiveDays`, then every `everyDays`. */
  winBack: { enabled: boolean; inactiveDays: number; everyDays: number; hour: number };
}
