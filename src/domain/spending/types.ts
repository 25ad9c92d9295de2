import type { Actor } from '../ledger/types.js';
import type { Locale } from '../program.js';
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

/** What checking a typed spend code reads: the member's current code and their guessing lock. */
export interface SpendCodeState {
  current: StoredSpendCode | null;
  throttle: ThrottleState | null;
}

export interface SpendCodeRepository {
  /** Supersedes every unused code of the member (usedAt = createdAt) and stores the new one. */
  replace(memberId: number, value: { codeHash: string; createdAt: Date; expiresAt: Date }): Promise<void>;
  /** The member's code that is unused and unexpired at `now`; null when there is none. */
  current(memberId: number, now: Date): Promise<StoredSpendCode | null>;
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
