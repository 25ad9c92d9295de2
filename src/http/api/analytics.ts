import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import {
  type AnalyticsQuery,
  type CohortReport,
  computeCohortReport,
  computeKpiReport,
  DEFAULT_ACTIVE_DAYS,
  DEFAULT_CHURN_DAYS,
  type KpiReport,
  MAX_PERIOD_DAYS,
} from '../../domain/analytics/report.js';
import { computeSeriesReport, type SeriesReport } from '../../domain/analytics/series.js';
import { recentCampaignLifts } from '../../domain/broadcasts/lift.js';
import { segmentProblems } from '../../domain/broadcasts/segment.js';
import { segmentSchema } from '../../domain/broadcasts/segment-schema.js';
import type { Segment } from '../../domain/broadcasts/types.js';
import { csvCell } from '../../domain/csv.js';
import { daysBetween } from '../../domain/jobs/schedule-rules.js';
import type { ApiKeyRecord, DomainDeps } from '../../domain/ports.js';
import type { Program } from '../../domain/program.js';
import { storeInScope } from '../../domain/staff/access.js';
import { requireKey } from './auth.js';
import { type ApiScope, prefersCsv } from './command.js';
import { COMMON_PROBLEMS, problemResponses } from './openapi-doc.js';
import { validationProblem } from './problems.js';

/**
 * GET /v1/analytics/kpis and GET /v1/analytics/cohorts: "is the program paying off?" for the
 * owner's spreadsheet or BI tool (issue 16). JSON by default, `?format=csv` for a table. The
 * numbers come from src/domain/analytics (definitions in README "Analytics"). A key bound to a
 * store sees that store only.
 */

const isCalendarDate = (iso: string) => {
  const date = new Date(`${iso}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === iso;
};
const localDate = z
  .string()
  // One message per mistake: a malformed date is not also "not a calendar date".
  .regex(/^\d{4}-\d{2}-\d{2}$/, { message: 'a date as YYYY-MM-DD', abort: true })
  .refine(isCalendarDate, 'not a calendar date');
/** Query strings are text: whole numbers are parsed here, and named when they are not. */
const days = (fallback: number) =>
  z
    .string()
    .regex(/^\d{1,4}$/, 'a whole number of days')
    .transform(Number)
    .pipe(z.int().min(1).max(3650))
    .optional()
    .transform((value) => value ?? fallback);

export const analyticsQuerySchema = z
  .strictObject({
    from: localDate.describe("The first day of the period (inclusive), in the program's time zone"),
    to: localDate.describe(`The day after the period (exclusive): from=2026-01-01&to=2026-02-01 is January; a period is 1 to ${MAX_PERIOD_DAYS} days`),
    store: z.string().min(1).max(32).optional().describe('A store code: that store only'),
    tier: z.string().min(1).max(32).optional().describe('A tier code: members of that tier only (their tier now; tiers are not historised)'),
    segment: z
      .string()
      .min(2)
      .max(4000)
      .optional()
      .describe(
        [
          "Members of a broadcast segment only: the segment as a URL-encoded JSON object, the same as a broadcast's",
          `(fields ${Object.keys(segmentSchema.shape).join(', ')}; every filter given must hold), e.g. {"languages":["en"]}.`,
          'Resolved now: members who match today, relative filters counted back from today. Non-member receipts are not filtered.',
        ].join(' '),
      ),
    activeDays: days(DEFAULT_ACTIVE_DAYS).describe(`Active = a purchase in the last N days before \`to\` (default ${DEFAULT_ACTIVE_DAYS})`),
    churnDays: days(DEFAULT_CHURN_DAYS).describe(`Churned = no purchase for N days (default ${DEFAULT_CHURN_DAYS})`),
    format: z.enum(['json', 'csv']).optional().describe('json or csv; without it, `Accept: text/csv` asks for csv, anything else gets json'),
  })
  .superRefine((query, ctx) => {
    if (!isCalendarDate(query.from) || !isCalendarDate(query.to)) return;
    const length = daysBetween(query.from, query.to);
    if (length < 1) ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be after `from`' });
    else if (length > MAX_PERIOD_DAYS) ctx.addIssue({ code: 'custom', path: ['to'], message: `the period is at most ${MAX_PERIOD_DAYS} days` });
  });

const rate = z.number().nullable().describe('A fraction (0.25 = 25 %), 4 decimals; null when its denominator is 0');
const money = z.int().describe('Minor units');
const moneyOrNull = z.int().nullable().describe('Minor units; null when it cannot be computed');
const count = z.int();
const npsSummarySchema = z.object({
  sent: count,
  answered: count,
  responseRate: z.int().nullable(),
  promoters: count,
  passives: count,
  detractors: count,
  nps: z.int().nullable(),
});

export const kpiResponseSchema = z
  .object({
    period: z.object({ from: z.string(), to: z.string().describe('Exclusive'), timezone: z.string() }),
    store: z.string().nullable(),
    tier: z.string().nullable(),
    activeDays: count,
    churnDays: count,
    economics: z.object({ grossMarginPercent: z.number(), pointCostMinor: count }),
    membership: z.object({ members: count, newMembers: count, activeMembers: count, activeRate: rate }),
    buying: z.object({
      memberPurchases: count,
      buyers: count,
      repeatBuyers: count,
      repeatPurchaseRate: rate,
      purchaseFrequency: z.number().nullable().describe('Purchases per buyer in the period'),
      memberRevenueMinor: money,
      spendPerBuyerMinor: moneyOrNull,
      averageCheckMembersMinor: moneyOrNull,
      nonMemberReceipts: count,
      nonMemberRevenueMinor: money,
      averageCheckNonMembersMinor: moneyOrNull,
      membersRevenueShare: rate,
    }),
    churn: z.object({
      base: count.describe('Members with a purchase in the churnDays before `from`'),
      churned: count.describe('Of those, members without a purchase in the churnDays before `to`'),
      rate,
      byTier: z.array(z.object({ tier: z.string(), base: count, churned: count, rate })),
    }),
    points: z.object({
      issued: count,
      redeemed: count,
      expired: z.int().nullable().describe('Breakage (expired + forfeited at erasure); null for one store'),
      outstanding: z.int().nullable().describe('Points held at `to`; null for one store'),
      liabilityMinor: moneyOrNull.describe('outstanding x pointCostMinor'),
      redemptionRate: rate,
      breakageRate: rate,
    }),
    cost: z.object({
      pointsMinor: money,
      tierDiscountsMinor: money.describe('Tier discounts on the period’s member purchases, net of returns (see README)'),
      freeCouponsMinor: money,
      totalMinor: money,
      couponsRedeemed: count,
      unvaluedFreeCoupons: count,
    }),
    value: z.object({
      expectedLifetimePeriods: z.number().nullable().describe('1 / churn rate, in periods of this length'),
      cltvMinor: moneyOrNull,
      incrementalRevenueMinor: moneyOrNull,
      incrementalGrossMarginMinor: moneyOrNull,
      roi: rate.describe('(incremental gross margin - program cost) / program cost'),
    }),
    nps: npsSummarySchema.nullable().describe('NPS of surveys sent in the period (all tiers); null for periods over 366 days'),
  })
  .meta({ id: 'KpiResponse' });

export const cohortResponseSchema = z
  .object({
    period: z.object({ from: z.string(), to: z.string(), timezone: z.string() }),
    store: z.string().nullable(),
    tier: z.string().nullable(),
    cohorts: z.array(
      z.object({
        cohort: z.string().describe('YYYY-MM: the month members registered'),
        size: count,
        active: z.array(count).describe('Members of the cohort with a purchase in month k after registration (k = 0: that month)'),
        retention: z.array(rate).describe('active[k] / size'),
      }),
    ),
  })
  .meta({ id: 'CohortResponse' });

export const seriesResponseSchema = z
  .object({
    period: z.object({ from: z.string(), to: z.string().describe('Exclusive'), timezone: z.string() }),
    store: z.string().nullable(),
    tier: z.string().nullable(),
    granularity: z.enum(['day', 'week', 'month']).describe('day up to 92 days, week (from the first day) up to 366, month beyond'),
    points: z.array(
      z.object({
        start: z.string().describe("The bucket's first local date"),
        members: count.describe("Members at the bucket's end (registered, not erased; with a store: its customers by the period's end)"),
        newMembers: count.describe('Registered in the bucket'),
        activeMembers: count.describe('Members with a purchase in the bucket'),
        memberPurchases: count,
        averageCheckMembersMinor: moneyOrNull.describe('Net of returns'),
        nonMemberReceipts: count,
        averageCheckNonMembersMinor: moneyOrNull,
        pointsIssued: z.int(),
        pointsRedeemed: z.int(),
        pointsExpired: z.int().nullable().describe('Null for one store (expiry has no store)'),
      }),
    ),
  })
  .meta({ id: 'SeriesResponse' });

/** GET /v1/analytics/campaigns: the table behind the /stats campaign-lift chart. */
export const campaignsQuerySchema = z.strictObject({
  limit: z
    .string()
    .regex(/^\d{1,2}$/, 'a whole number from 1 to 50')
    .transform(Number)
    .pipe(z.int().min(1).max(50))
    .optional()
    .describe('How many of the latest measured broadcasts (default 10)'),
  format: z.enum(['json', 'csv']).optional().describe('json or csv; without it, `Accept: text/csv` asks for csv'),
});

export const campaignsResponseSchema = z
  .object({
    campaigns: z.array(
      z.object({
        broadcastId: z.int(),
        title: z.string().describe("The broadcast's first words"),
        metric: z.literal('conversion').describe('A purchase within the attribution window'),
        lift: z.number().describe('Absolute lift over the control group, in percentage points'),
        ciLow: z.number().nullable().describe('95 % confidence interval of the lift (percentage points); null when the sample is too small'),
        ciHigh: z.number().nullable(),
        pValue: z.number().nullable().describe('Two-proportion z-test, two-sided; null when the sample is too small'),
      }),
    ),
  })
  .meta({ id: 'CampaignsResponse' });

export type CampaignsResponse = z.infer<typeof campaignsResponseSchema>;
const CAMPAIGN_COLUMNS = ['broadcastId', 'title', 'metric', 'lift', 'ciLow', 'ciHigh', 'pValue'] as const;

export type KpiResponse = z.infer<typeof kpiResponseSchema>;
export type SeriesResponse = z.infer<typeof seriesResponseSchema>;
export type CohortResponse = z.infer<typeof cohortResponseSchema>;

/** An explicit format wins; a client that only takes CSV (Accept: text/csv) gets it. */
const formatOf = (explicit: 'json' | 'csv' | undefined, accept: string | undefined): 'json' | 'csv' => explicit ?? (prefersCsv(accept) ? 'csv' : 'json');

const csv = (rows: (string | number | null)[][]) => `${rows.map((row) => row.map(csvCell).join(',')).join('\r\n')}\r\n`;

const SERIES_COLUMNS = [
  'start',
  'members',
  'newMembers',
  'activeMembers',
  'memberPurchases',
  'averageCheckMembersMinor',
  'nonMemberReceipts',
  'averageCheckNonMembersMinor',
  'pointsIssued',
  'pointsRedeemed',
  'pointsExpired',
] as const;

/** One line per bucket, the JSON point's fields as columns (empty for null). */
export function seriesCsv(response: SeriesResponse): string {
  return csv([[...SERIES_COLUMNS], ...response.points.map((point) => SERIES_COLUMNS.map((column) => point[column]))]);
}

/** The KPI report as `metric,value` lines, metrics named by their JSON path (churn per tier by its code). */
export function kpisCsv(response: KpiResponse): string {
  const rows: (string | number | null)[][] = [['metric', 'value']];
  const walk = (prefix: string, value: unknown) => {
    if (Array.isArray(value)) {
      for (const item of value as { tier: string }[]) walk(`${prefix}.${item.tier}`, { ...item, tier: undefined });
    } else if (value !== null && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) if (inner !== undefined) walk(prefix ? `${prefix}.${key}` : key, inner);
    } else {
      rows.push([prefix, value as string | number | null]);
    }
  };
  walk('', response);
  return csv(rows);
}

/** The cohort matrix: `cohort,size,m0,m1,...`, cells the retention rate (empty past the period or for an empty cohort). */
export function cohortsCsv(response: CohortResponse): string {
  const width = Math.max(0, ...response.cohorts.map((row) => row.retention.length));
  const header = ['cohort', 'size', ...Array.from({ length: width }, (_, k) => `m${k}`)];
  return csv([header, ...response.cohorts.map((row) => [row.cohort, row.size, ...Array.from({ length: width }, (_, k) => row.retention[k] ?? null)])]);
}

type AnalyticsQueryInput = z.output<typeof analyticsQuerySchema>;

/** The `segment` parameter: JSON, then the broadcasts' one segment schema and its program checks (tier codes, contradictions). */
function parseSegment(text: string, program: Program): Segment {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw validationProblem([{ field: 'segment', message: 'a JSON object of segment filters' }]);
  }
  const problems = segmentProblems(value as Segment, program);
  if (problems.length > 0) throw validationProblem(problems);
  return segmentSchema.parse(value);
}

export function registerAnalyticsRoutes(app: ApiScope, options: { domain: DomainDeps }): void {
  const { domain } = options;

  /** The query, checked and resolved: the store (a bound key's own) and a tier of the program. */
  async function parseQuery(
    input: AnalyticsQueryInput,
    key: ApiKeyRecord,
    acceptHeader: string | undefined,
  ): Promise<{ query: AnalyticsQuery; format: 'json' | 'csv'; store: string | null }> {
    if (input.tier !== undefined && !domain.program.tiers.levels.some((level) => level.code === input.tier)) {
      throw validationProblem([{ field: 'tier', message: `one of the tiers: ${domain.program.tiers.levels.map((level) => level.code).join(', ')}` }]);
    }
    const segment = input.segment === undefined ? null : parseSegment(input.segment, domain.program);
    const store = await storeInScope(domain, key.storeId, input.store);
    const format = formatOf(input.format, acceptHeader);
    return {
      query: {
        from: input.from,
        to: input.to,
        storeId: store?.id ?? null,
        tier: input.tier ?? null,
        segment,
        activeDays: input.activeDays,
        churnDays: input.churnDays,
      },
      format,
      store: store?.code ?? null,
    };
  }

  const sendCsv = (reply: FastifyReply, name: string, body: string) =>
    reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${name}.csv"`).send(body);

  /** JSON, or with format=csv a table (documented as a second media type of the 200). */
  const documented = (operationId: string, summary: string, description: string, responseSchema: z.ZodType, ok: string, csvShape: string) => ({
    operationId,
    summary,
    description,
    querystring: analyticsQuerySchema,
    response: {
      200: {
        description: ok,
        content: {
          'application/json': { schema: responseSchema },
          'text/csv': { schema: z.string().describe(csvShape) },
        },
      },
      ...problemResponses(['VALIDATION_FAILED', 'SEGMENT_INVALID', ...COMMON_PROBLEMS, 'FORBIDDEN', 'STORE_NOT_FOUND']),
    },
  });
  const kpiSchema = documented(
    'getAnalyticsKpis',
    'Program KPIs for a period: membership, buying behaviour, churn, points economy, program cost, CLTV, ROI, NPS',
    [
      'Every KPI is defined in the README ("Analytics"). Money is in minor units, rates are fractions with 4 decimals,',
      'and a figure whose denominator is 0 is null. ROI compares the average check of members with that of non-member',
      'receipts (POST /v1/receipts): an estimate with limits that the README states.',
    ].join(' '),
    kpiResponseSchema,
    'The KPIs; with format=csv a `metric,value` table, metrics named by their JSON path',
    'metric,value lines (RFC 4180)',
  );
  const cohortSchema = documented(
    'getAnalyticsCohorts',
    'Retention by monthly registration cohort: members registered in the period, and who bought in each month after',
    'Cohorts are the months members registered in; each cell is the share of the cohort with a purchase in that month after registration.',
    cohortResponseSchema,
    'The cohort matrix; with format=csv `cohort,size,m0,m1,...` with the retention rate in each cell',
    'cohort,size,m0,m1,... (RFC 4180)',
  );

  const seriesSchema = documented(
    'getAnalyticsSeries',
    'The program over time: members, buyers, average checks of members and non-members, points issued/redeemed/expired per day, week or month',
    'Buckets are local days up to 92 days, weeks from the first day up to 366 days, months beyond. activeDays and churnDays are accepted and ignored.',
    seriesResponseSchema,
    'One point per bucket; with format=csv one line per bucket, the fields as columns',
    `${SERIES_COLUMNS.join(',')} (RFC 4180)`,
  );

  app.get('/analytics/kpis', { schema: kpiSchema }, async (request, reply) => {
    const { query, format, store } = await parseQuery(request.query, requireKey(request), request.headers.accept);
    const report: KpiReport = await computeKpiReport(domain, query);
    const { period, activeDays, churnDays, economics, membership, buying, churn, points, cost, value, nps } = report;
    const response: KpiResponse = {
      period,
      store,
      tier: query.tier,
      activeDays,
      churnDays,
      economics,
      membership,
      buying,
      churn,
      points,
      cost,
      value,
      nps: nps && {
        sent: nps.sent,
        answered: nps.answered,
        responseRate: nps.responseRate,
        promoters: nps.promoters,
        passives: nps.passives,
        detractors: nps.detractors,
        nps: nps.nps,
      },
    };
    return format === 'csv' ? sendCsv(reply, `kpis_${query.from}_${query.to}`, kpisCsv(response)) : response;
  });

  app.get('/analytics/cohorts', { schema: cohortSchema }, async (request, reply) => {
    const { query, format, store } = await parseQuery(request.query, requireKey(request), request.headers.accept);
    const report: CohortReport = await computeCohortReport(domain, query);
    const response: CohortResponse = { period: report.period, store, tier: query.tier, cohorts: report.cohorts };
    return format === 'csv' ? sendCsv(reply, `cohorts_${query.from}_${query.to}`, cohortsCsv(response)) : response;
  });

  app.get('/analytics/series', { schema: seriesSchema }, async (request, reply) => {
    const { query, format, store } = await parseQuery(request.query, requireKey(request), request.headers.accept);
    const report: SeriesReport = await computeSeriesReport(domain, query);
    const response: SeriesResponse = { period: report.period, store, tier: query.tier, granularity: report.granularity, points: report.points };
    return format === 'csv' ? sendCsv(reply, `series_${query.from}_${query.to}`, seriesCsv(response)) : response;
  });

  const campaignsSchema = {
    operationId: 'getAnalyticsCampaigns',
    summary: 'Campaign lift: the latest broadcasts with a control group whose attribution window has passed, newest first',
    description:
      'The table behind the campaign-lift chart of /stats: conversion of the members sent the broadcast against its control group (README "Campaign lift"). Chain-wide: a key bound to a store is refused (403).',
    querystring: campaignsQuerySchema,
    response: {
      200: {
        description: 'The campaigns; with format=csv one line per campaign',
        content: {
          'application/json': { schema: campaignsResponseSchema },
          'text/csv': { schema: z.string().describe(`${CAMPAIGN_COLUMNS.join(',')} (RFC 4180)`) },
        },
      },
      ...problemResponses(['VALIDATION_FAILED', ...COMMON_PROBLEMS, 'FORBIDDEN']),
    },
  };
  app.get('/analytics/campaigns', { schema: campaignsSchema }, async (request, reply) => {
    const key = requireKey(request);
    const campaigns = await recentCampaignLifts(domain, { kind: 'apiKey', apiKeyId: key.id, storeId: key.storeId }, request.query.limit ?? 10);
    if (formatOf(request.query.format, request.headers.accept) === 'csv')
      return sendCsv(reply, 'campaigns', csv([[...CAMPAIGN_COLUMNS], ...campaigns.map((row) => CAMPAIGN_COLUMNS.map((column) => row[column]))]));
    const response: CampaignsResponse = { campaigns };
    return response;
  });
}
