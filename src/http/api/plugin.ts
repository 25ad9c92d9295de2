import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { isMemberCode, normalizeCode } from '../../domain/codes.js';
import { DomainError } from '../../domain/errors.js';
import type { ApiKeyRecord, DomainDeps } from '../../domain/ports.js';
import type { Locale } from '../../domain/program.js';
import { findMemberForStaff } from '../../domain/purchases/find-member.js';
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
import { BODY_LIMIT, parseCommand } from './command.js';
import { type LookupCacheOptions, tillLookups } from './lookup-cache.js';
import { registerNpsRoutes } from './nps.js';
import { buildOpenApiDocument } from './openapi.js';
import { fieldErrors, notFoundHandler, problemErrorHandler, validationProblem } from './problems.js';
import { createRateLimiter, DEFAULT_RATE_LIMIT, type RateLimitOptions } from './rate-limit.js';
import { registerReceiptRoutes } from './receipts.js';
import {
  type CouponResponse,
  couponParamsSchema,
  couponRedeemRequestSchema,
  type MemberResponse,
  memberParamsSchema,
  type PurchaseResponse,
  purchaseRequestSchema,
  type QuoteResponse,
  quoteRequestSchema,
  type ReturnResponse,
  returnRequestSchema,
  type SpendRequestResponse,
  spendRequestCreateSchema,
  spendRequestParamsSchema,
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
}

/** First name only: the till greets the customer, it does not need more. */
const firstName = (name: string | null) => name?.trim().split(/\s+/)[0] || null;

/**
 * The till/CRM API under /v1: parse the request, call the domain use case, render the result.
 * Authentication and the per-key rate limit run before the body is read.
 */
export const apiPlugin: FastifyPluginAsync<ApiOptions> = async (app, options) => {
  const { domain } = options;
  const lookups = tillLookups(domain, options.lookupCache);
  const limiter = createRateLimiter(options.redis, options.rateLimit ?? {}, app.log);
  const openapi = buildOpenApiDocument({
    rateLimit: { limit: limiter.limit, windowSeconds: options.rateLimit?.windowSeconds ?? DEFAULT_RATE_LIMIT.windowSeconds },
  });

  app.setErrorHandler(problemErrorHandler);
  app.setNotFoundHandler(notFoundHandler);
  // Bodies are JSON only: Fastify's built-in text/plain parser would hand a JSON text to the
  // schema as a string (a confusing 400); without it such a body is the documented 415.
  app.removeContentTypeParser('text/plain');

  app.get('/openapi.json', async () => openapi);

  await app.register(async (secured) => {
    secured.decorateRequest('apiKey', null);
    secured.addHook('onRequest', authenticate(domain, lookups));
    secured.addHook('onRequest', limiter.hook);
    secured.addHook('onRequest', async (_request, reply) => void reply.header('cache-control', 'no-store'));
    registerBroadcastRoutes(secured, domain);
    registerNpsRoutes(secured, { domain, defaultLocale: options.defaultLocale });
    registerReceiptRoutes(secured, { domain, lookups });
    registerAnalyticsRoutes(secured, { domain });

    secured.post('/purchases', { bodyLimit: BODY_LIMIT }, async (request, reply) => {
      const { body, idempotencyKey } = parseCommand(purchaseRequestSchema, request);
      const key = requireKey(request);
      if (body.spendCode !== undefined && body.spendRequestId !== undefined)
        throw validationProblem([{ field: 'spendRequestId', message: 'send either spendCode or spendRequestId, not both' }]);
      const store = await storeForRequest(lookups, key, body.storeCode);
      const member = await findMemberForStaff(domain, body.memberCode);
      const spendProof: SpendProof | null =
        body.spendCode !== undefined
          ? { kind: 'code', code: body.spendCode }
          : body.spendRequestId !== undefined
            ? { kind: 'request', requestId: body.spendRequestId }
            : null;
      const result = await recordPurchase(domain, {
        memberId: member.id,
        storeId: store.id,
        receiptNo: body.receiptNo,
        amountMinor: body.amountMinor,
        pointsToSpend: body.pointsToSpend,
        idempotencyKey: scopedIdempotencyKey(key, idempotencyKey),
        actor: actorOfKey(key),
        spendProof,
        operatorTelegramId: key.createdBy,
      });
      const response: PurchaseResponse = {
        purchaseId: result.purchase.id,
        memberCode: member.code,
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
    });

    // What the purchase would book now: discount, points cap, money due, points to earn. Writes
    // nothing and spends nothing, so no Idempotency-Key and no spend proof; the same key, store
    // and member checks as a purchase, and no more about the member than a purchase answers.
    secured.post('/purchases/quote', { bodyLimit: BODY_LIMIT }, async (request) => {
      const parsed = quoteRequestSchema.safeParse(request.body);
      if (!parsed.success) throw validationProblem(fieldErrors(parsed.error));
      const body = parsed.data;
      const key = requireKey(request);
      await storeForRequest(lookups, key, body.storeCode);
      const member = await findMemberForStaff(domain, body.memberCode);
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
    });

    secured.post('/returns', { bodyLimit: BODY_LIMIT }, async (request, reply) => {
      const { body, idempotencyKey } = parseCommand(returnRequestSchema, request);
      const key = requireKey(request);
      const store = await storeForRequest(lookups, key, body.storeCode);
      const result = await recordReturn(domain, {
        storeId: store.id,
        receiptNo: body.receiptNo,
        amountMinor: body.amountMinor ?? null,
        idempotencyKey: scopedIdempotencyKey(key, idempotencyKey),
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
    });

    // Spend requests: the till asks the member to approve paying points in the chat, polls the
    // answer, then records the purchase with the request's id (the other proof: a spend code).
    const spendRequestResponse = async ({ request, state }: SpendRequestView): Promise<SpendRequestResponse> => ({
      id: request.id,
      status: state,
      points: request.points,
      storeCode: (await domain.repos.stores.findById(request.storeId))?.code ?? '',
      expiresAt: request.expiresAt.toISOString(),
    });

    secured.post('/spend-requests', { bodyLimit: BODY_LIMIT }, async (request, reply) => {
      const parsed = spendRequestCreateSchema.safeParse(request.body);
      if (!parsed.success) throw validationProblem(fieldErrors(parsed.error));
      const body = parsed.data;
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
    });

    secured.get('/spend-requests/:id', async (request) => {
      const params = spendRequestParamsSchema.safeParse(request.params);
      if (!params.success) throw validationProblem(fieldErrors(params.error, 'id'));
      const key = requireKey(request);
      return spendRequestResponse(await getSpendRequest(domain, { requestId: params.data.id, actor: actorOfKey(key) }));
    });

    // Coupons: a till looks a coupon up, then redeems it. Wrong codes count towards the
    // brute-force guard of this API key (429 TOO_MANY_ATTEMPTS with Retry-After).
    const couponCode = (request: FastifyRequest) => {
      const params = couponParamsSchema.safeParse(request.params);
      if (!params.success) throw validationProblem(fieldErrors(params.error, 'code'));
      return params.data.code;
    };
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

    secured.get('/coupons/:code', async (request) => {
      const code = couponCode(request);
      const key = requireKey(request);
      return couponResponse(await getCouponForRedemption(domain, { code, operator: await tillOperator(key, undefined) }));
    });

    secured.post('/coupons/:code/redeem', { bodyLimit: BODY_LIMIT }, async (request, reply) => {
      const code = couponCode(request);
      // The body is optional: no body is the same as {}.
      if (request.body === undefined || request.body === null) request.body = {};
      const { body, idempotencyKey } = parseCommand(couponRedeemRequestSchema, request);
      const key = requireKey(request);
      const result = await redeemCoupon(domain, { code, operator: await tillOperator(key, body.storeCode), idempotencyKey });
      if (result.replayed) reply.header('idempotent-replayed', 'true');
      return reply.code(result.replayed ? 200 : 201).send(couponResponse(result));
    });

    secured.get('/members/:memberCode', async (request) => {
      const params = memberParamsSchema.safeParse(request.params);
      if (!params.success) throw validationProblem(fieldErrors(params.error, 'memberCode'));
      // Card codes only: a phone number in a URL would end up in access logs and proxies.
      const code = normalizeCode(params.data.memberCode);
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
    });
  });
};
