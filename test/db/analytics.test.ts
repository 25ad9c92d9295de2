import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnalyticsQuery, computeCohortReport, computeKpiReport } from '../../src/domain/analytics/report.js';
import { computeSeriesReport } from '../../src/domain/analytics/series.js';
import { computeStats } from '../../src/domain/analytics/stats.js';
import { DomainError } from '../../src/domain/errors.js';
import { recordReceipt } from '../../src/domain/purchases/record-receipt.js';
import { type AnalyticsFixture, seedAnalyticsFixture } from '../support/analytics-fixture.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { type DomainHarness, domainHarness } from '../support/domain.js';

/**
 * Every KPI on the fixture of test/support/analytics-fixture.ts (read its table first), the
 * expected values worked out by hand below. March 2026 = [03-01, 04-01) local; activeDays 30,
 * churnDays 45; economics of the example program: pointCostMinor 100, grossMarginPercent 25.
 */

let db: TestDatabase;
let h: DomainHarness;
let fx: AnalyticsFixture;

beforeAll(async () => {
  db = await createTestDatabase();
  h = await domainHarness(db);
  fx = await seedAnalyticsFixture(db, h, 9100);
});

afterAll(async () => {
  await db?.drop();
});

const march = (overrides: Partial<AnalyticsQuery> = {}): AnalyticsQuery => ({
  from: '2026-03-01',
  to: '2026-04-01',
  storeId: null,
  tier: null,
  segment: null,
  activeDays: 30,
  churnDays: 45,
  ...overrides,
});

describe('the KPI report for March, the whole chain', () => {
  it('counts members: total, new, active', async () => {
    const report = await computeKpiReport(h.deps, march());
    // Registered before 04-01 and not erased by then: M1..M5 (M6 erased 02-20) = 5.
    // New in March: M4 (03-03), M5 (03-15) = 2.
    // Active = a purchase in [04-01 - 30 days = 03-02, 04-01): M1 (03-05), M3 (03-10), M4 (03-04) = 3; 3 / 5 = 0.6.
    expect(report.membership).toEqual({ members: 5, newMembers: 2, activeMembers: 3, activeRate: 0.6 });
  });

  it('measures buying behaviour of members against non-member receipts', async () => {
    const { buying } = await computeKpiReport(h.deps, march());
    // Member purchases in March: M1 200000 + 100000, M3 150000 - 50000 returned = 100000, M4 400000
    //   -> 4 purchases, revenue 800000, buyers M1, M3, M4 = 3, repeat buyers M1 = 1.
    // Receipts in March: 50000 + 150000 + 100000 = 300000 in 3 (the "m1-0305" twin of M1's purchase is not counted).
    expect(buying).toEqual({
      memberPurchases: 4,
      buyers: 3,
      repeatBuyers: 1,
      repeatPurchaseRate: 0.3333, // 1 / 3
      purchaseFrequency: 1.3333, // 4 / 3
      memberRevenueMinor: 800_000,
      spendPerBuyerMinor: 266_667, // 800000 / 3 = 266666.67
      averageCheckMembersMinor: 200_000, // 800000 / 4
      nonMemberReceipts: 3,
      nonMemberRevenueMinor: 300_000,
      averageCheckNonMembersMinor: 100_000, // 300000 / 3
      membersRevenueShare: 0.7273, // 800000 / (800000 + 300000) = 0.72727
    });
  });

  it('computes churn per tier', async () => {
    const { churn } = await computeKpiReport(h.deps, march());
    // Base = a purchase in [03-01 - 45 days = 01-15, 03-01): M1 (01-15), M2 (02-10), M3 (02-06); M6's 01-06 is before.
    // Churned = no purchase in [04-01 - 45 days = 02-15, 04-01): M2 (last 02-10). M1 and M3 bought in March.
    // basic: M1, M3 -> 0 of 2; silver: M2 -> 1 of 1; overall 1 of 3.
    expect(churn).toEqual({
      base: 3,
      churned: 1,
      rate: 0.3333,
      byTier: [
        { tier: 'basic', base: 2, churned: 0, rate: 0 },
        { tier: 'silver', base: 1, churned: 1, rate: 1 },
      ],
    });
  });

  it('accounts for the points economy', async () => {
    const { points } = await computeKpiReport(h.deps, march());
    // Issued in March (EARN, BONUS, ADJUST, REVERSE): M1 2000 + 1000, M3 1500 - 500, M4 4000, M5 100 = 8100.
    // Redeemed (SPEND - REFUND): M1 500, M3 300, M4 1000 - 200 = 1600.
    // Expired (EXPIRE, CLOSE): M2 1000 (M6's CLOSE was in February) = 1000.
    // Outstanding at 04-01: M1 1000+2000-500+1000 = 3500 (its 04-05 EARN 700 is later), M2 3000-1000 = 2000,
    //   M3 100+1500-500-300 = 800, M4 4000-1000+200 = 3200, M5 100, M6 0 -> 9600; x 100 = 960000.
    expect(points).toEqual({
      issued: 8100,
      redeemed: 1600,
      expired: 1000,
      outstanding: 9600,
      liabilityMinor: 960_000,
      redemptionRate: 0.1975, // 1600 / 8100 = 0.19753
      breakageRate: 0.1235, // 1000 / 8100 = 0.12346
    });
  });

  it('puts the program cost, CLTV and ROI in money', async () => {
    const { cost, value } = await computeKpiReport(h.deps, march());
    // Points: 1600 x 100 = 160000. Tier discounts on March purchases: M1 12000 + 6000, M3 9000 less the
    // 3000 its return took back, M4 36000 = 60000. Free coupons: M4's FIXED 50000 (M1's free item has
    // no value; M3's coupon was paid with points, already in the 1600). Total 270000.
    expect(cost).toEqual({
      pointsMinor: 160_000,
      tierDiscountsMinor: 60_000,
      freeCouponsMinor: 50_000,
      totalMinor: 270_000,
      couponsRedeemed: 3,
      unvaluedFreeCoupons: 1,
    });
    // Lifetime = 1 / (1/3) = 3 months; CLTV = 200000 x 4/3 x 3 = 800000.
    // Increment = (200000 - 100000) x 4 member purchases = 400000; x 25 % = 100000 gross margin.
    // ROI = (100000 - 270000) / 270000 = -0.62963.
    expect(value).toEqual({
      expectedLifetimePeriods: 3,
      cltvMinor: 800_000,
      incrementalRevenueMinor: 400_000,
      incrementalGrossMarginMinor: 100_000,
      roi: -0.6296,
    });
  });

  it('reports NPS alongside, from the NPS report', async () => {
    const report = await computeKpiReport(h.deps, march());
    // Sent in March: 3; answered 2 (a 10 and a 5): 1 promoter, 1 detractor -> NPS 50 - 50 = 0; response 2/3 = 67 %.
    expect(report.nps).toMatchObject({ sent: 3, answered: 2, responseRate: 67, promoters: 1, passives: 0, detractors: 1, nps: 0 });
    expect(report.economics).toEqual({ grossMarginPercent: 25, pointCostMinor: 100 });
  });
});

describe('the KPI report for one store and one tier', () => {
  it('limits purchases, receipts and ledger entries to the store', async () => {
    const report = await computeKpiReport(h.deps, march({ storeId: fx.storeA.id }));
    // Customers of msk-01 before 04-01: M1, M2, M3 (M6 erased) = 3; none registered in March;
    // active there since 03-02: M1 (03-05), M3 (03-10).
    expect(report.membership).toEqual({ members: 3, newMembers: 0, activeMembers: 2, activeRate: 0.6667 });
    // At msk-01 in March: M1 200000, M3 100000 net -> 2 purchases, 300000, 2 buyers, no repeat;
    // receipts 50000 + 150000 = 200000 in 2.
    expect(report.buying).toMatchObject({
      memberPurchases: 2,
      buyers: 2,
      repeatBuyers: 0,
      memberRevenueMinor: 300_000,
      nonMemberReceipts: 2,
      nonMemberRevenueMinor: 200_000,
      membersRevenueShare: 0.6, // 300000 / 500000
    });
    // Entries at msk-01: issued M1 2000 + M3 1500 - 500 = 3000; redeemed M1 500. Expiry has no store.
    expect(report.points).toEqual({
      issued: 3000,
      redeemed: 500,
      expired: null,
      outstanding: null,
      liabilityMinor: null,
      redemptionRate: 0.1667,
      breakageRate: null,
    });
    // Coupons redeemed at msk-01: M1's free item (unvalued), M3's paid coupon. Discounts there:
    // M1 12000, M3 9000 - 3000 = 18000; cost 500 x 100 + 18000.
    expect(report.cost).toMatchObject({ couponsRedeemed: 2, freeCouponsMinor: 0, unvaluedFreeCoupons: 1, tierDiscountsMinor: 18_000, totalMinor: 68_000 });
  });

  it('limits members to their current tier', async () => {
    const report = await computeKpiReport(h.deps, march({ tier: 'silver' }));
    // Silver: M2, M4; new: M4; active: M4 (03-04).
    expect(report.membership).toEqual({ members: 2, newMembers: 1, activeMembers: 1, activeRate: 0.5 });
    // M4's 400000 only; receipts (no tier) all 3.
    expect(report.buying).toMatchObject({ memberPurchases: 1, buyers: 1, memberRevenueMinor: 400_000, nonMemberReceipts: 3 });
    expect(report.churn.byTier).toEqual([{ tier: 'silver', base: 1, churned: 1, rate: 1 }]);
    // Silver points in March: issued M4 4000; redeemed M4 800; expired M2 1000; outstanding 2000 + 3200.
    expect(report.points).toMatchObject({ issued: 4000, redeemed: 800, expired: 1000, outstanding: 5200 });
    // Silver discounts in March: M4's 36000.
    expect(report.cost.tierDiscountsMinor).toBe(36_000);
  });

  it("limits members to a segment: a segment of one tier gives the tier filter's figures", async () => {
    for (const tier of ['silver', 'basic']) {
      expect(await computeKpiReport(h.deps, march({ segment: { tiers: [tier] } }))).toEqual(await computeKpiReport(h.deps, march({ tier })));
      // January to April: the erased M6 (basic) counts in the segment as in the tier while a member.
      const long = { from: '2026-01-01', to: '2026-04-01', storeId: null };
      expect(await computeCohortReport(h.deps, march({ ...long, segment: { tiers: [tier] } }))).toEqual(
        await computeCohortReport(h.deps, march({ ...long, tier })),
      );
      expect(await computeSeriesReport(h.deps, { ...long, tier: null, segment: { tiers: [tier] } })).toEqual(
        await computeSeriesReport(h.deps, { ...long, tier, segment: null }),
      );
    }
  });

  it("limits members to a segment by language, receipts staying the chain's", async () => {
    const report = await computeKpiReport(h.deps, march({ segment: { languages: ['en'] } }));
    // English: M1, M4. New in March: M4. Active in [03-02, 04-01): M1 (03-05), M4 (03-04) = 2 / 2.
    expect(report.membership).toEqual({ members: 2, newMembers: 1, activeMembers: 2, activeRate: 1 });
    // M1 200000 + 100000, M4 400000: 3 purchases, 700000, buyers 2, repeat M1. Receipts have no member: all 3, 300000.
    expect(report.buying).toMatchObject({
      memberPurchases: 3,
      buyers: 2,
      repeatBuyers: 1,
      memberRevenueMinor: 700_000,
      nonMemberReceipts: 3,
      nonMemberRevenueMinor: 300_000,
    });
    // Base [01-15, 03-01): of M1, M2, M3 only M1 is English; M1 bought since 02-15: not churned.
    expect(report.churn.byTier).toEqual([{ tier: 'basic', base: 1, churned: 0, rate: 0 }]);
    // Issued M1 2000 + 1000, M4 4000 = 7000; redeemed M1 500, M4 1000 - 200 = 1300; no expiry;
    // outstanding at 04-01: M1 1000 + 2000 - 500 + 1000 = 3500 (04-05's 700 is after), M4 3200 = 6700.
    expect(report.points).toMatchObject({ issued: 7000, redeemed: 1300, expired: 0, outstanding: 6700 });
    // Coupons: M4's free FIXED 50000, M1's free item. Discounts: M1 12000 + 6000, M4 36000.
    expect(report.cost).toMatchObject({ couponsRedeemed: 2, freeCouponsMinor: 50_000, unvaluedFreeCoupons: 1, tierDiscountsMinor: 54_000 });
    // Cohorts January to March: January M1 (bought 01-15, 03-05), March M4 (03-04); February's M3 is Russian.
    const cohorts = await computeCohortReport(h.deps, march({ from: '2026-01-01', segment: { languages: ['en'] } }));
    expect(cohorts.cohorts.map((row) => [row.cohort, row.size, row.active])).toEqual([
      ['2026-01', 1, [1, 0, 1]],
      ['2026-02', 0, [0, 0]],
      ['2026-03', 1, [1]],
    ]);
  });

  it('refuses a segment naming a store that does not exist', async () => {
    await expect(computeKpiReport(h.deps, march({ segment: { stores: ['nowhere'] } }))).rejects.toMatchObject({
      code: 'SEGMENT_INVALID',
      details: { field: 'segment.stores' },
    });
  });

  it('counts a discount in the period of its purchase, net of the share returns took back', async () => {
    // February: M2's 27000 (M3's 02-06 purchase predates discounts: 0). January: M1 6000, M6 0.
    expect((await computeKpiReport(h.deps, march({ from: '2026-02-01', to: '2026-03-01' }))).cost.tierDiscountsMinor).toBe(27_000);
    expect((await computeKpiReport(h.deps, march({ from: '2026-01-01', to: '2026-02-01' }))).cost.tierDiscountsMinor).toBe(6_000);
    // The return's share is taken from its purchase's period only: the day of M3's purchase keeps 9000 - 3000,
    // and a period holding the return but not the purchase has no discount at all.
    expect((await computeKpiReport(h.deps, march({ from: '2026-03-10', to: '2026-03-11' }))).cost.tierDiscountsMinor).toBe(6_000);
    expect((await computeKpiReport(h.deps, march({ from: '2026-03-12', to: '2026-03-13' }))).cost.tierDiscountsMinor).toBe(0);
    // One store, msk-02 in March: M1 6000 + M4 36000.
    expect((await computeKpiReport(h.deps, march({ storeId: fx.storeB.id }))).cost.tierDiscountsMinor).toBe(42_000);
  });
});

describe('retention by registration cohort', () => {
  it('is a matrix of the share of each monthly cohort buying in each month after', async () => {
    const report = await computeCohortReport(h.deps, march({ from: '2026-01-01' }));
    // January: M1, M2, M6 (3). Bought in January: M1 (01-15), M6 (01-06) = 2; February: M2 = 1; March: M1 = 1.
    // February: M3 (1), bought in February (02-06) and March (03-10).
    // March: M4, M5 (2); M4 bought in March.
    expect(report.cohorts).toEqual([
      { cohort: '2026-01', size: 3, active: [2, 1, 1], retention: [0.6667, 0.3333, 0.3333] },
      { cohort: '2026-02', size: 1, active: [1, 1], retention: [1, 1] },
      { cohort: '2026-03', size: 2, active: [1], retention: [0.5] },
    ]);
  });

  it('gives every month of the period a row, empty cohorts included', async () => {
    const report = await computeCohortReport(h.deps, march({ from: '2025-12-01', to: '2026-02-01' }));
    expect(report.cohorts).toEqual([
      { cohort: '2025-12', size: 0, active: [0, 0], retention: [null, null] },
      { cohort: '2026-01', size: 3, active: [2], retention: [0.6667] },
    ]);
  });
});

describe('the program over time (series)', () => {
  const row = (p: { start: string; members: number; newMembers: number; activeMembers: number; memberPurchases: number }) => [
    p.start,
    p.members,
    p.newMembers,
    p.activeMembers,
    p.memberPurchases,
  ];

  it('cuts a period of over a year into months: members, buyers, average checks, points', async () => {
    const report = await computeSeriesReport(h.deps, { from: '2025-12-01', to: '2027-01-01', storeId: null, tier: null, segment: null });
    expect(report.granularity).toBe('month');
    expect(report.points).toHaveLength(13);
    const [dec, jan, feb, mar, apr, may] = report.points;
    // [start, members at the end, registered, buyers, purchases]
    // Jan: M6 01-05, M1 01-10, M2 01-20 registered; M6 and M1 bought once each.
    // Feb: M3 registered, M6 erased (3 + 1 - 1 = 3); M2 and M3 bought once each.
    // Mar: M4, M5 registered (5); M1 twice, M3, M4 once: 4 purchases by 3 buyers. Apr: nobody bought.
    expect([dec, jan, feb, mar, apr, may].map((p) => row(p as never))).toEqual([
      ['2025-12-01', 0, 0, 0, 0],
      ['2026-01-01', 3, 3, 2, 2],
      ['2026-02-01', 3, 1, 2, 2],
      ['2026-03-01', 5, 2, 3, 4],
      ['2026-04-01', 5, 0, 0, 0],
      ['2026-05-01', 5, 0, 0, 0],
    ]);
    // Average checks: Jan (100000 + 100000) / 2, no receipts; Feb (300000 + 50000) / 2 against one receipt of 80000;
    // Mar 800000 / 4 (M3's return taken off) against (50000 + 150000 + 100000) / 3 (M1's twin receipt not counted).
    expect([jan, feb, mar, apr].map((p) => [p?.averageCheckMembersMinor, p?.averageCheckNonMembersMinor])).toEqual([
      [100_000, null],
      [175_000, 80_000],
      [200_000, 100_000],
      [null, null],
    ]);
    // Points: Jan EARN 1000 + 1000; Feb EARN 3000 + BONUS 100, CLOSE 1000 (M6's erasure);
    // Mar as the March KPIs (8100 / 1600 / 1000); Apr M1's EARN 700.
    expect([jan, feb, mar, apr].map((p) => [p?.pointsIssued, p?.pointsRedeemed, p?.pointsExpired])).toEqual([
      [2000, 0, 0],
      [3100, 0, 1000],
      [8100, 1600, 1000],
      [700, 0, 0],
    ]);
    expect(report.points.at(-1)?.start).toBe('2026-12-01');
  });

  it('counts buyers per day the same way past 62 days (pairs) as within them (one bitmask per buyer)', async () => {
    // 90 days, daily: too many buckets for one 64-bit mask, so buyers are counted as (day, member) pairs.
    const long = await computeSeriesReport(h.deps, { from: '2026-01-01', to: '2026-04-01', storeId: null, tier: null, segment: null });
    expect(long.granularity).toBe('day');
    expect(long.points).toHaveLength(90);
    const halves = [
      ...(await computeSeriesReport(h.deps, { from: '2026-01-01', to: '2026-02-15', storeId: null, tier: null, segment: null })).points,
      ...(await computeSeriesReport(h.deps, { from: '2026-02-15', to: '2026-04-01', storeId: null, tier: null, segment: null })).points,
    ];
    const buyers = (points: typeof long.points) => points.filter((p) => p.activeMembers > 0).map((p) => [p.start, p.activeMembers]);
    expect(buyers(long.points)).toEqual(buyers(halves));
    // The buyers' days by hand: M6 01-06, M1 01-15, M3 02-06, M2 02-10, M4 03-04, M1 03-05, M3 03-10, M1 03-20.
    expect(buyers(long.points).map(([day]) => day)).toEqual([
      '2026-01-06',
      '2026-01-15',
      '2026-02-06',
      '2026-02-10',
      '2026-03-04',
      '2026-03-05',
      '2026-03-10',
      '2026-03-20',
    ]);
  });

  it('cuts a short period into local days, and one store sees its own customers and sales', async () => {
    const chain = await computeSeriesReport(h.deps, { from: '2026-03-04', to: '2026-03-07', storeId: null, tier: null, segment: null });
    // At 03-04: M1, M2, M3, M4 (M6 erased). 03-04: M4's 400000 at B; 03-05: M1's 200000 and a receipt of 50000.
    expect(
      chain.points.map((p) => [p.start, p.members, p.memberPurchases, p.averageCheckMembersMinor, p.nonMemberReceipts, p.pointsIssued, p.pointsRedeemed]),
    ).toEqual([
      ['2026-03-04', 4, 1, 400_000, 0, 4000, 0],
      ['2026-03-05', 4, 1, 200_000, 1, 2000, 500],
      ['2026-03-06', 4, 0, null, 0, 0, 0],
    ]);
    const storeB = await computeSeriesReport(h.deps, { from: '2026-03-04', to: '2026-03-07', storeId: fx.storeB.id, tier: null, segment: null });
    // B's customers by 03-07: M4 only (M1 first bought there on 03-20). Expiry has no store.
    expect(storeB.points.map((p) => [p.members, p.memberPurchases, p.nonMemberReceipts, p.pointsIssued, p.pointsRedeemed, p.pointsExpired])).toEqual([
      [1, 1, 0, 4000, 0, null],
      [1, 0, 0, 0, 0, null],
      [1, 0, 0, 0, 0, null],
    ]);
  });

  it('gathers what /stats shows for a month: the KPIs, a daily series and six months of cohorts', async () => {
    const stats = await computeStats(h.deps, { from: '2026-03-01', to: '2026-04-01' });
    expect(stats.kpis.membership).toMatchObject({ members: 5, newMembers: 2 });
    expect(stats.series.granularity).toBe('day');
    expect(stats.series.points).toHaveLength(31);
    expect(stats.series.points.reduce((sum, p) => sum + p.memberPurchases, 0)).toBe(4);
    expect(stats.cohorts.cohorts.map((c) => [c.cohort, c.size])).toEqual([
      ['2025-10', 0],
      ['2025-11', 0],
      ['2025-12', 0],
      ['2026-01', 3],
      ['2026-02', 1],
      ['2026-03', 2],
    ]);
  });
});

describe('non-member receipts', () => {
  const till = { type: 'TILL' as const, id: 'apikey:test' };

  it('are recorded once, replayed by key or by receipt number, and refused when they ask for something else', async () => {
    h.clock.set('2026-04-10T09:00:00Z');
    const first = await recordReceipt(h.deps, { storeId: fx.storeA.id, receiptNo: 'r-100', amountMinor: 1234, idempotencyKey: 'k-100', actor: till });
    expect(first.replayed).toBe(false);
    expect(first.receipt).toMatchObject({ storeId: fx.storeA.id, receiptNo: 'r-100', amountMinor: 1234, createdAt: new Date('2026-04-10T09:00:00Z') });

    h.clock.set('2026-04-10T09:05:00Z');
    const again = await recordReceipt(h.deps, { storeId: fx.storeA.id, receiptNo: 'r-100', amountMinor: 1234, idempotencyKey: 'k-100', actor: till });
    expect(again).toEqual({ receipt: first.receipt, replayed: true });
    // The same receipt under another key (a till that lost the answer and made a new key) is the same sale.
    const twin = await recordReceipt(h.deps, { storeId: fx.storeA.id, receiptNo: 'r-100', amountMinor: 1234, idempotencyKey: 'k-101', actor: till });
    expect(twin).toEqual({ receipt: first.receipt, replayed: true });

    await expect(
      recordReceipt(h.deps, { storeId: fx.storeA.id, receiptNo: 'r-100', amountMinor: 999, idempotencyKey: 'k-102', actor: till }),
    ).rejects.toMatchObject({ code: 'RECEIPT_DUPLICATE' });
    await expect(
      recordReceipt(h.deps, { storeId: fx.storeA.id, receiptNo: 'r-101', amountMinor: 1234, idempotencyKey: 'k-100', actor: till }),
    ).rejects.toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' });
    expect(await db.prisma.receipt.count({ where: { receiptNo: { in: ['r-100', 'r-101'] } } })).toBe(1);
  });

  it("are refused for a member's purchase receipt number at the store, and checked like purchases", async () => {
    await expect(
      recordReceipt(h.deps, { storeId: fx.storeB.id, receiptNo: `p-${fx.members.m1}-03-20`, amountMinor: 100_000, idempotencyKey: 'k-200', actor: till }),
    ).rejects.toMatchObject({ code: 'RECEIPT_DUPLICATE' });
    await expect(recordReceipt(h.deps, { storeId: fx.storeA.id, receiptNo: 'r-300', amountMinor: 0, idempotencyKey: 'k-300', actor: till })).rejects.toThrow(
      DomainError,
    );
    await expect(
      recordReceipt(h.deps, { storeId: fx.storeA.id, receiptNo: 'bad receipt!', amountMinor: 10, idempotencyKey: 'k-301', actor: till }),
    ).rejects.toMatchObject({ code: 'RECEIPT_INVALID' });
  });

  it('of concurrent twins, exactly one is written', async () => {
    const input = { storeId: fx.storeB.id, receiptNo: 'r-400', amountMinor: 5000, actor: till };
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => recordReceipt(h.deps, { ...input, idempotencyKey: `k-400-${i % 2}` })));
    expect(results.filter((result) => !result.replayed)).toHaveLength(1);
    expect(new Set(results.map((result) => result.receipt.id)).size).toBe(1);
  });
});
