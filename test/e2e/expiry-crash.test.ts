import { afterAll, beforeAll, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { PrismaUnitOfWork } from '../../src/db/repositories.js';
import { ManualClock } from '../../src/domain/clock.js';
import { EXPIRY_LANES, expirePoints } from '../../src/domain/jobs/expire-points.js';
import type { DomainDeps } from '../../src/domain/ports.js';
import { SWEEP_GRACE_MS, sweepPendingDeliveries } from '../../src/jobs/delivery.js';
import { startTestApp } from '../support/app.js';
import { expectNoViolations } from '../support/conversation.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { eventually } from '../support/eventually.js';
import { FakeBotApi } from '../support/fake-bot-api/server.js';
import { ledgerViolations } from '../support/ledger-invariants.js';
import { MemberSeeder } from '../support/members.js';

/**
 * Points expiry and a crash between a batch's commit and the queue add (issue 12): the batch's
 * "your points expired" notices were written in its transaction, so the delivery sweep finds
 * them PENDING and queues them, although a rerun finds those lots at 0 and tells nobody again.
 * The whole app runs (real PostgreSQL, Redis, delivery worker, fake Bot API): every member whose
 * points expired gets exactly one message, with the points and balance of their EXPIRE entry.
 */
let fake: FakeBotApi;
let db: TestDatabase;
let app: App | undefined;

beforeAll(async () => {
  fake = await FakeBotApi.start();
  db = await createTestDatabase();
});
afterAll(async () => {
  await app?.stop();
  await fake?.close();
  await db?.drop();
});

const sentTo = (chatId: number) => fake.calls.filter((call) => call.method === 'sendMessage' && call.ok && call.chatId === chatId);

it('a run killed right after a batch commits: the sweep queues that batch, and every member is told exactly once', async () => {
  // 15:00 in Moscow: outside the example program's quiet hours, so reminders go out at once.
  const clock = new ManualClock(new Date('2026-11-23T12:00:00Z'));
  app = await startTestApp({ fake, databaseUrl: db.url, clock });
  const domain = app.domain;
  const members = await new MemberSeeder(() => db.prisma, 70_000).add(12);
  let key = 0;
  for (const [i, member] of members.entries()) {
    for (const [amount, hoursAgo] of [
      [10 + i, 48],
      [5, 1],
    ] as const) {
      await domain.repos.ledger.post({
        kind: 'credit',
        type: 'EARN',
        memberId: member.id,
        amount,
        idempotencyKey: `crash-earn:${++key}`,
        actor: { type: 'SYSTEM' },
        expiresAt: new Date(clock.now().getTime() - hoursAgo * 3_600_000),
      });
    }
  }

  // The process dies the moment the first batches commit: their queue add never happens (a
  // relay that throws stops the run there, as the kill would).
  const crashing: DomainDeps = {
    ...domain,
    uow: new PrismaUnitOfWork(app.db.prisma, clock, {
      relay: async () => {
        throw new Error('killed after the commit');
      },
    }),
  };
  await expect(expirePoints(crashing, { batchSize: 4, lanes: EXPIRY_LANES })).rejects.toThrow('killed after the commit');
  const orphans = await db.prisma.delivery.findMany({ where: { kind: 'pointsExpired' } });
  // Each committed batch left its notices PENDING, and no job for them is in the queue.
  expect(orphans.length).toBeGreaterThan(0);
  expect(orphans.length).toBeLessThan(members.length);
  expect(orphans.map((row) => row.memberId).sort()).toEqual(
    (await db.prisma.ledgerEntry.findMany({ where: { type: 'EXPIRE' }, select: { memberId: true } })).map((e) => e.memberId).sort(),
  );
  for (const row of orphans) {
    expect(row.status).toBe('PENDING');
    expect(await app.queues.deliveryQueue.getJob(`batch-${row.batchKey}`)).toBeUndefined();
  }

  // The next run (the process restarted) expires the rest and finds the first batches' lots at
  // 0: it writes no notice for those members.
  const rest = await expirePoints(domain, { batchSize: 4, lanes: EXPIRY_LANES });
  expect(rest.complete).toBe(true);
  expect(rest.members).toBe(members.length - orphans.length);
  expect(await db.prisma.delivery.count({ where: { kind: 'pointsExpired' } })).toBe(members.length);

  // The sweep, once the rows are older than its grace, queues the orphaned batches.
  clock.advance(SWEEP_GRACE_MS + 1_000);
  const { requeued } = await sweepPendingDeliveries(domain.repos, app.queues.deliveryQueue, clock.now());
  expect(requeued).toBeGreaterThanOrEqual(orphans.length);

  await eventually(async () => (await db.prisma.delivery.count({ where: { kind: 'pointsExpired', status: { not: 'SENT' } } })) === 0, {
    timeoutMs: 30_000,
    what: 'every expiry notice sent',
  });
  // Nothing left in the queue that could send a second copy.
  await eventually(
    async () => {
      const counts = await app?.queues.deliveryQueue.getJobCounts('waiting', 'prioritized', 'active', 'delayed');
      return counts !== undefined && Object.values(counts).every((n) => n === 0);
    },
    { what: 'the delivery queue empty' },
  );

  const entries = await db.prisma.ledgerEntry.findMany({ where: { type: 'EXPIRE' } });
  expect(entries).toHaveLength(members.length);
  for (const member of members) {
    const entry = entries.find((e) => e.memberId === member.id);
    const messages = sentTo(member.chatId);
    expect(messages).toHaveLength(1);
    // "Points expired: <points>. Balance: <balance>." in the member's language.
    const text = String(messages[0]?.params.text);
    expect(text).toContain(String(-(entry?.amount ?? 0)));
    expect(text).toContain(`Balance: ${entry?.balanceAfter}`);
  }
  expect(await ledgerViolations(db.prisma)).toEqual([]);
  expectNoViolations(fake);
}, 60_000);
