import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDomainError } from '../../src/domain/errors.js';
import { adjustPoints } from '../../src/domain/ledger/adjust-points.js';
import { recordPurchase } from '../../src/domain/purchases/record-purchase.js';
import { recordReturn } from '../../src/domain/purchases/record-return.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { type DomainHarness, domainHarness } from '../support/domain.js';
import { exampleProgram } from '../support/program.js';
import { approvedRequestProof, spendCodeProof } from '../support/spend.js';

let db: TestDatabase;
let h: DomainHarness;
let nextUser = 100;
const till = { type: 'TILL' as const, id: 'till-1' };

beforeAll(async () => {
  db = await createTestDatabase({ poolSize: 20 });
  h = await domainHarness(db);
});
afterAll(async () => db?.drop());

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!isDomainError(error)) throw new Error(`expected a DomainError, got ${String(error)}`);
  return error.code;
}

const entriesOf = (memberId: number) => db.prisma.ledgerEntry.findMany({ where: { memberId }, orderBy: { id: 'asc' } });

describe('purchases', () => {
  it('takes the tier discount off the bill, earns 3 % back in points on the money paid and tells the customer', async () => {
    const member = await h.member(nextUser++, 500);
    const store = await h.store();
    const result = await recordPurchase(h.deps, {
      memberId: member.id,
      storeId: store.id,
      receiptNo: 'R-1',
      amountMinor: 123_456,
      pointsToSpend: 200,
      idempotencyKey: 'k-earn',
      actor: till,
      spendProof: await spendCodeProof(h.deps, member.id),
    });
    // 1234.56 RUB bill, Basic 6 % off: 74.07 (7407.36 kopecks rounded down), 1160.49 left;
    // 200 points = 200.00 RUB, 960.49 RUB paid in money; 3 % of it is 28.81 RUB: 28 points.
    expect(result).toMatchObject({
      pointsSpent: 200,
      pointsEarned: 28,
      balance: 500 - 200 + 28,
      discountPercent: 6,
      discountMinor: 7407,
      amountDueMinor: 96_049,
      savingMinor: 7407,
      replayed: false,
    });
    expect(result.purchase).toMatchObject({ tierCode: 'basic', discountMinor: 7407, paidMinor: 96_049 });
    expect(await db.prisma.purchase.findUniqueOrThrow({ where: { id: result.purchase.id } })).toMatchObject({
      tierCode: 'basic',
      discountMinor: 7407n,
      paidMinor: 96_049n,
    });
    expect((await db.prisma.member.findUniqueOrThrow({ where: { id: member.id } })).savedMinor).toBe(7407n);
    expect((await entriesOf(member.id)).map((e) => [e.type, e.amount])).toEqual([
      ['BONUS', 500],
      ['SPEND', -200],
      ['EARN', 28],
    ]);
    expect(h.notifications.filter((n) => n.memberId === member.id).map((n) => n.notification)).toEqual([
      { kind: 'purchaseRecorded', pointsEarned: 28, pointsSpent: 200, balance: 328, storeName: 'Tverskaya 1', savingMinor: 7407, points: true },
    ]);
    // The replay answers the same figures from the stored purchase.
    const replay = await recordPurchase(h.deps, {
      memberId: member.id,
      storeId: store.id,
      receiptNo: 'R-1',
      amountMinor: 123_456,
      pointsToSpend: 200,
      idempotencyKey: 'k-earn',
      actor: till,
    });
    expect(replay).toMatchObject({ replayed: true, discountPercent: 6, discountMinor: 7407, amountDueMinor: 96_049, savingMinor: 7407, balance: 328 });
  });

  it('is idempotent by key and by store + receipt, and refuses a different request under the same key', async () => {
    const member = await h.member(nextUser++);
    const store = await h.store();
    const input = { memberId: member.id, storeId: store.id, receiptNo: 'R-2', amountMinor: 10_000, pointsToSpend: 0, idempotencyKey: 'k-idem', actor: till };
    const first = await recordPurchase(h.deps, input);
    const again = await recordPurchase(h.deps, input);
    const newKey = await recordPurchase(h.deps, { ...input, idempotencyKey: 'k-idem-2' });
    expect(again).toMatchObject({ replayed: true, pointsEarned: first.pointsEarned, purchase: { id: first.purchase.id } });
    expect(newKey).toMatchObject({ replayed: true, purchase: { id: first.purchase.id } });
    expect(await codeOf(recordPurchase(h.deps, { ...input, amountMinor: 20_000 }))).toBe('IDEMPOTENCY_CONFLICT');
    expect(await codeOf(recordPurchase(h.deps, { ...input, amountMinor: 20_000, idempotencyKey: 'k-other' }))).toBe('RECEIPT_DUPLICATE');
    expect(await entriesOf(member.id)).toHaveLength(1);
  });

  it('answers a replay with the first answer, even after the balance moved', async () => {
    const member = await h.member(nextUser++);
    const store = await h.store();
    const input = {
      memberId: member.id,
      storeId: store.id,
      receiptNo: 'R-replay',
      amountMinor: 10_000,
      pointsToSpend: 0,
      idempotencyKey: 'k-replay',
      actor: till,
    };
    const first = await recordPurchase(h.deps, input);
    await h.deps.repos.ledger.post({
      kind: 'credit',
      type: 'BONUS',
      memberId: member.id,
      amount: 7,
      idempotencyKey: 'later-bonus',
      actor: till,
      expiresAt: null,
    });
    const replay = await recordPurchase(h.deps, input);
    expect(replay).toMatchObject({ replayed: true, balance: first.balance, pointsEarned: first.pointsEarned });
    const returned = await recordReturn(h.deps, { storeId: store.id, receiptNo: 'R-replay', amountMinor: null, idempotencyKey: 'r-replay', actor: till });
    await h.deps.repos.ledger.post({
      kind: 'credit',
      type: 'BONUS',
      memberId: member.id,
      amount: 3,
      idempotencyKey: 'later-bonus-2',
      actor: till,
      expiresAt: null,
    });
    const returnReplay = await recordReturn(h.deps, { storeId: store.id, receiptNo: 'R-replay', amountMinor: null, idempotencyKey: 'r-replay', actor: till });
    expect(returnReplay).toMatchObject({ replayed: true, balance: returned.balance });
    // A reused return key with another receipt is a conflict, not "purchase not found".
    expect(await codeOf(recordReturn(h.deps, { storeId: store.id, receiptNo: 'R-nope', amountMinor: null, idempotencyKey: 'r-replay', actor: till }))).toBe(
      'IDEMPOTENCY_CONFLICT',
    );
  });

  it('records a purchase once when the same request arrives 50 times at once', async () => {
    const member = await h.member(nextUser++, 100);
    const store = await h.store();
    const input = {
      memberId: member.id,
      storeId: store.id,
      receiptNo: 'R-race',
      amountMinor: 50_000,
      pointsToSpend: 50,
      idempotencyKey: 'k-race',
      actor: till,
      // One consent for the one purchase: the twins replay it and spend nothing more.
      spendProof: await spendCodeProof(h.deps, member.id),
    };
    const results = await Promise.all(Array.from({ length: 50 }, () => recordPurchase(h.deps, input)));
    expect(new Set(results.map((r) => r.purchase.id)).size).toBe(1);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect(await db.prisma.purchase.count({ where: { memberId: member.id } })).toBe(1);
    // 500.00 - 6 % = 470.00, 50 points paid, 420.00 in money: 3 % = 12.60, 12 points.
    expect((await h.deps.repos.members.findById(member.id))?.balance).toBe(100 - 50 + 12);
    expect((await db.prisma.member.findUniqueOrThrow({ where: { id: member.id } })).savedMinor).toBe(3000n);
  });

  it('records concurrent purchases of one member at once, without deadlocks', async () => {
    const member = await h.member(nextUser++, 1_000);
    const store = await h.store();
    // Each purchase with its own consent: requests the member approved (spend codes are one at a time).
    const proofs = [];
    for (let i = 0; i < 20; i++) proofs.push(await approvedRequestProof(h.deps, { memberId: member.id, storeId: store.id, points: 10 }));
    const results = await Promise.allSettled(
      proofs.map((spendProof, i) =>
        recordPurchase(h.deps, {
          memberId: member.id,
          storeId: store.id,
          receiptNo: `R-many-${i}`,
          amountMinor: 10_000,
          pointsToSpend: 10,
          idempotencyKey: `k-many-${i}`,
          actor: till,
          spendProof,
        }),
      ),
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    // 20 x (spend 10, earn 2: 100.00 - 6 % = 94.00, 84.00 paid in money, 3 % = 2.52).
    expect((await h.deps.repos.members.findById(member.id))?.balance).toBe(1_000 + 20 * (2 - 10));
    expect((await db.prisma.member.findUniqueOrThrow({ where: { id: member.id } })).savedMinor).toBe(20n * 600n);
  });

  it('refuses paying with more points than the cap or the balance, and changes nothing', async () => {
    const member = await h.member(nextUser++, 100);
    const store = await h.store();
    const base = { memberId: member.id, storeId: store.id, amountMinor: 10_000, actor: till };
    // Half of a 100.00 bill after the 6 % discount (94.00) is at most 47 points.
    expect(await codeOf(recordPurchase(h.deps, { ...base, receiptNo: 'R-cap', pointsToSpend: 48, idempotencyKey: 'k-cap' }))).toBe('POINTS_OVER_CAP');
    const rich = { ...base, amountMinor: 1_000_000 };
    expect(
      await codeOf(
        recordPurchase(h.deps, {
          ...rich,
          receiptNo: 'R-poor',
          pointsToSpend: 101,
          idempotencyKey: 'k-poor',
          spendProof: await spendCodeProof(h.deps, member.id),
        }),
      ),
    ).toBe('INSUFFICIENT_POINTS');
    expect(await db.prisma.purchase.count({ where: { memberId: member.id } })).toBe(0);
    expect((await h.deps.repos.members.findById(member.id))?.balance).toBe(100);
  });

  it('lifts the tier when the qualifying spend (the bill after the discount) crosses a threshold and says so', async () => {
    const store = await h.store();
    // 15 957.43 RUB - 6 % (957.44) = 14 999.99: one kopeck short of Silver's 15 000.
    const short = await h.member(nextUser++);
    const below = await recordPurchase(h.deps, {
      memberId: short.id,
      storeId: store.id,
      receiptNo: 'R-tier-short',
      amountMinor: 1_595_743,
      pointsToSpend: 0,
      idempotencyKey: 'k-tier-short',
      actor: till,
    });
    expect(below).toMatchObject({ discountMinor: 95_744, upgradedTo: null });
    expect((await h.deps.repos.members.findById(short.id))?.tier).toBe('basic');
    // 15 957.44 RUB - 6 % (957.44) = 15 000.00: Silver.
    const member = await h.member(nextUser++);
    const result = await recordPurchase(h.deps, {
      memberId: member.id,
      storeId: store.id,
      receiptNo: 'R-tier',
      amountMinor: 1_595_744,
      pointsToSpend: 0,
      idempotencyKey: 'k-tier',
      actor: till,
    });
    expect(result.upgradedTo?.code).toBe('silver');
    // The discount of this purchase was the tier held before it.
    expect(result).toMatchObject({ discountPercent: 6, discountMinor: 95_744, purchase: { tierCode: 'basic' } });
    expect((await h.deps.repos.members.findById(member.id))?.tier).toBe('silver');
    expect(h.notifications.filter((n) => n.memberId === member.id).map((n) => n.notification.kind)).toEqual(['purchaseRecorded', 'tierUpgraded']);
  });
});

describe('returns', () => {
  it('reverses earned points proportionally and gives back spent points; partial returns add up', async () => {
    const member = await h.member(nextUser++, 300);
    const store = await h.store();
    await recordPurchase(h.deps, {
      memberId: member.id,
      storeId: store.id,
      receiptNo: 'R-ret',
      amountMinor: 100_000,
      pointsToSpend: 300,
      idempotencyKey: 'k-ret',
      actor: till,
      spendProof: await spendCodeProof(h.deps, member.id),
    });
    // 1000.00 bill - 6 % = 940.00; 300 paid with points, 640.00 in money: 19 points earned (3 % = 19.20).
    const third = await recordReturn(h.deps, { storeId: store.id, receiptNo: 'R-ret', amountMinor: 33_333, idempotencyKey: 'r-1', actor: till });
    // A third of the bill: 99 of the 300 points back, 6 of the 19 earned taken, 19.99 of the
    // 60.00 discount and 213.33 of the 640.00 paid in money.
    expect(third.purchaseReturn).toMatchObject({ pointsRefunded: 99, pointsReversed: 6, shortfall: 0, discountMinor: 1999, refundMinor: 21_333 });
    expect((await db.prisma.member.findUniqueOrThrow({ where: { id: member.id } })).savedMinor).toBe(6000n - 1999n);
    const rest = await recordReturn(h.deps, { storeId: store.id, receiptNo: 'R-ret', amountMinor: null, idempotencyKey: 'r-2', actor: till });
    expect(rest.purchaseReturn).toMatchObject({
      amountMinor: 66_667,
      pointsRefunded: 201,
      pointsReversed: 13,
      shortfall: 0,
      discountMinor: 4001,
      refundMinor: 42_667,
    });
    expect((await h.deps.repos.members.findById(member.id))?.balance).toBe(300);
    // Everything back: no saving left, and the qualifying spend is back to 0.
    expect((await db.prisma.member.findUniqueOrThrow({ where: { id: member.id } })).savedMinor).toBe(0n);
    expect(await db.prisma.$queryRaw`SELECT qualifying_total(${member.id}::int, 'spend', NULL)::int AS total`).toEqual([{ total: 0 }]);
    expect(await codeOf(recordReturn(h.deps, { storeId: store.id, receiptNo: 'R-ret', amountMinor: 1, idempotencyKey: 'r-3', actor: till }))).toBe(
      'RETURN_EXCEEDS_PURCHASE',
    );
    // A replayed return changes nothing.
    const replay = await recordReturn(h.deps, { storeId: store.id, receiptNo: 'R-ret', amountMinor: null, idempotencyKey: 'r-2', actor: till });
    expect(replay).toMatchObject({ replayed: true, purchaseReturn: { id: rest.purchaseReturn.id } });
  });

  it('takes only what the balance holds when earned points were spent, recording the shortfall', async () => {
    const member = await h.member(nextUser++);
    const store = await h.store();
    await recordPurchase(h.deps, {
      memberId: member.id,
      storeId: store.id,
      receiptNo: 'R-short-1',
      amountMinor: 100_000,
      pointsToSpend: 0,
      idempotencyKey: 'k-s1',
      actor: till,
    });
    // 28 points earned (3 % of 940.00); 20 of them spent on the next bill, which earns 21
    // (800.00 - 6 % = 752.00, 20.00 in points, 732.00 in money: 21.96).
    await recordPurchase(h.deps, {
      memberId: member.id,
      storeId: store.id,
      receiptNo: 'R-short-2',
      amountMinor: 80_000,
      pointsToSpend: 20,
      idempotencyKey: 'k-s2',
      actor: till,
      spendProof: await spendCodeProof(h.deps, member.id),
    });
    const balanceBefore = (await h.deps.repos.members.findById(member.id))?.balance;
    expect(balanceBefore).toBe(28 - 20 + 21);
    // Returning the second purchase first gives 20 back and takes its 21 earned: balance 28.
    // Now spend 25 elsewhere, then return the first purchase: 28 to reverse, 3 available.
    await recordReturn(h.deps, { storeId: store.id, receiptNo: 'R-short-2', amountMinor: null, idempotencyKey: 'r-s2', actor: till });
    await h.deps.repos.ledger.post({ kind: 'debit', type: 'SPEND', memberId: member.id, amount: 25, idempotencyKey: 'spend-25', actor: till });
    const result = await recordReturn(h.deps, { storeId: store.id, receiptNo: 'R-short-1', amountMinor: null, idempotencyKey: 'r-s1', actor: till });
    expect(result.purchaseReturn).toMatchObject({ pointsReversed: 3, shortfall: 25 });
    expect(result.balance).toBe(0);
  });

  it('serialises concurrent returns of one purchase: never more than the bill', async () => {
    const member = await h.member(nextUser++);
    const store = await h.store();
    await recordPurchase(h.deps, {
      memberId: member.id,
      storeId: store.id,
      receiptNo: 'R-conc',
      amountMinor: 10_000,
      pointsToSpend: 0,
      idempotencyKey: 'k-conc',
      actor: till,
    });
    const attempts = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        recordReturn(h.deps, { storeId: store.id, receiptNo: 'R-conc', amountMinor: 1_000, idempotencyKey: `r-conc-${i}`, actor: till }),
      ),
    );
    expect(attempts.filter((a) => a.status === 'fulfilled')).toHaveLength(10);
    const purchase = await db.prisma.purchase.findFirstOrThrow({ where: { receiptNo: 'R-conc' } });
    expect(purchase.returnedMinor).toBe(10_000n);
    expect((await h.deps.repos.members.findById(member.id))?.balance).toBe(0);
  });
});

describe('adjustments', () => {
  it('needs an admin and a reason, and is written as an entry with an audit record', async () => {
    const member = await h.member(nextUser++, 50);
    expect(await codeOf(adjustPoints(h.deps, { adminTelegramId: 999, memberId: member.id, amount: 10, reason: 'goodwill', idempotencyKey: 'a-0' }))).toBe(
      'FORBIDDEN',
    );
    expect(await codeOf(adjustPoints(h.deps, { adminTelegramId: 1, memberId: member.id, amount: 10, reason: ' ', idempotencyKey: 'a-1' }))).toBe(
      'REASON_REQUIRED',
    );
    expect(await codeOf(adjustPoints(h.deps, { adminTelegramId: 1, memberId: member.id, amount: -51, reason: 'correction', idempotencyKey: 'a-2' }))).toBe(
      'INSUFFICIENT_POINTS',
    );
    await adjustPoints(h.deps, { adminTelegramId: 1, memberId: member.id, amount: -20, reason: 'double accrual', idempotencyKey: 'a-3' });
    await adjustPoints(h.deps, { adminTelegramId: 1, memberId: member.id, amount: -20, reason: 'double accrual', idempotencyKey: 'a-3' });
    expect((await entriesOf(member.id)).map((e) => [e.type, e.amount, e.reason])).toEqual([
      ['BONUS', 50, null],
      ['ADJUST', -20, 'double accrual'],
    ]);
    expect(await db.prisma.auditLog.count({ where: { action: 'points.adjusted', subject: `member:${member.id}` } })).toBe(1);
  });
});

describe('returns and tiers', () => {
  // 53 191.49 RUB - 6 % (3 191.48) = 50 000.01 RUB: Gold (50 000) from Basic in one purchase.
  const bigBill = 5_319_149;

  it('does not keep a tier bought with goods that came back, even under `downgrade: never`', async () => {
    const member = await h.member(nextUser++);
    const store = await h.store();
    const bought = await recordPurchase(h.deps, {
      memberId: member.id,
      storeId: store.id,
      receiptNo: 'R-gold',
      amountMinor: bigBill,
      pointsToSpend: 0,
      idempotencyKey: 'k-gold',
      actor: till,
    });
    expect(bought).toMatchObject({ upgradedTo: { code: 'gold' }, discountMinor: 319_148 });
    // A return of a tenth leaves 45 000.00 after the discount: Silver by the total, but `never`
    // keeps Gold only when it was earned; it was bought with the goods that came back, so the
    // tier follows the total down (not below the Basic held before the purchase).
    await recordReturn(h.deps, { storeId: store.id, receiptNo: 'R-gold', amountMinor: 531_915, idempotencyKey: 'r-gold-1', actor: till });
    expect((await h.deps.repos.members.findById(member.id))?.tier).toBe('silver');
    await recordReturn(h.deps, { storeId: store.id, receiptNo: 'R-gold', amountMinor: null, idempotencyKey: 'r-gold-2', actor: till });
    expect((await h.deps.repos.members.findById(member.id))?.tier).toBe('basic');
    // The next purchase gets Basic's 6 %, not Gold's 12 %.
    const next = await recordPurchase(h.deps, {
      memberId: member.id,
      storeId: store.id,
      receiptNo: 'R-after-gold',
      amountMinor: 10_000,
      pointsToSpend: 0,
      idempotencyKey: 'k-after-gold',
      actor: till,
    });
    expect(next).toMatchObject({ discountPercent: 6, discountMinor: 600 });
  });

  it('under `never` keeps a tier the member held before the returned purchase', async () => {
    const member = await h.member(nextUser++);
    await db.prisma.member.update({ where: { id: member.id }, data: { tier: 'gold' } });
    const store = await h.store();
    await recordPurchase(h.deps, {
      memberId: member.id,
      storeId: store.id,
      receiptNo: 'R-kept',
      amountMinor: 10_000,
      pointsToSpend: 0,
      idempotencyKey: 'k-kept',
      actor: till,
    });
    await recordReturn(h.deps, { storeId: store.id, receiptNo: 'R-kept', amountMinor: null, idempotencyKey: 'r-kept', actor: till });
    expect((await h.deps.repos.members.findById(member.id))?.tier).toBe('gold');
  });

  it('under `reevaluate` a return moves the tier down with the total', async () => {
    const reevaluate = await domainHarness(db, {
      program: exampleProgram((raw) => {
        (raw.tiers as { downgrade: string }).downgrade = 'reevaluate';
      }),
    });
    const member = await reevaluate.member(nextUser++);
    const store = await reevaluate.store();
    await recordPurchase(reevaluate.deps, {
      memberId: member.id,
      storeId: store.id,
      receiptNo: 'R-re',
      amountMinor: bigBill,
      pointsToSpend: 0,
      idempotencyKey: 'k-re',
      actor: till,
    });
    expect((await reevaluate.deps.repos.members.findById(member.id))?.tier).toBe('gold');
    await recordReturn(reevaluate.deps, { storeId: store.id, receiptNo: 'R-re', amountMinor: 1, idempotencyKey: 'r-re', actor: till });
    // One kopeck back: 50 000.01 - (0.01 - 0.00 of the discount) = 50 000.00, still Gold.
    expect((await reevaluate.deps.repos.members.findById(member.id))?.tier).toBe('gold');
    await recordReturn(reevaluate.deps, { storeId: store.id, receiptNo: 'R-re', amountMinor: 2, idempotencyKey: 'r-re-2', actor: till });
    expect((await reevaluate.deps.repos.members.findById(member.id))?.tier).toBe('silver');
  });

  it('refuses a return larger than the purchase and a replayed purchase with another amount', async () => {
    const member = await h.member(nextUser++);
    const store = await h.store();
    const input = {
      memberId: member.id,
      storeId: store.id,
      receiptNo: 'R-attack',
      amountMinor: 10_000,
      pointsToSpend: 0,
      idempotencyKey: 'k-attack',
      actor: till,
    };
    await recordPurchase(h.deps, input);
    expect(await codeOf(recordReturn(h.deps, { storeId: store.id, receiptNo: 'R-attack', amountMinor: 10_001, idempotencyKey: 'r-attack', actor: till }))).toBe(
      'RETURN_EXCEEDS_PURCHASE',
    );
    expect(await codeOf(recordPurchase(h.deps, { ...input, amountMinor: 1_000 }))).toBe('IDEMPOTENCY_CONFLICT');
    expect((await db.prisma.member.findUniqueOrThrow({ where: { id: member.id } })).savedMinor).toBe(600n);
  });
});
