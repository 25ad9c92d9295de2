import { DomainError } from '../errors.js';
import type { DomainDeps, Repositories } from '../ports.js';
import { verifySpendCode } from './spend-codes.js';
import { SPEND_REQUEST_ID, spendRequestState } from './spend-requests.js';
import type { SpendCodeAttempt, SpendProof } from './types.js';

/**
 * The check that stands before every spend of points at a till (DESIGN principle 10): the
 * purchase use case calls `checkSpendProof` before its transaction and `consumeSpendProof` in
 * it, right before the debit, so the proof is used up exactly when the points are taken.
 */
export type CheckedProof = { kind: 'code'; codeId: number } | { kind: 'request'; requestId: string };

export interface SpendIntent {
  memberId: number;
  storeId: number;
  points: number;
}

/**
 * Throws unless `proof` shows the member agrees to this spend now; earning (0 points) needs none.
 * `codeChecked`: the spend code's check, when the caller had the database make it already.
 */
export async function checkSpendProof(
  deps: DomainDeps,
  intent: SpendIntent,
  proof: SpendProof | null | undefined,
  codeChecked?: SpendCodeAttempt,
): Promise<CheckedProof | null> {
  if (intent.points <= 0) return null;
  if (!proof) throw new DomainError('SPEND_PROOF_REQUIRED', { field: 'spendCode' });
  if (proof.kind === 'code') return { kind: 'code', codeId: await verifySpendCode(deps, intent.memberId, proof.code, codeChecked) };

  const request = SPEND_REQUEST_ID.test(proof.requestId) ? await deps.repos.spendRequests.findById(proof.requestId) : null;
  if (!request || request.memberId !== intent.memberId) throw new DomainError('SPEND_REQUEST_NOT_FOUND', { field: 'spendRequestId' });
  const state = spendRequestState(request, deps.clock.now());
  if (state !== 'approved') throw new DomainError('SPEND_REQUEST_INVALID', { field: 'spendRequestId', state });
  if (request.storeId !== intent.storeId || request.points !== intent.points)
    throw new DomainError('SPEND_REQUEST_INVALID', { field: 'spendRequestId', state: 'mismatch', points: request.points });
  return { kind: 'request', requestId: request.id };
}

/**
 * Uses the proof up in the spend's transaction: one conditional update, so of two purchases
 * racing with one proof exactly one spends and the other rolls back.
 */
export async function consumeSpendProof(repos: Repositories, now: Date, intent: SpendIntent, proof: CheckedProof | null, purchaseId: number): Promise<void> {
  if (!proof) {
    if (intent.points > 0) throw new DomainError('SPEND_PROOF_REQUIRED', { field: 'spendCode' });
    return;
  }
  if (proof.kind === 'code') {
    if (!(await repos.spendCodes.consume(proof.codeId, now, purchaseId)))
      throw new DomainError('SPEND_CODE_INVALID', { field: 'spendCode', attemptsLeft: null });
    return;
  }
  if (!(await repos.spendRequests.consume(proof.requestId, intent, now, purchaseId)))
    throw new DomainError('SPEND_REQUEST_INVALID', { field: 'spendRequestId', state: 'used' });
}
