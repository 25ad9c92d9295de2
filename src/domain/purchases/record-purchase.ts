import { DomainError } from '../errors.js';
import { maxPointsForBill, pointsForPurchase } from '../ledger/earn-rules.js';
import { expiryFor } from '../ledger/expiry.js';
import type { Actor } from '../ledger/types.js';
import { qualifyingTotal } from '../members/overview.js';
import type { DomainDeps, Purchase, Repositories } from '../ports.js';
import type { TierLevel } from '../program.js';
import { checkSpendProof, consumeSpendProof } from '../spending/proof.js';
import type { SpendProof } from '../spending/types.js';
import { assertNotOwnCard, operatorTelegramIdOf } from '../staff/own-card.js';
import { resolveTier, tierByCode } from '../tiers.js';
import { localDate } from '../time.js';
import { assertMinorAmount, MAX_POINTS, normalizeReceipt, requestHash } from './request.js';

export interface RecordPurchaseInput {
  memberId: number;
  storeId: number;
  receiptNo: string;
  /** The whole bill, in minor units. */
  amountMinor: number;
  /** Points the customer pays part of the bill with (0 for none). */
  pointsToSpend: number;
  idempotencyKey: string;
  actor: Actor;
  /** The member's consent to spend `pointsToSpend` (required when it is above 0). */
  spendProof?: SpendProof | null;
  /** The person behind a till's key (its creator), who may not book on their own card. */
  operatorTelegramId?: number | null;
}

export interface PurchaseResult {
  purchase: Purchase;
  pointsEarned: number;
  pointsSpent: number;
  balance: number;
  tier: TierLevel;
  /** Set when this purchase lifted the member to a higher tier. */
  upgradedTo: TierLevel | null;
  /** True when the request had been recorded before and nothing was written now. */
  replayed: boolean;
}

/** Re-evaluates the member's tier from the qualifying window; returns the new tier if it changed. */
export async function reevaluateTier(
  deps: DomainDeps,
  repos: Repositories,
  memberId: number,
): Promise<{ tier: TierLevel; changed: boolean; upgraded: boolean }> {
  const member = await repos.members.findById(memberId);
  if (!member) throw new DomainError('MEMBER_NOT_FOUND');
  const current = tierByCode(deps.program, member.tier);
  const total = await qualifyingTotal(repos, deps.program, memberId, deps.clock.now());
  const tier = resolveTier(deps.program, member.tier, total);
  if (tier.code === member.tier) return { tier, changed: false, upgraded: false };
  await repos.members.update(memberId, { tier: tier.code });
  return { tier, changed: true, upgraded: tier.threshold > current.threshold };
}

/** The first answer again: the balance is the one right after the purchase, not today's. */
async function replayOf(deps: DomainDeps, purchase: Purchase, hash: string): Promise<PurchaseResult> {
  if (purchase.requestHash !== hash) throw new DomainError('IDEMPOTENCY_CONFLICT', { purchaseId: purchase.id });
  const member = await deps.repos.members.findById(purchase.memberId);
  const entries = await deps.repos.ledger.findByKeys([`purchase:${purchase.id}:spend`, `purchase:${purchase.id}:earn`]);
  return {
    purchase,
    pointsEarned: purchase.pointsEarned,
    pointsSpent: purchase.paidWithPoints,
    balance: entries.at(-1)?.balanceAfter ?? member?.balance ?? 0,
    tier: tierByCode(deps.program, member?.tier),
    upgradedTo: null,
    replayed: true,
  };
}

/**
 * A purchase at a till or recorded by staff: optionally paid partly with points (within the
 * program's cap), earning points on the part paid with money. Idempotent by key and by
 * store + receipt number; a replay that asks for something different is refused. Points,
 * purchase, tier change, the customer's messages and the `purchaseRecorded` event commit
 * together (outbox rows); nothing waits for the task engine.
 */
export async function recordPurchase(deps: DomainDeps, input: RecordPurchaseInput): Promise<PurchaseResult> {
  assertMinorAmount(input.amountMinor, 'amountMinor');
  if (!Number.isSafeInteger(input.pointsToSpend) || input.pointsToSpend < 0 || input.pointsToSpend > MAX_POINTS)
    throw new DomainError('AMOUNT_INVALID', { field: 'pointsToSpend' });
  const receiptNo = normalizeReceipt(input.receiptNo);
  const hash = requestHash({ memberId: input.memberId, storeId: input.storeId, receiptNo, amountMinor: input.amountMinor, pointsToSpend: input.pointsToSpend });

  const earlier = (await deps.repos.purchases.findByKey(input.idempotencyKey)) ?? (await deps.repos.purchases.findByReceipt(input.storeId, receiptNo));
  if (earlier) {
    if (earlier.idempotencyKey !== input.idempotencyKey && earlier.requestHash !== hash) throw new DomainError('RECEIPT_DUPLICATE', { receiptNo });
    return replayOf(deps, earlier, hash);
  }

  const cap = maxPointsForBill(deps.program, input.amountMinor);
  if (input.pointsToSpend > cap) throw new DomainError('POINTS_OVER_CAP', { max: cap });
  // Knowing the card code is not proof: points leave only with the member's consent (a replay,
  // answered above, spends nothing and needs none).
  const spend = { memberId: input.memberId, storeId: input.storeId, points: input.pointsToSpend };
  const proof = await checkSpendProof(deps, spend, input.spendProof);
  const now = deps.clock.now();

  const result = await deps.uow.run(async (repos) => {
    const store = await repos.stores.findById(input.storeId);
    if (!store?.active) throw new DomainError('STORE_NOT_FOUND');
    const member = await repos.members.findById(input.memberId);
    if (member?.status !== 'ACTIVE') throw new DomainError('MEMBER_NOT_FOUND');
    assertNotOwnCard(member, operatorTelegramIdOf(input.actor, input.operatorTelegramId));

    const purchase = await repos.purchases.create({
      memberId: member.id,
      storeId: input.storeId,
      receiptNo,
      amountMinor: input.amountMinor,
      paidWithPoints: input.pointsToSpend,
      idempotencyKey: input.idempotencyKey,
      requestHash: hash,
      actor: input.actor,
    });
    if (!purchase) return null; // a concurrent twin committed first: answered as a replay below

    const common = { memberId: member.id, actor: input.actor, storeId: input.storeId, purchaseId: purchase.id };
    let balance = member.balance;
    if (input.pointsToSpend > 0) {
      await consumeSpendProof(repos, now, spend, proof, purchase.id);
      const spent = await repos.ledger.post({
        ...common,
        kind: 'debit',
        type: 'SPEND',
        amount: input.pointsToSpend,
        idempotencyKey: `purchase:${purchase.id}:spend`,
        reason: 'purchase',
      });
      balance = spent.entry.balanceAfter;
    }
    const tierBefore = tierByCode(deps.program, member.tier);
    const paidMinor = input.amountMinor - input.pointsToSpend * deps.program.points.pointValueMinor;
    const pointsEarned = pointsForPurchase(deps.program, tierBefore, {
      billMinor: input.amountMinor,
      paidMinor,
      localDay: localDate(now, deps.program.timezone),
    });
    // Points are 32-bit columns: an earn that would not fit is refused, not a database error.
    if (pointsEarned > MAX_POINTS || balance + pointsEarned > MAX_POINTS) throw new DomainError('AMOUNT_INVALID', { field: 'amountMinor' });
    if (pointsEarned > 0) {
      const earned = await repos.ledger.post({
        ...common,
        kind: 'credit',
        type: 'EARN',
        amount: pointsEarned,
        idempotencyKey: `purchase:${purchase.id}:earn`,
        reason: 'purchase',
        expiresAt: expiryFor(deps.program.points.expiry, now, deps.program.timezone),
      });
      balance = earned.entry.balanceAfter;
      await repos.purchases.setPointsEarned(purchase.id, pointsEarned);
    }
    const tier = await reevaluateTier(deps, repos, member.id);
    // The receipt, a tier reached and the event the task engine follows commit with the purchase:
    // a crash after the commit loses none of them, and their keys make a second write a no-op.
    await repos.outbox.notify(
      member.id,
      { kind: 'purchaseRecorded', pointsEarned, pointsSpent: input.pointsToSpend, balance, storeName: store.name },
      { dedupeKey: `purchase:${purchase.id}:receipt` },
    );
    if (tier.upgraded) {
      await repos.outbox.notify(
        member.id,
        { kind: 'tierUpgraded', tierCode: tier.tier.code, discountPercent: tier.tier.discountPercent },
        { dedupeKey: `purchase:${purchase.id}:tier` },
      );
    }
    await repos.outbox.publish({
      type: 'purchaseRecorded',
      id: `purchase:${purchase.id}`,
      memberId: member.id,
      purchaseId: purchase.id,
      storeId: input.storeId,
      amountMinor: input.amountMinor,
      at: now,
    });
    return {
      purchase: { ...purchase, pointsEarned },
      pointsEarned,
      pointsSpent: input.pointsToSpend,
      balance,
      tier: tier.tier,
      upgradedTo: tier.upgraded ? tier.tier : null,
      replayed: false,
    } satisfies PurchaseResult;
  });

  if (!result) {
    const twin = (await deps.repos.purchases.findByKey(input.idempotencyKey)) ?? (await deps.repos.purchases.findByReceipt(input.storeId, receiptNo));
    if (!twin) throw new Error('purchase vanished after a uniqueness conflict');
    if (twin.idempotencyKey !== input.idempotencyKey && twin.requestHash !== hash) throw new DomainError('RECEIPT_DUPLICATE', { receiptNo });
    return replayOf(deps, twin, hash);
  }

  return result;
}
