import { DomainError } from '../errors.js';
import type { Actor } from '../ledger/types.js';
import type { DomainDeps } from '../ports.js';
import type { Locale } from '../program.js';
import { actorOf, requireRole } from '../staff/access.js';

/**
 * Who is acting on broadcasts: a marketer (or admin) in the chat, checked with `requireRole` on
 * every call; or the CRM through an API key that is not bound to a store (a till's key may not
 * broadcast).
 */
export type BroadcastAuthor = { kind: 'staff'; telegramId: number; locale: Locale } | { kind: 'apiKey'; apiKeyId: number; storeId: number | null };

export async function authorize(deps: DomainDeps, by: BroadcastAuthor): Promise<Actor> {
  if (by.kind === 'staff') return actorOf(await requireRole(deps, by.telegramId, ['MARKETER']));
  if (by.storeId !== null) throw new DomainError('FORBIDDEN', { reason: 'an API key bound to a store may not broadcast' });
  return { type: 'TILL', id: `apikey:${by.apiKeyId}` };
}

/** A marketer (or admin) by Telegram id, for the chat's read-only screens. */
export const marketer = (telegramId: number, locale: Locale): BroadcastAuthor => ({ kind: 'staff', telegramId, locale });
