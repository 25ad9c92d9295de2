/**
 * The one error type of the domain. Adapters map `code` to a locale key (bot) or a
 * problem+json response (HTTP); `details` carries the numbers a message may need.
 */
export const ERROR_CODES = [
  'MEMBER_NOT_FOUND',
  'MEMBER_NOT_ACTIVE',
  'WRONG_STEP',
  'FOREIGN_CONTACT',
  'PHONE_INVALID',
  'PHONE_TAKEN',
  'NAME_INVALID',
  'BIRTHDAY_FORMAT',
  'BIRTHDAY_INVALID_DATE',
  'BIRTHDAY_FUTURE',
  'BIRTHDAY_TOO_OLD',
  'INSUFFICIENT_POINTS',
  'AMOUNT_INVALID',
  'IDEMPOTENCY_CONFLICT',
  'STORE_NOT_FOUND',
  'STORE_CODE_INVALID',
  'MEMBER_CODE_INVALID',
  'RECEIPT_INVALID',
  'PURCHASE_NOT_FOUND',
  'RECEIPT_DUPLICATE',
  'RETURN_EXCEEDS_PURCHASE',
  'POINTS_OVER_CAP',
  'BELOW_MINIMUM_PURCHASE',
  'FORBIDDEN',
  'INVITE_INVALID',
  'REASON_REQUIRED',
  'REWARD_NOT_FOUND',
  'REWARD_UNAVAILABLE',
  'REWARD_INVALID',
  'OUT_OF_STOCK',
  'LIMIT_REACHED',
  'TIER_TOO_LOW',
  'COUPON_CODE_INVALID',
  'COUPON_NOT_FOUND',
  'ALREADY_REDEEMED',
  'COUPON_EXPIRED',
  'COUPON_CANCELLED',
  'TOO_MANY_ATTEMPTS',
  'BROADCAST_NOT_FOUND',
  'BROADCAST_INVALID',
  'SEGMENT_INVALID',
  'SCHEDULE_INVALID',
  'BROADCAST_NOT_CANCELLABLE',
  'TASK_NOT_FOUND',
  'TASK_NOT_COMPLETED',
  'TASK_ALREADY_CLAIMED',
  // Spending needs the member's proof of presence (src/domain/spending).
  'SPEND_PROOF_REQUIRED',
  'SPEND_CODE_INVALID',
  'SPENDING_LOCKED',
  'SPEND_REQUEST_NOT_FOUND',
  'SPEND_REQUEST_INVALID',
  // Staff never book on their own card (src/domain/staff/own-card.ts).
  'OWN_CARD',
  'API_KEY_NOT_FOUND',
  // Charity (src/domain/charity).
  'CAUSE_NOT_FOUND',
  'DONATION_TOO_SMALL',
  'MONTH_INVALID',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly details: Record<string, string | number | boolean | null> = {},
  ) {
    super(code);
    this.name = 'DomainError';
  }
}

export const isDomainError = (error: unknown, code?: ErrorCode): error is DomainError =>
  error instanceof DomainError && (code === undefined || error.code === code);
