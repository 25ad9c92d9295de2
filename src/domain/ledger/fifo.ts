import type { LotAllocation, OpenLot } from './types.js';

/** Lots in spending order: soonest expiry first, never-expiring last, older lots before newer. */
export function compareLotsForSpending(a: OpenLot, b: OpenLot): number {
  const aTime = a.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY;
  const bTime = b.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY;
  return aTime === bTime ? a.id - b.id : aTime - bTime;
}

/**
 * Draws `amount` points from the lots, oldest-expiring first. The caller guarantees the lots
 * hold at least `amount`; a shortfall here means balance and lots disagree, which must never
 * be papered over.
 */
export function allocateFifo(lots: readonly OpenLot[], amount: number): LotAllocation[] {
  const allocations: LotAllocation[] = [];
  let left = amount;
  for (const lot of [...lots].sort(compareLotsForSpending)) {
    if (left === 0) break;
    const take = Math.min(lot.remaining, left);
    if (take > 0) {
      allocations.push({ lotId: lot.id, amount: take });
      left -= take;
    }
  }
  if (left > 0) throw new Error(`ledger invariant broken: lots hold ${amount - left} of ${amount} points`);
  return allocations;
}
