import type { Actor } from '../ledger/types.js';
import type { Locale, Localized } from '../program.js';
import type { ThrottlePolicy } from './lookup-throttle.js';

export type RewardKind = 'PERCENT_COUPON' | 'FIXED_COUPON' | 'FREE_ITEM' | 'GIFT';
export const REWARD_KINDS: readonly RewardKind[] = ['PERCENT_COUPON', 'FIXED_COUPON', 'FREE_ITEM', 'GIFT'];

/** At most `count` coupons of a reward per member in any `periodDays` days (null: ever). */
export interface RewardLimit {
  count: number;
  periodDays: number | null;
}

/**
 * A catalogue entry as the program file or an admin states it. Calendar dates are local to the
 * program's time zone and inclusive; `stock` is the count that can still be issued (null:
 * unlimited).
 */
export interface RewardDefinition {
  /** Stable identifier: lower-case letters, digits, `_` and `-`, up to 32 characters. */
  code: string;
  kind: RewardKind;
  /** Percent (PERCENT_COUPON, 1-100) or minor currency units (FIXED_COUPON); null otherwise. */
  value: number | null;
  /** Points the reward costs (0: free). */
  cost: number;
  stock: number | null;
  limit: RewardLimit | null;
  /** The lowest tier that may take it (null: every tier). */
  minTier: string | null;
  /** Days a coupon stays valid after it is issued. */
  validityDays: number;
  availableFrom: string | null;
  availableTo: string | null;
  imageUrl: string | null;
  title: Localized;
  description: Localized;
  active: boolean;
}

/** A reward as stored. The availability window is a pair of instants, `availableTo` exclusive. */
export interface Reward {
  id: number;
  code: string;
  kind: RewardKind;
  value: number | null;
  cost: number;
  stock: number | null;
  limit: RewardLimit | null;
  minTier: string | null;
  validityDays: number;
  availableFrom: Date | null;
  availableTo: Date | null;
  imageUrl: string | null;
  title: Localized;
  description: Localized;
  active: boolean;
  /** Fingerprint of the program-file definition last applied; null when not managed by the file. */
  programHash: string | null;
}

export type RewardData = Omit<Reward, 'id'>;

export type CouponStatus = 'ISSUED' | 'REDEEMED' | 'EXPIRED' | 'CANCELLED';

export interface Coupon {
  id: number;
  /** 12 characters of the code alphabet, without separators (see `formatCouponCode`). */
  code: string;
  rewardId: number;
  memberId: number;
  /** The reward's kind and value when the coupon was issued: later edits do not change a coupon. */
  kind: RewardKind;
  value: number | null;
  /** Points paid for it. */
  cost: number;
  status: CouponStatus;
  idempotencyKey: string;
  issuedAt: Date;
  expiresAt: Date;
  redeemedAt: Date | null;
  redeemedStoreId: number | null;
  redeemedBy: Actor | null;
  redeemKey: string | null;
  cancelledAt: Date | null;
  expiredAt: Date | null;
  pointsRefunded: number;
}

export type NewCoupon = Pick<Coupon, 'code' | 'rewardId' | 'memberId' | 'kind' | 'value' | 'cost' | 'idempotencyKey' | 'issuedAt' | 'expiresAt'>;

/** A coupon with what the screens around it show. */
export interface CouponDetails extends Coupon {
  reward: { code: string; title: Localized; description: Localized; imageUrl: string | null };
  member: { telegramId: number | null; name: string | null; locale: Locale };
  redeemedStoreName: string | null;
}

/** Failed look-ups of one staff account or till in the current window. */
export interface ThrottleState {
  failures: number;
  windowStart: Date;
  blockedUntil: Date | null;
}

/**
 * One well-formed coupon code looked up for one operator, a miss counted in the same step under
 * the operator's guessing lock (in the database, so it holds across processes and concurrent
 * lookups).
 */
export interface CouponLookupCheck {
  /** Normalised and passed the check character (isCouponCode). */
  code: string;
  /** The operator's row in the guard (staff:<telegramId> or till:<key id>). */
  throttleKey: string;
  now: Date;
  policy: ThrottlePolicy;
}

/** The guard's decision: the coupon found, a miss counted (the state after it), or refused unlooked-up. */
export type CouponLookupAttempt =
  | { outcome: 'found'; couponId: number }
  | { outcome: 'wrong'; throttle: ThrottleState }
  | { outcome: 'locked'; blockedUntil: Date };
