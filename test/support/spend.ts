import type { DomainDeps } from '../../src/domain/ports.js';
import { issueSpendCode } from '../../src/domain/spending/spend-codes.js';
import { answerSpendRequest, createSpendRequest } from '../../src/domain/spending/spend-requests.js';
import type { SpendProof } from '../../src/domain/spending/types.js';

/** The member's consent as the Card screen gives it: a fresh one-time spend code. */
export async function spendCodeProof(deps: DomainDeps, memberId: number): Promise<SpendProof> {
  return { kind: 'code', code: (await issueSpendCode(deps, memberId)).code };
}

/**
 * The member's consent as a confirmation request they approved in the chat; several of them can
 * stand at once (one per concurrent purchase), unlike spend codes.
 */
export async function approvedRequestProof(deps: DomainDeps, input: { memberId: number; storeId: number; points: number }): Promise<SpendProof> {
  const member = await deps.repos.members.findById(input.memberId);
  if (member?.telegramId == null) throw new Error('the member has no Telegram id to answer with');
  const { request } = await createSpendRequest(deps, { ...input, actor: { type: 'TILL', id: 'test' }, operatorTelegramId: null });
  await answerSpendRequest(deps, { requestId: request.id, telegramId: member.telegramId, approve: true });
  return { kind: 'request', requestId: request.id };
}
