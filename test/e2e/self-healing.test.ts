import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { createBroadcast } from '../../src/domain/broadcasts/create-broadcast.js';
import { ManualClock } from '../../src/domain/clock.js';
import { startTestApp } from '../support/app.js';
import { expectNoViolations } from '../support/conversation.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { eventually } from '../support/eventually.js';
import { FakeBotApi } from '../support/fake-bot-api/server.js';
import { MemberSeeder, type SeededMember } from '../support/members.js';
import { exampleProgram } from '../support/program.js';

/**
 * Redis loses its data while the app runs (FLUSHALL on a Redis of the app's own, never the
 * shared one): the job schedules and every queued message are gone. Without a restart, the
 * reconciler registers the schedules again and queues again what PostgreSQL says is pending:
 * outbox rows, a broadcast that was sending and one that fell due meanwhile. Everyone gets their
 * message exactly once, and /readyz says "degraded" while the schedules are missing.
 */

const ADMIN = 980_001;
const admin = { kind: 'staff', telegramId: ADMIN, locale: 'en' } as const;
// No quiet hours: broadcasts and reminders must not depend on the hour the test runs at.
const program = exampleProgram((raw) => {
  raw.notifications = { quietHours: { from: '00:00', to: '00:00' } };
});

let fake: FakeBotApi;
let db: TestDatabase;
const running: App[] = [];
const members = new MemberSeeder(() => db.prisma, 50_000);

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

/** The app with a private Redis of its own (REDIS_URL unset: the embedded redis-server). */
async function start(clock: ManualClock, env: Record<string, string>): Promise<App> {
  const app = await startTestApp({ fake, databaseUrl: db.url, program, clock, env: { REDIS_URL: '', ADMIN_TELEGRAM_IDS: String(ADMIN), ...env } });
  running.push(app);
  return app;
}

/** Runs one command on the app's private Redis. */
async function onPrivateRedis(app: App, command: (redis: Redis) => Promise<unknown>): Promise<void> {
  expect(app.redis.embedded).toBe(true);
  const redis = new Redis(app.redis.url);
  try {
    await command(redis);
  } finally {
    redis.disconnect();
  }
}

const schedulers = async (app: App) => (await app.queues.jobsQueue.getJobSchedulers()).map((scheduler) => scheduler.key).sort();
const sentTo = (chatId: number) => fake.calls.filter((call) => call.method === 'sendMessage' && call.ok && call.chatId === chatId).length;
const readiness = async (app: App) => {
  const response = await fetch(`${app.httpUrl}/readyz`);
  return { status: response.status, body: await response.json() };
};
/** Nothing queued, delayed or in hand: a duplicate, had there been one, would have been sent by now. */
const drained = async (app: App) => {
  for (const queue of [app.queues.deliveryQueue, app.queues.paidDeliveryQueue]) {
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    if (Object.values(counts).some((n) => n > 0)) return false;
  }
  return true;
};

async function expectEachOnce(app: App, recipients: SeededMember[]): Promise<void> {
  await fake.waitFor(() => recipients.every((m) => sentTo(m.chatId) > 0), { timeoutMs: 30_000, what: 'every pending message sent' });
  await eventually(() => drained(app), { timeoutMs: 15_000, what: 'the delivery queues drained' });
  expect(recipients.filter((m) => sentTo(m.chatId) !== 1)).toEqual([]);
}

describe('Redis emptied while the app runs', () => {
  it('comes back on reconnect: schedules, outbox, sending and due broadcasts; /readyz degraded in between', async () => {
    const clock = new ManualClock(new Date());
    // No timer during this test: the heal must come from the reconnect.
    const app = await start(clock, { RECONCILE_INTERVAL_MS: '3600000', DELIVERY_RATE_PER_SECOND: '5' });
    const registered = await schedulers(app);
    expect(registered).toEqual(expect.arrayContaining(['delivery-sweep', 'broadcasts', 'coupon-expiry', 'points-expiry']));
    expect(await readiness(app)).toEqual({ status: 200, body: { status: 'ready', checks: { database: 'ok', redis: 'ok', schedules: 'ok' } } });

    const receipts = await members.add(14);
    const sending = await members.add(6, { tier: 'silver' });
    const later = await members.add(4, { tier: 'gold' });
    for (const member of receipts) {
      await app.domain.notifier.notify(member.id, { kind: 'pointsAdjusted', amount: 5, balance: 5 }, { dedupeKey: `heal:${member.id}` });
    }
    const content = (text: string) => ({ text, entities: [], photoFileId: null, button: null });
    await createBroadcast(app.domain, admin, { content: content('Now'), segment: { tiers: ['silver'] }, scheduledAt: null });
    const scheduled = await createBroadcast(app.domain, admin, {
      content: content('Later'),
      segment: { tiers: ['gold'] },
      scheduledAt: new Date(clock.now().getTime() + 5 * 60_000),
    });
    expect(scheduled.started).toBe(false);
    const everyone = [...receipts, ...sending, ...later];
    await fake.waitFor(() => everyone.filter((m) => sentTo(m.chatId) > 0).length >= 2, { timeoutMs: 10_000, what: 'the first messages out' });

    await onPrivateRedis(app, (redis) => redis.flushall());
    expect(await schedulers(app)).toEqual([]);
    expect(everyone.filter((m) => sentTo(m.chatId) > 0).length).toBeLessThan(everyone.length);
    // Anonymous callers learn what is wrong, not how: no driver text.
    expect(await readiness(app)).toEqual({ status: 503, body: { status: 'degraded', checks: { database: 'ok', redis: 'ok', schedules: 'missing' } } });

    // Time moves on: the outbox rows are past the sweep's grace and the scheduled broadcast is due.
    clock.advance(6 * 60_000);
    // A restarted Redis drops every connection; the reconnect is what sets the healing off.
    await onPrivateRedis(app, (redis) => redis.client('KILL', 'TYPE', 'normal'));

    await eventually(async () => (await schedulers(app)).join() === registered.join(), { timeoutMs: 15_000, what: 'the schedules registered again' });
    await eventually(async () => (await readiness(app)).status === 200, { what: '/readyz ready again' });
    await expectEachOnce(app, everyone);
    expect(await db.prisma.delivery.count({ where: { dedupeKey: { startsWith: 'heal:' }, status: { not: 'SENT' } } })).toBe(0);
    await eventually(async () => (await db.prisma.broadcast.count({ where: { status: { not: 'DONE' } } })) === 0, { what: 'both broadcasts done' });
  }, 90_000);

  it('comes back on the reconciler timer when no reconnect tells it', async () => {
    const clock = new ManualClock(new Date());
    const app = await start(clock, { RECONCILE_INTERVAL_MS: '200', DELIVERY_RATE_PER_SECOND: '5' });
    const registered = await schedulers(app);
    const recipients = await members.add(10);
    for (const member of recipients) {
      await app.domain.notifier.notify(member.id, { kind: 'pointsAdjusted', amount: 7, balance: 7 }, { dedupeKey: `timer:${member.id}` });
    }
    await fake.waitFor(() => recipients.some((m) => sentTo(m.chatId) > 0), { timeoutMs: 10_000, what: 'the first message out' });

    await onPrivateRedis(app, (redis) => redis.flushall());
    clock.advance(60_000);

    await eventually(async () => (await schedulers(app)).join() === registered.join(), { timeoutMs: 15_000, what: 'the schedules registered again' });
    await expectEachOnce(app, recipients);
    expect(await db.prisma.delivery.count({ where: { dedupeKey: { startsWith: 'timer:' }, status: { not: 'SENT' } } })).toBe(0);
  }, 60_000);
});
