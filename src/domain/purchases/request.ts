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

export function assertMinorAmount(value: number, field: string): void {
  if (!Number.isSafeInteger(value) || value <= 0) throw new DomainError('AMOUNT_INVALID', { field });
}

export function normalizeReceipt(receiptNo: string): string {
  const receipt = receiptNo.trim();
  if (!/^[\p{L}\p{N}_\-/.#]{1,64}$/u.test(receipt)) throw new DomainError('RECEIPT_INVALID');
  return receipt;
}
