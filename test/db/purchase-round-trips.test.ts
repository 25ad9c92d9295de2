import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordPurchase } from '../../src/domain/purchases/record-purchase.js';
import { PrismaClient } from '../../src/generated/prisma/client.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { type DomainHarness, domainHarness } from '../support/domain.js';
import { spendCodeProof } from '../support/spend.js';

// Issue 12: a purchase (spend + earn + tier + purchase row + event + receipt) costs at most three
// round trips to PostgreSQL. Every statement any pooled connection sends is counted, BEGIN and
// COMMIT included, so a transaction opened around the work would show.
let db: TestDatabase;
let pool: pg.Pool;
let counted: PrismaClient;
let h: DomainHarness;
let statements: string[] = [];
const till = { type: 'TILL' as const, id: 'till-rt' };

beforeAll(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const first = args[0];
      statements.push(typeof first === 'string' ? first : String((first as { text?: string })?.text ?? first));
      return query(...args);
    };
  });
  counted = new PrismaClient({ adapter: new PrismaPg(pool) });
  h = await domainHarness({ ...db, prisma: counted });
});
afterAll(async () => {
  await counted?.$disconnect();
  await pool?.end();
  await db?.drop();
});

async function roundTrips<T>(work: () => Promise<T>): Promise<{ result: T; trips: string[] }> {
  statements = [];
  const result = await work();
  return { result, trips: statements };
}

describe('round trips of a purchase', () => {
  it('earns, writes the receipt and the event in 2: one read, one write', async () => {
    const member = await h.member(9_002, 0);
    const store = await h.store();
    const input = { memberId: member.id, storeId: store.id, receiptNo: 'RT-2', amountMinor: 10_000, pointsToSpend: 0, idempotencyKey: 'rt-2', actor: till };
    const { result, trips } = await roundTrips(() => recordPurchase(h.deps, input));
    expect(result).toMatchObject({ replayed: false, pointsSpent: 0 });
    expect(result.pointsEarned).toBeGreaterThan(0);
    expect(trips.length, trips.join('\n')).toBeLessThanOrEqual(2);
  });

  it('spends (with the proof), earns, lifts the tier and writes the receipt and the event in 2: the proof is read with the snapshot', async () => {
    const member = await h.member(9_001, 500);
    const store = await h.store();
    const input = {
      memberId: member.id,
      storeId: store.id,
      receiptNo: 'RT-1',
      // 15 000.00 after the 6 % discount (points count as paid): Silver's threshold.
      amountMinor: 1_595_744,
      pointsToSpend: 200,
      idempotencyKey: 'rt-1',
      actor: till,
      spendProof: await spendCodeProof(h.deps, member.id),
    };
    const { result, trips } = await roundTrips(() => recordPurchase(h.deps, input));
    expect(result).toMatchObject({ replayed: false, pointsSpent: 200, upgradedTo: { code: 'silver' } });
    expect(result.pointsEarned).toBeGreaterThan(0);
    // One read (with the member's open spend code and guessing lock, issue 14) and one write.
    expect(trips.length, trips.join('\n')).toBeLessThanOrEqual(2);
    expect(h.notifications.filter((n) => n.memberId === member.id).map((n) => n.notification.kind)).toEqual(['purchaseRecorded', 'tierUpgraded']);
    expect(await db.prisma.domainEvent.count({ where: { id: `purchase:${result.purchase.id}` } })).toBe(1);

    // A replay is answered from the one read.
    const replay = await roundTrips(() => recordPurchase(h.deps, input));
    expect(replay.result).toMatchObject({ replayed: true, balance: result.balance, purchase: { id: result.purchase.id } });
    expect(replay.trips).toHaveLength(1);
  });
});
