import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDomainError } from '../../src/domain/errors.js';
import type { DomainEvent, EventHandler } from '../../src/domain/events.js';
import { EVENT_MAX_ATTEMPTS, EVENT_SWEEP_AFTER_MS, pendingDomainEvents, processDomainEvent } from '../../src/domain/outbox.js';
import { recordPurchase } from '../../src/domain/purchases/record-purchase.js';
import { recordReturn } from '../../src/domain/purchases/record-return.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { type DomainHarness, domainHarness } from '../support/domain.js';
import { spendCodeProof } from '../support/spend.js';

/**
 * The domain-event outbox on PostgreSQL: events and receipts commit with their change (and roll
 * back with it), a replay writes nothing, the handlers run once per event until it is settled,
 * and the sweep's "a minute old" is read from the injected clock.
 */

let db: TestDatabase;
let h: DomainHarness;
let nextUser = 60_000;
let receipt = 1;
const till = { type: 'TILL' as const, id: 'till-1' };

beforeAll(async () => {
  db = await createTestDatabase();
  h = await domainHarness(db);
});
afterAll(async () => db?.drop());

async function buy(memberId: number, options: { amountMinor?: number; pointsToSpend?: number; key?: string } = {}) {
  const store = await h.store();
  const no = `O-${receipt++}`;
  return recordPurchase(h.deps, {
    memberId,
    storeId: store.id,
    receiptNo: no,
    amountMinor: options.amountMinor ?? 50_000,
    pointsToSpend: options.pointsToSpend ?? 0,
    idempotencyKey: options.key ?? `k-${no}`,
    actor: till,
    spendProof: options.pointsToSpend ? await spendCodeProof(h.deps, memberId) : null,
  });
}

/** A handler that records what it was handed, and fails while `failing` is set. */
function recorder(): EventHandler & { seen: string[]; failing: boolean } {
  const handler = {
    seen: [] as string[],
    failing: false,
    async handle(event: DomainEvent) {
      if (handler.failing) throw new Error('handler down');
      handler.seen.push(`${event.type}:${event.id}:${event.at.toISOString()}`);
    },
  };
  return handler;
}

describe('writing', () => {
  it('commits the purchase event and the receipt with the purchase; the event keeps its id, time and fields', async () => {
    const member = await h.member(nextUser++);
    const result = await buy(member.id);
    const row = await db.prisma.domainEvent.findUniqueOrThrow({ where: { id: `purchase:${result.purchase.id}` } });
    expect(row).toMatchObject({ type: 'purchaseRecorded', status: 'PENDING', attempts: 0, createdAt: h.clock.now(), processedAt: null });
    const stored = await h.deps.repos.domainEvents.findById(row.id);
    expect(stored?.event).toEqual({
      type: 'purchaseRecorded',
      id: `purchase:${result.purchase.id}`,
      memberId: member.id,
      purchaseId: result.purchase.id,
      storeId: result.purchase.storeId,
      amountMinor: 50_000,
      at: h.clock.now(),
    });
    expect(await db.prisma.delivery.findUniqueOrThrow({ where: { dedupeKey: `purchase:${result.purchase.id}:receipt` } })).toMatchObject({
      memberId: member.id,
      kind: 'purchaseRecorded',
      status: 'PENDING',
    });
  });

  it('writes nothing when the purchase rolls back, and nothing more on a replay', async () => {
    const member = await h.member(nextUser++, 10);
    const events = await db.prisma.domainEvent.count();
    const deliveries = await db.prisma.delivery.count();
    // More points than the balance holds: refused inside the transaction, after the purchase row.
    const refused = await buy(member.id, { pointsToSpend: 50 }).catch((error: unknown) => error);
    expect(isDomainError(refused, 'INSUFFICIENT_POINTS')).toBe(true);
    expect(await db.prisma.purchase.count({ where: { memberId: member.id } })).toBe(0);
    expect(await db.prisma.domainEvent.count()).toBe(events);
    expect(await db.prisma.delivery.count()).toBe(deliveries);

    const first = await buy(member.id, { key: 'replay-me' });
    const again = await recordPurchase(h.deps, {
      memberId: member.id,
      storeId: first.purchase.storeId,
      receiptNo: first.purchase.receiptNo,
      amountMinor: first.purchase.amountMinor,
      pointsToSpend: 0,
      idempotencyKey: 'replay-me',
      actor: till,
    });
    expect(again.replayed).toBe(true);
    expect(await db.prisma.domainEvent.count()).toBe(events + 1);
    expect(await db.prisma.delivery.count()).toBe(deliveries + 1);
    // The event id is the key: publishing it again is refused.
    const event = (await h.deps.repos.domainEvents.findById(`purchase:${first.purchase.id}`))?.event as DomainEvent;
    expect(await h.deps.uow.run((repos) => repos.outbox.publish(event))).toBe(false);
  });

  it('commits the return event and the customer’s message with the return', async () => {
    const member = await h.member(nextUser++);
    const bought = await buy(member.id, { amountMinor: 100_000 });
    const returned = await recordReturn(h.deps, {
      storeId: bought.purchase.storeId,
      receiptNo: bought.purchase.receiptNo,
      amountMinor: 40_000,
      idempotencyKey: 'ret-1',
      actor: till,
    });
    const id = `return:${returned.purchaseReturn.id}`;
    expect((await h.deps.repos.domainEvents.findById(id))?.event).toMatchObject({
      type: 'returnRecorded',
      purchaseId: bought.purchase.id,
      amountMinor: 40_000,
    });
    expect(await db.prisma.delivery.count({ where: { dedupeKey: `${id}:receipt`, kind: 'returnRecorded' } })).toBe(1);
  });
});

describe('bulk notices', () => {
  const notice = (memberId: number, key: string) => ({
    memberId,
    notification: { kind: 'winBack' as const, balance: 0, inactiveDays: 90 },
    dedupeKey: key,
    class: 'reminder' as const,
  });

  it('writes many notices in the transaction under one batch key, skips keys used before, and hands the new rows to the relay after the commit', async () => {
    const [a, b, c] = [await h.member(nextUser++), await h.member(nextUser++), await h.member(nextUser++)];
    await h.deps.uow.run((repos) => repos.outbox.notifyMany([notice(a.id, `bulk:${a.id}`)]));
    const relayed = h.notifications.length;
    const written = await h.deps.uow.run((repos) =>
      repos.outbox.notifyMany([notice(a.id, `bulk:${a.id}`), notice(b.id, `bulk:${b.id}`), notice(c.id, `bulk:${c.id}`)]),
    );
    expect(written).toBe(2);
    const rows = await db.prisma.delivery.findMany({ where: { dedupeKey: { in: [`bulk:${b.id}`, `bulk:${c.id}`] } }, orderBy: { id: 'asc' } });
    expect(rows.map((row) => [row.memberId, row.status, row.class, row.payload])).toEqual([
      [b.id, 'PENDING', 'reminder', notice(b.id, '').notification],
      [c.id, 'PENDING', 'reminder', notice(c.id, '').notification],
    ]);
    expect(rows[0]?.batchKey).toEqual(expect.any(String));
    expect(rows[1]?.batchKey).toBe(rows[0]?.batchKey);
    expect(h.notifications.slice(relayed)).toEqual([
      { memberId: b.id, notification: notice(b.id, '').notification },
      { memberId: c.id, notification: notice(c.id, '').notification },
    ]);
  });

  it('writes nothing when its transaction rolls back', async () => {
    const member = await h.member(nextUser++);
    const relayed = h.notifications.length;
    await expect(
      h.deps.uow.run(async (repos) => {
        expect(await repos.outbox.notifyMany([notice(member.id, `bulk-rollback:${member.id}`)])).toBe(1);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(await db.prisma.delivery.count({ where: { memberId: member.id } })).toBe(0);
    expect(h.notifications).toHaveLength(relayed);
  });
});

describe('processing', () => {
  it('hands an event to every handler and marks it processed; a second delivery runs nothing', async () => {
    const member = await h.member(nextUser++);
    const { purchase } = await buy(member.id);
    const id = `purchase:${purchase.id}`;
    const [a, b] = [recorder(), recorder()];
    const at = h.clock.now();
    h.clock.advance(5_000);
    expect(await processDomainEvent(h.deps, [a, b], id)).toBe('processed');
    expect(await processDomainEvent(h.deps, [a, b], id)).toBe('settled');
    // The event as recorded (its `at` is the purchase's time), not as processed.
    expect(a.seen).toEqual([`purchaseRecorded:${id}:${at.toISOString()}`]);
    expect(b.seen).toHaveLength(1);
    expect(await db.prisma.domainEvent.findUniqueOrThrow({ where: { id } })).toMatchObject({ status: 'PROCESSED', processedAt: h.clock.now() });
    expect(await processDomainEvent(h.deps, [a], 'purchase:0')).toBe('missing');
  });

  it('counts a failing handler’s attempts, keeps the event pending, and gives up at the limit', async () => {
    const member = await h.member(nextUser++);
    const { purchase } = await buy(member.id);
    const id = `purchase:${purchase.id}`;
    const handler = recorder();
    handler.failing = true;
    await expect(processDomainEvent(h.deps, [handler], id)).rejects.toThrow('handler down');
    expect(await db.prisma.domainEvent.findUniqueOrThrow({ where: { id } })).toMatchObject({ status: 'PENDING', attempts: 1, error: 'handler down' });
    for (let i = 1; i < EVENT_MAX_ATTEMPTS; i++) await processDomainEvent(h.deps, [handler], id).catch(() => {});
    expect(await db.prisma.domainEvent.findUniqueOrThrow({ where: { id } })).toMatchObject({ status: 'FAILED', attempts: EVENT_MAX_ATTEMPTS });
    handler.failing = false;
    expect(await processDomainEvent(h.deps, [handler], id)).toBe('settled');
    expect(handler.seen).toEqual([]);
  });

  it('lists for the sweep the events pending a minute by the injected clock, or all of them at start-up', async () => {
    const start = h.clock.now();
    try {
      h.clock.set(new Date('2030-01-01T00:00:00Z'));
      const member = await h.member(nextUser++);
      const { purchase } = await buy(member.id);
      const id = `purchase:${purchase.id}`;
      expect(await pendingDomainEvents(h.deps, EVENT_SWEEP_AFTER_MS)).not.toContain(id);
      expect(await pendingDomainEvents(h.deps, null)).toContain(id);
      h.clock.advance(EVENT_SWEEP_AFTER_MS + 1);
      expect(await pendingDomainEvents(h.deps, EVENT_SWEEP_AFTER_MS)).toContain(id);
      await processDomainEvent(h.deps, [], id);
      expect(await pendingDomainEvents(h.deps, null)).not.toContain(id);
    } finally {
      h.clock.set(start);
    }
  });
});
