import { z } from 'zod';
import { MAX_BILL_MINOR, MAX_POINTS } from '../../domain/purchases/request.js';

/**
 * Request and response shapes of the till/CRM API. Requests are strict (an unknown field is an
 * error, so a typo such as `amount` for `amountMinor` is not silently ignored); the same schemas
 * generate the OpenAPI document. Checks that belong to the program's rules (receipt format,
 * card code check character, points cap) stay in the domain.
 */

// Bounded so that no amount can overflow a column (points are 32-bit integers): a bigger value is
// a 400 naming the field, never a database error.
const minorAmount = z.int().positive().max(MAX_BILL_MINOR).describe(`Money in minor units (kopecks, cents): 123456 = 1 234.56; at most ${MAX_BILL_MINOR}`);
const points = z.int().max(MAX_POINTS);
const storeCode = z.string().min(1).max(32).describe('The store acting; required for a key not bound to a store, must match the bound store otherwise');
const receiptNo = z.string().min(1).max(64).describe('The till receipt number; unique per store');

export const purchaseRequestSchema = z
  .strictObject({
    memberCode: z.string().min(1).max(64).describe('The member card code (as printed or scanned, any case, spaces/dashes allowed) or a phone number'),
    storeCode: storeCode.optional(),
    receiptNo,
    amountMinor: minorAmount.describe('The whole bill in minor units'),
    pointsToSpend: points
      .nonnegative()
      .default(0)
      .describe(
        `Points paying part of the bill (within the program cap; at most ${MAX_POINTS}). Above 0 it needs the member's consent: spendCode or spendRequestId`,
      ),
    spendCode: z
      .string()
      .min(1)
      .max(16)
      .optional()
      .describe("The one-time spend code (6 digits) on the member's Card screen in the bot: valid 2 minutes, used once"),
    spendRequestId: z
      .string()
      .min(1)
      .max(32)
      .optional()
      .describe('A spend request (POST /v1/spend-requests) the member approved, for exactly these points at this store; used once'),
  })
  .meta({ id: 'PurchaseRequest' });

/** A quote (POST /v1/purchases/quote): the purchase's body without receipt-bound or proof fields. */
export const quoteRequestSchema = z
  .strictObject({
    memberCode: z
      .string()
      .min(1)
      .max(64)
      .describe('The member card code (as printed or scanned); not a phone number: a quote is read by nobody, so it must not turn a phone into a card'),
    storeCode: storeCode.optional(),
    amountMinor: minorAmount.describe('The whole bill in minor units, before the tier discount'),
    pointsToSpend: points
      .nonnegative()
      .default(0)
      .describe(`Points the member wants to pay with (within the cap: \`maxPoints\` of the answer); no proof needed, nothing is spent`),
  })
  .meta({ id: 'QuoteRequest' });

export const spendRequestCreateSchema = z
  .strictObject({
    memberCode: z.string().min(1).max(64).describe('The member card code or phone number, as for a purchase'),
    storeCode: storeCode.optional(),
    points: points.positive().describe(`The points the member is asked to pay (at most ${MAX_POINTS}); the purchase must spend exactly these`),
  })
  .meta({ id: 'SpendRequestCreate' });

export const spendRequestParamsSchema = z.strictObject({ id: z.string().min(1).max(32).describe('The id from POST /v1/spend-requests') });

export const spendRequestResponseSchema = z
  .object({
    id: z.string().describe('Pass it as spendRequestId to POST /v1/purchases once approved'),
    status: z
      .enum(['pending', 'approved', 'declined', 'expired', 'used'])
      .describe('pending: the member has not answered; approved: a purchase may use it once; declined, expired, used: final'),
    points: z.int(),
    storeCode: z.string(),
    expiresAt: z.string().describe('ISO 8601 date and time (UTC): after it the request can be neither answered nor used'),
  })
  .meta({ id: 'SpendRequestResponse' });

export const returnRequestSchema = z
  .strictObject({
    storeCode: storeCode.optional(),
    receiptNo: receiptNo.describe('The receipt number of the original purchase'),
    amountMinor: minorAmount.optional().describe('The returned part of the bill in minor units; omitted: everything not yet returned'),
  })
  .meta({ id: 'ReturnRequest' });

export const memberParamsSchema = z.strictObject({
  memberCode: z.string().min(1).max(32).describe('The card code (any case, dashes allowed). Phone numbers are not accepted in URLs.'),
});

export const idempotencyKeySchema = z
  .string({ error: 'the Idempotency-Key header is required' })
  .regex(/^[\x21-\x7E]([\x20-\x7E]*[\x21-\x7E])?$/, 'printable ASCII')
  .max(200)
  .describe('A unique key per operation (e.g. a UUID); a retry with the same key and body returns the first result. Keys are scoped to the API key.');

const tierBrief = z.object({ code: z.string(), discountPercent: z.number() });

/** What the tier discount did to the bill (src/domain/purchases/quote.ts), in minor units. */
const discountFields = {
  discountMinor: z.int().describe("The tier discount: the tier's percent of the bill, rounded down to a minor unit"),
  amountDueMinor: z.int().describe('What the customer pays in money: bill - discount - points value'),
  savingMinor: z.int().describe('What the program saved the customer on this bill (the discount)'),
};

export const purchaseResponseSchema = z
  .object({
    purchaseId: z.int(),
    memberCode: z.string(),
    pointsEarned: z.int(),
    pointsSpent: z.int(),
    balance: z.int().describe('The member balance after the purchase'),
    tier: tierBrief.describe('The tier after the purchase'),
    ...discountFields,
    discountPercent: z.number().describe('The discount percent applied (the tier the member held before the purchase)'),
  })
  .meta({ id: 'PurchaseResponse' });

export const quoteResponseSchema = z
  .object({
    memberCode: z.string(),
    tier: tierBrief.describe("The member's tier now: its discount applies"),
    ...discountFields,
    netMinor: z.int().describe('The bill after the discount'),
    maxPoints: z.int().describe("The most points this bill may be paid with: the program's share of the bill after the discount, within the balance"),
    pointsToSpend: z.int(),
    pointsValueMinor: z.int().describe('What `pointsToSpend` pays, in minor units'),
    pointsToEarn: z.int().describe('Points the purchase would earn (on the money paid)'),
    balance: z.int().describe('The member balance now'),
  })
  .meta({ id: 'QuoteResponse' });

export const returnResponseSchema = z
  .object({
    returnId: z.int(),
    pointsReversed: z.int().describe('Earned points taken back'),
    pointsRefunded: z.int().describe('Points that paid for the returned share, given back'),
    shortfall: z.int().describe('Earned points that could not be taken back because the member had spent them'),
    balance: z.int(),
    refundMinor: z
      .int()
      .nullable()
      .describe('Money to give back: the returned share of what was paid in money (null: not known for purchases recorded before discounts)'),
    discountMinor: z.int().describe("The returned goods' share of the purchase's discount (not given back)"),
  })
  .meta({ id: 'ReturnResponse' });

export const memberResponseSchema = z
  .object({
    memberCode: z.string(),
    name: z.string().nullable().describe('First name only, to greet the customer'),
    tier: tierBrief.extend({ name: z.string().describe("In the program's default locale") }),
    balance: z.int(),
  })
  .meta({ id: 'MemberResponse' });

export const couponParamsSchema = z.strictObject({
  code: z.string().min(1).max(32).describe('The coupon code as printed or scanned (12 characters; any case, spaces and dashes allowed)'),
});

export const couponRedeemRequestSchema = z
  .strictObject({
    storeCode: storeCode
      .optional()
      .describe('The store where the coupon is used; a key bound to a store uses its own (naming another is 403); an unbound key may leave it out (online)'),
  })
  .meta({ id: 'CouponRedeemRequest' });

const instant = z.string().describe('ISO 8601 date and time (UTC)');

export const couponResponseSchema = z
  .object({
    code: z.string().describe('The coupon code as printed, in groups of four, e.g. ABCD-EFGH-JKMN'),
    status: z.enum(['ISSUED', 'REDEEMED', 'EXPIRED', 'CANCELLED']).describe('ISSUED: valid and unused'),
    canRedeem: z.boolean().describe('ISSUED and unexpired: POST .../redeem will succeed unless someone redeems it first'),
    reward: z.object({ code: z.string(), title: z.string().describe("In the program's default locale") }),
    kind: z.enum(['PERCENT_COUPON', 'FIXED_COUPON', 'FREE_ITEM', 'GIFT']),
    value: z.int().nullable().describe('Percent off (PERCENT_COUPON) or minor units off (FIXED_COUPON); null for FREE_ITEM and GIFT'),
    memberName: z.string().nullable().describe('First name only, to greet the customer'),
    issuedAt: instant,
    expiresAt: instant,
    redeemedAt: instant.nullable(),
    redeemedStoreName: z.string().nullable().describe('Where it was redeemed (null: not redeemed, or redeemed online)'),
    cancelledAt: instant.nullable(),
  })
  .meta({ id: 'CouponResponse' });

export type PurchaseResponse = z.infer<typeof purchaseResponseSchema>;
export type QuoteResponse = z.infer<typeof quoteResponseSchema>;
export type SpendRequestResponse = z.infer<typeof spendRequestResponseSchema>;
export type CouponResponse = z.infer<typeof couponResponseSchema>;
export type ReturnResponse = z.infer<typeof returnResponseSchema>;
export type MemberResponse = z.infer<typeof memberResponseSchema>;
