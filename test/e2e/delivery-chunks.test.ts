import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { ManualClock } from '../../src/domain/clock.js';
import type { MemberNotice } from '../../src/domain/ports.js';
import { startTestApp } from '../support/app.js';
import { expectNoViolations } from '../support/conversation.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { eventually } from '../support/eventually.js';
import { FakeBotApi } from '../support/fake-bot-api/server.js';
import { MemberSeeder } from '../support/members.js';

/**
 * Delivery jobs that carry many deliveries: bulk notices written in one statement and queued as
 * one job per batch, which sends them a chunk per turn, each chunk read, claimed, sent and settled together, and every outcome a single
 * delivery job would reach reached per row.
 */
let fake: FakeBotApi;
let db: TestDatabase;
const running: App[] = [];

beforeAll(async () => {
  fake = await FakeBotApi.start();
  db = await createTestDatabase();
});
afterEach(async () => {
  for (const app of running.splice(0)) await app.stop();
  expectNoViolations(fake);
});
afterAll(async () => {
  await fake?.close();
  await db?.drop();
});

// 15:00 in Moscow: outside the example program's quiet hours (22:00-09:00).
const midday = () => new ManualClock(new Date('2026-11-23T12:00:00Z'));

async function start(clock = midday()): Promise<App> {
  // 200/s: chunks of 50, so the notices below are one chunk job.
  const app = await startTestApp({ fake, databaseUrl: db.url, env: { DELIVERY_RATE_PER_SECOND: '200' }, clock });
  running.push(app);
  return app;
}

const members = new MemberSeeder(() => db.prisma, 50_000);
const sentTo = (chatId: number) => fake.calls.filter((call) => call.method === 'sendMessage' && call.ok && call.chatId === chatId);
const winBack = (memberId: number, key: string): MemberNotice => ({
  memberId,
  notification: { kind: 'winBack', balance: 10, inactiveDays: 90 },
  dedupeKey: `${key}:${memberId}`,
  class: 'reminder',
});

describe('chunked delivery', () => {
  it('one chunk with mixed outcomes: sent, blocked (403), opted out, and a 429 in the middle: the rest retried, each sent exactly once', async () => {
    const app = await start();
    const recipients = await members.add(20);
    const [blocked, optedOut] = recipients as [(typeof recipients)[0], (typeof recipients)[0]];
    const paused = recipients[10] as (typeof recipients)[0];
    await db.prisma.member.update({ where: { id: optedOut.id }, data: { notificationsEnabled: false } });
    fake.blockUser(blocked.chatId);
    // The eleventh member's send is refused with 429 (retry after 1 s): the whole queue waits.
    fake.failNext('sendMessage', 429, 1, { chatId: paused.chatId });
    fake.resetRecords();

    const written = await app.domain.notifier.notifyMany?.(recipients.map((m) => winBack(m.id, 'chunk')));
    expect(written).toBe(20);
    // One statement wrote them, sharing one batch: one job for the twenty.
    const rows = await db.prisma.delivery.findMany({ where: { dedupeKey: { startsWith: 'chunk:' } } });
    expect(new Set(rows.map((row) => row.batchKey)).size).toBe(1);

    const reached = recipients.filter((m) => m !== blocked && m !== optedOut);
    await fake.waitFor(() => reached.every((m) => sentTo(m.chatId).length >= 1), { timeoutMs: 20_000, what: 'every reachable member' });
    await eventually(async () => (await db.prisma.delivery.count({ where: { dedupeKey: { startsWith: 'chunk:' }, status: 'PENDING' } })) === 0, {
      what: 'every row settled',
    });
    // A moment for a duplicate that would follow.
    await new Promise((resolve) => setTimeout(resolve, 500));

    const refused = fake.calls.filter((call) => call.errorCode === 429);
    expect(refused).toHaveLength(1);
    for (const member of reached) expect(sentTo(member.chatId)).toHaveLength(1);
    expect(sentTo(optedOut.chatId)).toHaveLength(0);
    const status = new Map((await db.prisma.delivery.findMany({ where: { dedupeKey: { startsWith: 'chunk:' } } })).map((row) => [row.memberId, row]));
    expect(status.get(blocked.id)?.status).toBe('BLOCKED');
    expect(status.get(optedOut.id)).toMatchObject({ status: 'SKIPPED', error: 'notifications off' });
    expect(reached.every((m) => status.get(m.id)?.status === 'SENT')).toBe(true);
    expect(status.get(paused.id)?.attempts).toBe(2);
    expect((await db.prisma.member.findUniqueOrThrow({ where: { id: blocked.id } })).reachable).toBe(false);
    // Nothing was sent during the pause (a send already on its way may land just after the 429).
    const pauseAt = refused[0]?.at ?? 0;
    const during = fake.calls.filter((call) => call.method === 'sendMessage' && call.ok && call.at > pauseAt + 200 && call.at < pauseAt + 900);
    expect(during).toEqual([]);
  });

  it('bulk notices: a batch writes one outbox row per member once; a rerun writes and queues nothing new', async () => {
    const app = await start();
    const recipients = await members.add(120);
    const notices = recipients.map((m) => winBack(m.id, 'bulk'));
    // A batch of 120 is one job, which sends it in 3 turns of a chunk (50 at most) each.
    const before = await app.queues.deliveryQueue.getJobCounts('completed', 'prioritized', 'waiting', 'active', 'delayed');
    expect(await app.domain.notifier.notifyMany?.(notices)).toBe(120);
    expect(await db.prisma.delivery.count({ where: { dedupeKey: { startsWith: 'bulk:' } } })).toBe(120);
    const [row] = await db.prisma.delivery.findMany({ where: { dedupeKey: { startsWith: 'bulk:' } }, take: 1 });
    await fake.waitFor(() => recipients.every((m) => sentTo(m.chatId).length === 1), { timeoutMs: 20_000, what: 'every notice sent' });
    const after = await app.queues.deliveryQueue.getJobCounts('completed', 'prioritized', 'waiting', 'active', 'delayed');
    const jobs = (counts: Record<string, number>) => Object.values(counts).reduce((sum, n) => sum + n, 0);
    expect(jobs(after) - jobs(before)).toBe(1);
    const job = await app.queues.deliveryQueue.getJob(`batch-${row?.batchKey}`);
    await eventually(async () => (await job?.isCompleted()) === true, { what: 'the batch job completed' });
    // Three turns (50 + 50 + 20), none of them a failed attempt.
    const done = await app.queues.deliveryQueue.getJob(`batch-${row?.batchKey}`);
    expect(done?.attemptsStarted).toBe(3);
    expect(done?.failedReason).toBeUndefined();
    expect(done?.stacktrace ?? []).toEqual([]);

    // The rerun (a job run twice): the same keys, nothing new.
    expect(await app.domain.notifier.notifyMany?.(notices)).toBe(0);
    expect(await db.prisma.delivery.count({ where: { dedupeKey: { startsWith: 'bulk:' } } })).toBe(120);
    const again = await app.queues.deliveryQueue.getJobCounts('completed', 'prioritized', 'waiting', 'active', 'delayed');
    expect(jobs(again)).toBe(jobs(after));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(recipients.every((m) => sentTo(m.chatId).length === 1)).toBe(true);
  });
  it('a batch in quiet hours waits whole: its first turn finds every row waiting and the job waits, not spins', async () => {
    // 23:30 in Moscow: inside the example program's quiet hours (22:00-09:00). A year ahead of
    // the wall clock, which the queue's delays run on: the morning is then truly later.
    const app = await start(new ManualClock(new Date(Date.UTC(new Date().getUTCFullYear() + 1, 10, 23, 20, 30))));
    const recipients = await members.add(60);
    fake.resetRecords();
    expect(await app.domain.notifier.notifyMany?.(recipients.map((m) => winBack(m.id, 'night')))).toBe(60);
    const [row] = await db.prisma.delivery.findMany({ where: { dedupeKey: { startsWith: 'night:' } }, take: 1 });
    const jobId = `batch-${row?.batchKey}`;
    await eventually(async () => (await app.queues.deliveryQueue.getJob(jobId))?.attemptsStarted === 1, { what: 'the first turn' });
    await eventually(async () => (await (await app.queues.deliveryQueue.getJob(jobId))?.isDelayed()) === true, { what: 'the job waiting' });
    // A full chunk (50 of 60) left waiting is no reason to come straight back for the next one.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const job = await app.queues.deliveryQueue.getJob(jobId);
    expect(job?.attemptsStarted).toBe(1);
    expect(await job?.isDelayed()).toBe(true);
    expect(fake.calls.filter((call) => call.method === 'sendMessage')).toEqual([]);
    expect(await db.prisma.delivery.count({ where: { dedupeKey: { startsWith: 'night:' }, status: 'PENDING' } })).toBe(60);
  });
});
