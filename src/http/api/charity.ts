import { z } from 'zod';
import { charityCsv, charityReport, isMonth, previousMonth } from '../../domain/charity/report.js';
import { DomainError } from '../../domain/errors.js';
import type { DomainDeps } from '../../domain/ports.js';
import { requireKey } from './auth.js';
import { type ApiScope, prefersCsv } from './command.js';
import { COMMON_PROBLEMS, problemResponses } from './openapi-doc.js';

/**
 * GET /v1/charity/donations?month=YYYY-MM: a month's donations per cause (points, money, donors)
 * for ops and the accountant who transfers the money; `Accept: text/csv` for the transfer sheet
 * (the same CSV the admins get with /charity). Chain-wide figures: a key bound to a store is
 * refused. No person appears in it, only counts.
 */

export const charityQuerySchema = z.strictObject({
  month: z.string().refine(isMonth, 'a month as YYYY-MM').optional().describe("The calendar month in the program's time zone (default: last month)"),
});

const total = {
  points: z.int(),
  valueMinor: z.int().describe('Minor units: points x points.pointValueMinor when given'),
  donors: z.int().describe('Distinct members'),
  donations: z.int(),
};

export const charityResponseSchema = z
  .object({
    month: z.string(),
    currency: z.string(),
    causes: z.array(
      z.object({
        causeCode: z.string(),
        name: z.object({ ru: z.string(), en: z.string() }).describe("The cause's name in the program file now (its code when it was removed)"),
        ...total,
      }),
    ),
    overall: z.object(total),
  })
  .meta({ id: 'CharityResponse' });
export type CharityResponse = z.infer<typeof charityResponseSchema>;

export function registerCharityRoutes(app: ApiScope, options: { domain: DomainDeps }): void {
  const { domain } = options;
  const schema = {
    operationId: 'getCharityDonations',
    summary: "A month's donations of points per cause and overall: points, money (minor units), donors",
    description:
      'Money = points x points.pointValueMinor at the time of each donation. `Accept: text/csv` returns the transfer sheet (month,cause_code,cause_name,url,points,amount,currency,donors,donations; amount as a decimal). Keys bound to a store are refused (403).',
    querystring: charityQuerySchema,
    response: {
      200: {
        description: 'The totals',
        content: {
          'application/json': { schema: charityResponseSchema },
          'text/csv': { schema: z.string().describe('RFC 4180 lines') },
        },
      },
      ...problemResponses(['VALIDATION_FAILED', ...COMMON_PROBLEMS, 'FORBIDDEN']),
    },
  };
  app.get('/charity/donations', { schema }, async (request, reply) => {
    if (requireKey(request).storeId !== null) throw new DomainError('FORBIDDEN', { reason: 'chain-wide figures: use a key not bound to a store' });
    const month = request.query.month ?? previousMonth(domain.clock.now(), domain.program.timezone);
    const report = await charityReport(domain, month);
    if (prefersCsv(request.headers.accept)) {
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="charity-${month}.csv"`)
        .send(charityCsv(domain.program, report));
    }
    const names = (code: string) => domain.program.charity?.causes.find((cause) => cause.code === code)?.name ?? { ru: code, en: code };
    const response: CharityResponse = {
      month: report.month,
      currency: report.currency,
      causes: report.causes.map((cause) => ({ ...cause, name: names(cause.causeCode) })),
      overall: report.overall,
    };
    return response;
  });
}
