import type { Clock } from '../clock.js';
import type { MemberStanding, Repositories } from '../ports.js';
import type { Program } from '../program.js';
import type { Member } from './member.js';
import { qualification } from './overview.js';

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

/**
 * The member and their standing (qualifying total, nearest expiry) in one query: what the bot
 * reads for an update that asks for the Balance screen, which then needs no query of its own.
 */
export function memberWithStanding(
  deps: MemberLookupDeps & { program: Program; clock: Clock },
  telegramId: number,
): Promise<{ member: Member; standing: MemberStanding } | null> {
  return deps.repos.members.findByTelegramIdWithStanding(telegramId, qualification(deps.program, deps.clock.now()));
}

/** The member's balance as stored now (0 for an unknown id): what a screen may offer to spend. */
export async function currentBalance(deps: MemberLookupDeps, memberId: number): Promise<number> {
  return (await deps.repos.members.findById(memberId))?.balance ?? 0;
}
