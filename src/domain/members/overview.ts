import { DomainError } from '../errors.js';
import type { LedgerEntry } from '../ledger/types.js';
import type { DomainDeps, Repositories } from '../ports.js';
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

export async function activeMember(repos: Repositories, telegramId: number): Promise<Member> {
  const member = await repos.members.findByTelegramId(telegramId);
  if (!member) throw new DomainError('MEMBER_NOT_FOUND');
  if (member.status !== 'ACTIVE') throw new DomainError('MEMBER_NOT_ACTIVE');
  return member;
}

/** The start of the tier qualification window, or null for lifetime. */
export function qualificationSince(program: Program, now: Date): Date | null {
  const window = program.tiers.qualification.window;
  return window.kind === 'lifetime' ? null : new Date(now.getTime() - window.days * 86_400_000);
}

export async function qualifyingTotal(repos: Repositories, program: Program, memberId: number, now: Date): Promise<number> {
  const since = qualificationSince(program, now);
  return program.tiers.qualification.metric === 'spend' ? repos.purchaseStats.netSpendSince(memberId, since) : repos.ledger.pointsEarnedSince(memberId, since);
}

/** Balance screen: points, tier and discount, what the next tier needs, what expires first. */
export async function getOverview(deps: DomainDeps, telegramId: number): Promise<Overview> {
  const member = await activeMember(deps.repos, telegramId);
  const [total, lots] = await Promise.all([qualifyingTotal(deps.repos, deps.program, member.id, deps.clock.now()), deps.repos.ledger.openLots(member.id)]);
  const tier = tierByCode(deps.program, member.tier);
  const next = nextTier(deps.program, tier, total);
  const expiring = lots.filter((lot) => lot.expiresAt !== null).sort((a, b) => (a.expiresAt as Date).getTime() - (b.expiresAt as Date).getTime());
  const first = expiring[0];
  const nearestExpiry = first
    ? {
        at: first.expiresAt as Date,
        points: expiring
          .filter((lot) => (lot.expiresAt as Date).getTime() === (first.expiresAt as Date).getTime())
          .reduce((sum, lot) => sum + lot.remaining, 0),
      }
    : null;
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

export async function getHistory(deps: DomainDeps, telegramId: number, page: number): Promise<HistoryPage> {
  const member = await activeMember(deps.repos, telegramId);
  const safePage = Number.isSafeInteger(page) && page >= 0 ? page : 0;
  const { entries, total } = await deps.repos.ledger.history(member.id, { offset: safePage * HISTORY_PAGE_SIZE, limit: HISTORY_PAGE_SIZE });
  return { entries, page: safePage, pages: Math.max(1, Math.ceil(total / HISTORY_PAGE_SIZE)) };
}
