import { addDays, daysBetween, startOfLocalDay } from '../jobs/schedule-rules.js';
import type { DomainDeps } from '../ports.js';
import { type AnalyticsQuery, scopeOf } from './report.js';
import type { SeriesFacts } from './types.js';

/**
 * The program over time (issue 16, /stats charts and GET /v1/analytics/series): the period cut
 * into local days, weeks or months, and for each bucket the members, the average checks of
 * members and non-members, and the points economy. The database counts per bucket (one
 * statement, buckets found by binary search like the cohorts); this file turns counts into
 * running totals and averages, pure.
 */

export type Granularity = 'day' | 'week' | 'month';

/** Up to 92 days daily, up to 366 weekly, monthly beyond: a chart stays readable (<= 92 points). */
export function granularityOf(days: number): Granularity {
  return days <= 92 ? 'day' : days <= 366 ? 'week' : 'month';
}

/** The local calendar dates each bucket starts on: `from`, then every day / 7 days / 1st of the month, before `to`. */
export function bucketStarts(from: string, to: string, granularity: Granularity): string[] {
  const starts: string[] = [];
  if (granularity === 'month') {
    starts.push(from);
    let year = Number(from.slice(0, 4));
    let month = Number(from.slice(5, 7));
    for (;;) {
      month += 1;
      if (month > 12) {
        month = 1;
        year += 1;
      }
      const next = `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-01`;
      if (next >= to) break;
      starts.push(next);
    }
    return starts;
  }
  const step = granularity === 'day' ? 1 : 7;
  for (let day = from; day < to; day = addDays(day, step)) starts.push(day);
  return starts;
}

export interface SeriesPoint {
  /** The bucket's first local date (YYYY-MM-DD). */
  start: string;
  /** Members at the bucket's end: registered before it ends and not erased by then. */
  members: number;
  /** Registered in the bucket. */
  newMembers: number;
  /** Members with a purchase in the bucket. */
  activeMembers: number;
  memberPurchases: number;
  /** Net of returns; null without purchases. */
  averageCheckMembersMinor: number | null;
  nonMemberReceipts: number;
  averageCheckNonMembersMinor: number | null;
  pointsIssued: number;
  pointsRedeemed: number;
  /** Null when the scope is one store (expiry has no store). */
  pointsExpired: number | null;
}

export interface SeriesReport {
  period: { from: string; to: string; timezone: string };
  granularity: Granularity;
  points: SeriesPoint[];
}

const perUnit = (n: number, d: number): number | null => (d === 0 ? null : Math.round(n / d));

/** The counts per bucket as a series: running member totals, averages per bucket. */
export function seriesFromFacts(starts: string[], facts: SeriesFacts, perStore: boolean): SeriesPoint[] {
  let members = facts.membersBefore;
  return starts.map((start, index) => {
    const bucket = facts.buckets[index];
    members += (bucket?.registered ?? 0) - (bucket?.erased ?? 0);
    const memberPurchases = bucket?.memberPurchases ?? 0;
    const receipts = bucket?.receipts ?? 0;
    return {
      start,
      members,
      newMembers: bucket?.registered ?? 0,
      activeMembers: bucket?.activeMembers ?? 0,
      memberPurchases,
      averageCheckMembersMinor: perUnit(bucket?.memberRevenueMinor ?? 0, memberPurchases),
      nonMemberReceipts: receipts,
      averageCheckNonMembersMinor: perUnit(bucket?.receiptRevenueMinor ?? 0, receipts),
      pointsIssued: bucket?.issued ?? 0,
      pointsRedeemed: bucket?.redeemed ?? 0,
      pointsExpired: perStore ? null : (bucket?.expired ?? 0),
    };
  });
}

export async function computeSeriesReport(
  deps: DomainDeps,
  query: Pick<AnalyticsQuery, 'from' | 'to' | 'storeId' | 'tier' | 'segment'>,
): Promise<SeriesReport> {
  // scopeOf checks the period's length before the buckets are cut.
  const scope = await scopeOf(deps, query);
  const { timezone } = deps.program;
  const granularity = granularityOf(daysBetween(query.from, query.to));
  const starts = bucketStarts(query.from, query.to, granularity);
  const facts = await deps.repos.analytics.series(
    scope,
    starts.map((day) => startOfLocalDay(day, timezone)),
  );
  return { period: { from: query.from, to: query.to, timezone }, granularity, points: seriesFromFacts(starts, facts, query.storeId !== null) };
}
