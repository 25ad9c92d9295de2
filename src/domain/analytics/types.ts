import type { AudienceQuery } from '../broadcasts/types.js';
import type { Actor } from '../ledger/types.js';

/**
 * The program's analytics ("is the program paying off?", issue 16): what the database counts,
 * set-based, for the pure KPI functions of this folder (kpis.ts, cohorts.ts). Every figure is
 * a count or a sum; ratios, averages and money are computed in the domain, where they are tested
 * by hand.
 */

/** Which data a report covers. Times are instants; the period is [from, to). */
export interface AnalyticsScope {
  from: Date;
  to: Date;
  /** One store's purchases, receipts, ledger entries and coupon redemptions; null: the chain. */
  storeId: number | null;
  /** Members whose tier is this code now (tiers are not historised); null: every tier. */
  tier: string | null;
  /**
   * Members in this broadcast segment, resolved at the clock's now (like the tier: their
   * attributes now, relative filters counted back from today); null: every member. Erased members
   * are not excluded by it: they count in the periods they were members.
   */
  segment: AudienceQuery | null;
  /** The tier a member without one holds (the program's first level). */
  baseTier: string;
  /** The program's time zone: cohorts are its calendar months. */
  timeZone: string;
}

/** Counts of members (see README "Analytics" for the exact definitions). */
export interface MembershipFacts {
  /** Registered before `to` and not erased before `to`. */
  members: number;
  /** Of those, registered in [from, to). */
  newMembers: number;
  /** Of `members`, those with a purchase in [activeSince, to). */
  activeMembers: number;
}

/** Purchases of members and receipts of non-members in [from, to). Money net of returns. */
export interface BuyingFacts {
  memberPurchases: number;
  memberRevenueMinor: number;
  /** Distinct members with a purchase in the period. */
  buyers: number;
  /** Of those, members with two purchases or more. */
  repeatBuyers: number;
  /** Tier discounts given on those purchases (Purchase.discountMinor) minus the shares their returns took back. */
  tierDiscountMinor: number;
  receipts: number;
  receiptRevenueMinor: number;
}

/** One tier's churn: of the members active at `from`, how many are inactive at `to`. */
export interface ChurnFacts {
  tier: string;
  /** Members with a purchase in [from - churnDays, from). */
  base: number;
  /** Of those, members without a purchase in [to - churnDays, to). */
  churned: number;
}

/** The points economy in [from, to), in points. */
export interface PointsFacts {
  /** EARN + BONUS + ADJUST + REVERSE (points taken back on returns count against what was issued). */
  issued: number;
  /** SPEND (at tills and for coupons) minus REFUND (spent points given back). */
  redeemed: number;
  /** EXPIRE + CLOSE (points forfeited at erasure): breakage. Null when the scope is one store (expiry has no store). */
  expired: number | null;
  /** Sum of balances at `to` (all entries before `to`). Null when the scope is one store. */
  outstanding: number | null;
}

/** Coupons redeemed in [from, to). */
export interface CouponFacts {
  redeemed: number;
  /**
   * Face value of redeemed FIXED_COUPON coupons that cost the member no points (gifts, offers,
   * birthday coupons): their cost is not in the points redeemed.
   */
  freeFixedValueMinor: number;
  /** Redeemed coupons that cost no points and cannot be valued (percent off, free item, gift). */
  freeUnvalued: number;
}

/** Members registered in one local calendar month, and how many of them bought in each month after. */
export interface CohortFacts {
  /** YYYY-MM in the program's time zone. */
  cohort: string;
  size: number;
  /** Month offset (0: the month of registration) -> members of the cohort with a purchase in that month. */
  active: { offset: number; members: number }[];
}

/** One bucket of a series (series.ts): counts and sums of events in [start, next start). */
export interface SeriesBucketFacts {
  registered: number;
  /** Members erased in the bucket (registered before `to`). */
  erased: number;
  /** Distinct members with a purchase in the bucket. */
  activeMembers: number;
  memberPurchases: number;
  /** Net of returns. */
  memberRevenueMinor: number;
  receipts: number;
  receiptRevenueMinor: number;
  /** As in PointsFacts. */
  issued: number;
  redeemed: number;
  expired: number;
}

export interface SeriesFacts {
  /** Members at `from`: registered before it and not erased by then. */
  membersBefore: number;
  /** One per bucket start, in order. */
  buckets: SeriesBucketFacts[];
}

/** The analytics queries: one statement each, set-based. */
export interface AnalyticsRepository {
  membership(scope: AnalyticsScope, activeSince: Date): Promise<MembershipFacts>;
  buying(scope: AnalyticsScope): Promise<BuyingFacts>;
  /** One row per tier that has members in the base (tier filter applied). */
  churn(scope: AnalyticsScope, churnDays: number): Promise<ChurnFacts[]>;
  points(scope: AnalyticsScope): Promise<PointsFacts>;
  coupons(scope: AnalyticsScope): Promise<CouponFacts>;
  /** Cohorts of members registered in [from, to); activity counted up to `to`. */
  cohorts(scope: AnalyticsScope): Promise<CohortFacts[]>;
  /** Per bucket of [from, to) cut at `starts` (starts[0] = from, ascending). */
  series(scope: AnalyticsScope, starts: Date[]): Promise<SeriesFacts>;
}

/** A till receipt without a member (POST /v1/receipts). */
export interface Receipt {
  id: number;
  storeId: number;
  receiptNo: string;
  amountMinor: number;
  idempotencyKey: string;
  requestHash: string;
  createdAt: Date;
}

export interface NewReceipt {
  storeId: number;
  receiptNo: string;
  amountMinor: number;
  idempotencyKey: string;
  requestHash: string;
  actor: Actor;
  createdAt: Date;
}

export type ReceiptRecordOutcome =
  | { outcome: 'RECORDED'; receipt: Receipt }
  /** A receipt recorded before under this key, or at this store with this number. */
  | { outcome: 'EXISTS'; receipt: Receipt }
  /** The store + receipt number is a member's purchase. */
  | { outcome: 'MEMBER_PURCHASE' }
  /** A concurrent twin committed after this statement's snapshot: ask again. */
  | { outcome: 'RACED' };

export interface ReceiptRepository {
  /** Inserts unless the key or the store + receipt number is taken (one statement). */
  record(receipt: NewReceipt): Promise<ReceiptRecordOutcome>;
}
