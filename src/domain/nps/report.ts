import { DomainError } from '../errors.js';
import { addDays, daysBetween, epochDay, startOfLocalDay } from '../jobs/schedule-rules.js';
import type { DomainDeps } from '../ports.js';
import type { Localized } from '../program.js';
import { requireRole } from '../staff/access.js';
import { localDate } from '../time.js';
import { addCounts, emptyCounts, type NpsGroup, type NpsSummary, summarize } from './score.js';
import type { NpsPeriodQuery, SurveyAnswerRow } from './types.js';

/**
 * NPS numbers for marketers (in the bot) and the CRM (GET /v1/nps): the same report for both.
 * A survey belongs to the period in which it was sent; the response rate is the share of those
 * surveys that were answered, and the score is computed over those answers.
 */

/** Local calendar dates (program time zone), both inclusive, YYYY-MM-DD. */
export interface NpsPeriod {
  from: string;
  to: string;
}

export const MAX_PERIOD_DAYS = 366;

export interface StoreSummary {
  /** null: surveys not tied to a store (campaigns). */
  storeId: number | null;
  code: string | null;
  name: string | null;
  summary: NpsSummary;
}

export interface WeekSummary {
  /** The Monday starting the week (local date); the first and last weeks may be cut by the period. */
  weekStart: string;
  summary: NpsSummary;
}

export interface ReasonCount {
  group: NpsGroup;
  code: string;
  /** As the program names it now; null for a code no longer in the program. */
  title: Localized | null;
  count: number;
}

export interface NpsReport {
  period: NpsPeriod;
  timezone: string;
  /** Set when the report is one store's. */
  store: { id: number; code: string; name: string } | null;
  overall: NpsSummary;
  stores: StoreSummary[];
  weeks: WeekSummary[];
  /** Most common first. */
  reasons: ReasonCount[];
}

/** The last `days` local days up to and including today. */
export function lastDays(now: Date, days: number, timeZone: string): NpsPeriod {
  const to = localDate(now, timeZone);
  return { from: addDays(to, 1 - days), to };
}

/** Monday of the week of a local date. */
export function weekStartOf(iso: string): string {
  // 1970-01-01 was a Thursday: day 0 is weekday 3 counting from Monday = 0.
  const weekday = (((epochDay(iso) + 3) % 7) + 7) % 7;
  return addDays(iso, -weekday);
}

function periodQuery(deps: DomainDeps, period: NpsPeriod, storeId: number | null): NpsPeriodQuery {
  const days = daysBetween(period.from, period.to) + 1;
  if (days < 1 || days > MAX_PERIOD_DAYS) throw new RangeError(`an NPS period is 1 to ${MAX_PERIOD_DAYS} days: ${period.from}..${period.to}`);
  const { timezone } = deps.program;
  return { from: startOfLocalDay(period.from, timezone), to: startOfLocalDay(addDays(period.to, 1), timezone), storeId, timeZone: timezone };
}

type Counts = ReturnType<typeof emptyCounts>;

function bucket<K>(map: Map<K, Counts>, key: K): Counts {
  let counts = map.get(key);
  if (!counts) {
    counts = emptyCounts();
    map.set(key, counts);
  }
  return counts;
}

/** The report for a period, over all stores or one (`storeId`). No role check: callers have theirs. */
export async function computeNpsReport(deps: DomainDeps, period: NpsPeriod, storeId: number | null = null): Promise<NpsReport> {
  const query = periodQuery(deps, period, storeId);
  const [rows, reasonRows, stores] = await Promise.all([deps.repos.surveys.counts(query), deps.repos.surveys.reasonCounts(query), deps.repos.stores.list()]);
  const storeById = new Map(stores.map((store) => [store.id, store]));

  const overall = emptyCounts();
  const perStore = new Map<number | null, Counts>();
  const perWeek = new Map<string, Counts>();
  for (const row of rows) {
    addCounts(overall, row);
    addCounts(bucket(perStore, row.storeId), row);
    addCounts(bucket(perWeek, row.week), row);
  }

  // Every week of the period, also those without surveys, so that a trend has no holes.
  const weeks: WeekSummary[] = [];
  for (let week = weekStartOf(period.from); week <= period.to; week = addDays(week, 7)) {
    weeks.push({ weekStart: week, summary: summarize(perWeek.get(week) ?? emptyCounts()) });
  }

  const storeSummaries: StoreSummary[] = [...perStore]
    .map(([id, counts]) => {
      const store = id === null ? undefined : storeById.get(id);
      return { storeId: id, code: store?.code ?? null, name: store?.name ?? null, summary: summarize(counts) };
    })
    .sort((a, b) => (a.code === null ? 1 : b.code === null ? -1 : a.code.localeCompare(b.code)));

  const reasons: ReasonCount[] = reasonRows.map((row) => ({
    group: row.group,
    code: row.code,
    title: deps.program.nps.reasons[row.group].find((reason) => reason.code === row.code)?.title ?? null,
    count: row.count,
  }));

  const store = storeId === null ? null : (storeById.get(storeId) ?? null);
  return {
    period,
    timezone: deps.program.timezone,
    store: store ? { id: store.id, code: store.code, name: store.name } : null,
    overall: summarize(overall),
    stores: storeSummaries,
    weeks,
    reasons,
  };
}

/** Marketers (and admins) see every store; a marketer bound to a store sees that store's numbers. */
async function marketerScope(deps: DomainDeps, telegramId: number): Promise<number | null> {
  const principal = await requireRole(deps, telegramId, ['MARKETER']);
  return principal.role === 'MARKETER' ? principal.storeId : null;
}

export function periodOfDays(deps: DomainDeps, days: number): NpsPeriod {
  if (!Number.isInteger(days) || days < 1 || days > MAX_PERIOD_DAYS) throw new DomainError('AMOUNT_INVALID', { field: 'days', max: MAX_PERIOD_DAYS });
  return lastDays(deps.clock.now(), days, deps.program.timezone);
}

/** `/nps [days]` in the bot. */
export async function npsReportForMarketer(deps: DomainDeps, telegramId: number, days: number): Promise<NpsReport> {
  const storeId = await marketerScope(deps, telegramId);
  return computeNpsReport(deps, periodOfDays(deps, days), storeId);
}

export const MAX_EXPORT_ROWS = 50_000;

/** The answers of the period for the CSV export (at most MAX_EXPORT_ROWS; `truncated` says when there were more). */
export async function exportNpsAnswers(
  deps: DomainDeps,
  telegramId: number,
  days: number,
): Promise<{ period: NpsPeriod; rows: SurveyAnswerRow[]; truncated: boolean }> {
  const storeId = await marketerScope(deps, telegramId);
  const period = periodOfDays(deps, days);
  const rows = await deps.repos.surveys.answers({ ...periodQuery(deps, period, storeId), limit: MAX_EXPORT_ROWS + 1 });
  return { period, rows: rows.slice(0, MAX_EXPORT_ROWS), truncated: rows.length > MAX_EXPORT_ROWS };
}
