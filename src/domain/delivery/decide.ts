import type { Member } from '../members/member.js';
import type { Delivery } from '../ports.js';
import { INELIGIBLE, ineligibility } from './eligibility.js';

/**
 * What to do with a message at the moment it is due to go out. Decided when sending, not when
 * queueing, so that a member who turned notifications off or blocked the bot in the meantime
 * is respected.
 */
export type DeliveryDecision =
  | { action: 'send'; chatId: number }
  | { action: 'drop'; status: 'SKIPPED' | 'BLOCKED'; reason: string }
  | { action: 'wait'; until: Date };

export function decideDelivery(delivery: Delivery, member: Member | null, now: Date, nextAllowed: (now: Date) => Date): DeliveryDecision {
  if (delivery.status !== 'PENDING') return { action: 'drop', status: 'SKIPPED', reason: `already ${delivery.status.toLowerCase()}` };
  // A message to a chat that is not a member's (a staff alert): no member settings apply.
  if (delivery.chat) return { action: 'send', chatId: delivery.chat.chatId };
  const refused = ineligibility(member, { transactional: delivery.class === 'transactional' });
  if (refused !== null || member === null || member.telegramId === null) return { action: 'drop', ...INELIGIBLE[refused ?? 'inactive'] };
  if (delivery.class !== 'transactional') {
    const allowed = nextAllowed(now);
    if (allowed.getTime() > now.getTime()) return { action: 'wait', until: allowed };
  }
  return { action: 'send', chatId: member.telegramId };
}
