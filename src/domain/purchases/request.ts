import { createHash } from 'node:crypto';
import { DomainError } from '../errors.js';

/** A fingerprint of what a request asked for: a replayed key must ask for exactly the same. */
export function requestHash(fields: Record<string, string | number | null>): string {
  const canonical = JSON.stringify(
    Object.keys(fields)
      .sort()
      .map((key) => [key, fields[key]]),
  );
  return createHash('sha256').update(canonical).digest('hex');
}

/**
 * The largest bill the program records, in minor units (100 million in a two-decimal currency).
 * Bills are BIGINT columns, but points are INTEGER ones: this bound, with MAX_POINTS, keeps
 * every amount a request can carry far from an overflow (recordPurchase also refuses an earn
 * that would not fit, for programs with extreme rates).
 */
export const MAX_BILL_MINOR = 10_000_000_000;
/** The most points one entry may move (points columns are 32-bit integers: 2 147 483 647). */
export const MAX_POINTS = 1_000_000_000;

export function assertMinorAmount(value: number, field: string): void {
  if (!Number.isSafeInteger(value) || value <= 0 || value > MAX_BILL_MINOR) throw new DomainError('AMOUNT_INVALID', { field, max: MAX_BILL_MINOR });
}

export function normalizeReceipt(receiptNo: string): string {
  const receipt = receiptNo.trim();
  if (!/^[\p{L}\p{N}_\-/.#]{1,64}$/u.test(receipt)) throw new DomainError('RECEIPT_INVALID');
  return receipt;
}
