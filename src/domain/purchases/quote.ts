import { DomainError } from '../errors.js';
import { pointsForPurchase } from '../ledger/earn-rules.js';
import type { Program, TierLevel } from '../program.js';
import { MAX_POINTS } from './request.js';

/**
 * What a bill costs a member at the till (issue 15), the one place this is computed: the
 * till's quote (POST /v1/purchases/quote), the purchase itself (`planPurchase`) and the
 * cashier's confirmation all call it, so the figures a customer is shown are the ones booked.
 *
 * 1. The tier discount: `discountPercent` of the gross bill, rounded DOWN to a whole minor unit
 *    (the till never gives more than the stated percent; at most the bill itself).
 * 2. Points: at most `points.maxBillSharePercent` of the bill AFTER the discount, in whole
 *    points, and never more than the balance or MAX_POINTS; each point pays `pointValueMinor`.
 * 3. Money due = bill - discount - points' value (never negative: the cap is at most 100 %).
 * 4. Points earned on the money due only (promos, `earn.minPurchaseMinor` against the gross
 *    bill and the rounding as before), at the tier the member holds before the purchase.
 *
 * The saving is the discount: points paid with were the member's own, earned before.
 */

export interface QuoteInput {
  /** The member's tier before the purchase (its discount and earn rate apply). */
  tier: TierLevel;
  /** The member's points balance. */
  balance: number;
  /** The whole bill, minor units (validated by the caller: assertMinorAmount). */
  billMinor: number;
  /** Points the member wants to pay with (0: none). */
  pointsToSpend: number;
  /** The program's local calendar day (YYYY-MM-DD), for promos. */
  localDay: string;
}

export interface PurchaseQuote {
  tierCode: string;
  discountPercent: number;
  discountMinor: number;
  /** The bill after the discount. */
  netMinor: number;
  /** The most points this bill may be paid with for this member (cap, balance, MAX_POINTS). */
  maxPoints: number;
  pointsToSpend: number;
  pointsValueMinor: number;
  /** What the customer pays in money. */
  amountDueMinor: number;
  savingMinor: number;
  pointsToEarn: number;
}

const hundredths = (value: number): bigint => BigInt(Math.round(value * 100));

/** Discount-only programs (`points: none` in the program file): no points anywhere. */
export function hasPoints(program: Program): boolean {
  return program.points.enabled !== false;
}

/** The tier discount on a bill: rounded down, never more than the bill. */
export function discountFor(tier: TierLevel, billMinor: number): number {
  const discount = Number((BigInt(billMinor) * hundredths(tier.discountPercent)) / 10_000n);
  return Math.min(discount, billMinor);
}

/** The most points a bill (after the discount) may be paid with under the program's cap. */
export function pointsCapFor(program: Program, tier: TierLevel, billMinor: number): number {
  if (!hasPoints(program)) return 0;
  const net = BigInt(billMinor - discountFor(tier, billMinor));
  const cap = Number((net * hundredths(program.points.maxBillSharePercent)) / (10_000n * BigInt(program.points.pointValueMinor)));
  return Math.min(cap, MAX_POINTS);
}

/**
 * The quote. Throws POINTS_OVER_CAP when `pointsToSpend` is above the bill's cap and
 * INSUFFICIENT_POINTS when it is above the balance; pure otherwise.
 */
export function quotePurchase(program: Program, input: QuoteInput): PurchaseQuote {
  const { tier, billMinor, pointsToSpend } = input;
  const discountMinor = discountFor(tier, billMinor);
  const netMinor = billMinor - discountMinor;
  const cap = pointsCapFor(program, tier, billMinor);
  if (pointsToSpend > cap) throw new DomainError('POINTS_OVER_CAP', { max: cap });
  if (pointsToSpend > input.balance) throw new DomainError('INSUFFICIENT_POINTS', { balance: input.balance, needed: pointsToSpend });
  const pointsValueMinor = pointsToSpend * program.points.pointValueMinor;
  const amountDueMinor = netMinor - pointsValueMinor;
  const pointsToEarn = hasPoints(program) ? pointsForPurchase(program, tier, { billMinor, paidMinor: amountDueMinor, localDay: input.localDay }) : 0;
  return {
    tierCode: tier.code,
    discountPercent: tier.discountPercent,
    discountMinor,
    netMinor,
    maxPoints: Math.max(0, Math.min(cap, input.balance)),
    pointsToSpend,
    pointsValueMinor,
    amountDueMinor,
    savingMinor: discountMinor,
    pointsToEarn,
  };
}
