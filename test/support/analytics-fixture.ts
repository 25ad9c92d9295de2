import type { EntryType } from '../../src/domain/ledger/types.js';
import type { Store } from '../../src/domain/ports.js';
import { recordReceipt } from '../../src/domain/purchases/record-receipt.js';
import type { TestDatabase } from './db.js';
import type { DomainHarness } from './domain.js';

/**
 * A small chain for the analytics tests (test/db/analytics.test.ts, test/e2e/analytics-api.test.ts),
 * small enough that every KPI can be worked out by hand. The program's zone is Europe/Moscow
 * (UTC+3, no DST): every event is at 09:00 UTC = 12:00 local, so its local date is its UTC date.
 *
 *   member  tier    registered  purchases (store, minor units)                    ledger (points)
 *   M1      basic   01-10       01-15 A 100000; 03-05 A 200000; 03-20 B 100000    01-15 EARN 1000; 03-05 EARN 2000 (A), SPEND 500 (A);
 *                                                                                  03-20 EARN 1000 (B); 04-05 EARN 700 (after March)
 *   M2      silver  01-20       02-10 A 300000                                     02-10 EARN 3000 (A); 03-15 EXPIRE 1000
 *   M3      basic   02-05       02-06 A 50000; 03-10 A 150000 (50000 returned)    02-06 BONUS 100; 03-10 EARN 1500 (A); 03-12 REVERSE 500 (A);
 *                                                                                  03-25 SPEND 300 (coupon, no store)
 *   M4      silver  03-03       03-04 B 400000                                     03-04 EARN 4000 (B); 03-28 SPEND 1000 (B); 03-29 REFUND 200 (B)
 *   M5      basic   03-15       -                                                  03-15 BONUS 100
 *   M6      basic   01-05, erased 02-20   01-06 A 100000                            01-06 EARN 1000; 02-20 CLOSE 1000
 *
 * Languages (for segment filters): M1 and M4 en, the others ru.
 *
 * Tier discounts on purchases (Purchase.discountMinor): M1 01-15 6000, 03-05 12000, 03-20 6000; M2 02-10
 * 27000; M3 03-10 9000, of which its return (03-12) took back 3000; M4 03-04 36000; the others 0 (rows
 * from before discounts were recorded). March: 12000 + 6000 + 9000 - 3000 + 36000 = 60000.
 *
 * Non-member receipts: 02-10 A 80000; 03-05 A 50000; 03-12 A 150000; 03-25 B 100000; and 03-05 A
 * "m1-0305" 200000, the number of M1's purchase (a till sent the sale twice): never counted.
 * Coupons redeemed in March: M4 FIXED 50000 free (03-30, B); M1 FREE_ITEM free (03-21, A);
 * M3 PERCENT bought for 300 points (03-26, A). NPS surveys sent in March: M1 10 (promoter),
 * M3 5 (detractor), M4 unanswered.
 */

export interface AnalyticsFixture {
  storeA: Store;
  storeB: Store;
  members: Record<'m1' | 'm2' | 'm3' | 'm4' | 'm5' | 'm6', number>;
}

const at = (date: string) => new Date(`2026-${date}T09:00:00Z`);

export async function seedAnalyticsFixture(db: TestDatabase, h: DomainHarness, telegramBase: number): Promise<AnalyticsFixture> {
  const storeA = await h.store('msk-01');
  const storeB = await h.store('msk-02');
  const prisma = db.prisma;

  const member = async (n: number, registered: string, tier: string, locale: 'ru' | 'en') => {
    h.clock.set(at(registered));
    const created = await h.member(telegramBase + n);
    await prisma.member.update({ where: { id: created.id }, data: { tier, locale } });
    return created.id;
  };
  const members = {
    m1: await member(1, '01-10', 'basic', 'en'),
    m2: await member(2, '01-20', 'silver', 'ru'),
    m3: await member(3, '02-05', 'basic', 'ru'),
    m4: await member(4, '03-03', 'silver', 'en'),
    m5: await member(5, '03-15', 'basic', 'ru'),
    m6: await member(6, '01-05', 'basic', 'ru'),
  };

  const purchases: Record<string, number> = {};
  const purchase = async (memberId: number, store: Store, date: string, amountMinor: number, returnedMinor = 0, discountMinor = 0) => {
    const receiptNo = `p-${memberId}-${date}`;
    const row = await prisma.purchase.create({
      data: {
        memberId,
        storeId: store.id,
        receiptNo: memberId === members.m1 && date === '03-05' ? 'm1-0305' : receiptNo,
        amountMinor: BigInt(amountMinor),
        returnedMinor: BigInt(returnedMinor),
        discountMinor: BigInt(discountMinor),
        idempotencyKey: `fixture:${receiptNo}`,
        requestHash: 'fixture',
        actorType: 'TILL',
        createdAt: at(date),
      },
    });
    purchases[`${memberId}:${date}`] = row.id;
  };
  await purchase(members.m1, storeA, '01-15', 100_000, 0, 6_000);
  await purchase(members.m1, storeA, '03-05', 200_000, 0, 12_000);
  await purchase(members.m1, storeB, '03-20', 100_000, 0, 6_000);
  await purchase(members.m2, storeA, '02-10', 300_000, 0, 27_000);
  await purchase(members.m3, storeA, '02-06', 50_000);
  await purchase(members.m3, storeA, '03-10', 150_000, 50_000, 9_000);
  await purchase(members.m4, storeB, '03-04', 400_000, 0, 36_000);
  await purchase(members.m6, storeA, '01-06', 100_000);
  // M3's return of a third of its 03-10 purchase: a third of the discount goes back with it.
  await prisma.purchaseReturn.create({
    data: {
      purchaseId: purchases[`${members.m3}:03-10`] as number,
      amountMinor: 50_000n,
      pointsReversed: 500,
      pointsRefunded: 0,
      shortfall: 0,
      discountMinor: 3_000n,
      refundMinor: 47_000n,
      idempotencyKey: 'fixture:return:m3-0310',
      requestHash: 'fixture',
      actorType: 'TILL',
      createdAt: at('03-12'),
    },
  });

  let key = 0;
  const post = async (memberId: number, date: string, type: EntryType, amount: number, store: Store | null = null) => {
    h.clock.set(at(date));
    const common = { memberId, amount, idempotencyKey: `fixture:entry:${++key}`, actor: { type: 'SYSTEM' as const }, storeId: store?.id ?? null };
    if (type === 'EARN' || type === 'BONUS' || type === 'REFUND') await h.deps.repos.ledger.post({ ...common, kind: 'credit', type, expiresAt: null });
    else await h.deps.repos.ledger.post({ ...common, kind: 'debit', type: type as 'SPEND' | 'REVERSE' | 'EXPIRE' | 'CLOSE' });
  };
  await post(members.m1, '01-15', 'EARN', 1000, storeA);
  await post(members.m1, '03-05', 'EARN', 2000, storeA);
  await post(members.m1, '03-05', 'SPEND', 500, storeA);
  await post(members.m1, '03-20', 'EARN', 1000, storeB);
  await post(members.m1, '04-05', 'EARN', 700, storeA);
  await post(members.m2, '02-10', 'EARN', 3000, storeA);
  await post(members.m2, '03-15', 'EXPIRE', 1000);
  await post(members.m3, '02-06', 'BONUS', 100);
  await post(members.m3, '03-10', 'EARN', 1500, storeA);
  await post(members.m3, '03-12', 'REVERSE', 500, storeA);
  await post(members.m3, '03-25', 'SPEND', 300);
  await post(members.m4, '03-04', 'EARN', 4000, storeB);
  await post(members.m4, '03-28', 'SPEND', 1000, storeB);
  await post(members.m4, '03-29', 'REFUND', 200, storeB);
  await post(members.m5, '03-15', 'BONUS', 100);
  await post(members.m6, '01-06', 'EARN', 1000, storeA);
  await post(members.m6, '02-20', 'CLOSE', 1000);
  await prisma.member.update({ where: { id: members.m6 }, data: { status: 'DELETED', deletedAt: at('02-20'), telegramId: null } });

  // Receipts through the use case (the clock stamps them), except the duplicate of a member's
  // purchase, which the use case refuses: written directly, as an older till might have.
  const receipt = async (store: Store, date: string, receiptNo: string, amountMinor: number) => {
    h.clock.set(at(date));
    await recordReceipt(h.deps, { storeId: store.id, receiptNo, amountMinor, idempotencyKey: `fixture:receipt:${receiptNo}`, actor: { type: 'TILL' } });
  };
  await receipt(storeA, '02-10', 'r-1', 80_000);
  await receipt(storeA, '03-05', 'r-2', 50_000);
  await receipt(storeA, '03-12', 'r-3', 150_000);
  await receipt(storeB, '03-25', 'r-4', 100_000);
  await prisma.receipt.create({
    data: {
      storeId: storeA.id,
      receiptNo: 'm1-0305',
      amountMinor: 200_000n,
      idempotencyKey: 'fixture:dup',
      requestHash: 'x',
      actorType: 'TILL',
      createdAt: at('03-05'),
    },
  });

  const reward = await prisma.reward.create({
    data: {
      code: 'fixture-reward',
      kind: 'FIXED_COUPON',
      value: 50_000,
      cost: 0,
      validityDays: 30,
      title: { ru: 'x', en: 'x' },
      description: { ru: 'x', en: 'x' },
    },
  });
  const coupon = async (
    memberId: number,
    kind: 'FIXED_COUPON' | 'FREE_ITEM' | 'PERCENT_COUPON',
    value: number | null,
    cost: number,
    date: string,
    store: Store,
  ) => {
    await prisma.coupon.create({
      data: {
        code: `FIX${++key}`,
        rewardId: reward.id,
        memberId,
        kind,
        value,
        cost,
        status: 'REDEEMED',
        idempotencyKey: `fixture:coupon:${key}`,
        issuedAt: at('03-01'),
        expiresAt: at('04-30'),
        redeemedAt: at(date),
        redeemedStoreId: store.id,
      },
    });
  };
  await coupon(members.m4, 'FIXED_COUPON', 50_000, 0, '03-30', storeB);
  await coupon(members.m1, 'FREE_ITEM', null, 0, '03-21', storeA);
  await coupon(members.m3, 'PERCENT_COUPON', 10, 300, '03-26', storeA);

  const survey = async (memberId: number, date: string, score: number | null) => {
    await prisma.survey.create({
      data: {
        memberId,
        trigger: `campaign:fixture-${date}`,
        storeId: storeA.id,
        status: score === null ? 'SENT' : 'ANSWERED',
        score,
        group: score === null ? null : score >= 9 ? 'PROMOTER' : score >= 7 ? 'PASSIVE' : 'DETRACTOR',
        sentAt: at(date),
        answeredAt: score === null ? null : at(date),
      },
    });
  };
  await survey(members.m1, '03-06', 10);
  await survey(members.m3, '03-11', 5);
  await survey(members.m4, '03-05', null);

  h.clock.set(at('04-10'));
  return { storeA, storeB, members };
}
