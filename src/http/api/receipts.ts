import { z } from 'zod';
import { DomainError } from '../../domain/errors.js';
import type { DomainDeps } from '../../domain/ports.js';
import type { TierLevel } from '../../domain/program.js';
import { discountFor } from '../../domain/purchases/quote.js';
import { recordReceipt } from '../../domain/purchases/record-receipt.js';
import { actorOfKey, requireKey, scopedIdempotencyKey, storeForRequest } from './auth.js';
import { type ApiScope, BODY_LIMIT, idempotencyHeaders } from './command.js';
import type { TillLookups } from './lookup-cache.js';
import { BODY_PROBLEMS, COMMON_PROBLEMS, problemResponses, recorded } from './openapi-doc.js';

/**
 * POST /v1/receipts: a sale without a member (issue 16). A route of its own rather than
 * `POST /v1/purchases` without `memberCode`: a purchase answers with points, balance and tier
 * and may spend points, none of which exists for an anonymous sale, and a missing card code
 * must stay an error there (a till that forgot to scan the card must not silently record a
 * non-member sale). Stored in the Receipt table: store, amount, time, receipt number.
 */

export const receiptRequestSchema = z
  .strictObject({
    storeCode: z.string().min(1).max(32).optional().describe('The store acting; required for a key not bound to a store, must match the bound store otherwise'),
    receiptNo: z.string().min(1).max(64).describe('The till receipt number; unique per store (also against member purchases)'),
    amountMinor: z.int().positive().describe('The whole bill in minor units (kopecks, cents): 123456 = 1 234.56'),
  })
  .meta({ id: 'ReceiptRequest' });

export const receiptResponseSchema = z
  .object({
    receiptId: z.int(),
    storeCode: z.string(),
    receiptNo: z.string(),
    amountMinor: z.int(),
    recordedAt: z.string().describe('ISO 8601 date and time (UTC)'),
    memberSavingMinor: z
      .int()
      .describe("What the customer would have saved on this bill with a member card (the first tier's discount, rounded down): for the till to print"),
  })
  .meta({ id: 'ReceiptResponse' });

export type ReceiptResponse = z.infer<typeof receiptResponseSchema>;

export function registerReceiptRoutes(app: ApiScope, options: { domain: DomainDeps; lookups: TillLookups }): void {
  const schema = {
    operationId: 'recordReceipt',
    summary: 'Record a sale without a member (no card shown): the non-member baseline of the analytics',
    description: [
      'Only the store, the amount, the receipt number and the time are kept: no points, no messages.',
      'Idempotent as purchases are: by Idempotency-Key, and by store + receipt number (a receipt number already used by a',
      "member's purchase at the store is 409 RECEIPT_DUPLICATE). A sale with a member card goes to POST /v1/purchases.",
    ].join(' '),
    headers: idempotencyHeaders,
    body: receiptRequestSchema,
    response: {
      ...recorded(
        receiptResponseSchema,
        'receipt',
        'A retry: the receipt had been recorded under this Idempotency-Key (or receipt number) before; nothing was written now',
      ),
      ...problemResponses([
        ...BODY_PROBLEMS,
        'AMOUNT_INVALID',
        'RECEIPT_INVALID',
        ...COMMON_PROBLEMS,
        'FORBIDDEN',
        'STORE_NOT_FOUND',
        'IDEMPOTENCY_CONFLICT',
        'RECEIPT_DUPLICATE',
      ]),
    },
  };
  app.post('/receipts', { bodyLimit: BODY_LIMIT, schema }, async (request, reply) => {
    const { body } = request;
    const idempotencyKey = request.headers['idempotency-key'];
    const key = requireKey(request);
    const store = await storeForRequest(options.lookups, key, body.storeCode);
    if (!store.active) throw new DomainError('STORE_NOT_FOUND', { field: 'storeCode' });
    const result = await recordReceipt(options.domain, {
      storeId: store.id,
      receiptNo: body.receiptNo,
      amountMinor: body.amountMinor,
      idempotencyKey: scopedIdempotencyKey(key, idempotencyKey),
      actor: actorOfKey(key),
    });
    const { receipt } = result;
    const response: ReceiptResponse = {
      receiptId: receipt.id,
      storeCode: store.code,
      receiptNo: receipt.receiptNo,
      amountMinor: receipt.amountMinor,
      recordedAt: receipt.createdAt.toISOString(),
      // A sale without a member saved nothing; what a card would have saved is the invitation.
      memberSavingMinor: discountFor(options.domain.program.tiers.levels[0] as TierLevel, receipt.amountMinor),
    };
    if (result.replayed) reply.header('idempotent-replayed', 'true');
    return reply.code(result.replayed ? 200 : 201).send(response);
  });
}
