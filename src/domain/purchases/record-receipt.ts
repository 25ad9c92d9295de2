import type { Receipt } from '../analytics/types.js';
import { DomainError } from '../errors.js';
import type { Actor } from '../ledger/types.js';
import type { DomainDeps } from '../ports.js';
import { assertMinorAmount, normalizeReceipt, requestHash } from './request.js';

/**
 * A till receipt without a member (POST /v1/receipts): the non-member baseline of the program's
 * analytics (average check, members' share of revenue, ROI). Only store, amount, time and
 * receipt number are kept; no points, no messages, no events, so the ledger's rules are not
 * involved. Idempotent as a member purchase is: by key, and by store + receipt number; a replay
 * that asks for something different is refused.
 */

export interface RecordReceiptInput {
  storeId: number;
  receiptNo: string;
  amountMinor: number;
  idempotencyKey: string;
  actor: Actor;
}

export interface ReceiptResult {
  receipt: Receipt;
  /** True when the request had been recorded before and nothing was written now. */
  replayed: boolean;
}

/** Concurrent twins: the statement that lost the race to insert may not yet see the winner's row. */
const MAX_ATTEMPTS = 3;

export async function recordReceipt(deps: DomainDeps, input: RecordReceiptInput): Promise<ReceiptResult> {
  assertMinorAmount(input.amountMinor, 'amountMinor');
  const receiptNo = normalizeReceipt(input.receiptNo);
  // `kind` keeps a receipt's fingerprint distinct from a purchase's with the same numbers.
  const hash = requestHash({ kind: 'receipt', storeId: input.storeId, receiptNo, amountMinor: input.amountMinor });

  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const done = await deps.repos.receipts.record({
      storeId: input.storeId,
      receiptNo,
      amountMinor: input.amountMinor,
      idempotencyKey: input.idempotencyKey,
      requestHash: hash,
      actor: input.actor,
      createdAt: deps.clock.now(),
    });
    if (done.outcome === 'RECORDED') return { receipt: done.receipt, replayed: false };
    if (done.outcome === 'RACED') continue;
    // The same receipt recorded as a member's purchase: counting it twice would inflate revenue.
    if (done.outcome === 'MEMBER_PURCHASE') throw new DomainError('RECEIPT_DUPLICATE', { receiptNo });
    const earlier = done.receipt;
    if (earlier.idempotencyKey !== input.idempotencyKey && earlier.requestHash !== hash) throw new DomainError('RECEIPT_DUPLICATE', { receiptNo });
    if (earlier.requestHash !== hash) throw new DomainError('IDEMPOTENCY_CONFLICT', { receiptId: earlier.id });
    return { receipt: earlier, replayed: true };
  }
  throw new Error(`receipt ${input.idempotencyKey}: neither recorded nor found after ${MAX_ATTEMPTS} attempts`);
}
