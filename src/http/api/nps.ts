import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { DomainError } from '../../domain/errors.js';
import { daysBetween } from '../../domain/jobs/schedule-rules.js';
import { computeNpsReport, MAX_PERIOD_DAYS } from '../../domain/nps/report.js';
import { NPS_GROUPS, type NpsSummary } from '../../domain/nps/score.js';
import type { DomainDeps } from '../../domain/ports.js';
import type { Locale } from '../../domain/program.js';
import { requireKey } from './auth.js';
import { fieldErrors, type ProblemCode, validationProblem } from './problems.js';

/**
 * GET /v1/nps: the NPS report for the CRM, the same numbers marketers read in the bot
 * (src/domain/nps/report.ts). A key bound to a store sees that store only.
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
    to: localDate.describe('The last day of the period (inclusive)'),
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

const summary = (s: NpsSummary) => ({
  sent: s.sent,
  answered: s.answered,
  responseRate: s.responseRate,
  promoters: s.promoters,
  passives: s.passives,
  detractors: s.detractors,
  nps: s.nps,
});

export function registerNpsRoutes(app: FastifyInstance, options: { domain: DomainDeps; defaultLocale: Locale }): void {
  const { domain } = options;
  app.get('/nps', async (request) => {
    const parsed = npsQuerySchema.safeParse(request.query);
    if (!parsed.success) throw validationProblem(fieldErrors(parsed.error, 'query'));
    const query = parsed.data;
    const key = requireKey(request);
    let storeId: number | null = null;
    if (key.storeId !== null) {
      const own = await domain.repos.stores.findById(key.storeId);
      if (!own) throw new DomainError('STORE_NOT_FOUND', { field: 'store' });
      if (query.store !== undefined && query.store !== own.code) throw new DomainError('FORBIDDEN', { reason: 'the API key is bound to another store' });
      storeId = own.id;
    } else if (query.store !== undefined) {
      const store = await domain.repos.stores.findByCode(query.store);
      if (!store) throw new DomainError('STORE_NOT_FOUND', { field: 'store' });
      storeId = store.id;
    }
    const report = await computeNpsReport(domain, { from: query.from, to: query.to }, storeId);
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
}

/** The OpenAPI description of GET /v1/nps (schemas: NpsResponse, from npsResponseSchema). */
export function npsPaths(helpers: {
  ref: (id: string) => Record<string, unknown>;
  problemsByStatus: (codes: ProblemCode[]) => Record<string, unknown>;
  common: ProblemCode[];
}): Record<string, unknown> {
  const { ref, problemsByStatus, common } = helpers;
  const dateParameter = (name: 'from' | 'to', description: string) => ({
    name,
    in: 'query',
    required: true,
    description,
    schema: { type: 'string', format: 'date', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
  });
  return {
    '/v1/nps': {
      get: {
        operationId: 'getNps',
        summary: 'NPS for a period: overall, per store and per week, with response rate, counts per group and the most common reasons',
        description: [
          "A survey belongs to the period in which it was sent (days in the program's time zone); the response rate is the share of",
          'those surveys that were answered, and the NPS (% promoters - % detractors, promoters 9-10, passives 7-8, detractors 0-6)',
          `is computed over those answers. A period is 1 to ${MAX_PERIOD_DAYS} days. A key bound to a store sees only that store.`,
        ].join(' '),
        parameters: [
          dateParameter('from', 'The first day (inclusive), YYYY-MM-DD'),
          dateParameter('to', 'The last day (inclusive), YYYY-MM-DD'),
          {
            name: 'store',
            in: 'query',
            required: false,
            description: 'A store code: that store only',
            schema: { type: 'string', minLength: 1, maxLength: 32 },
          },
        ],
        responses: {
          '200': { description: 'The report', content: { 'application/json': { schema: ref('NpsResponse') } } },
          ...problemsByStatus(['VALIDATION_FAILED', ...common, 'FORBIDDEN', 'STORE_NOT_FOUND']),
        },
      },
    },
  };
}
