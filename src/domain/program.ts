/**
 * The loyalty program as the domain sees it: plain data, validated by the adapter in
 * src/program.ts. Amounts of money are integers in minor units (kopecks, cents).
 */
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
}
