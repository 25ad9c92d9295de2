import { DomainError } from '../errors.js';
import type { Member } from '../members/member.js';
import type { DomainDeps, Purchase, Store } from '../ports.js';
import { type SpendRequestState, spendRequestState } from '../spending/spend-requests.js';

/**
 * What a cashier's screens ask before anything is booked (the bot's purchase and return dialogs):
 * the decisions (which store is open, which member may be served, whether a receipt is taken,
 * what is left to return) live here, so that the adapters only render them. Booking goes through
 * recordPurchase / recordReturn, which check everything again.
 */

/** The open stores to choose from, at most `limit`; none is a refusal. */
export async function openStores(deps: DomainDeps, limit = 20): Promise<Store[]> {
  const stores = (await deps.repos.stores.list()).filter((store) => store.active);
  if (stores.length === 0) throw new DomainError('STORE_NOT_FOUND', { store: '' });
  return stores.slice(0, limit);
}

/** An open store by id (a tapped choice) or by code (typed); anything else is a refusal. */
export async function openStore(deps: DomainDeps, by: { id: number } | { code: string }): Promise<Store> {
  const store = 'id' in by ? await deps.repos.stores.findById(by.id) : await deps.repos.stores.findByCode(by.code.trim());
  if (!store?.active) throw new DomainError('STORE_NOT_FOUND', { store: 'code' in by ? by.code.trim() : '' });
  return store;
}

/** The store's name for a screen, or null (an admin without a store, a store since removed). */
export async function storeName(deps: DomainDeps, storeId: number | null): Promise<string | null> {
  return storeId === null ? null : ((await deps.repos.stores.findById(storeId))?.name ?? null);
}

/** The member a dialog is serving, as they are now: only an active one may be served. */
export async function memberAtTill(deps: DomainDeps, memberId: number | undefined): Promise<Member> {
  const member = memberId === undefined ? null : await deps.repos.members.findById(memberId);
  if (member?.status !== 'ACTIVE') throw new DomainError('MEMBER_NOT_FOUND');
  return member;
}

/** Refused early, so the cashier can retype it; recordPurchase checks again. */
export async function assertReceiptFree(deps: DomainDeps, storeId: number, receiptNo: string): Promise<void> {
  if (await deps.repos.purchases.findByReceipt(storeId, receiptNo)) throw new DomainError('RECEIPT_DUPLICATE', { receiptNo });
}

export interface ReturnablePurchase {
  purchase: Purchase;
  /** What may still be returned. */
  leftMinor: number;
  /** The buyer, if still on file. */
  member: Member | null;
}

/** The purchase a return is for, with what is left of it; unknown or fully returned is a refusal. */
export async function purchaseToReturn(deps: DomainDeps, storeId: number, receiptNo: string): Promise<ReturnablePurchase> {
  const purchase = await deps.repos.purchases.findByReceipt(storeId, receiptNo);
  if (!purchase) throw new DomainError('PURCHASE_NOT_FOUND', { receiptNo });
  const leftMinor = purchase.amountMinor - purchase.returnedMinor;
  if (leftMinor <= 0) throw new DomainError('RETURN_EXCEEDS_PURCHASE', { remaining: 0 });
  return { purchase, leftMinor, member: await deps.repos.members.findById(purchase.memberId) };
}

/** Where the customer's answer to a spend request stands now (a missing one has expired). */
export async function spendRequestStatus(deps: DomainDeps, requestId: string): Promise<SpendRequestState> {
  const request = await deps.repos.spendRequests.findById(requestId);
  return request ? spendRequestState(request, deps.clock.now()) : 'expired';
}

/**
 * Whether what a confirmation screen confirms was booked under its idempotency key (a purchase
 * or a return): a second tap on it is told so instead of booking twice.
 */
export async function bookedAtTill(deps: DomainDeps, idempotencyKey: string): Promise<boolean> {
  if (await deps.repos.purchases.findByKey(idempotencyKey)) return true;
  return (await deps.repos.purchases.findReturnByKey(idempotencyKey)) !== null;
}
