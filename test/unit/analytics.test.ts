import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config.js';
import { cohortMatrix } from '../../src/domain/analytics/cohorts.js';
import { computeKpis, type KpiFacts } from '../../src/domain/analytics/kpis.js';
import { exampleProgram } from '../support/program.js';

const problems = (run: () => unknown): string[] => {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

describe('the program file: economics', () => {
  it('is optional: 25 % margin, and a point costs its face value at the till', () => {
    const program = exampleProgram((raw) => {
      delete raw.economics;
      (raw.points as Record<string, unknown>).pointValueMinor = 50;
    });
    expect(program.economics).toEqual({ grossMarginPercent: 25, pointCostMinor: 50 });
  });

  it('keeps what the file says', () => {
    const program = exampleProgram((raw) => {
      raw.economics = { grossMarginPercent: 32.5, pointCostMinor: 60 };
    });
    expect(program.economics).toEqual({ grossMarginPercent: 32.5, pointCostMinor: 60 });
  });

  it('stops start-up naming the key of an invalid value', () => {
    const cases: [unknown, string][] = [
      [{ grossMarginPercent: 120 }, 'economics.grossMarginPercent'],
      [{ grossMarginPercent: 'high' }, 'economics.grossMarginPercent'],
      [{ pointCostMinor: -1 }, 'economics.pointCostMinor'],
      [{ pointCostMinor: 0.5 }, 'economics.pointCostMinor'],
      [{ margin: 20 }, 'economics'],
    ];
    for (const [economics, key] of cases) {
      const found = problems(() =>
        exampleProgram((raw) => {
          raw.economics = economics;
        }),
      );
      expect(found, JSON.stringify(economics)).toHaveLength(1);
      expect(found[0], JSON.stringify(economics)).toMatch(new RegExp(`^${key.replace('.', '\\.')}`));
    }
  });
});

const none: KpiFacts = {
  membership: { members: 0, newMembers: 0, activeMembers: 0 },
  buying: { memberPurchases: 0, memberRevenueMinor: 0, buyers: 0, repeatBuyers: 0, tierDiscountMinor: 0, receipts: 0, receiptRevenueMinor: 0 },
  churn: [],
  points: { issued: 0, redeemed: 0, expired: 0, outstanding: 0 },
  coupons: { redeemed: 0, freeFixedValueMinor: 0, freeUnvalued: 0 },
};

describe('KPIs without data', () => {
  it('are null where a denominator is 0, not 0 or NaN', () => {
    const kpis = computeKpis(none, { grossMarginPercent: 25, pointCostMinor: 100 });
    expect(kpis.membership.activeRate).toBeNull();
    expect(kpis.buying).toMatchObject({ repeatPurchaseRate: null, purchaseFrequency: null, averageCheckMembersMinor: null, membersRevenueShare: null });
    expect(kpis.churn.rate).toBeNull();
    expect(kpis.points).toMatchObject({ redemptionRate: null, breakageRate: null, liabilityMinor: 0 });
    expect(kpis.value).toEqual({ expectedLifetimePeriods: null, cltvMinor: null, incrementalRevenueMinor: null, incrementalGrossMarginMinor: null, roi: null });
  });

  it('give no lifetime when nobody churned, and no ROI without a program cost', () => {
    const kpis = computeKpis(
      {
        ...none,
        buying: { memberPurchases: 2, memberRevenueMinor: 3000, buyers: 1, repeatBuyers: 1, tierDiscountMinor: 0, receipts: 1, receiptRevenueMinor: 1000 },
        churn: [{ tier: 'basic', base: 1, churned: 0 }],
      },
      { grossMarginPercent: 20, pointCostMinor: 100 },
    );
    // Increment: (1500 - 1000) x 2 = 1000; margin 20 % = 200; cost 0 -> ROI unknown.
    expect(kpis.value).toEqual({ expectedLifetimePeriods: null, cltvMinor: null, incrementalRevenueMinor: 1000, incrementalGrossMarginMinor: 200, roi: null });
  });
});

describe('the cohort matrix', () => {
  it('runs each row to the last month, across a year end', () => {
    const rows = cohortMatrix(
      [
        {
          cohort: '2025-12',
          size: 4,
          active: [
            { offset: 0, members: 4 },
            { offset: 2, members: 1 },
          ],
        },
      ],
      '2025-11',
      '2026-02',
    );
    expect(rows).toEqual([
      { cohort: '2025-11', size: 0, active: [0, 0, 0, 0], retention: [null, null, null, null] },
      { cohort: '2025-12', size: 4, active: [4, 0, 1], retention: [1, 0, 0.25] },
      { cohort: '2026-01', size: 0, active: [0, 0], retention: [null, null] },
      { cohort: '2026-02', size: 0, active: [0], retention: [null] },
    ]);
  });
});
