import { z } from 'zod';
import { analyticsPaths, cohortResponseSchema, kpiResponseSchema } from './analytics.js';
import { broadcastPaths, broadcastRequestSchema, broadcastResponseSchema } from './broadcasts.js';
import { npsCampaignRequestSchema, npsCampaignResponseSchema, npsPaths, npsResponseSchema } from './nps.js';
import { PROBLEMS, type ProblemCode, problemSchema } from './problems.js';
import { receiptPaths, receiptRequestSchema, receiptResponseSchema } from './receipts.js';
import {
  couponRedeemRequestSchema,
  couponResponseSchema,
  idempotencyKeySchema,
  memberResponseSchema,
  purchaseRequestSchema,
  purchaseResponseSchema,
  quoteRequestSchema,
  quoteResponseSchema,
  returnRequestSchema,
  returnResponseSchema,
  spendRequestCreateSchema,
  spendRequestResponseSchema,
} from './schemas.js';

/**
 * The OpenAPI 3.1 description of the till/CRM API. Component schemas are generated from the same
 * zod schemas that validate requests (OpenAPI 3.1 uses JSON Schema 2020-12, zod's default target),
 * so the document cannot drift from what the server accepts; paths and responses are written here.
 */

type JsonObject = Record<string, unknown>;

function componentSchemas(): Record<string, JsonObject> {
  const schemas: Record<string, JsonObject> = {};
  const add = (id: string, schema: z.ZodType, io: 'input' | 'output') => {
    const registry = z.registry<{ id: string }>();
    registry.add(schema, { id });
    const generated = z.toJSONSchema(registry, { io, uri: (ref) => `#/components/schemas/${ref}` }).schemas[id] as JsonObject;
    const { $schema: _schema, $id: _id, ...rest } = generated;
    schemas[id] = rest;
  };
  add('PurchaseRequest', purchaseRequestSchema, 'input');
  add('PurchaseResponse', purchaseResponseSchema, 'output');
  add('QuoteRequest', quoteRequestSchema, 'input');
  add('QuoteResponse', quoteResponseSchema, 'output');
  add('ReturnRequest', returnRequestSchema, 'input');
  add('ReturnResponse', returnResponseSchema, 'output');
  add('MemberResponse', memberResponseSchema, 'output');
  add('SpendRequestCreate', spendRequestCreateSchema, 'input');
  add('SpendRequestResponse', spendRequestResponseSchema, 'output');
  add('CouponRedeemRequest', couponRedeemRequestSchema, 'input');
  add('CouponResponse', couponResponseSchema, 'output');
  add('BroadcastRequest', broadcastRequestSchema, 'input');
  add('BroadcastResponse', broadcastResponseSchema, 'output');
  add('NpsResponse', npsResponseSchema, 'output');
  add('NpsCampaignRequest', npsCampaignRequestSchema, 'input');
  add('NpsCampaignResponse', npsCampaignResponseSchema, 'output');
  add('ReceiptRequest', receiptRequestSchema, 'input');
  add('ReceiptResponse', receiptResponseSchema, 'output');
  add('KpiResponse', kpiResponseSchema, 'output');
  add('CohortResponse', cohortResponseSchema, 'output');
  add('Problem', problemSchema, 'output');
  return schemas;
}

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });

/** A problem response listing the codes that produce it on this endpoint. */
function problem(codes: ProblemCode[], headers?: JsonObject): JsonObject {
  return {
    description: codes.map((code) => `\`${code}\`: ${PROBLEMS[code].title}`).join('; '),
    ...(headers ? { headers } : {}),
    content: { 'application/problem+json': { schema: ref('Problem') } },
  };
}

function problemsByStatus(codes: ProblemCode[]): Record<string, JsonObject> {
  const byStatus = new Map<number, ProblemCode[]>();
  for (const code of codes) byStatus.set(PROBLEMS[code].status, [...(byStatus.get(PROBLEMS[code].status) ?? []), code]);
  const responses: Record<string, JsonObject> = {};
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[String(status)] =
      status === 429
        ? problem(list, { 'Retry-After': { description: 'Seconds until the key may send again', schema: { type: 'integer', minimum: 1 } } })
        : status === 503
          ? problem(list, {
              'Retry-After': {
                description: 'Seconds after which a retry (with the same Idempotency-Key) may succeed',
                schema: { type: 'integer', minimum: 1 },
              },
            })
          : status === 401
            ? problem(list, { 'WWW-Authenticate': { schema: { type: 'string' } } })
            : problem(list);
  }
  return responses;
}

const common: ProblemCode[] = ['UNAUTHORIZED', 'RATE_LIMITED', 'INTERNAL', 'SERVICE_UNAVAILABLE'];
const bodyErrors: ProblemCode[] = ['VALIDATION_FAILED', 'MALFORMED_JSON', 'UNSUPPORTED_MEDIA_TYPE', 'PAYLOAD_TOO_LARGE'];

const idempotencyKeyParameter = {
  name: 'Idempotency-Key',
  in: 'header',
  required: true,
  description: `${idempotencyKeySchema.description ?? ''}. Keys are scoped to the API key.`,
  schema: { type: 'string', minLength: 1, maxLength: 200 },
};

const couponCodeParameter = {
  name: 'code',
  in: 'path',
  required: true,
  description: 'The coupon code as printed or scanned (12 characters; any case, spaces and dashes allowed)',
  schema: { type: 'string', minLength: 1, maxLength: 32 },
};

const replayedHeader = {
  'Idempotent-Replayed': {
    description: 'Present (`true`) when the answer is the stored result of an earlier request',
    schema: { type: 'string', enum: ['true'] },
  },
};

export function buildOpenApiDocument(options: { rateLimit: { limit: number; windowSeconds: number } }): JsonObject {
  const recorded = (schema: string, what: string) => ({
    '201': { description: `The ${what} was recorded`, content: { 'application/json': { schema: ref(schema) } } },
    '200': {
      description: `A retry: the ${what} had been recorded under this Idempotency-Key (or receipt) before; nothing was written now`,
      headers: replayedHeader,
      content: { 'application/json': { schema: ref(schema) } },
    },
  });
  return {
    openapi: '3.1.0',
    info: {
      title: 'Loyalty program till/CRM API',
      version: '1.0.0',
      description: [
        'Accrue and spend points for purchases, reverse them for returns, look up members, and look up and redeem coupons.',
        'Money is in minor units (integers). Errors are RFC 9457 problem details with a stable `code`.',
        [
          "Spending points needs the member's proof of presence: knowing a card code is not enough. Either",
          "(1) `spendCode`: the one-time 6-digit code on the member's Card screen in the bot (valid 2 minutes, used once; 5 wrong codes within 10 minutes lock the member's spending for 15 minutes), or",
          '(2) `spendRequestId`: create a request with POST /v1/spend-requests (the member is asked "Pay N points at <store>?" in the chat), poll GET /v1/spend-requests/{id} until `approved`, then record the purchase with exactly those points at that store (used once, within 5 minutes).',
          'Earning needs neither. Purchases, returns and spend requests on the card of the admin who created the API key are refused (403 OWN_CARD).',
        ].join(' '),
        `Each API key may send ${options.rateLimit.limit} requests per ${options.rateLimit.windowSeconds} s; over that the answer is 429 with Retry-After.`,
      ].join('\n\n'),
    },
    servers: [{ url: '/' }],
    security: [{ bearerAuth: [] }, { apiKeyHeader: [] }],
    paths: {
      '/v1/purchases': {
        post: {
          operationId: 'recordPurchase',
          summary: 'Record a purchase: spend points on part of the bill and earn points on the rest',
          description:
            "`pointsToSpend` above 0 needs `spendCode` or an approved `spendRequestId` (422 SPEND_PROOF_REQUIRED names the field `spendCode`); a wrong code is 422 SPEND_CODE_INVALID with `details.attemptsLeft`, and after too many the member's spending is locked (429 SPENDING_LOCKED with Retry-After). A retry with the same Idempotency-Key answers the first result without a new proof.",
          parameters: [idempotencyKeyParameter],
          requestBody: { required: true, content: { 'application/json': { schema: ref('PurchaseRequest') } } },
          responses: {
            ...recorded('PurchaseResponse', 'purchase'),
            ...problemsByStatus([
              ...bodyErrors,
              'AMOUNT_INVALID',
              'RECEIPT_INVALID',
              'MEMBER_CODE_INVALID',
              'PHONE_INVALID',
              ...common,
              'FORBIDDEN',
              'MEMBER_NOT_FOUND',
              'STORE_NOT_FOUND',
              'IDEMPOTENCY_CONFLICT',
              'RECEIPT_DUPLICATE',
              'INSUFFICIENT_POINTS',
              'POINTS_OVER_CAP',
              'SPEND_PROOF_REQUIRED',
              'SPEND_CODE_INVALID',
              'SPEND_REQUEST_NOT_FOUND',
              'SPEND_REQUEST_INVALID',
              'SPENDING_LOCKED',
              'OWN_CARD',
            ]),
          },
        },
      },
      '/v1/purchases/quote': {
        post: {
          operationId: 'quotePurchase',
          summary: "What a purchase would book now: the member's tier discount, the points cap, the money due and the points to earn",
          description:
            "Writes nothing and spends nothing: no Idempotency-Key and no spend proof. The discount is the tier percent of the bill rounded down to a minor unit; at most `points.maxBillSharePercent` of the bill after the discount may be paid with points; points are earned on the money paid. POST /v1/purchases with the same member, bill and points books exactly these figures unless the member's tier or balance changes meanwhile.",
          requestBody: { required: true, content: { 'application/json': { schema: ref('QuoteRequest') } } },
          responses: {
            '200': { description: 'The quote', content: { 'application/json': { schema: ref('QuoteResponse') } } },
            ...problemsByStatus([
              ...bodyErrors,
              'AMOUNT_INVALID',
              'MEMBER_CODE_INVALID',
              'PHONE_INVALID',
              ...common,
              'FORBIDDEN',
              'OWN_CARD',
              'MEMBER_NOT_FOUND',
              'STORE_NOT_FOUND',
              'INSUFFICIENT_POINTS',
              'POINTS_OVER_CAP',
            ]),
          },
        },
      },
      '/v1/spend-requests': {
        post: {
          operationId: 'createSpendRequest',
          summary: 'Ask the member to approve paying points in the chat ("Pay N points at <store>? Yes / No")',
          description:
            'Poll GET /v1/spend-requests/{id}; once `approved`, pass the id as `spendRequestId` to POST /v1/purchases with exactly these points at this store.',
          requestBody: { required: true, content: { 'application/json': { schema: ref('SpendRequestCreate') } } },
          responses: {
            '201': { description: 'The member has been asked', content: { 'application/json': { schema: ref('SpendRequestResponse') } } },
            ...problemsByStatus([
              ...bodyErrors,
              'AMOUNT_INVALID',
              'MEMBER_CODE_INVALID',
              'PHONE_INVALID',
              ...common,
              'FORBIDDEN',
              'OWN_CARD',
              'MEMBER_NOT_FOUND',
              'STORE_NOT_FOUND',
              'INSUFFICIENT_POINTS',
            ]),
          },
        },
      },
      '/v1/spend-requests/{id}': {
        get: {
          operationId: 'getSpendRequest',
          summary: "A spend request's state: pending, approved, declined, expired or used (only the API key that created it sees it)",
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', minLength: 1, maxLength: 32 } }],
          responses: {
            '200': { description: 'The request', content: { 'application/json': { schema: ref('SpendRequestResponse') } } },
            ...problemsByStatus(['VALIDATION_FAILED', ...common, 'SPEND_REQUEST_NOT_FOUND']),
          },
        },
      },
      '/v1/returns': {
        post: {
          operationId: 'recordReturn',
          summary: 'Record a full or partial return of a purchase',
          parameters: [idempotencyKeyParameter],
          requestBody: { required: true, content: { 'application/json': { schema: ref('ReturnRequest') } } },
          responses: {
            ...recorded('ReturnResponse', 'return'),
            ...problemsByStatus([
              ...bodyErrors,
              'AMOUNT_INVALID',
              'RECEIPT_INVALID',
              ...common,
              'FORBIDDEN',
              'STORE_NOT_FOUND',
              'PURCHASE_NOT_FOUND',
              'IDEMPOTENCY_CONFLICT',
              'RETURN_EXCEEDS_PURCHASE',
              'OWN_CARD',
            ]),
          },
        },
      },
      '/v1/members/{memberCode}': {
        get: {
          operationId: 'getMember',
          summary: 'Look up a member by card code: first name, tier and balance (what a till shows)',
          parameters: [
            {
              name: 'memberCode',
              in: 'path',
              required: true,
              description: 'The card code (any case, dashes allowed). Phone numbers are not accepted in URLs.',
              schema: { type: 'string', minLength: 1, maxLength: 32 },
            },
          ],
          responses: {
            '200': { description: 'The member', content: { 'application/json': { schema: ref('MemberResponse') } } },
            ...problemsByStatus(['MEMBER_CODE_INVALID', ...common, 'MEMBER_NOT_FOUND']),
          },
        },
      },
      '/v1/coupons/{code}': {
        get: {
          operationId: 'getCoupon',
          summary: 'Look up a coupon by its code: reward, first name of its owner, status, expiry',
          description:
            'Unknown codes count towards a brute-force guard per API key: after a few within minutes the key must wait (429 TOO_MANY_ATTEMPTS with Retry-After).',
          parameters: [couponCodeParameter],
          responses: {
            '200': { description: 'The coupon, whatever its status', content: { 'application/json': { schema: ref('CouponResponse') } } },
            ...problemsByStatus(['COUPON_CODE_INVALID', ...common, 'COUPON_NOT_FOUND', 'TOO_MANY_ATTEMPTS']),
          },
        },
      },
      '/v1/coupons/{code}/redeem': {
        post: {
          operationId: 'redeemCoupon',
          summary: 'Redeem a coupon: ISSUED -> REDEEMED once, recording the store and the time; the customer is told',
          description:
            'Of any number of concurrent redemptions exactly one succeeds; the others get 409 ALREADY_REDEEMED with `details.redeemedAt` and `details.storeName`. An expired coupon is 422 COUPON_EXPIRED (`details.expiresAt`), a cancelled one 422 COUPON_CANCELLED (`details.cancelledAt`).',
          parameters: [couponCodeParameter, idempotencyKeyParameter],
          requestBody: { required: false, content: { 'application/json': { schema: ref('CouponRedeemRequest') } } },
          responses: {
            '201': { description: 'The coupon was redeemed now', content: { 'application/json': { schema: ref('CouponResponse') } } },
            '200': {
              description: 'A retry: this API key had redeemed the coupon under this Idempotency-Key before; nothing was written now',
              headers: replayedHeader,
              content: { 'application/json': { schema: ref('CouponResponse') } },
            },
            ...problemsByStatus([
              ...bodyErrors,
              'COUPON_CODE_INVALID',
              ...common,
              'FORBIDDEN',
              'STORE_NOT_FOUND',
              'COUPON_NOT_FOUND',
              'ALREADY_REDEEMED',
              'COUPON_EXPIRED',
              'COUPON_CANCELLED',
              'TOO_MANY_ATTEMPTS',
            ]),
          },
        },
      },
      ...broadcastPaths({ ref, problemsByStatus, idempotencyKeyParameter, replayedHeader, common, bodyErrors }),
      ...npsPaths({ ref, problemsByStatus, common, bodyErrors }),
      ...receiptPaths({ ref, problemsByStatus, idempotencyKeyParameter, replayedHeader, common, bodyErrors }),
      ...analyticsPaths({ ref, problemsByStatus, common }),
      '/v1/openapi.json': {
        get: {
          operationId: 'getOpenApi',
          summary: 'This document',
          security: [],
          responses: { '200': { description: 'The OpenAPI 3.1 document', content: { 'application/json': { schema: { type: 'object' } } } } },
        },
      },
    },
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key issued by an admin in the bot: `Authorization: Bearer lk_...`' },
        apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-Api-Key', description: 'The same key in an X-Api-Key header' },
      },
      schemas: componentSchemas(),
    },
  };
}
