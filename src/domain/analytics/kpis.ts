import type { ProgramEconomics } from '../program.js';
import type { BuyingFacts, ChurnFacts, CouponFacts, MembershipFacts, PointsFacts } from './types.js';

/**
 * The program's KPIs from the counts the database made (types.ts), pure. README "Analytics"
 * defines each one; the tests compute them by hand on a small fixture.
 *
 * Ratios are fractions (0.25 = 25 %) rounded to 4 decimals; money is in minor units, rounded to
 * whole ones. A ratio without a denominator (no buyers, no program cost...) is null, not 0:
 * "unknown" must not read as "nothing".
 */

export interface KpiFacts {
  membership: MembershipFacts;
  buying: BuyingFacts;
  churn: ChurnFacts[];
  points: PointsFacts;
  coupons: CouponFacts;
}

export interface TierChurn {
  tier: string;
  base: number;
  churned: number;
  rate: number | null;
}

export interface Kpis {
  membership: MembershipFacts & { activeRate: number | null };
  buying: {
    memberPurchases: number;
    buyers: number;
    repeatBuyers: number;
    /** Buyers with 2+ purchases / buyers. */
    repeatPurchaseRate: number | null;
    /** Purchases per buyer in the period. */
    purchaseFrequency: number | null;
    memberRevenueMinor: number;
    /** Member revenue / buyers. */
    spendPerBuyerMinor: number | null;
    averageCheckMembersMinor: number | null;
    nonMemberReceipts: number;
    nonMemberRevenueMinor: number;
    averageCheckNonMembersMinor: number | null;
    /** Member revenue / (member + non-member revenue). */
    membersRevenueShare: number | null;
  };
  churn: { base: number; churned: number; rate: number | null; byTier: TierChurn[] };
  points: PointsFacts & {
    /** Outstanding points x pointCostMinor: what the points members hold would cost if redeemed. */
    liabilityMinor: number | null;
    /** Redeemed / issued in the period. */
    redemptionRate: number | null;
    /** Expired / issued in the period. */
    breakageRate: number | null;
  };
  cost: {
    /** Points redeemed x pointCostMinor. */
    pointsMinor: number;
    /** Tier discounts on the period's member purchases, net of returns (0 for purchases before discounts were recorded). */
    tierDiscountsMinor: number;
    /** Face value of fixed-amount coupons redeemed that cost no points. */
    freeCouponsMinor: number;
    totalMinor: number;
    couponsRedeemed: number;
    /** Free coupons redeemed whose value is unknown (percent off, free item, gift): not in the cost. */
    unvaluedFreeCoupons: number;
  };
  value: {
    /** 1 / churn rate, in periods of the report's length. */
    expectedLifetimePeriods: number | null;
    /** Average check x purchase frequency x expected lifetime (= spend per buyer / churn rate). */
    cltvMinor: number | null;
    /** (Average check of members - of non-members) x member purchases. */
    incrementalRevenueMinor: number | null;
    incrementalGrossMarginMinor: number | null;
    /** (Incremental gross margin - program cost) / program cost. */
    roi: number | null;
  };
}

const round4 = (value: number) => Math.round(value * 10_000) / 10_000;
/** n / d rounded to 4 decimals; null when d is 0. */
export const ratio = (n: number, d: number): number | null => (d === 0 ? null : round4(n / d));
/** n / d in whole minor units; null when d is 0. */
const perUnit = (n: number, d: number): number | null => (d === 0 ? null : Math.round(n / d));

export function computeKpis(facts: KpiFacts, economics: ProgramEconomics): Kpis {
  const { membership, buying, points, coupons } = facts;

  const churnBase = facts.churn.reduce((sum, row) => sum + row.base, 0);
  const churned = facts.churn.reduce((sum, row) => sum + row.churned, 0);
  // Exact (unrounded) churn for the lifetime: rounding first would move the CLTV.
  const churnExact = churnBase === 0 ? null : churned / churnBase;

  const redeemedMinor = points.redeemed * economics.pointCostMinor;
  const costMinor = redeemedMinor + buying.tierDiscountMinor + coupons.freeFixedValueMinor;

  // The increment: what members spend per visit above non-members, on every member visit.
  // Both averages must exist; see README for the assumption and its limits.
  const incrementalRevenue =
    buying.memberPurchases === 0 || buying.receipts === 0
      ? null
      : buying.memberRevenueMinor - (buying.receiptRevenueMinor * buying.memberPurchases) / buying.receipts;
  const incrementalMargin = incrementalRevenue === null ? null : (incrementalRevenue * economics.grossMarginPercent) / 100;

  return {
    membership: { ...membership, activeRate: ratio(membership.activeMembers, membership.members) },
    buying: {
      memberPurchases: buying.memberPurchases,
      buyers: buying.buyers,
      repeatBuyers: buying.repeatBuyers,
      repeatPurchaseRate: ratio(buying.repeatBuyers, buying.buyers),
      purchaseFrequency: ratio(buying.memberPurchases, buying.buyers),
      memberRevenueMinor: buying.memberRevenueMinor,
      spendPerBuyerMinor: perUnit(buying.memberRevenueMinor, buying.buyers),
      averageCheckMembersMinor: perUnit(buying.memberRevenueMinor, buying.memberPurchases),
      nonMemberReceipts: buying.receipts,
      nonMemberRevenueMinor: buying.receiptRevenueMinor,
      averageCheckNonMembersMinor: perUnit(buying.receiptRevenueMinor, buying.receipts),
      membersRevenueShare: ratio(buying.memberRevenueMinor, buying.memberRevenueMinor + buying.receiptRevenueMinor),
    },
    churn: {
      base: churnBase,
      churned,
      rate: ratio(churned, churnBase),
      byTier: facts.churn.map((row) => ({ ...row, rate: ratio(row.churned, row.base) })),
    },
    points: {
      ...points,
      liabilityMinor: points.outstanding === null ? null : points.outstanding * economics.pointCostMinor,
      redemptionRate: ratio(points.redeemed, points.issued),
      breakageRate: points.expired === null ? null : ratio(points.expired, points.issued),
    },
    cost: {
      pointsMinor: redeemedMinor,
      tierDiscountsMinor: buying.tierDiscountMinor,
      freeCouponsMinor: coupons.freeFixedValueMinor,
      totalMinor: costMinor,
      couponsRedeemed: coupons.redeemed,
      unvaluedFreeCoupons: coupons.freeUnvalued,
    },
    value: {
      expectedLifetimePeriods: churnExact ? round4(1 / churnExact) : null,
      // avg check x frequency = revenue / buyers; a churn of 0 means no lifetime can be estimated.
      cltvMinor: churnExact && buying.buyers > 0 ? Math.round(buying.memberRevenueMinor / buying.buyers / churnExact) : null,
      incrementalRevenueMinor: incrementalRevenue === null ? null : Math.round(incrementalRevenue),
      incrementalGrossMarginMinor: incrementalMargin === null ? null : Math.round(incrementalMargin),
      roi: incrementalMargin === null || costMinor === 0 ? null : round4((incrementalMargin - costMinor) / costMinor),
    },
  };
}
