import type { Actor } from '../ledger/types.js';
import type { Locale } from '../program.js';
import type { ThrottlePolicy } from '../rewards/lookup-throttle.js';
import type { ThrottleState } from '../rewards/types.js';

/**
 * What a till or cashier presents, beside the points, to show that the member is there and
 * agrees (DESIGN principle 10). Knowing the card code is not enough to take points.
 */
export type SpendProof =
  /** The six digits on the member's Card screen in the bot, read out or shown at the till. */
  | { kind: 'code'; code: string }
  /** A confirmation request the member approved in the chat. */
  | { kind: 'request'; requestId: string };

export interface StoredSpendCode {
  id: number;
  codeHash: string;
  expiresAt: Date;
}

/**
 * One typed code checked against the member's current one, counted in the same step under the
 * member's guessing lock (in the database, so it holds across processes and concurrent guesses).
 */
export interface SpendCodeCheck {
  /** The HMAC of the typed code (hashSpendCode); null when it is not six digits (always wrong). */
  codeHash: string | null;
  now: Date;
  /** Counted under the member's guessing lock, `spendThrottleKey(memberId)`. */
  policy: ThrottlePolicy;
}

/** What the check decided. Only `wrong` was counted; `locked` was not compared at all. */
export type SpendCodeAttempt = { outcome: 'match'; codeId: number } | { outcome: 'wrong'; throttle: ThrottleState } | { outcome: 'locked'; blockedUntil: Date };

export interface SpendCodeRepository {
  /** Supersedes every unused code of the member (usedAt = createdAt) and stores the new one. */
  replace(memberId: number, value: { codeHash: string; createdAt: Date; expiresAt: Date }): Promise<void>;
  /** Checks and counts one typed code (see SpendCodeCheck); one statement. */
  attempt(memberId: number, check: SpendCodeCheck): Promise<SpendCodeAttempt>;
  /** Unused and unexpired at `now` -> used by the purchase, in one conditional update; false when it was not. */
  consume(id: number, now: Date, purchaseId: number): Promise<boolean>;
}

export type SpendRequestStatus = 'PENDING' | 'APPROVED' | 'DECLINED';

export interface SpendRequest {
  id: string;
  memberId: number;
  storeId: number;
  points: number;
  status: SpendRequestStatus;
  actor: Actor;
  /** The cashier's chat told of the answer; null when the API created it (the till polls). */
  notify: { chatId: number; locale: Locale } | null;
  createdAt: Date;
  expiresAt: Date;
  decidedAt: Date | null;
  usedAt: Date | null;
}

export interface SpendRequestRepository {
  create(value: Omit<SpendRequest, 'status' | 'decidedAt' | 'usedAt'>): Promise<SpendRequest>;
  findById(id: string): Promise<SpendRequest | null>;
  /** PENDING and unexpired at `now` -> APPROVED or DECLINED, for this member only; false when it was not. */
  decide(id: string, memberId: number, approve: boolean, now: Date): Promise<boolean>;
  /**
   * APPROVED, unused and unexpired at `now`, for exactly this member, store and points -> used by
   * the purchase, in one conditional update; false when it was not.
   */
  consume(id: string, match: { memberId: number; storeId: number; points: number }, now: Date, purchaseId: number): Promise<boolean>;
}
