import { maxPointsForBill, pointsForPurchase } from '../../../domain/ledger/earn-rules.js';
import type { Member } from '../../../domain/members/member.js';
import type { Program } from '../../../domain/program.js';
import { tierByCode } from '../../../domain/tiers.js';
import { localDate } from '../../../domain/time.js';

export interface PurchasePreview {
  /** The most points this bill may be paid with: the program's cap, and no more than the balance. */
  maxPoints: number;
  /** What is paid in money when `pointsToSpend` points are used. */
  paidMinor: number;
  /** Points the purchase would earn. */
  earn: number;
}

/**
 * The numbers a cashier sees before confirming; recordPurchase decides the real ones.
 * The ONE place the cashier's screens do purchase maths (its single caller: purchase.ts `preview`).
 */
// replaced by quotePurchase at merge (src/domain/purchases/quote.ts, with the tier discount)
export function previewPurchase(program: Program, member: Member, amountMinor: number, pointsToSpend: number, now: Date): PurchasePreview {
  const maxPoints = Math.max(0, Math.min(maxPointsForBill(program, amountMinor), member.balance));
  const paidMinor = amountMinor - pointsToSpend * program.points.pointValueMinor;
  const earn = pointsForPurchase(program, tierByCode(program, member.tier), { billMinor: amountMinor, paidMinor, localDay: localDate(now, program.timezone) });
  return { maxPoints, paidMinor, earn };
}
