import type { Repositories } from '../ports.js';
import type { Member } from './member.js';

/** The narrow port of member look-ups: the members repository, nothing else. */
export interface MemberLookupDeps {
  repos: Pick<Repositories, 'members'>;
}

/**
 * The member behind a Telegram user, whatever their status; null before /start. The bot calls
 * it once per update (one query) and every screen of that update reads what it returned.
 */
export function memberOfTelegramUser(deps: MemberLookupDeps, telegramId: number): Promise<Member | null> {
  return deps.repos.members.findByTelegramId(telegramId);
}

/** The member's balance as stored now (0 for an unknown id): what a screen may offer to spend. */
export async function currentBalance(deps: MemberLookupDeps, memberId: number): Promise<number> {
  return (await deps.repos.members.findById(memberId))?.balance ?? 0;
}
