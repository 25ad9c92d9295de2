import { DomainError } from '../errors.js';
import type { Actor } from '../ledger/types.js';

/**
 * Staff never book on their own member card: not a purchase, a return or an adjustment, not in
 * the chat and not through an API key they created. `operatorTelegramId` is the person behind
 * the operation: the staff member or admin in the chat (their actor id), or the creator of the
 * API key a till used (adapters pass it). Redeeming one's own coupon is refused the same way
 * (rewards/redeem-coupon.ts).
 */
export function operatorTelegramIdOf(actor: Actor, explicit?: number | null): number | null {
  if (explicit !== undefined && explicit !== null) return explicit;
  if ((actor.type === 'STAFF' || actor.type === 'ADMIN') && actor.id && /^\d{1,15}$/.test(actor.id)) return Number(actor.id);
  return null;
}

export function assertNotOwnCard(member: { telegramId: number | null }, operatorTelegramId: number | null): void {
  if (operatorTelegramId !== null && member.telegramId !== null && member.telegramId === operatorTelegramId) throw new DomainError('OWN_CARD');
}
