import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { BroadcastAuthor } from '../../domain/broadcasts/access.js';
import { createBroadcast } from '../../domain/broadcasts/create-broadcast.js';
import { MAX_CONTROL_PERCENT } from '../../domain/broadcasts/experiment.js';
import { segmentSchema } from '../../domain/broadcasts/segment-schema.js';
import { type BroadcastView, getBroadcast } from '../../domain/broadcasts/view-broadcasts.js';
import type { DomainDeps } from '../../domain/ports.js';
import { zonedTimeToUtc } from '../../domain/time.js';
import { requireKey, scopedIdempotencyKey } from './auth.js';
import { type ApiScope, idempotencyHeaders } from './command.js';
import { BODY_PROBLEMS, COMMON_PROBLEMS, json, problemResponses, REPLAYED_HEADER } from './openapi-doc.js';
import { validationProblem } from './problems.js';

/**
 * Broadcasts for the CRM: `POST /v1/broadcasts` creates one (now or at `scheduledAt`) for a
 * segment in the same language as the bot's, `GET /v1/broadcasts/{id}` follows it. Only API keys
 * not bound to a store may use them (a till's key gets 403).
 */

const ENTITY_TYPES = [
  'mention',
  'hashtag',
  'cashtag',
  'bot_command',
  'url',
  'email',
  'phone_number',
  'bold',
  'italic',
  'underline',
  'strikethrough',
  'spoiler',
  'blockquote',
  'expandable_blockquote',
  'code',
  'pre',
  'text_link',
  'custom_emoji',
] as const;

const entitySchema = z.strictObject({
  type: z.enum(ENTITY_TYPES),
  offset: z.int().nonnegative().describe('In UTF-16 code units, as Telegram counts'),
  length: z.int().positive(),
  url: z.string().max(2048).optional().describe('For text_link'),
  language: z.string().max(64).optional().describe('For pre'),
  custom_emoji_id: z.string().max(64).optional().describe('For custom_emoji'),
});

// The segment is declared once, in the domain (with its OpenAPI descriptions); /v1/nps/campaigns takes it too.
export { segmentSchema };

const localOrInstant = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::\d{2}(?:\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?$/;

export const broadcastRequestSchema = z
  .strictObject({
    text: z.string().min(1).max(4096).describe('The message text, sent as is (no markup is parsed)'),
    entities: z.array(entitySchema).max(100).optional().describe('Formatting as Telegram MessageEntity objects over `text`; omitted: plain text'),
    button: z
      .strictObject({
        text: z.string().min(1).max(64),
        url: z.string().min(1).max(2048).describe('An https URL, or a bot deep link such as https://t.me/<bot>?start=rewards'),
      })
      .optional()
      .describe('An inline URL button under the message'),
    segment: segmentSchema.default({}),
    offerRewardCode: z
      .string()
      .regex(/^[a-z0-9_-]{1,32}$/, 'a reward code: lower-case letters, digits, _ and -, up to 32 characters')
      .optional()
      .describe(
        'A personal offer: the code of an active catalogue reward. Each recipient gets their own free coupon of it (issued when their copy is sent, once per member), its code on a line at the end of the message; the text may then be at most 3936 characters. A member reached after the reward was paused or ran out of stock gets the message without a coupon (counted in `offer.withoutCoupon`)',
      ),
    controlPercent: z
      .int()
      .min(0)
      .max(MAX_CONTROL_PERCENT)
      .optional()
      .describe(
        "Percent of the matching members who would receive it that are held back as a control group: they get nothing, and the lift report compares them with those who got it. Omitted: the program's default (10). 0: no control group",
      ),
    variantB: z
      .strictObject({
        text: z.string().min(1).max(4096),
        entities: z.array(entitySchema).max(100).optional(),
        button: z.strictObject({ text: z.string().min(1).max(64), url: z.string().min(1).max(2048) }).optional(),
      })
      .optional()
      .describe('A second message for an A/B test: half of the members who are sent the broadcast (chosen by a fixed hash) get this one instead'),
    scheduledAt: z
      .string()
      .regex(localOrInstant, 'an ISO 8601 date-time such as 2026-12-01T10:00 (program time zone) or 2026-12-01T07:00:00Z')
      .optional()
      .describe("When to send it; omitted: now. Without an offset it is local time in the program's time zone. Times in the quiet hours move to their end"),
  })
  .meta({ id: 'BroadcastRequest' });

const countsSchema = z.object({
  pending: z.int(),
  sent: z.int(),
  blocked: z.int().describe('Blocked the bot (known when the list was resolved, or answered 403)'),
  failed: z.int(),
  skipped: z.int().describe('Opted out of offers'),
  cancelled: z.int().describe('Not sent because the broadcast was cancelled'),
});

const comparisonSchema = z
  .object({
    treated: z.number().describe('The first group: the members sent the broadcast (or variant A)'),
    control: z.number().describe('The second group: the control group (or variant B)'),
    absolute: z.number().describe('treated - control'),
    relative: z.number().nullable().describe('absolute / control; null when control is 0'),
    ciLow: z.number().nullable().describe('95 % confidence interval of `absolute`; null when the sample is too small'),
    ciHigh: z.number().nullable(),
    pValue: z.number().nullable().describe('Two-sided; null when the sample is too small'),
    significant: z.boolean().describe('p < 0.05'),
    tooSmall: z
      .boolean()
      .describe('Rates: fewer than 5 expected successes or failures in a group (at the pooled rate). Revenue: fewer than 2 members in a group'),
  })
  .describe('One metric, the first group against the second');

const liftComparisonSchema = z.object({
  treatedMembers: z.int(),
  controlMembers: z.int(),
  conversion: comparisonSchema.describe('Share of members with a purchase in their window, as a fraction (two-proportion z-test)'),
  revenuePerMember: comparisonSchema.describe("Revenue per member in the window, net of returns, in minor units (Welch's t-test)"),
  redemption: comparisonSchema.describe('Share of members who redeemed a coupon in their window, as a fraction (two-proportion z-test)'),
});

const liftSchema = z
  .object({
    attributionDays: z.int().describe("A purchase counts within this many days of the member's delivery (the control group: of the broadcast's start)"),
    sentVsControl: liftComparisonSchema
      .nullable()
      .describe('Members sent the broadcast (both variants) against the control group; null without a control group'),
    ab: liftComparisonSchema
      .extend({ winner: z.enum(['A', 'B']).nullable().describe('Named only when conversion differs at p < 0.05') })
      .nullable()
      .describe('Variant A against variant B; null without a variant B'),
  })
  .nullable()
  .describe('The lift report: null until the attribution window has passed for every copy (and for a broadcast without a control group or variant B)');

export const broadcastResponseSchema = z
  .object({
    id: z.int(),
    status: z.enum(['SCHEDULED', 'SENDING', 'DONE', 'CANCELLED']),
    paid: z.boolean().describe('Sent as a paid broadcast (allow_paid_broadcast)'),
    scheduledAt: z.string().describe('When it starts or started (ISO 8601, UTC)'),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    cancelledAt: z.string().nullable(),
    audience: z.int().describe('Members in the delivery list, including those left out as opted out or blocked; 0 until it starts'),
    counts: countsSchema,
    durationMs: z.int().nullable().describe('From start to finish (or now, while it runs)'),
    offer: z
      .object({
        rewardCode: z.string(),
        withCoupon: z.int().describe('Copies sent with their coupon'),
        withoutCoupon: z.int().describe('Copies sent without a coupon: the reward was paused or out of stock by then'),
      })
      .nullable()
      .describe('The personal offer, when the broadcast carries one; null otherwise'),
    controlPercent: z.int().describe('Percent of the recipients held back as the control group'),
    abTest: z.boolean().describe('The broadcast carries a variant B'),
    experiment: z
      .object({
        control: z.int().describe('Members held back (sent nothing)'),
        variantA: z.int().describe('Delivery rows of variant A (all of them without a variant B)'),
        variantB: z.int(),
      })
      .nullable()
      .describe('The groups, once it has started; null before'),
    lift: liftSchema,
  })
  .meta({ id: 'BroadcastResponse' });

export const broadcastParamsSchema = z.strictObject({ id: z.coerce.number().int().positive().max(2_147_483_647) });

export type BroadcastResponse = z.infer<typeof broadcastResponseSchema>;

function toResponse(view: BroadcastView): BroadcastResponse {
  const { broadcast } = view;
  return {
    id: broadcast.id,
    status: broadcast.status,
    paid: broadcast.paid,
    scheduledAt: broadcast.scheduledAt.toISOString(),
    startedAt: broadcast.startedAt?.toISOString() ?? null,
    finishedAt: broadcast.finishedAt?.toISOString() ?? null,
    cancelledAt: broadcast.cancelledAt?.toISOString() ?? null,
    audience: broadcast.audience,
    counts: view.counts,
    durationMs: view.durationMs,
    offer: broadcast.offerRewardCode && view.offer ? { rewardCode: broadcast.offerRewardCode, ...view.offer } : null,
    controlPercent: broadcast.controlPercent,
    abTest: broadcast.variantB !== null,
    experiment: view.experiment ? { control: view.experiment.control, variantA: view.experiment.variantA, variantB: view.experiment.variantB } : null,
    lift: view.lift ? { attributionDays: view.lift.attributionDays, sentVsControl: view.lift.sentVsControl, ab: view.lift.ab } : null,
  };
}

function parseScheduledAt(value: string | undefined, timeZone: string): Date | null {
  if (value === undefined) return null;
  const match = localOrInstant.exec(value) as RegExpExecArray;
  if (match[6]) {
    const at = new Date(value);
    if (Number.isNaN(at.getTime())) throw validationProblem([{ field: 'scheduledAt', message: 'not a valid date-time' }]);
    return at;
  }
  const [year, month, day, hour, minute] = match.slice(1, 6).map(Number) as [number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || new Date(Date.UTC(year, month - 1, day)).getUTCDate() !== day) {
    throw validationProblem([{ field: 'scheduledAt', message: 'not a valid date-time' }]);
  }
  return zonedTimeToUtc({ year, month, day, hour, minute }, timeZone);
}

function authorOf(request: FastifyRequest): BroadcastAuthor {
  const key = requireKey(request);
  return { kind: 'apiKey', apiKeyId: key.id, storeId: key.storeId };
}

/** The routes, registered in the API's authenticated scope (see plugin.ts). */
export function registerBroadcastRoutes(app: ApiScope, domain: DomainDeps): void {
  const createSchema = {
    operationId: 'createBroadcast',
    summary: 'Send a message to a segment of members, now or at a time (CRM campaigns)',
    description:
      'The audience is resolved once when it starts; each member gets it at most once. Delivery honours Telegram limits, so a large audience takes a while: follow it with GET /v1/broadcasts/{id}.',
    headers: idempotencyHeaders,
    body: broadcastRequestSchema,
    response: {
      201: json(broadcastResponseSchema, 'The broadcast was created (and started, when due)'),
      200: { ...json(broadcastResponseSchema, 'A retry: created under this Idempotency-Key before; nothing was created now'), headers: REPLAYED_HEADER },
      ...problemResponses([
        ...BODY_PROBLEMS,
        'BROADCAST_INVALID',
        'SEGMENT_INVALID',
        'SCHEDULE_INVALID',
        ...COMMON_PROBLEMS,
        'FORBIDDEN',
        'IDEMPOTENCY_CONFLICT',
      ]),
    },
  };
  app.post('/broadcasts', { bodyLimit: 64 * 1024, schema: createSchema }, async (request, reply) => {
    const input = request.body;
    const author = authorOf(request);
    const result = await createBroadcast(domain, author, {
      content: { text: input.text, entities: input.entities ?? [], photoFileId: null, button: input.button ?? null },
      segment: input.segment,
      scheduledAt: parseScheduledAt(input.scheduledAt, domain.program.timezone),
      idempotencyKey: scopedIdempotencyKey(requireKey(request), request.headers['idempotency-key']),
      offerRewardCode: input.offerRewardCode ?? null,
      ...(input.controlPercent !== undefined ? { controlPercent: input.controlPercent } : {}),
      variantB: input.variantB
        ? { text: input.variantB.text, entities: input.variantB.entities ?? [], photoFileId: null, button: input.variantB.button ?? null }
        : null,
    });
    const view = await getBroadcast(domain, author, result.broadcast.id);
    if (result.replayed) reply.header('idempotent-replayed', 'true');
    return reply.code(result.replayed ? 200 : 201).send(toResponse(view));
  });

  const getSchema = {
    operationId: 'getBroadcast',
    summary: 'Status, delivery counts and, after the attribution window, the lift against the control group',
    params: broadcastParamsSchema,
    response: {
      200: json(broadcastResponseSchema, 'The broadcast'),
      ...problemResponses(['VALIDATION_FAILED', ...COMMON_PROBLEMS, 'FORBIDDEN', 'BROADCAST_NOT_FOUND']),
    },
  };
  app.get('/broadcasts/:id', { schema: getSchema }, async (request) => toResponse(await getBroadcast(domain, authorOf(request), request.params.id)));
}
