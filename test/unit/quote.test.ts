import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isDomainError } from '../../src/domain/errors.js';
import { discountFor, pointsCapFor, quotePurchase } from '../../src/domain/purchases/quote.js';
import { MAX_BILL_MINOR } from '../../src/domain/purchases/request.js';
import { tierByCode } from '../../src/domain/tiers.js';
import { exampleProgram } from '../support/program.js';

const program = exampleProgram();
const basic = tierByCode(program, 'basic');
const platinum = tierByCode(program, 'platinum');
const day = '2026-11-23';

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (isDomainError(error)) return error.code;
    throw error;
  }
  throw new Error('expected a DomainError');
}

describe('quotePurchase', () => {
  it('takes the tier discount (rounded down), caps points on the bill after it and earns on the money paid', () => {
    // 1 000.00 RUB at Platinum: 150.00 off, 850.00; at most half of it in points (425);
    // 300 points paid, 550.00 in money, 3 % = 16.50: 16 points.
    expect(quotePurchase(program, { tier: platinum, balance: 1000, billMinor: 100_000, pointsToSpend: 300, localDay: day })).toEqual({
      tierCode: 'platinum',
      discountPercent: 15,
      discountMinor: 15_000,
      netMinor: 85_000,
      maxPoints: 425,
      pointsToSpend: 300,
      pointsValueMinor: 30_000,
      amountDueMinor: 55_000,
      savingMinor: 15_000,
      pointsToEarn: 16,
    });
    // 0.99 RUB at 6 %: 5.94 kopecks, rounded down to 5.
    expect(discountFor(basic, 99)).toBe(5);
    // The spendable points are bounded by the balance too.
    expect(quotePurchase(program, { tier: basic, balance: 7, billMinor: 100_000, pointsToSpend: 0, localDay: day }).maxPoints).toBe(7);
  });

  it('refuses points above the cap or the balance', () => {
    expect(codeOf(() => quotePurchase(program, { tier: platinum, balance: 10_000, billMinor: 100_000, pointsToSpend: 426, localDay: day }))).toBe(
      'POINTS_OVER_CAP',
    );
    expect(codeOf(() => quotePurchase(program, { tier: platinum, balance: 10, billMinor: 100_000, pointsToSpend: 11, localDay: day }))).toBe(
      'INSUFFICIENT_POINTS',
    );
  });

  it('never discounts more than the bill, even at 100 %', () => {
    const free = { ...basic, discountPercent: 100 };
    expect(quotePurchase(program, { tier: free, balance: 0, billMinor: 1, pointsToSpend: 0, localDay: day })).toMatchObject({
      discountMinor: 1,
      amountDueMinor: 0,
      pointsToEarn: 0,
      maxPoints: 0,
    });
  });

  it('keeps every figure a safe integer with 0 <= due <= net <= bill for any bill, tier and spend', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: MAX_BILL_MINOR }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.constantFrom(...program.tiers.levels),
        fc.integer({ min: 0, max: 100 }),
        (bill, percentHundredths, tier, share) => {
          const t = { ...tier, discountPercent: percentHundredths / 100 };
          const cap = pointsCapFor(program, t, bill);
          const points = Math.floor((cap * share) / 100);
          const q = quotePurchase(program, { tier: t, balance: 2_000_000_000, billMinor: bill, pointsToSpend: points, localDay: day });
          for (const value of Object.values(q)) if (typeof value === 'number') expect(Number.isSafeInteger(value) || value === t.discountPercent).toBe(true);
          expect(q.discountMinor).toBeGreaterThanOrEqual(0);
          expect(q.netMinor).toBeLessThanOrEqual(bill);
          expect(q.amountDueMinor).toBeGreaterThanOrEqual(0);
          expect(q.amountDueMinor).toBeLessThanOrEqual(q.netMinor);
          expect(q.discountMinor + q.pointsValueMinor + q.amountDueMinor).toBe(bill);
        },
      ),
    );
  });

  it('a discount-only program (`points: none`) caps and earns nothing', () => {
    const discountOnly = exampleProgram((raw) => {
      raw.points = 'none';
      delete raw.earn;
      raw.welcomeBonus = { points: 0 };
      (raw.notifications as { birthday: { points: number } }).birthday.points = 0;
      raw.rewards = { catalogue: [] };
      (raw.nps as { rewardPoints: number }).rewardPoints = 0;
    });
    expect(quotePurchase(discountOnly, { tier: platinum, balance: 0, billMinor: 100_000, pointsToSpend: 0, localDay: day })).toMatchObject({
      discountMinor: 15_000,
      amountDueMinor: 85_000,
      maxPoints: 0,
      pointsToEarn: 0,
    });
    expect(codeOf(() => quotePurchase(discountOnly, { tier: platinum, balance: 100, billMinor: 100_000, pointsToSpend: 1, localDay: day }))).toBe(
      'POINTS_OVER_CAP',
    );
  });
});
