import { DomainError } from '../errors.js';
import type { DomainDeps } from '../ports.js';
import { requireRole } from '../staff/access.js';
import { assertNotOwnCard } from '../staff/own-card.js';
import { expiryFor } from './expiry.js';
import type { PostResult } from './types.js';

/**
 * A manual correction by an admin: a signed number of points with a mandatory reason, written
 * as an ADJUST entry (never an edit) and recorded in the audit log. A negative adjustment
 * cannot take more than the balance holds.
 */
export async function adjustPoints(
  deps: DomainDeps,
  input: { adminTelegramId: number; memberId: number; amount: number; reason: string; idempotencyKey: string },
): Promise<PostResult> {
  const admin = await requireRole(deps, input.adminTelegramId, ['ADMIN']);
  const reason = input.reason.trim();
  if (reason.length < 3 || reason.length > 200) throw new DomainError('REASON_REQUIRED');
  if (!Number.isSafeInteger(input.amount) || input.amount === 0) throw new DomainError('AMOUNT_INVALID', { field: 'amount' });
  const actor = { type: 'ADMIN' as const, id: String(admin.telegramId) };
  const result = await deps.uow.run(async (repos) => {
    const member = await repos.members.findById(input.memberId);
    if (member?.status !== 'ACTIVE') throw new DomainError('MEMBER_NOT_FOUND');
    assertNotOwnCard(member, admin.telegramId);
    const posted =
      input.amount > 0
        ? await repos.ledger.post({
            kind: 'credit',
            type: 'ADJUST',
            memberId: member.id,
            amount: input.amount,
            idempotencyKey: input.idempotencyKey,
            actor,
            reason,
            expiresAt: expiryFor(deps.program.points.expiry, deps.clock.now(), deps.program.timezone),
          })
        : await repos.ledger.post({
            kind: 'debit',
            type: 'ADJUST',
            memberId: member.id,
            amount: -input.amount,
            idempotencyKey: input.idempotencyKey,
            actor,
            reason,
          });
    if (!posted.replayed) {
      await repos.audit.record({
        actor,
        action: 'points.adjusted',
        subject: `member:${member.id}`,
        details: { amount: input.amount, reason, entryId: posted.entry.id },
      });
    }
    return posted;
  });
  if (!result.replayed) await deps.notifier.notify(input.memberId, { kind: 'pointsAdjusted', amount: input.amount, balance: result.entry.balanceAfter });
  return result;
}

/** Whether an adjustment was booked under this idempotency key: a second Confirm is told so. */
export async function adjustmentBooked(deps: DomainDeps, idempotencyKey: string): Promise<boolean> {
  return (await deps.repos.ledger.findByKeys([idempotencyKey])).length > 0;
}
