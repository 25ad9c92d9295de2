import { DomainError } from '../errors.js';
import { proportionalShare } from '../ledger/earn-rules.js';
import { expiryFor } from '../ledger/expiry.js';
import type { Actor } from '../ledger/types.js';
import type { DomainDeps, PurchaseReturn, Repositories } from '../ports.js';
import { assertNotOwnCard, operatorTelegramIdOf } from '../staff/own-card.js';
import { hasPoints } from './quote.js';
import { reevaluateTier } from './record-purchase.js';
import { assertMinorAmount, normalizeReceipt, requestHash } from './request.js';

export interface RecordReturnInput {
  storeId: number;
  receiptNo: string;
  /** The returned part of the bill in minor units; null returns everything not yet returned. */
  amountMinor: number | null;
  idempotencyKey: string;
  actor: Actor;
  /** The person behind a till's key (its creator), who may not book on their own card. */
  operatorTelegramId?: number | null;
}

export interface ReturnResult {
  purchaseReturn: PurchaseReturn;
  memberId: number;
  balance: number;
  replayed: boolean;
}

/**
 * A full or partial return of a purchase. The points paid for the returned share come back
 * (as a new lot), then the points earned on that share are taken back. When the member has
 * already spent them, the ledger takes what the balance holds and the rest is recorded as a
 * shortfall: the balance never goes negative. Shares are computed cumulatively, so partial
 * returns that add up to the whole bill reverse exactly what the purchase earned.
 */
/** The balance right after a recorded return, as first answered: its last ledger entry's. */
async function balanceAfterReturn(repos: Repositories, purchaseReturn: PurchaseReturn, memberId: number): Promise<number> {
  const entries = await repos.ledger.findByKeys([`return:${purchaseReturn.id}:refund`, `return:${purchaseReturn.id}:reverse`]);
  const last = entries.sort((a, b) => a.id - b.id).at(-1);
  // A return that moved no points: the balance it reported was the member's at the time, unchanged since unless other entries followed.
  return last ? last.balanceAfter : ((await repos.members.findById(memberId))?.balance ?? 0);
}

export async function recordReturn(deps: DomainDeps, input: RecordReturnInput): Promise<ReturnResult> {
  if (input.amountMinor !== null) assertMinorAmount(input.amountMinor, 'amountMinor');
  const receiptNo = normalizeReceipt(input.receiptNo);
  const hash = requestHash({ storeId: input.storeId, receiptNo, amountMinor: input.amountMinor });
  const now = deps.clock.now();

  const result = await deps.uow.run(async (repos) => {
    // The lock serialises returns of one purchase, so two cashiers cannot return it twice.
    const purchase = await repos.purchases.lockByReceipt(input.storeId, receiptNo);
    const earlier = await repos.purchases.findReturnByKey(input.idempotencyKey);
    if (earlier) {
      // Checked under the lock, so a concurrent twin with the same key is seen here.
      if (!purchase || earlier.requestHash !== hash || earlier.purchaseId !== purchase.id) throw new DomainError('IDEMPOTENCY_CONFLICT');
      return { purchaseReturn: earlier, memberId: purchase.memberId, balance: await balanceAfterReturn(repos, earlier, purchase.memberId), replayed: true };
    }
    if (!purchase) throw new DomainError('PURCHASE_NOT_FOUND', { receiptNo });
    const store = await repos.stores.findById(purchase.storeId);
    const member = await repos.members.findById(purchase.memberId);
    if (member) assertNotOwnCard(member, operatorTelegramIdOf(input.actor, input.operatorTelegramId));

    const left = purchase.amountMinor - purchase.returnedMinor;
    const amount = input.amountMinor ?? left;
    if (left <= 0 || amount > left) throw new DomainError('RETURN_EXCEEDS_PURCHASE', { remaining: left });
    const returnedAfter = purchase.returnedMinor + amount;
    const refund = proportionalShare(purchase.paidWithPoints, purchase.amountMinor, purchase.returnedMinor, returnedAfter);
    const reverse = proportionalShare(purchase.pointsEarned, purchase.amountMinor, purchase.returnedMinor, returnedAfter);
    // The returned goods' share of the discount comes off the savings, and the money back is the
    // returned share of what was paid in money (cumulative shares: a full return gives all back).
    const discountBack = proportionalShare(purchase.discountMinor, purchase.amountMinor, purchase.returnedMinor, returnedAfter);
    const refundMinor = purchase.paidMinor === null ? null : proportionalShare(purchase.paidMinor, purchase.amountMinor, purchase.returnedMinor, returnedAfter);

    const draft = await repos.purchases.createReturn({
      purchaseId: purchase.id,
      amountMinor: amount,
      pointsReversed: 0,
      pointsRefunded: refund,
      shortfall: 0,
      discountMinor: discountBack,
      refundMinor,
      idempotencyKey: input.idempotencyKey,
      requestHash: hash,
      actor: input.actor,
    });
    const common = { memberId: purchase.memberId, actor: input.actor, storeId: purchase.storeId, purchaseId: purchase.id };
    let balance = member?.balance ?? 0;
    if (refund > 0) {
      const refunded = await repos.ledger.post({
        ...common,
        kind: 'credit',
        type: 'REFUND',
        amount: refund,
        idempotencyKey: `return:${draft.id}:refund`,
        reason: 'return',
        expiresAt: expiryFor(deps.program.points.expiry, now, deps.program.timezone),
      });
      balance = refunded.entry.balanceAfter;
    }
    let taken = 0;
    if (reverse > 0) {
      const reversed = await repos.ledger.post({
        ...common,
        kind: 'debit',
        type: 'REVERSE',
        amount: reverse,
        upToBalance: true,
        idempotencyKey: `return:${draft.id}:reverse`,
        reason: 'return',
      });
      taken = -reversed.entry.amount;
      balance = reversed.entry.balanceAfter;
    }
    const purchaseReturn = await repos.purchases.finishReturn(draft.id, { pointsReversed: taken, shortfall: reverse - taken });
    await repos.purchases.addReturned(purchase.id, amount, discountBack);
    // A tier bought with goods that came back is not kept, even under `downgrade: never`.
    await reevaluateTier(deps, repos, purchase.memberId, { returned: purchase });
    // The customer's message and the event (tasks take back the progress the purchase gave)
    // commit with the return.
    await repos.outbox.notify(
      purchase.memberId,
      {
        kind: 'returnRecorded',
        pointsReversed: purchaseReturn.pointsReversed,
        pointsRefunded: purchaseReturn.pointsRefunded,
        balance,
        storeName: store?.name ?? '',
        points: hasPoints(deps.program),
      },
      { dedupeKey: `return:${purchaseReturn.id}:receipt` },
    );
    await repos.outbox.publish({
      type: 'returnRecorded',
      id: `return:${purchaseReturn.id}`,
      memberId: purchase.memberId,
      purchaseId: purchase.id,
      returnId: purchaseReturn.id,
      amountMinor: purchaseReturn.amountMinor,
      at: now,
    });
    return { purchaseReturn, memberId: purchase.memberId, balance, replayed: false };
  });

  return result;
}
