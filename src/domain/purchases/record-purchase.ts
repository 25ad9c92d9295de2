import { DomainError, isDomainError } from '../errors.js';
import { expiryFor } from '../ledger/expiry.js';
import type { Actor } from '../ledger/types.js';
import { qualification as qualificationOf, qualifyingTotal } from '../members/overview.js';
import type { DomainDeps, Purchase, PurchasePlan, PurchaseSnapshot, Repositories } from '../ports.js';
import type { Program, TierLevel } from '../program.js';
import { type CheckedProof, checkSpendProof } from '../spending/proof.js';
import { spendCodeCheck } from '../spending/spend-codes.js';
import type { SpendProof } from '../spending/types.js';
import { assertNotOwnCard, operatorTelegramIdOf } from '../staff/own-card.js';
import { resolveTier, tierBand, tierByCode, tierForTotal } from '../tiers.js';
import { localDate } from '../time.js';
import { hasPoints, type PurchaseQuote, pointsCapFor, quotePurchase } from './quote.js';
import { assertMinorAmount, MAX_POINTS, normalizeReceipt, requestHash } from './request.js';

interface PurchaseFields {
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

/**
 * The member by id, or by card code as a till sends it (normalized, check character verified):
 * then the purchase's first read finds the member too, one round trip fewer (issue 12), and a
 * member missing or not active is MEMBER_NOT_FOUND before anything else, as findMemberForStaff
 * answers it.
 */
export type RecordPurchaseInput = PurchaseFields & ({ memberId: number; memberCode?: undefined } | { memberCode: string; memberId?: undefined });

/** The input once the member is known. */
type PlannedInput = PurchaseFields & { memberId: number };

export interface PurchaseResult {
  purchase: Purchase;
  pointsEarned: number;
  pointsSpent: number;
  balance: number;
  /** The tier discount on the bill (the tier the member held before the purchase). */
  discountPercent: number;
  discountMinor: number;
  /** What the customer paid in money. */
  amountDueMinor: number;
  /** What the program saved the customer on this purchase (the discount). */
  savingMinor: number;
  tier: TierLevel;
  /** Set when this purchase lifted the member to a higher tier. */
  upgradedTo: TierLevel | null;
  /** True when the request had been recorded before and nothing was written now. */
  replayed: boolean;
}

/**
 * Re-evaluates the member's tier from the qualifying window; returns the new tier if it changed.
 * After a return (`returned`: the purchase goods came back from) the tier follows the total down
 * even under `downgrade: never`, but not below the tier the member held before that purchase:
 * `never` keeps a tier earned, not one bought with goods that were returned.
 */
export async function reevaluateTier(
  deps: DomainDeps,
  repos: Repositories,
  memberId: number,
  options: { returned?: Purchase } = {},
): Promise<{ tier: TierLevel; changed: boolean; upgraded: boolean }> {
  const member = await repos.members.findById(memberId);
  if (!member) throw new DomainError('MEMBER_NOT_FOUND');
  const current = tierByCode(deps.program, member.tier);
  const total = await qualifyingTotal(repos, deps.program, memberId, deps.clock.now());
  let tier = resolveTier(deps.program, member.tier, total);
  const heldBefore = options.returned?.tierCode;
  if (deps.program.tiers.downgrade === 'never' && heldBefore && member.tier !== null) {
    const earned = tierForTotal(deps.program, total);
    const floor = tierByCode(deps.program, heldBefore);
    const allowed = earned.threshold > floor.threshold ? earned : floor;
    if (allowed.threshold < current.threshold) tier = allowed;
  }
  if (tier.code === member.tier) return { tier, changed: false, upgraded: false };
  await repos.members.update(memberId, { tier: tier.code });
  return { tier, changed: true, upgraded: tier.threshold > current.threshold };
}

/** The keys of a purchase's rows; `{id}` stands for the purchase id until the database knows it. */
const purchaseKeys = (id: number | '{id}') => ({
  spend: `purchase:${id}:spend`,
  earn: `purchase:${id}:earn`,
  receipt: `purchase:${id}:receipt`,
  tier: `purchase:${id}:tier`,
  event: `purchase:${id}`,
});

/**
 * A plan that kept going stale means other writers of this member keep moving what it rests on
 * (each STALE is someone else's commit); a handful of re-reads is generous, so more is a fault.
 */
const MAX_PLANS = 10;

export type PurchaseDecision = { kind: 'answer'; result: PurchaseResult } | { kind: 'write'; plan: PurchasePlan; quote: PurchaseQuote };

/**
 * The purchase decided from one read of the world, pure: a replay is answered from the earlier
 * recording; otherwise the plan says what to write, including the points earned (at the tier the
 * member holds before the purchase) and the tier after it, and what it assumed, so that the
 * executor can refuse to write when the world moved in between.
 */
export function planPurchase(
  program: Program,
  input: PlannedInput,
  snapshot: PurchaseSnapshot,
  now: Date,
  spendProof: CheckedProof | null = null,
): PurchaseDecision {
  const receiptNo = normalizeReceipt(input.receiptNo);
  const hash = requestHash({ memberId: input.memberId, storeId: input.storeId, receiptNo, amountMinor: input.amountMinor, pointsToSpend: input.pointsToSpend });

  const { earlier, member, store } = snapshot;
  if (earlier) {
    // A receipt recorded under another key is a duplicate unless it asks for exactly the same.
    if (earlier.purchase.idempotencyKey !== input.idempotencyKey && earlier.purchase.requestHash !== hash)
      throw new DomainError('RECEIPT_DUPLICATE', { receiptNo });
    if (earlier.purchase.requestHash !== hash) throw new DomainError('IDEMPOTENCY_CONFLICT', { purchaseId: earlier.purchase.id });
    // The first answer again: the balance is the one right after the purchase, not today's.
    const { purchase } = earlier;
    return {
      kind: 'answer',
      result: {
        purchase,
        pointsEarned: purchase.pointsEarned,
        pointsSpent: purchase.paidWithPoints,
        balance: earlier.balanceAfter ?? member?.balance ?? 0,
        discountPercent: purchase.tierCode === null ? 0 : tierByCode(program, purchase.tierCode).discountPercent,
        discountMinor: purchase.discountMinor,
        amountDueMinor: purchase.paidMinor ?? purchase.amountMinor - purchase.discountMinor - purchase.paidWithPoints * program.points.pointValueMinor,
        savingMinor: purchase.discountMinor,
        tier: tierByCode(program, member?.tier),
        upgradedTo: null,
        replayed: true,
      },
    };
  }

  // Over the cap is refused first (the cap follows the bill after the tier's discount).
  const tierBefore = tierByCode(program, member?.tier);
  const cap = pointsCapFor(program, tierBefore, input.amountMinor);
  if (input.pointsToSpend > cap) throw new DomainError('POINTS_OVER_CAP', { max: cap });
  if (!store?.active) throw new DomainError('STORE_NOT_FOUND');
  if (member?.status !== 'ACTIVE') throw new DomainError('MEMBER_NOT_FOUND');
  assertNotOwnCard(member, operatorTelegramIdOf(input.actor, input.operatorTelegramId));
  if (input.pointsToSpend > 0 && !spendProof) throw new DomainError('SPEND_PROOF_REQUIRED', { field: 'spendCode' });

  // The discount, the points and the earn: computed once, in quote.ts.
  const quote = quotePurchase(program, {
    tier: tierBefore,
    balance: member.balance,
    billMinor: input.amountMinor,
    pointsToSpend: input.pointsToSpend,
    localDay: localDate(now, program.timezone),
  });
  const pointsEarned = quote.pointsToEarn;
  // Points are 32-bit columns: an earn that would not fit is refused, not a database error.
  if (pointsEarned > MAX_POINTS || member.balance - input.pointsToSpend + pointsEarned > MAX_POINTS) {
    throw new DomainError('AMOUNT_INVALID', { field: 'amountMinor' });
  }

  // The purchase moves the qualifying total by a known amount: the bill after the discount (what
  // the member paid, with money and points; see qualifying_total), or the points earned.
  const qualification = qualificationOf(program, now);
  const delta = qualification.metric === 'spend' ? quote.netMinor : pointsEarned;
  const totalAfter = snapshot.qualifyingTotal + delta;
  const tierAfter = resolveTier(program, member.tier, totalAfter);
  const band = tierBand(program, totalAfter);
  const upgraded = tierAfter.threshold > tierBefore.threshold;

  return {
    kind: 'write',
    plan: {
      purchase: {
        memberId: member.id,
        storeId: input.storeId,
        receiptNo,
        amountMinor: input.amountMinor,
        paidWithPoints: input.pointsToSpend,
        pointsEarned,
        idempotencyKey: input.idempotencyKey,
        requestHash: hash,
        actor: input.actor,
        tierCode: quote.tierCode,
        discountMinor: quote.discountMinor,
        paidMinor: quote.amountDueMinor,
      },
      assumes: {
        tierBefore: member.tier,
        qualification,
        totalMin: band.min === null ? null : band.min - delta,
        totalMax: band.max === null ? null : band.max - delta,
      },
      tierAfter: tierAfter.code,
      keys: purchaseKeys('{id}'),
      earnExpiresAt: pointsEarned > 0 ? expiryFor(program.points.expiry, now, program.timezone) : null,
      // The receipt, a tier reached and the event the task engine follows commit with the
      // purchase: a crash after the commit loses none of them, and their keys make a second
      // write a no-op.
      receipt: {
        kind: 'purchaseRecorded',
        pointsEarned,
        pointsSpent: input.pointsToSpend,
        storeName: store.name,
        savingMinor: quote.savingMinor,
        points: hasPoints(program),
      },
      tierNotice: upgraded ? { kind: 'tierUpgraded', tierCode: tierAfter.code, discountPercent: tierAfter.discountPercent } : null,
      event: { type: 'purchaseRecorded', memberId: member.id, storeId: input.storeId, amountMinor: input.amountMinor, at: now },
      at: now,
      spendProof: input.pointsToSpend > 0 ? spendProof : null,
    },
    quote,
  };
}

/**
 * A purchase at a till or recorded by staff: optionally paid partly with points (within the
 * program's cap), earning points on the part paid with money. Idempotent by key and by
 * store + receipt number; a replay that asks for something different is refused. Points,
 * purchase, tier change, the customer's messages and the `purchaseRecorded` event commit
 * together (outbox rows); nothing waits for the task engine.
 *
 * Two round trips (issue 12): one read, from which `planPurchase` decides everything, and one
 * atomic write that executes the plan. Should the world move in between (a concurrent twin, a
 * tier crossed by a concurrent purchase), the write refuses and the purchase is planned again
 * from a fresh read.
 */
export async function recordPurchase(deps: DomainDeps, input: RecordPurchaseInput): Promise<PurchaseResult> {
  assertMinorAmount(input.amountMinor, 'amountMinor');
  if (!Number.isSafeInteger(input.pointsToSpend) || input.pointsToSpend < 0 || input.pointsToSpend > MAX_POINTS)
    throw new DomainError('AMOUNT_INVALID', { field: 'pointsToSpend' });
  const receiptNo = normalizeReceipt(input.receiptNo);
  // Knowing the card code is not proof: points leave only with the member's consent, checked
  // here and used up by the write, with the spend (a replay spends nothing and is answered
  // before the proof matters).
  let proof: CheckedProof | null | undefined;
  let refused: DomainError | null = null;

  let memberId = input.memberId;

  for (let attempt = 0; attempt < MAX_PLANS; attempt++) {
    const now = deps.clock.now();
    const snapshot = await deps.repos.purchases.snapshot({
      member: memberId !== undefined ? { id: memberId } : { code: input.memberCode as string },
      storeId: input.storeId,
      receiptNo,
      idempotencyKey: input.idempotencyKey,
      qualification: qualificationOf(deps.program, now),
      // A spend code is checked and counted by this same statement (one round trip, not three),
      // once: a refused code is not checked again (it would count twice).
      ...(input.pointsToSpend > 0 && input.spendProof?.kind === 'code' && proof === undefined && !refused
        ? { spendCode: spendCodeCheck(deps, input.spendProof.code, now) }
        : {}),
    });
    if (memberId === undefined) {
      if (snapshot.member?.status !== 'ACTIVE') throw new DomainError('MEMBER_NOT_FOUND');
      memberId = snapshot.member.id;
    }
    const known: PlannedInput = { ...input, memberId };
    if (proof === undefined && input.pointsToSpend > 0 && !snapshot.earlier) {
      // Over the cap is refused before the proof's answer is given (planPurchase checks it again).
      const cap = pointsCapFor(deps.program, tierByCode(deps.program, snapshot.member?.tier), input.amountMinor);
      if (input.pointsToSpend > cap) throw new DomainError('POINTS_OVER_CAP', { max: cap });
      // Refused once and no twin committed meanwhile: refused (checked once, so a wrong code
      // counts once against the guessing limit).
      if (refused) throw refused;
      try {
        proof = await checkSpendProof(deps, { memberId, storeId: input.storeId, points: input.pointsToSpend }, input.spendProof, snapshot.spendCode);
      } catch (error) {
        // A twin of this request (same key) may have used the proof and committed since the
        // read: read again, and it is answered as a replay; otherwise the proof is refused.
        if (!isDomainError(error)) throw error;
        refused = error;
        continue;
      }
    }
    const decision = planPurchase(deps.program, known, snapshot, now, proof ?? null);
    if (decision.kind === 'answer') return decision.result;
    const { plan, quote } = decision;

    const done = await deps.uow.atomic((repos) => repos.purchases.record(plan));
    if (done.outcome === 'STALE') continue;
    if (done.outcome === 'PROOF_USED') {
      if (refused) throw refused;
      refused =
        proof?.kind === 'request'
          ? new DomainError('SPEND_REQUEST_INVALID', { field: 'spendRequestId', state: 'used' })
          : new DomainError('SPEND_CODE_INVALID', { field: 'spendCode', attemptsLeft: null });
      proof = undefined;
      continue;
    }
    if (done.outcome === 'INSUFFICIENT_POINTS') throw new DomainError('INSUFFICIENT_POINTS', { balance: done.balance, needed: input.pointsToSpend });
    const tier = tierByCode(deps.program, plan.tierAfter);
    return {
      purchase: { ...plan.purchase, id: done.purchaseId, returnedMinor: 0, createdAt: plan.at },
      pointsEarned: plan.purchase.pointsEarned,
      pointsSpent: input.pointsToSpend,
      balance: done.balance,
      discountPercent: quote.discountPercent,
      discountMinor: quote.discountMinor,
      amountDueMinor: quote.amountDueMinor,
      savingMinor: quote.savingMinor,
      tier,
      upgradedTo: plan.tierNotice ? tier : null,
      replayed: false,
    };
  }
  throw new Error(`purchase ${input.idempotencyKey}: the plan went stale ${MAX_PLANS} times`);
}
