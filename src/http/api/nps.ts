import { z } from 'zod';
import type { Segment } from '../../domain/broadcasts/types.js';
import { daysBetween } from '../../domain/jobs/schedule-rules.js';
import { previewSurveyCampaign, type SurveyCampaignResult, sendSurveyCampaign } from '../../domain/nps/campaign.js';
import { computeNpsReport, MAX_PERIOD_DAYS } from '../../domain/nps/report.js';
import { NPS_GROUPS, type NpsSummary } from '../../domain/nps/score.js';
import type { DomainDeps } from '../../domain/ports.js';
import type { Locale } from '../../domain/program.js';
import { storeInScope } from '../../domain/staff/access.js';
import { requireKey, scopedIdempotencyKey } from './auth.js';
import { segmentSchema } from './broadcasts.js';
import type { ApiScope } from './command.js';
import { BODY_PROBLEMS, COMMON_PROBLEMS, json, problemResponses } from './openapi-doc.js';

/**
 * GET /v1/nps: the NPS report for the CRM, the same numbers marketers read in the bot
 * (src/domain/nps/report.ts). A key bound to a store sees that store only.
 *
 * POST /v1/nps/campaigns: the CRM sends the NPS survey to a segment (src/domain/nps/campaign.ts),
 * as a marketer does in the bot. The Idempotency-Key, scoped to the API key, is the campaign's
 * key: a retry surveys nobody twice (those members are counted as `already`). Only API keys not
 * bound to a store may do it.
 */

const isCalendarDate = (iso: string) => {
  const date = new Date(`${iso}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === iso;
};
const localDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as YYYY-MM-DD')
  .refine(isCalendarDate, 'not a calendar date');

export const npsQuerySchema = z
  .strictObject({
    from: localDate.describe("The first day of the period (inclusive), in the program's time zone"),
    to: localDate.describe(`The last day of the period (inclusive); a period is 1 to ${MAX_PERIOD_DAYS} days`),
    store: z.string().min(1).max(32).optional().describe('A store code: that store only (a key bound to a store sees only its own)'),
  })
  .superRefine((query, ctx) => {
    if (!isCalendarDate(query.from) || !isCalendarDate(query.to)) return;
    const days = daysBetween(query.from, query.to) + 1;
    if (days < 1) ctx.addIssue({ code: 'custom', path: ['to'], message: 'must not be before `from`' });
    else if (days > MAX_PERIOD_DAYS) ctx.addIssue({ code: 'custom', path: ['to'], message: `the period is at most ${MAX_PERIOD_DAYS} days` });
  });

const summarySchema = z.object({
  sent: z.int().describe('Surveys sent in the period'),
  answered: z.int().describe('Of those, answered'),
  responseRate: z.int().nullable().describe('answered / sent, whole percent; null when none were sent'),
  promoters: z.int().describe('Scores 9-10'),
  passives: z.int().describe('Scores 7-8'),
  detractors: z.int().describe('Scores 0-6'),
  nps: z.int().nullable().describe('% promoters - % detractors, a whole number from -100 to 100; null when nobody answered'),
});

export const npsResponseSchema = z.object({
  from: z.string(),
  to: z.string(),
  timezone: z.string().describe("The program's time zone: the days and weeks are local to it"),
  store: z.object({ code: z.string(), name: z.string() }).nullable().describe('The store the report is limited to, if any'),
  overall: summarySchema,
  stores: z.array(
    summarySchema.extend({ storeCode: z.string().nullable().describe('null: surveys not tied to a store (campaigns)'), storeName: z.string().nullable() }),
  ),
  weeks: z.array(summarySchema.extend({ weekStart: z.string().describe('The Monday starting the week') })),
  reasons: z
    .array(z.object({ group: z.enum(NPS_GROUPS), code: z.string(), title: z.string().nullable(), count: z.int() }))
    .describe('Reasons chosen in the follow-up, most common first'),
});

export type NpsResponse = z.infer<typeof npsResponseSchema>;

export const npsCampaignRequestSchema = z
  .strictObject({
    segment: segmentSchema,
    dryRun: z.boolean().optional().describe('true: only count who would be asked and who left out (200); nothing is created or sent. Omitted: false'),
  })
  .meta({ id: 'NpsCampaignRequest' });

/**
 * The campaign key is stored in the surveys' trigger (`campaign:api:<key id>:<Idempotency-Key>`,
 * at most 64 characters after `campaign:`), so this endpoint takes a narrower key than the others.
 */
export const campaignIdempotencyKeySchema = z
  .string({ error: 'the Idempotency-Key header is required' })
  .regex(/^[A-Za-z0-9:_-]{1,48}$/, 'letters, digits, :, _ and -, up to 48 characters (e.g. a UUID)')
  .describe(
    'The campaign key (e.g. a UUID): letters, digits, :, _ and -, up to 48 characters. Members already surveyed under it are not asked again. Keys are scoped to the API key.',
  );

const campaignHeaders = z.looseObject({ 'idempotency-key': campaignIdempotencyKeySchema });

export const npsCampaignResponseSchema = z
  .object({
    dryRun: z.boolean().describe('true: a preview; the counts are what a campaign would do now, nothing was created'),
    skipped: z.enum(['disabled']).nullable().describe('`disabled`: NPS is off in the program, nobody was asked (all counts 0); null otherwise'),
    surveyed: z.int().describe('Members who got the survey now (in a dry run: would get it)'),
    already: z.int().describe("Had this campaign's survey already (a retry with the same Idempotency-Key)"),
    optedOut: z.int().describe('Turned such messages off'),
    unreachable: z.int().describe('Blocked the bot'),
    recentlySurveyed: z.int().describe("Were surveyed within the program's minimum days between surveys"),
  })
  .meta({ id: 'NpsCampaignResponse' });

export type NpsCampaignResponse = z.infer<typeof npsCampaignResponseSchema>;

const campaignResponse = (result: SurveyCampaignResult, dryRun: boolean): NpsCampaignResponse => ({
  dryRun,
  skipped: result.skipped,
  surveyed: result.surveyed,
  already: result.already,
  optedOut: result.optedOut,
  unreachable: result.unreachable,
  recentlySurveyed: result.recentlySurveyed,
});

const summary = (s: NpsSummary) => ({
  sent: s.sent,
  answered: s.answered,
  responseRate: s.responseRate,
  promoters: s.promoters,
  passives: s.passives,
  detractors: s.detractors,
  nps: s.nps,
});

export function registerNpsRoutes(app: ApiScope, options: { domain: DomainDeps; defaultLocale: Locale }): void {
  const { domain } = options;
  const reportSchema = {
    operationId: 'getNps',
    summary: 'NPS for a period: overall, per store and per week, with response rate, counts per group and the most common reasons',
    description: [
      "A survey belongs to the period in which it was sent (days in the program's time zone); the response rate is the share of",
      'those surveys that were answered, and the NPS (% promoters - % detractors, promoters 9-10, passives 7-8, detractors 0-6)',
      `is computed over those answers. A period is 1 to ${MAX_PERIOD_DAYS} days. A key bound to a store sees only that store.`,
    ].join(' '),
    querystring: npsQuerySchema,
    response: {
      200: json(npsResponseSchema, 'The report'),
      ...problemResponses(['VALIDATION_FAILED', ...COMMON_PROBLEMS, 'FORBIDDEN', 'STORE_NOT_FOUND']),
    },
  };
  app.get('/nps', { schema: reportSchema }, async (request) => {
    const query = request.query;
    const key = requireKey(request);
    const store = await storeInScope(domain, key.storeId, query.store);
    const report = await computeNpsReport(domain, { from: query.from, to: query.to }, store?.id ?? null);
    const response: NpsResponse = {
      from: report.period.from,
      to: report.period.to,
      timezone: report.timezone,
      store: report.store ? { code: report.store.code, name: report.store.name } : null,
      overall: summary(report.overall),
      stores: report.stores.map((s) => ({ storeCode: s.code, storeName: s.name, ...summary(s.summary) })),
      weeks: report.weeks.map((w) => ({ weekStart: w.weekStart, ...summary(w.summary) })),
      reasons: report.reasons.map((r) => ({ group: r.group, code: r.code, title: r.title?.[options.defaultLocale] ?? null, count: r.count })),
    };
    return response;
  });

  const campaignSchema = {
    operationId: 'sendNpsCampaign',
    summary: 'Send the NPS survey to a segment of members (a CRM campaign), or count who would get it',
    description: [
      'Each member of the segment gets one survey (the 0-10 question in the bot), unless they opted out of such messages, blocked the bot,',
      "or were surveyed within the program's minimum days between surveys; each member is counted once, in the first of those that applies.",
      'The Idempotency-Key is the campaign: members surveyed under it before are counted as `already` and not asked again, so a retry',
      '(or a repeat to a wider segment) surveys nobody twice. The messages go out through the delivery queue, quiet hours applying.',
      'With `dryRun: true` nothing is created (200). When NPS is off in the program the answer is still 201 (200 for a dry run),',
      "with `skipped: 'disabled'` and all counts 0. Only API keys not bound to a store may send campaigns.",
    ].join(' '),
    headers: campaignHeaders,
    body: npsCampaignRequestSchema,
    response: {
      201: json(npsCampaignResponseSchema, "The campaign ran: the counts of this run (`skipped: 'disabled'` when NPS is off)"),
      200: json(npsCampaignResponseSchema, 'A dry run: what a campaign under this Idempotency-Key would do now; nothing was created'),
      ...problemResponses([...BODY_PROBLEMS, 'SEGMENT_INVALID', ...COMMON_PROBLEMS, 'FORBIDDEN']),
    },
  };
  app.post('/nps/campaigns', { bodyLimit: 16 * 1024, schema: campaignSchema }, async (request, reply) => {
    const apiKey = requireKey(request);
    const by = { kind: 'apiKey', apiKeyId: apiKey.id, storeId: apiKey.storeId } as const;
    const input = { segment: request.body.segment as Segment, key: scopedIdempotencyKey(apiKey, request.headers['idempotency-key']) };
    const dryRun = request.body.dryRun === true;
    const result = dryRun ? await previewSurveyCampaign(domain, by, input) : await sendSurveyCampaign(domain, by, input);
    return reply.code(dryRun ? 200 : 201).send(campaignResponse(result, dryRun));
  });
}
