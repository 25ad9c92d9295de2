import { addDays, daysBetween } from '../jobs/schedule-rules.js';
import type { DomainDeps } from '../ports.js';
import { localDate } from '../time.js';
import {
  type CohortReport,
  computeCohortReport,
  computeKpiReport,
  DEFAULT_ACTIVE_DAYS,
  DEFAULT_CHURN_DAYS,
  type KpiReport,
  MAX_PERIOD_DAYS,
} from './report.js';
import { computeSeriesReport, type SeriesReport } from './series.js';

/**
 * `/stats [period]` in the chat (issue 16): which period a marketer means, and everything the
 * summary and its charts need, read in parallel. No role check here: the bot checks it first.
 */

/** Local calendar dates, `to` exclusive. */
export interface StatsPeriod {
  from: string;
  to: string;
}

export const DEFAULT_STATS_DAYS = 30;
/** Cohort heatmaps need months: a short period shows the cohorts of the last 6 months up to its end. */
const COHORT_MONTHS = 6;

const isCalendarDate = (iso: string) => {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(iso)) return false;
  const date = new Date(`${iso}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === iso;
};

/**
 * The period a `/stats` argument names, relative to `today` (a local date); null when it names
 * none. Accepted: empty (the last 30 days, today included), `7d`/`90d` (the last N days),
 * `2026-11` (a calendar month), `2026-01-01..2026-03-31` (both days included).
 */
export function parseStatsPeriod(input: string, today: string): StatsPeriod | null {
  const text = input.trim().toLowerCase();
  const tomorrow = addDays(today, 1);
  const lastDays = (days: number) => (days >= 1 && days <= MAX_PERIOD_DAYS ? { from: addDays(tomorrow, -days), to: tomorrow } : null);
  if (text === '') return lastDays(DEFAULT_STATS_DAYS);
  const days = /^(\d{1,4})\s*[dд]$/.exec(text);
  if (days) return lastDays(Number(days[1]));
  const month = /^(\d{4})-(\d{2})$/.exec(text);
  if (month) {
    const from = `${month[1]}-${month[2]}-01`;
    if (!isCalendarDate(from)) return null;
    const next =
      Number(month[2]) === 12 ? `${String(Number(month[1]) + 1).padStart(4, '0')}-01-01` : `${month[1]}-${String(Number(month[2]) + 1).padStart(2, '0')}-01`;
    return { from, to: next };
  }
  const range = /^(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})$/.exec(text);
  if (range?.[1] && range[2] && isCalendarDate(range[1]) && isCalendarDate(range[2])) {
    const to = addDays(range[2], 1);
    const length = daysBetween(range[1], to);
    return length >= 1 && length <= MAX_PERIOD_DAYS ? { from: range[1], to } : null;
  }
  return null;
}

/** The first day of the month `months - 1` months before the one holding `lastDay`, or `from` if earlier. */
export function cohortStart(period: StatsPeriod, months = COHORT_MONTHS): string {
  const last = addDays(period.to, -1);
  const index = Number(last.slice(0, 4)) * 12 + Number(last.slice(5, 7)) - 1 - (months - 1);
  const start = `${String(Math.floor(index / 12)).padStart(4, '0')}-${String((index % 12) + 1).padStart(2, '0')}-01`;
  return start < period.from ? start : period.from;
}

export interface StatsReport {
  period: StatsPeriod;
  kpis: KpiReport;
  series: SeriesReport;
  cohorts: CohortReport;
}

/** Today in the program's time zone (one clock). */
export const statsToday = (deps: DomainDeps) => localDate(deps.clock.now(), deps.program.timezone);

/** The chain's figures, or one store's (`storeId`: a marketer bound to a store sees only it, as its API key would). */
export async function computeStats(deps: DomainDeps, period: StatsPeriod, storeId: number | null = null): Promise<StatsReport> {
  const query = { from: period.from, to: period.to, storeId, tier: null, segment: null, activeDays: DEFAULT_ACTIVE_DAYS, churnDays: DEFAULT_CHURN_DAYS };
  const [kpis, series, cohorts] = await Promise.all([
    computeKpiReport(deps, query),
    computeSeriesReport(deps, query),
    computeCohortReport(deps, { ...query, from: cohortStart(period) }),
  ]);
  return { period, kpis, series, cohorts };
}
