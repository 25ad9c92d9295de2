import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainEvent } from '../../src/domain/events.js';
import { processDomainEvent } from '../../src/domain/outbox.js';
import { recordPurchase } from '../../src/domain/purchases/record-purchase.js';
import { applyAutoRewards, autoRewardSubscriber } from '../../src/domain/rewards/auto-rewards.js';
import { syncRewards } from '../../src/domain/rewards/catalogue.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { type DomainHarness, domainHarness } from '../support/domain.js';
import { ledgerViolations } from '../support/ledger-invariants.js';
import { exampleProgram } from '../support/program.js';

// biome-ignore lint/suspicious/noExplicitAny: the test pokes values into the raw program document.
type Raw = Record<string, any>;

/** The example program with a Nordstrom-style Note: 2 000 points become a 20.00 coupon by themselves. */
const program = exampleProgram((raw: Raw) => {
  raw.rewards.catalogue.push({
    code: 'note-20',
    kind: 'FIXED_COUPON',
    value: 2000,
    cost: 2000,
    validityDays: 60,
    title: { ru: 'Купон на 20', en: 'A 20 note' },
    description: { ru: 'Скидка 20.', en: '20 off.' },
  });
  raw.rewards.auto = [{ reward: 'note-20', whenBalanceAtLeast: 2000 }];
  raw.earn.rate = { pointsPerUnit: 1 };
  // Points on the whole bill, so the figures below stay round: the tier discount is another test's.
  for (const level of raw.tiers.levels) level.discountPercent = 0;
});

let db: TestDatabase;
let h: DomainHarness;
let nextTelegramId = 50_000;
let receipt = 0;

beforeAll(async () => {
  db = await createTestDatabase({ poolSize: 10 });
  h = await domainHarness(db, { program });
  await syncRewards(h.deps);
});
afterAll(async () => db?.drop());

const notesOf = (memberId: number) => db.prisma.coupon.findMany({ where: { memberId, reward: { code: 'note-20' } }, orderBy: { id: 'asc' } });
const balanceOf = async (memberId: number) => (await db.prisma.member.findUniqueOrThrow({ where: { id: memberId } })).balance;
const till = { type: 'TILL' as const, id: 'till-1' };

async function buy(memberId: number, amountMinor: number) {
  const store = await h.store();
  const no = `A-${++receipt}`;
  const result = await recordPurchase(h.deps, {
    memberId,
    storeId: store.id,
    receiptNo: no,
    amountMinor,
    pointsToSpend: 0,
    idempotencyKey: `k-${no}`,
    actor: till,
  });
  const event: DomainEvent = {
    type: 'purchaseRecorded',
    id: `purchase:${result.purchase.id}`,
    memberId,
    purchaseId: result.purchase.id,
    storeId: store.id,
    amountMinor,
    at: h.clock.now(),
  };
  return { result, event };
}

describe('automatic rewards', () => {
  it('turns 2 000 points into a Note when a purchase reaches them, through the ledger, with a message', async () => {
    const member = await h.member(nextTelegramId++, 1500);
    const handler = autoRewardSubscriber(h.deps);
    // 400.00 earns 400: 1 900, below the threshold.
    const below = await buy(member.id, 40_000);
    await handler.handle(below.event);
    expect(await notesOf(member.id)).toHaveLength(0);
    expect(await balanceOf(member.id)).toBe(1900);
    // 250.00 earns 250: 2 150 -> one Note for 2 000, 150 left.
    const above = await buy(member.id, 25_000);
    h.notifications.length = 0;
    await handler.handle(above.event);
    const notes = await notesOf(member.id);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({ cost: 2000, value: 2000, kind: 'FIXED_COUPON', status: 'ISSUED', idempotencyKey: `auto:${member.id}:note-20:1` });
    expect(await balanceOf(member.id)).toBe(150);
    const spend = await db.prisma.ledgerEntry.findUniqueOrThrow({ where: { idempotencyKey: `coupon:${notes[0]?.id}:spend` } });
    expect(spend).toMatchObject({ type: 'SPEND', amount: -2000, reason: 'auto-reward:note-20' });
    expect(h.notifications).toEqual([
      {
        memberId: member.id,
        notification: { kind: 'autoRewardIssued', couponCode: notes[0]?.code, title: { ru: 'Купон на 20', en: 'A 20 note' }, points: 2000, balance: 150 },
      },
    ]);
    expect(await ledgerViolations(db.prisma)).toEqual([]);
  });

  it('repeats as often as the balance allows: 6 500 points give three Notes and leave 500', async () => {
    const member = await h.member(nextTelegramId++, 6000);
    const { event } = await buy(member.id, 50_000);
    await autoRewardSubscriber(h.deps).handle(event);
    expect((await notesOf(member.id)).map((note) => note.idempotencyKey)).toEqual([1, 2, 3].map((n) => `auto:${member.id}:note-20:${n}`));
    expect(await balanceOf(member.id)).toBe(500);
  });

  it('attack: a replayed event and concurrent handlers cannot issue twice for one crossing', async () => {
    const member = await h.member(nextTelegramId++, 1999);
    const first = await buy(member.id, 100); // +1: exactly 2 000
    const second = await buy(member.id, 100); // +1: 2 001
    const handler = autoRewardSubscriber(h.deps);
    // Both purchases' events, each delivered three times, all at once (a retried job, a sweep, two workers).
    await Promise.all([first.event, second.event, first.event, second.event, first.event, second.event].map((event) => handler.handle(event)));
    expect(await notesOf(member.id)).toHaveLength(1);
    expect(await balanceOf(member.id)).toBe(1);
    // And again later, through the outbox consumer: nothing more.
    await processDomainEvent(h.deps, [handler], first.event.id);
    await applyAutoRewards(h.deps, member.id);
    expect(await notesOf(member.id)).toHaveLength(1);
    expect(await ledgerViolations(db.prisma)).toEqual([]);
  });

  it('attack: a member who cancels a Note for the points back gets one Note again, not two', async () => {
    const member = await h.member(nextTelegramId++, 2000);
    await applyAutoRewards(h.deps, member.id);
    const [note] = await notesOf(member.id);
    // Cancelled (points back), as the member's «cancel coupon» does.
    await db.prisma.coupon.update({ where: { id: note?.id as number }, data: { status: 'CANCELLED', cancelledAt: h.clock.now() } });
    await h.deps.repos.ledger.post({
      kind: 'credit',
      type: 'REFUND',
      memberId: member.id,
      amount: 2000,
      idempotencyKey: `coupon:${note?.id}:cancel`,
      actor: { type: 'MEMBER' },
      expiresAt: null,
    });
    await Promise.all([applyAutoRewards(h.deps, member.id), applyAutoRewards(h.deps, member.id)]);
    const notes = await notesOf(member.id);
    expect(notes.map((n) => n.status)).toEqual(['CANCELLED', 'ISSUED']);
    expect(notes[1]?.idempotencyKey).toBe(`auto:${member.id}:note-20:2`);
    expect(await balanceOf(member.id)).toBe(0);
    expect(await ledgerViolations(db.prisma)).toEqual([]);
  });

  it('refuses a rule naming an unknown reward or a threshold below the cost, naming the key', () => {
    expect(() => exampleProgram((raw: Raw) => (raw.rewards.auto = [{ reward: 'nope', whenBalanceAtLeast: 10 }]))).toThrow(
      /rewards\.auto\[nope\]\.reward: a reward code of rewards\.catalogue/,
    );
    expect(() => exampleProgram((raw: Raw) => (raw.rewards.auto = [{ reward: 'coupon-200', whenBalanceAtLeast: 1 }]))).toThrow(
      /rewards\.auto\[coupon-200\]\.whenBalanceAtLeast: at least the reward's cost/,
    );
    // A free reward has nothing to take: every event would issue coupons up to the per-event limit.
    const free = (raw: Raw) => {
      const coffee = raw.rewards.catalogue.find((reward: { code: string }) => reward.code === 'free-coffee');
      coffee.cost = 0;
      raw.rewards.auto = [{ reward: 'free-coffee', whenBalanceAtLeast: 10 }];
    };
    expect(() => exampleProgram(free)).toThrow(/rewards\.auto\[free-coffee\]\.reward: a reward that costs points/);
  });
});
