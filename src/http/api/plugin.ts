import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { isMemberCode, normalizeCode } from '../../domain/codes.js';
import { DomainError } from '../../domain/errors.js';
import type { ApiKeyRecord, DomainDeps } from '../../domain/ports.js';
import type { Locale } from '../../domain/program.js';
import { findMemberForStaff, parseMemberQuery } from '../../domain/purchases/find-member.js';
import { quoteAtTill } from '../../domain/purchases/quote-at-till.js';
import { recordPurchase } from '../../domain/purchases/record-purchase.js';
import { recordReturn } from '../../domain/purchases/record-return.js';
import { type CouponForRedemption, type CouponOperator, getCouponForRedemption, redeemCoupon } from '../../domain/rewards/redeem-coupon.js';
import { createSpendRequest, getSpendRequest, type SpendRequestView } from '../../domain/spending/spend-requests.js';
import type { SpendProof } from '../../domain/spending/types.js';
import { tierByCode } from '../../domain/tiers.js';
import { registerAnalyticsRoutes } from './analytics.js';
import { actorOfKey, authenticate, requireKey, scopedIdempotencyKey, storeForRequest } from './auth.js';
import { registerBroadcastRoutes } from './broadcasts.js';
import { registerCharityRoutes } from './charity.js';
import { BODY_LIMIT, idempotencyHeaders } from './command.js';
import { type LookupCacheOptions, tillLookups } from './lookup-cache.js';
import { DEFAULT_LOOKUP_LIMIT, type LookupLimitOptions, lookupGuard } from './lookup-limit.js';
import { registerNpsRoutes } from './nps.js';
import {
  BODY_PROBLEMS,
  COMMON_PROBLEMS,
  completeValidationProblem,
  json,
  jsonSerializerCompiler,
  problemResponses,
  recorded,
  registerOpenApi,
  tidyDocument,
  zodValidatorCompiler,
} from './openapi-doc.js';
import { notFoundHandler, problemErrorHandler, validationProblem } from './problems.js';
import { type RateLimitOptions, rateLimitSettings, registerRateLimit } from './rate-limit.js';
import { registerReceiptRoutes } from './receipts.js';
import {
  type CouponResponse,
  couponParamsSchema,
  couponRedeemRequestSchema,
  couponResponseSchema,
  type MemberResponse,
  memberParamsSchema,
  memberResponseSchema,
  type PurchaseResponse,
  purchaseRequestSchema,
  purchaseResponseSchema,
  type QuoteResponse,
  quoteRequestSchema,
  quoteResponseSchema,
  type ReturnResponse,
  returnRequestSchema,
  returnResponseSchema,
  type SpendRequestResponse,
  spendRequestCreateSchema,
  spendRequestParamsSchema,
  spendRequestResponseSchema,
} from './schemas.js';

export interface ApiOptions {
  domain: DomainDeps;
  /** A producer connection (fails fast): the rate limiter's shared counters. */
  redis: Redis;
  /** The language of names the API returns (tier names): the program's default locale. */
  defaultLocale: Locale;
  rateLimit?: RateLimitOptions;
  /** API keys and stores kept briefly in memory (lookup-cache.ts); absent: read on every request. */
  lookupCache?: LookupCacheOptions;
  /** API-key lookups per client address that find no key (lookup-limit.ts; counted under rateLimit.keyPrefix). */
  lookupLimit?: LookupLimitOptions;
}

/** First name only: the till greets the customer, it does not need more. */
const firstName = (name: string | null) => name?.trim().split(/\s+/)[0] || null;

/**
 * The till/CRM API under /v1: parse the request, call the domain use case, render the result.
 * Authentication and the per-key rate limit run before the body is read.
 */
function apiDescription(rateLimit: { limit: number; windowSeconds: number }, lookupLimit: LookupLimitOptions): string {
  return [
    'Accrue and spend points for purchases, reverse them for returns, look up members, and look up and redeem coupons.',
    'Money is in minor units (integers). Errors are RFC 9457 problem details with a stable `code`.',
    [
      "Spending points needs the member's proof of presence: knowing a card code is not enough. Either",
      "(1) `spendCode`: the one-time 6-digit code on the member's Card screen in the bot (valid 2 minutes, used once; 5 wrong codes within 10 minutes lock the member's spending for 15 minutes), or",
      '(2) `spendRequestId`: create a request with POST /v1/spend-requests (the member is asked "Pay N points at <store>?" in the chat), poll GET /v1/spend-requests/{id} until `approved`, then record the purchase with exactly those points at that store (used once, within 5 minutes).',
      'Earning needs neither. Purchases, returns and spend requests on the card of the admin who created the API key are refused (403 OWN_CARD).',
    ].join(' '),
    `Each API key may send ${rateLimit.limit} requests per ${rateLimit.windowSeconds} s; over that the answer is 429 with Retry-After.`,
    `Requests with an unknown or revoked key: at most ${lookupLimit.limit ?? DEFAULT_LOOKUP_LIMIT.limit} per ${lookupLimit.windowSeconds ?? DEFAULT_LOOKUP_LIMIT.windowSeconds} s from one client address, then 429 with Retry-After.`,
  ].join('\n\n');
}

/**
 * The till/CRM API under /v1: parse the request, call the domain use case, render the result.
 * Authentication and the per-key rate limit run before the body is read. Every route is
 * schema-first (command.ts): its zod schemas validate, type and document it.
 */
export const apiPlugin: FastifyPluginAsync<ApiOptions> = async (plain, options) => {
  const app = plain.withTypeProvider<ZodTypeProvider>();
  const { domain } = options;
  const lookups = tillLookups(domain, options.lookupCache);
  const limits = rateLimitSettings(options.rateLimit ?? {});

  app.setValidatorCompiler(zodValidatorCompiler);
  app.setSerializerCompiler(jsonSerializerCompiler);
  app.setErrorHandler((error, request, reply) =>
    problemErrorHandler(completeValidationProblem(error, request.routeOptions.schema, request.headers), request, reply),
  );
  app.setNotFoundHandler(notFoundHandler);
  // Bodies are JSON only: Fastify's built-in text/plain parser would hand a JSON text to the
  // schema as a string (a confusing 400); without it such a body is the documented 415.
  app.removeContentTypeParser('text/plain');

  await registerOpenApi(app, {
    description: apiDescription(limits, options.lookupLimit ?? {}),
  });

  let document: Record<string, unknown> | undefined;
  app.get(
    '/openapi.json',
    {
      schema: {
        operationId: 'getOpenApi',
        summary: 'This document',
        security: [],
        response: { 200: { description: 'The OpenAPI 3.1 document', content: { 'application/json': { schema: z.looseObject({}) } } } },
      },
    },
    // Generated once, on the first request (all routes are registered by then).
    async () => {
      document ??= tidyDocument(app.swagger() as unknown as Record<string, unknown>);
      return document;
    },
  );

  await app.register(async (plainScope) => {
    const secured = plainScope.withTypeProvider<ZodTypeProvider>();
    secured.decorateRequest('apiKey', null);
    secured.addHook('onRequest', authenticate(domain, lookups, lookupGuard(options.redis, limits.keyPrefix, options.lookupLimit ?? {}, plainScope.log)));
    await registerRateLimit(secured, options.redis, limits);
    secured.addHook('onRequest', async (_request, reply) => void reply.header('cache-control', 'no-store'));
    registerBroadcastRoutes(secured, domain);
    registerNpsRoutes(secured, { domain, defaultLocale: options.defaultLocale });
    registerReceiptRoutes(secured, { domain, lookups });
    registerAnalyticsRoutes(secured, { domain });
    registerCharityRoutes(secured, { domain });

    secured.post(
      '/purchases',
      {
        bodyLimit: BODY_LIMIT,
        schema: {
          operationId: 'recordPurchase',
          summary: 'Record a purchase: spend points on part of the bill and earn points on the rest',
          description:
            "`pointsToSpend` above 0 needs `spendCode` or an approved `spendRequestId` (422 SPEND_PROOF_REQUIRED names the field `spendCode`); a wrong code is 422 SPEND_CODE_INVALID with `details.attemptsLeft`, and after too many the member's spending is locked (429 SPENDING_LOCKED with Retry-After). A retry with the same Idempotency-Key answers the first result without a new proof.",
          headers: idempotencyHeaders,
          body: purchaseRequestSchema,
          response: {
            ...recorded(purchaseResponseSchema, 'purchase'),
            ...problemResponses([
              ...BODY_PROBLEMS,
              'AMOUNT_INVALID',
              'RECEIPT_INVALID',
              'MEMBER_CODE_INVALID',
              'PHONE_INVALID',
              ...COMMON_PROBLEMS,
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
      async (request, reply) => {
        const { body } = request;
        const key = requireKey(request);
        if (body.spendCode !== undefined && body.spendRequestId !== undefined)
          throw validationProblem([{ field: 'spendRequestId', message: 'send either spendCode or spendRequestId, not both' }]);
        const store = await storeForRequest(lookups, key, body.storeCode);
        // By card code the purchase's own first read finds the member (one round trip fewer);
        // by phone the member is looked up first.
        const query = parseMemberQuery(domain, body.memberCode);
        let member: { memberId: number } | { memberCode: string };
        let memberCode: string;
        if ('code' in query) {
          member = { memberCode: query.code };
          memberCode = query.code;
        } else {
          const found = await findMemberForStaff(domain, body.memberCode);
          member = { memberId: found.id };
          memberCode = found.code;
        }
        const spendProof: SpendProof | null =
          body.spendCode !== undefined
            ? { kind: 'code', code: body.spendCode }
            : body.spendRequestId !== undefined
              ? { kind: 'request', requestId: body.spendRequestId }
              : null;
        const result = await recordPurchase(domain, {
          ...member,
          storeId: store.id,
          receiptNo: body.receiptNo,
          amountMinor: body.amountMinor,
          pointsToSpend: body.pointsToSpend,
          idempotencyKey: scopedIdempotencyKey(key, request.headers['idempotency-key']),
          actor: actorOfKey(key),
          spendProof,
          operatorTelegramId: key.createdBy,
        });
        const response: PurchaseResponse = {
          purchaseId: result.purchase.id,
          memberCode,
          pointsEarned: result.pointsEarned,
          pointsSpent: result.pointsSpent,
          balance: result.balance,
          tier: { code: result.tier.code, discountPercent: result.tier.discountPercent },
          discountPercent: result.discountPercent,
          discountMinor: result.discountMinor,
          amountDueMinor: result.amountDueMinor,
          savingMinor: result.savingMinor,
        };
        if (result.replayed) reply.header('idempotent-replayed', 'true');
        return reply.code(result.replayed ? 200 : 201).send(response);
      },
    );

    // What the purchase would book now: discount, points cap, money due, points to earn. Writes
    // nothing and spends nothing, so no Idempotency-Key and no spend proof; the same key, store
    // and member checks as a purchase, and no more about the member than a purchase answers.
    secured.post(
      '/purchases/quote',
      {
        bodyLimit: BODY_LIMIT,
        schema: {
          operationId: 'quotePurchase',
          summary: "What a purchase would book now: the member's tier discount, the points cap, the money due and the points to earn",
          description:
            "Writes nothing and spends nothing: no Idempotency-Key and no spend proof. The discount is the tier percent of the bill rounded down to a minor unit; at most `points.maxBillSharePercent` of the bill after the discount may be paid with points; points are earned on the money paid. POST /v1/purchases with the same member, bill and points books exactly these figures unless the member's tier or balance changes meanwhile.",
          body: quoteRequestSchema,
          response: {
            200: json(quoteResponseSchema, 'The quote'),
            ...problemResponses([
              ...BODY_PROBLEMS,
              'AMOUNT_INVALID',
              'MEMBER_CODE_INVALID',
              'PHONE_INVALID',
              ...COMMON_PROBLEMS,
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
      async (request) => {
        const { body } = request;
        const key = requireKey(request);
        // Card codes only: a quote writes and tells nobody, so a phone number must not turn into
        // a card code, balance and tier here (a purchase by phone leaves a record and a message).
        const code = normalizeCode(body.memberCode);
        if (!isMemberCode(code)) throw new DomainError('MEMBER_CODE_INVALID', { field: 'memberCode' });
        await storeForRequest(lookups, key, body.storeCode);
        const member = await findMemberForStaff(domain, code);
        const quote = quoteAtTill(domain, member, { amountMinor: body.amountMinor, pointsToSpend: body.pointsToSpend, operatorTelegramId: key.createdBy });
        const response: QuoteResponse = {
          memberCode: member.code,
          tier: { code: quote.tierCode, discountPercent: quote.discountPercent },
          discountMinor: quote.discountMinor,
          amountDueMinor: quote.amountDueMinor,
          savingMinor: quote.savingMinor,
          netMinor: quote.netMinor,
          maxPoints: quote.maxPoints,
          pointsToSpend: quote.pointsToSpend,
          pointsValueMinor: quote.pointsValueMinor,
          pointsToEarn: quote.pointsToEarn,
          balance: member.balance,
        };
        return response;
      },
    );

    secured.post(
      '/returns',
      {
        bodyLimit: BODY_LIMIT,
        schema: {
          operationId: 'recordReturn',
          summary: 'Record a full or partial return of a purchase',
          headers: idempotencyHeaders,
          body: returnRequestSchema,
          response: {
            ...recorded(returnResponseSchema, 'return'),
            ...problemResponses([
              ...BODY_PROBLEMS,
              'AMOUNT_INVALID',
              'RECEIPT_INVALID',
              ...COMMON_PROBLEMS,
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
      async (request, reply) => {
        const { body } = request;
        const key = requireKey(request);
        const store = await storeForRequest(lookups, key, body.storeCode);
        const result = await recordReturn(domain, {
          storeId: store.id,
          receiptNo: body.receiptNo,
          amountMinor: body.amountMinor ?? null,
          idempotencyKey: scopedIdempotencyKey(key, request.headers['idempotency-key']),
          actor: actorOfKey(key),
          operatorTelegramId: key.createdBy,
        });
        const { purchaseReturn } = result;
        const response: ReturnResponse = {
          returnId: purchaseReturn.id,
          pointsReversed: purchaseReturn.pointsReversed,
          pointsRefunded: purchaseReturn.pointsRefunded,
          shortfall: purchaseReturn.shortfall,
          balance: result.balance,
          refundMinor: purchaseReturn.refundMinor,
          discountMinor: purchaseReturn.discountMinor,
        };
        if (result.replayed) reply.header('idempotent-replayed', 'true');
        return reply.code(result.replayed ? 200 : 201).send(response);
      },
    );

    // Spend requests: the till asks the member to approve paying points in the chat, polls the
    // answer, then records the purchase with the request's id (the other proof: a spend code).
    const spendRequestResponse = async ({ request, state }: SpendRequestView): Promise<SpendRequestResponse> => ({
      id: request.id,
      status: state,
      points: request.points,
      storeCode: (await domain.repos.stores.findById(request.storeId))?.code ?? '',
      expiresAt: request.expiresAt.toISOString(),
    });

    secured.post(
      '/spend-requests',
      {
        bodyLimit: BODY_LIMIT,
        schema: {
          operationId: 'createSpendRequest',
          summary: 'Ask the member to approve paying points in the chat ("Pay N points at <store>? Yes / No")',
          description:
            'Poll GET /v1/spend-requests/{id}; once `approved`, pass the id as `spendRequestId` to POST /v1/purchases with exactly these points at this store.',
          body: spendRequestCreateSchema,
          response: {
            201: json(spendRequestResponseSchema, 'The member has been asked'),
            ...problemResponses([
              ...BODY_PROBLEMS,
              'AMOUNT_INVALID',
              'MEMBER_CODE_INVALID',
              'PHONE_INVALID',
              ...COMMON_PROBLEMS,
              'FORBIDDEN',
              'OWN_CARD',
              'MEMBER_NOT_FOUND',
              'STORE_NOT_FOUND',
              'INSUFFICIENT_POINTS',
            ]),
          },
        },
      },
      async (request, reply) => {
        const { body } = request;
        const key = requireKey(request);
        const store = await storeForRequest(lookups, key, body.storeCode);
        const member = await findMemberForStaff(domain, body.memberCode);
        const created = await createSpendRequest(domain, {
          memberId: member.id,
          storeId: store.id,
          points: body.points,
          actor: actorOfKey(key),
          operatorTelegramId: key.createdBy,
        });
        return reply.code(201).send(await spendRequestResponse(created));
      },
    );

    secured.get(
      '/spend-requests/:id',
      {
        schema: {
          operationId: 'getSpendRequest',
          summary: "A spend request's state: pending, approved, declined, expired or used (only the API key that created it sees it)",
          params: spendRequestParamsSchema,
          response: {
            200: json(spendRequestResponseSchema, 'The request'),
            ...problemResponses(['VALIDATION_FAILED', ...COMMON_PROBLEMS, 'SPEND_REQUEST_NOT_FOUND']),
          },
        },
      },
      async (request) => {
        const key = requireKey(request);
        return spendRequestResponse(await getSpendRequest(domain, { requestId: request.params.id, actor: actorOfKey(key) }));
      },
    );

    // Coupons: a till looks a coupon up, then redeems it. Wrong codes count towards the
    // brute-force guard of this API key (429 TOO_MANY_ATTEMPTS with Retry-After).
    /** The till acting: a key bound to a store redeems there; an unbound key where it says (or online). */
    const tillOperator = async (key: ApiKeyRecord, storeCode: string | undefined): Promise<CouponOperator> => ({
      kind: 'till',
      actor: actorOfKey(key),
      storeId: key.storeId !== null || storeCode !== undefined ? (await storeForRequest(lookups, key, storeCode)).id : null,
    });
    const couponResponse = ({ coupon, memberFirstName, canRedeem }: CouponForRedemption): CouponResponse => ({
      code: coupon.displayCode,
      status: coupon.status,
      canRedeem,
      reward: { code: coupon.reward.code, title: coupon.reward.title[options.defaultLocale] },
      kind: coupon.kind,
      value: coupon.value,
      memberName: memberFirstName,
      issuedAt: coupon.issuedAt.toISOString(),
      expiresAt: coupon.expiresAt.toISOString(),
      redeemedAt: coupon.redeemedAt?.toISOString() ?? null,
      redeemedStoreName: coupon.redeemedStoreName,
      cancelledAt: coupon.cancelledAt?.toISOString() ?? null,
    });

    secured.get(
      '/coupons/:code',
      {
        schema: {
          operationId: 'getCoupon',
          summary: 'Look up a coupon by its code: reward, first name of its owner, status, expiry',
          description:
            'Unknown codes count towards a brute-force guard per API key: after a few within minutes the key must wait (429 TOO_MANY_ATTEMPTS with Retry-After).',
          params: couponParamsSchema,
          response: {
            200: json(couponResponseSchema, 'The coupon, whatever its status'),
            ...problemResponses(['VALIDATION_FAILED', 'COUPON_CODE_INVALID', ...COMMON_PROBLEMS, 'COUPON_NOT_FOUND', 'TOO_MANY_ATTEMPTS']),
          },
        },
      },
      async (request) => {
        const key = requireKey(request);
        return couponResponse(await getCouponForRedemption(domain, { code: request.params.code, operator: await tillOperator(key, undefined) }));
      },
    );

    secured.post(
      '/coupons/:code/redeem',
      {
        bodyLimit: BODY_LIMIT,
        schema: {
          operationId: 'redeemCoupon',
          summary: 'Redeem a coupon: ISSUED -> REDEEMED once, recording the store and the time; the customer is told',
          description:
            'Of any number of concurrent redemptions exactly one succeeds; the others get 409 ALREADY_REDEEMED with `details.redeemedAt` and `details.storeName`. An expired coupon is 422 COUPON_EXPIRED (`details.expiresAt`), a cancelled one 422 COUPON_CANCELLED (`details.cancelledAt`). The body may be left out (the same as `{}`).',
          params: couponParamsSchema,
          headers: idempotencyHeaders,
          // The body is optional: no body is the same as {}.
          body: couponRedeemRequestSchema.default({}),
          'x-optional-body': true,
          response: {
            ...recorded(
              couponResponseSchema,
              'coupon redemption',
              'A retry: this API key had redeemed the coupon under this Idempotency-Key before; nothing was written now',
            ),
            ...problemResponses([
              ...BODY_PROBLEMS,
              'COUPON_CODE_INVALID',
              ...COMMON_PROBLEMS,
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
      async (request, reply) => {
        const key = requireKey(request);
        const result = await redeemCoupon(domain, {
          code: request.params.code,
          operator: await tillOperator(key, request.body.storeCode),
          idempotencyKey: request.headers['idempotency-key'],
        });
        if (result.replayed) reply.header('idempotent-replayed', 'true');
        return reply.code(result.replayed ? 200 : 201).send(couponResponse(result));
      },
    );

    secured.get(
      '/members/:memberCode',
      {
        schema: {
          operationId: 'getMember',
          summary: 'Look up a member by card code: first name, tier and balance (what a till shows)',
          params: memberParamsSchema,
          response: {
            200: json(memberResponseSchema, 'The member'),
            ...problemResponses(['VALIDATION_FAILED', 'MEMBER_CODE_INVALID', ...COMMON_PROBLEMS, 'MEMBER_NOT_FOUND']),
          },
        },
      },
      async (request) => {
        // Card codes only: a phone number in a URL would end up in access logs and proxies.
        const code = normalizeCode(request.params.memberCode);
        if (!isMemberCode(code)) throw new DomainError('MEMBER_CODE_INVALID', { field: 'memberCode' });
        const member = await findMemberForStaff(domain, code);
        const tier = tierByCode(domain.program, member.tier);
        const response: MemberResponse = {
          memberCode: member.code,
          name: firstName(member.name),
          tier: { code: tier.code, name: tier.name[options.defaultLocale], discountPercent: tier.discountPercent },
          balance: member.balance,
        };
        return response;
      },
    );
  });
};
