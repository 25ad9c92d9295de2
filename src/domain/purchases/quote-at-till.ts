import { DomainError } from '../errors.js';
import type { Member } from '../members/member.js';
import type { DomainDeps } from '../ports.js';
import { assertNotOwnCard } from '../staff/own-card.js';
import { tierByCode } from '../tiers.js';
import { localDate } from '../time.js';
import { type PurchaseQuote, quotePurchase } from './quote.js';
import { assertMinorAmount, MAX_POINTS } from './request.js';

export interface QuoteAtTillInput {
  /** The bill in minor units. */
  amountMinor: number;
  pointsToSpend: number;
  /** The person behind the till's key, who may not book (so not quote) on their own card. */
  operatorTelegramId?: number | null;
}

/**
 * The quote a till shows before it books (POST /v1/purchases/quote), for a member already found
 * by card code: the figures POST /v1/purchases would book now, with nothing written and no spend
 * proof needed (nothing is spent). Same checks on the amounts as a purchase.
 */
export function quoteAtTill(deps: DomainDeps, member: Member, input: QuoteAtTillInput): PurchaseQuote {
  assertMinorAmount(input.amountMinor, 'amountMinor');
  if (!Number.isSafeInteger(input.pointsToSpend) || input.pointsToSpend < 0 || input.pointsToSpend > MAX_POINTS)
    throw new DomainError('AMOUNT_INVALID', { field: 'pointsToSpend' });
  if (input.operatorTelegramId != null) assertNotOwnCard(member, input.operatorTelegramId);
  const now = deps.clock.now();
  return quotePurchase(deps.program, {
    tier: tierByCode(deps.program, member.tier),
    balance: member.balance,
    billMinor: input.amountMinor,
    pointsToSpend: input.pointsToSpend,
    localDay: localDate(now, deps.program.timezone),
  });
}
