import { DomainError } from '../errors.js';
import type { LedgerEntry } from '../ledger/types.js';
import type { DomainDeps, MemberStanding, Qualification, Repositories } from '../ports.js';
import type { Program, TierLevel } from '../program.js';
import { nextTier, tierByCode } from '../tiers.js';
import type { Member } from './member.js';

export interface Overview {
  member: Member;
  balance: number;
  tier: TierLevel;
  next: { tier: TierLevel; missing: number; metric: 'spend' | 'pointsEarned' } | null;
  /** The soonest-expiring points: how many, and when. */
  nearestExpiry: { points: number; at: Date } | null;
}

/**
 * Who a screen is for: the member the caller has already loaded for this request (the bot loads
 * it once per update; reading it again would double the queries of every screen), or a Telegram
 * id to look up. Writes pass the id, so they decide on a fresh row.
 */
export type MemberRef = Member | number;

export async function activeMember(repos: Repositories, who: MemberRef): Promise<Member> {
  const member = typeof who === 'number' ? await repos.members.findByTelegramId(who) : who;
  if (!member) throw new DomainError('MEMBER_NOT_FOUND');
  if (member.status !== 'ACTIVE') throw new DomainError('MEMBER_NOT_ACTIVE');
  return member;
}

/** The start of the tier qualification window, or null for lifetime. */
export function qualificationSince(program: Program, now: Date): Date | null {
  const window = program.tiers.qualification.window;
  return window.kind === 'lifetime' ? null : new Date(now.getTime() - window.days * 86_400_000);
}

export function qualification(program: Program, now: Date): Qualification {
  return { metric: program.tiers.qualification.metric, since: qualificationSince(program, now) };
}

export async function qualifyingTotal(repos: Repositories, program: Program, memberId: number, now: Date): Promise<number> {
  const { metric, since } = qualification(program, now);
  return metric === 'spend' ? repos.purchaseStats.netSpendSince(memberId, since) : repos.ledger.pointsEarnedSince(memberId, since);
}

/**
 * Balance screen: points, tier and discount, what the next tier needs, what expires first. The
 * member row it has already loaded plus one aggregate query, so the cost does not grow with the
 * member's history; no query at all when the caller read the standing with the member
 * (`findByTelegramIdWithStanding`, as the bot does for a Balance tap).
 */
export async function getOverview(deps: DomainDeps, who: MemberRef, standing?: MemberStanding): Promise<Overview> {
  const member = await activeMember(deps.repos, who);
  const { qualifyingTotal: total, nearestExpiry } = standing ?? (await deps.repos.members.standing(member.id, qualification(deps.program, deps.clock.now())));
  const tier = tierByCode(deps.program, member.tier);
  const next = nextTier(deps.program, tier, total);
  return {
    member,
    balance: member.balance,
    tier,
    next: next ? { ...next, metric: deps.program.tiers.qualification.metric } : null,
    nearestExpiry,
  };
}

export const HISTORY_PAGE_SIZE = 8;

export interface HistoryPage {
  entries: LedgerEntry[];
  page: number;
  pages: number;
}

export async function getHistory(deps: DomainDeps, who: MemberRef, page: number): Promise<HistoryPage> {
  const member = await activeMember(deps.repos, who);
  const safePage = Number.isSafeInteger(page) && page >= 0 ? page : 0;
  const { entries, total } = await deps.repos.ledger.history(member.id, { offset: safePage * HISTORY_PAGE_SIZE, limit: HISTORY_PAGE_SIZE });
  return { entries, page: safePage, pages: Math.max(1, Math.ceil(total / HISTORY_PAGE_SIZE)) };
}
