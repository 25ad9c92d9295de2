import type { EarnRate, Program, TierLevel } from '../program.js';

/**
 * How many points a purchase earns. Exact rational arithmetic (BigInt) so that no currency
 * amount is ever pushed through a float: rates have up to three decimals (1.5 %, 1.125 points
 * per unit) and are counted in thousandths, multipliers and shares have two, amounts are minor units.
 */

export function minorDigits(currency: string): number {
  return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
}

/** A value with two decimals as an integer number of hundredths (1.25 -> 125). */
const hundredths = (value: number): bigint => BigInt(Math.round(value * 100));
/** A rate with up to three decimals as an integer number of thousandths (1.5 -> 1500). */
const thousandths = (value: number): bigint => BigInt(Math.round(value * 1000));

function divide(numerator: bigint, denominator: bigint, rounding: Program['earn']['rounding']): number {
  const quotient = numerator / denominator;
  const remainder = numerator % denominator;
  if (remainder === 0n || rounding === 'floor') return Number(quotient);
  if (rounding === 'ceil') return Number(quotient + 1n);
  return Number(remainder * 2n >= denominator ? quotient + 1n : quotient);
}

/** The promo multiplier in force on a local calendar date (YYYY-MM-DD): the best one, never stacked. */
export function promoMultiplier(program: Program, localDay: string): number {
  return program.earn.promos.filter((promo) => promo.from <= localDay && localDay <= promo.to).reduce((best, promo) => Math.max(best, promo.multiplier), 1);
}

export function earnRateFor(program: Program, tier: TierLevel): EarnRate {
  return tier.earn ?? program.earn.rate;
}

/**
 * Points for `paidMinor` (the part of the bill paid with money) at the member's tier.
 * `pointsPerUnit` counts whole currency units; `percent` is cashback valued at the program's
 * point value. Below the minimum purchase nothing is earned.
 */
export function pointsForPurchase(program: Program, tier: TierLevel, input: { billMinor: number; paidMinor: number; localDay: string }): number {
  if (input.billMinor < program.earn.minPurchaseMinor || input.paidMinor <= 0) return 0;
  const rate = earnRateFor(program, tier);
  const multiplier = hundredths(promoMultiplier(program, input.localDay));
  const paid = BigInt(input.paidMinor);
  if ('pointsPerUnit' in rate) {
    const unit = 10n ** BigInt(minorDigits(program.currency));
    return divide(paid * thousandths(rate.pointsPerUnit) * multiplier, unit * 1000n * 100n, program.earn.rounding);
  }
  const pointValue = BigInt(program.points.pointValueMinor);
  // thousandths of a percent (/ 1000 / 100), the multiplier in hundredths (/ 100).
  return divide(paid * thousandths(rate.percent) * multiplier, 1000n * 100n * pointValue * 100n, program.earn.rounding);
}

/** The most points a bill may be paid with: the program's share of the bill, in whole points. */
export function maxPointsForBill(program: Program, billMinor: number): number {
  return Number((BigInt(billMinor) * hundredths(program.points.maxBillSharePercent)) / (100n * 100n * BigInt(program.points.pointValueMinor)));
}

/**
 * The share of `total` that belongs to the first `returnedAfter` of `amount`, minus the share
 * already taken for `returnedBefore`. Computed cumulatively so that partial returns add up to
 * exactly `total` when everything has been returned.
 */
export function proportionalShare(total: number, amount: number, returnedBefore: number, returnedAfter: number): number {
  const share = (returned: number) => Number((BigInt(total) * BigInt(returned)) / BigInt(amount));
  return share(returnedAfter) - share(returnedBefore);
}
