import { describe, expect, it } from 'vitest';
import { maxPointsForBill, pointsForPurchase, promoMultiplier, proportionalShare } from '../../src/domain/ledger/earn-rules.js';
import { tierByCode } from '../../src/domain/tiers.js';
import { exampleProgram } from '../support/program.js';

// biome-ignore lint/suspicious/noExplicitAny: tests poke values into the raw program document.
type Raw = Record<string, any>;
// These tests are about the earn rules themselves: they start from 1 point per currency unit (the
// example program earns 3 % cashback, tested below with the percent rule).
const program = (change: (raw: Raw) => void = () => {}) =>
  exampleProgram((raw: Raw) => {
    raw.earn.rate = { pointsPerUnit: 1 };
    change(raw);
  });
const day = '2026-11-23';

describe('earning points', () => {
  const base = program();
  const basic = tierByCode(base, 'basic');

  it('gives 1 point per whole currency unit paid, rounding down by default', () => {
    expect(pointsForPurchase(base, basic, { billMinor: 12_399, paidMinor: 12_399, localDay: day })).toBe(123);
    expect(pointsForPurchase(base, basic, { billMinor: 99, paidMinor: 99, localDay: day })).toBe(0);
    expect(pointsForPurchase(base, basic, { billMinor: 100, paidMinor: 100, localDay: day })).toBe(1);
  });

  it('rounds half up or always up when the program says so', () => {
    const round = program((raw) => {
      raw.earn.rounding = 'round';
    });
    const ceil = program((raw) => {
      raw.earn.rounding = 'ceil';
    });
    const tier = tierByCode(round, 'basic');
    expect(pointsForPurchase(round, tier, { billMinor: 12_349, paidMinor: 12_349, localDay: day })).toBe(123);
    expect(pointsForPurchase(round, tier, { billMinor: 12_350, paidMinor: 12_350, localDay: day })).toBe(124);
    expect(pointsForPurchase(ceil, tier, { billMinor: 12_301, paidMinor: 12_301, localDay: day })).toBe(124);
    expect(pointsForPurchase(ceil, tier, { billMinor: 12_300, paidMinor: 12_300, localDay: day })).toBe(123);
  });

  it('pays cashback as a percentage valued at the point value, and per-tier rates override', () => {
    const cashback = program((raw) => {
      raw.earn.rate = { percent: 5 };
      raw.tiers.levels[1].earn = { percent: 7.5 };
    });
    // 5 % of 1 000.00 = 50.00 = 50 points at 1.00 per point; 7.5 % for silver.
    expect(pointsForPurchase(cashback, tierByCode(cashback, 'basic'), { billMinor: 100_000, paidMinor: 100_000, localDay: day })).toBe(50);
    expect(pointsForPurchase(cashback, tierByCode(cashback, 'silver'), { billMinor: 100_000, paidMinor: 100_000, localDay: day })).toBe(75);
  });

  it('earns nothing below the minimum purchase, and only on the part paid with money', () => {
    const minimum = program((raw) => {
      raw.earn.minPurchaseMinor = 50_000;
    });
    const tier = tierByCode(minimum, 'basic');
    expect(pointsForPurchase(minimum, tier, { billMinor: 49_999, paidMinor: 49_999, localDay: day })).toBe(0);
    expect(pointsForPurchase(minimum, tier, { billMinor: 50_000, paidMinor: 30_000, localDay: day })).toBe(300);
  });

  it('applies the best promo multiplier in force on the local day, inclusive of both ends', () => {
    const promos = program((raw) => {
      raw.earn.promos = [
        { name: { ru: 'x2', en: 'x2' }, from: '2026-12-20', to: '2026-12-31', multiplier: 2 },
        { name: { ru: 'x1.5', en: 'x1.5' }, from: '2026-12-31', to: '2027-01-02', multiplier: 1.5 },
      ];
    });
    const tier = tierByCode(promos, 'basic');
    expect(promoMultiplier(promos, '2026-12-19')).toBe(1);
    expect(promoMultiplier(promos, '2026-12-20')).toBe(2);
    expect(promoMultiplier(promos, '2026-12-31')).toBe(2);
    expect(promoMultiplier(promos, '2027-01-02')).toBe(1.5);
    expect(pointsForPurchase(promos, tier, { billMinor: 10_050, paidMinor: 10_050, localDay: '2027-01-01' })).toBe(150);
  });
});

describe('paying with points and returns', () => {
  it('caps points at the program share of the bill, in whole points', () => {
    const base = program();
    // 50 % of 100.99 = 50.495 -> 50 points at 1.00 each.
    expect(maxPointsForBill(base, 10_099)).toBe(50);
    const quarter = program((raw) => {
      raw.points.maxBillSharePercent = 25;
      raw.points.pointValueMinor = 50;
    });
    // 25 % of 100.00 = 25.00 = 50 points at 0.50 each.
    expect(maxPointsForBill(quarter, 10_000)).toBe(50);
  });

  it('shares points out cumulatively so partial returns add up to the whole', () => {
    const parts = [333, 333, 334];
    let returned = 0;
    let total = 0;
    for (const part of parts) {
      total += proportionalShare(700, 1_000, returned, returned + part);
      returned += part;
    }
    expect(total).toBe(700);
    expect(proportionalShare(700, 1_000, 0, 1)).toBe(0);
  });
});
