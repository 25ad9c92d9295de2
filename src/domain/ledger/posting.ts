import { DomainError } from '../errors.js';
import { allocateFifo } from './fifo.js';
import type { LedgerCommand, LedgerEntry, LotAllocation, OpenLot } from './types.js';

/**
 * The posting rules, pure. Adapters execute a post under them: the in-memory fake by calling
 * `planPost`, PostgreSQL in one round trip through `ledger_post` (prisma/migrations/
 * 20261124000000_ledger_post), which mirrors `planPost`'s take and FIFO draw in SQL;
 * test/db/ledger.test.ts holds the two to the same results.
 */

/** Refuses a command no store could post: a non-integer or non-positive amount, a missing key. */
export function validateCommand(command: LedgerCommand): void {
  const zeroAllowed = command.kind === 'debit' && command.upToBalance === true;
  if (!Number.isSafeInteger(command.amount) || command.amount < 0 || (command.amount === 0 && !zeroAllowed)) {
    throw new DomainError('AMOUNT_INVALID', { amount: command.amount });
  }
  if (!command.idempotencyKey || command.idempotencyKey.length > 200) throw new DomainError('AMOUNT_INVALID', { field: 'idempotencyKey' });
}

/**
 * Whether `previous`, the entry already written under the command's key, is this command's
 * result: same member, type and amount. A capped debit (upToBalance) records what it took,
 * which may be less than asked, so it matches any entry that took no more than asked.
 */
export function replayMatches(command: LedgerCommand, previous: Pick<LedgerEntry, 'memberId' | 'type' | 'amount'>): boolean {
  if (previous.memberId !== command.memberId || previous.type !== command.type) return false;
  if (command.kind === 'credit') return previous.amount === command.amount;
  return command.upToBalance ? previous.amount <= 0 && -previous.amount <= command.amount : -previous.amount === command.amount;
}

/** The first entry when the key was used before; throws IDEMPOTENCY_CONFLICT when it is another command's. */
export function replayOf<E extends Pick<LedgerEntry, 'memberId' | 'type' | 'amount'>>(command: LedgerCommand, previous: E): E {
  if (!replayMatches(command, previous)) throw new DomainError('IDEMPOTENCY_CONFLICT', { key: command.idempotencyKey });
  return previous;
}

export interface PostPlan {
  /** Signed: what the entry records and the balance moves by. */
  amount: number;
  balanceAfter: number;
  /** Debits: the lots drawn, in spending order. Credits open a lot of `amount` instead. */
  allocations: LotAllocation[];
}

/**
 * What a new (not replayed) post writes, given the member's balance and open lots: a credit adds
 * its amount; a debit takes its amount, or with upToBalance what there is up to it, from the
 * oldest-expiring lots. Throws INSUFFICIENT_POINTS when a plain debit exceeds the balance.
 */
export function planPost(command: LedgerCommand, balance: number, openLots: readonly OpenLot[]): PostPlan {
  if (command.kind === 'credit') return { amount: command.amount, balanceAfter: balance + command.amount, allocations: [] };
  const take = command.upToBalance ? Math.min(command.amount, balance) : command.amount;
  if (take > balance) throw new DomainError('INSUFFICIENT_POINTS', { balance, needed: take });
  if (take === 0) return { amount: 0, balanceAfter: balance, allocations: [] }; // 0, not -0
  return { amount: -take, balanceAfter: balance - take, allocations: allocateFifo(openLots, take) };
}
