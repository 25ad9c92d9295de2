import { audienceQuery } from '../broadcasts/segment.js';
import type { Segment } from '../broadcasts/types.js';
import { addDays, daysBetween, startOfLocalDay } from '../jobs/schedule-rules.js';
import { computeNpsReport, MAX_PERIOD_DAYS as NPS_MAX_PERIOD_DAYS } from '../nps/report.js';
import type { NpsSummary } from '../nps/score.js';
import type { DomainDeps } from '../ports.js';
import { type CohortRow, cohortMatrix } from './cohorts.js';
import { computeKpis, type Kpis } from './kpis.js';
import type { AnalyticsScope } from './types.js';

/**
 * "Is the program paying off?" (issue 16): the KPI report and the cohort matrix for owners and
 * marketers (GET /v1/analytics/...). Reads the counts through the analytics port, computes
 * with the pure functions beside this file. No role check: callers have theirs.
 */

/** A period of local calendar days in the program's time zone: `from` inclusive, `to` exclusive. */
export interface AnalyticsQuery {
  from: string;
  to: string;
  storeId: number | null;
  tier: string | null;
  /** Members of this broadcast segment (segment-schema.ts) only; null: every member. */
  segment: Segment | null;
  /** Active = a purchase in the last `activeDays` days before `to`. */
  activeDays: number;
  /** Churned = no purchase for `churnDays` days. */
  churnDays: number;
}

export const DEFAULT_ACTIVE_DAYS = 30;
export const DEFAULT_CHURN_DAYS = 90;
/** Five years: enough for cohorts, small enough for one query. */
export const MAX_PERIOD_DAYS = 1830;

export interface KpiReport extends Kpis {
  period: { from: string; to: string; timezone: string };
  activeDays: number;
  churnDays: number;
  economics: { grossMarginPercent: number; pointCostMinor: number };
  /** NPS of surveys sent in the period (all tiers); null for periods longer than the NPS report takes. */
  nps: NpsSummary | null;
}

export interface CohortReport {
  period: { from: string; to: string; timezone: string };
  cohorts: CohortRow[];
}

/** The query as a scope: the period as instants, the segment resolved against the clock now. */
export async function scopeOf(deps: DomainDeps, query: Pick<AnalyticsQuery, 'from' | 'to' | 'storeId' | 'tier' | 'segment'>): Promise<AnalyticsScope> {
  const days = daysBetween(query.from, query.to);
  if (days < 1 || days > MAX_PERIOD_DAYS) throw new RangeError(`an analytics period is 1 to ${MAX_PERIOD_DAYS} days: [${query.from}, ${query.to})`);
  const { timezone, tiers } = deps.program;
  return {
    from: startOfLocalDay(query.from, timezone),
    to: startOfLocalDay(query.to, timezone),
    storeId: query.storeId,
    tier: query.tier,
    // Strict: an unknown store code is the caller's mistake (SEGMENT_INVALID), not an empty report.
    segment: query.segment === null ? null : await audienceQuery(deps, query.segment, { strict: true }),
    baseTier: tiers.levels[0]?.code ?? '',
    timeZone: timezone,
  };
}

export async function computeKpiReport(deps: DomainDeps, query: AnalyticsQuery): Promise<KpiReport> {
  const scope = await scopeOf(deps, query);
  const analytics = deps.repos.analytics;
  const activeSince = new Date(scope.to.getTime() - query.activeDays * 86_400_000);
  const lastDay = addDays(query.to, -1);
  const [membership, buying, churn, points, coupons, nps] = await Promise.all([
    analytics.membership(scope, activeSince),
    analytics.buying(scope),
    analytics.churn(scope, query.churnDays),
    analytics.points(scope),
    analytics.coupons(scope),
    daysBetween(query.from, query.to) <= NPS_MAX_PERIOD_DAYS
      ? computeNpsReport(deps, { from: query.from, to: lastDay }, query.storeId).then((report) => report.overall)
      : Promise.resolve(null),
  ]);
  // Tiers in the program's order (lowest first), codes no longer in the program after them.
  const order = deps.program.tiers.levels.map((level) => level.code);
  const rank = (code: string) => (order.includes(code) ? order.indexOf(code) : order.length);
  churn.sort((a, b) => rank(a.tier) - rank(b.tier) || a.tier.localeCompare(b.tier));
  const kpis = computeKpis({ membership, buying, churn, points, coupons }, deps.program.economics);
  return {
    period: { from: query.from, to: query.to, timezone: scope.timeZone },
    activeDays: query.activeDays,
    churnDays: query.churnDays,
    economics: { ...deps.program.economics },
    ...kpis,
    nps,
  };
}

export async function computeCohortReport(deps: DomainDeps, query: AnalyticsQuery): Promise<CohortReport> {
  const scope = await scopeOf(deps, query);
  const facts = await deps.repos.analytics.cohorts(scope);
  return {
    period: { from: query.from, to: query.to, timezone: scope.timeZone },
    cohorts: cohortMatrix(facts, query.from.slice(0, 7), addDays(query.to, -1).slice(0, 7)),
  };
}
