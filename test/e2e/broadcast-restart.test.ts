import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { createBroadcast } from '../../src/domain/broadcasts/create-broadcast.js';
import type { BroadcastDispatch, Segment } from '../../src/domain/broadcasts/types.js';
import { startTestApp } from '../support/app.js';
import { expectNoViolations } from '../support/conversation.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { eventually } from '../support/eventually.js';
import { FakeBotApi } from '../support/fake-bot-api/server.js';
import { exampleProgram } from '../support/program.js';

/**
 * Killing the process mid-broadcast and starting it again: every recipient gets the message
 * exactly once. The fake Bot API has no limits here, and the rate is high (1000/s) or none at
 * all (10,000 recipients), so that they take seconds; the limits themselves are measured by
 * `npm run bench`.
 */

const ADMIN = 970_001;
const admin = { kind: 'staff', telegramId: ADMIN, locale: 'en' } as const;
const FIRST_CHAT = 3_000_000;
const env = { ADMIN_TELEGRAM_IDS: String(ADMIN), DELIVERY_RATE_PER_SECOND: '1000' };
// No rate (a Bot API without limits): at 1000/s the 11,000 sends took 11 s at least, mostly idle.
const unlimited = { ...env, DELIVERY_RATE_PER_SECOND: '0' };
// Broadcasts respect the quiet hours: none here, so that the test does not depend on the hour.
const program = exampleProgram((raw) => {
  raw.notifications = { quietHours: { from: '00:00', to: '00:00' } };
});

let fake: FakeBotApi;
let db: TestDatabase;
const running: App[] = [];

beforeAll(async () => {
  fake = await FakeBotApi.start();
  db = await createTestDatabase({ poolSize: 20 });
});
afterEach(async () => {
  for (const app of running.splice(0)) await app.stop();
  expectNoViolations(fake);
});
afterAll(async () => {
  await fake?.close();
  await db?.drop();
});

async function start(appEnv: Record<string, string> = env): Promise<App> {
  const app = await startTestApp({ fake, databaseUrl: db.url, program, env: appEnv });
  running.push(app);
  return app;
}

async function stop(app: App): Promise<void> {
  await app.stop();
  running.splice(running.indexOf(app), 1);
}

/** `count` active members in one set-based INSERT; chat ids from `firstChat`, in tier `tier`. */
async function seed(count: number, firstChat: number, tier: string): Promise<void> {
  await db.prisma.$executeRaw`
    INSERT INTO "Member" ("telegramId", "code", "status", "registrationStep", "locale", "tier", "registeredAt", "updatedAt")
    SELECT ${firstChat}::bigint + g, 'R' || ${tier} || lpad(g::text, 9, '0'), 'ACTIVE', NULL, 'en', ${tier}, now(), now()
    FROM generate_series(0, ${count - 1}) g`;
}

/** Messages each chat in [first, first + count) received. */
function perChat(first: number, count: number): Map<number, number> {
  const counts = new Map<number, number>();
  for (const call of fake.calls) {
    const chat = call.chatId ?? 0;
    if (call.method === 'sendMessage' && call.ok && chat >= first && chat < first + count) counts.set(chat, (counts.get(chat) ?? 0) + 1);
  }
  return counts;
}

const sentOf = (first: number, count: number) => [...perChat(first, count).values()].reduce((sum, n) => sum + n, 0);

const message = (text: string) => ({ content: { text, entities: [], photoFileId: null, button: null }, scheduledAt: null });

describe('a broadcast survives a crash', () => {
  it('10,000 recipients: crash while queueing, stop while sending, start again: everyone exactly once', async () => {
    const recipients = 10_000;
    await seed(recipients, FIRST_CHAT, 'gold');
    const segment: Segment = { tiers: ['gold'] };
    const first = await start(unlimited);

    // The process dies after handing 3 chunks (3,000 deliveries) to the queue: the delivery list is
    // written (one statement, before queueing), the rest was never queued.
    let chunks = 0;
    const real = first.queues.broadcastDispatch;
    const crashing: BroadcastDispatch = {
      ...real,
      enqueue: async (broadcast, ids) => {
        if (++chunks > 3) throw new Error('killed while queueing');
        await real.enqueue(broadcast, ids);
      },
    };
    await expect(createBroadcast({ ...first.domain, broadcastDispatch: crashing }, admin, { ...message('Ten thousand'), segment })).rejects.toThrow(
      'killed while queueing',
    );
    const row = await db.prisma.broadcast.findFirstOrThrow({ where: { text: 'Ten thousand' } });
    expect(row).toMatchObject({ status: 'SENDING', audience: recipients });
    expect(await db.prisma.delivery.count({ where: { broadcastId: row.id, id: { lte: row.queuedThroughId } } })).toBe(3_000);

    // ... and then the worker stops in the middle of sending.
    await fake.waitFor(() => sentOf(FIRST_CHAT, recipients) >= 1_000, { timeoutMs: 30_000, what: '1,000 sent' });
    await stop(first);
    const beforeRestart = sentOf(FIRST_CHAT, recipients);
    expect(beforeRestart).toBeLessThan(recipients / 2);

    // Start-up resumes: the window back into the queue (those still queued are deduped by job id), then onwards.
    await start(unlimited);
    await fake.waitFor(() => perChat(FIRST_CHAT, recipients).size === recipients, { timeoutMs: 150_000, what: 'all 10,000 delivered' });
    const counts = perChat(FIRST_CHAT, recipients);
    const twice = [...counts.entries()].filter(([, n]) => n !== 1);
    expect(twice).toEqual([]);
    expect(counts.size).toBe(recipients);
    const done = await eventually(async () => {
      const current = await db.prisma.broadcast.findUniqueOrThrow({ where: { id: row.id } });
      return current.status === 'DONE' ? current : null;
    });
    expect(done).toMatchObject({ sent: recipients, failed: 0, blocked: 0, skipped: 0 });
  }, 240_000);

  it('when the queue itself is lost (Redis emptied), the delivery list in the database is the truth', async () => {
    const recipients = 1_000;
    const firstChat = FIRST_CHAT + 100_000;
    await seed(recipients, firstChat, 'silver');
    const app = await start();
    const { broadcast } = await createBroadcast(app.domain, admin, { ...message('Lost queue'), segment: { tiers: ['silver'] } });
    await fake.waitFor(() => sentOf(firstChat, recipients) >= 100, { timeoutMs: 30_000 });
    await app.queues.deliveryQueue.pause();
    await eventually(async () => (await app.queues.deliveryQueue.getActiveCount()) === 0, { what: 'the jobs in hand' });
    await app.queues.deliveryQueue.obliterate({ force: true });
    await stop(app);
    expect(sentOf(firstChat, recipients)).toBeLessThan(recipients);

    await start();
    await fake.waitFor(() => perChat(firstChat, recipients).size === recipients, { timeoutMs: 60_000, what: 'all delivered' });
    expect([...perChat(firstChat, recipients).values()].every((n) => n === 1)).toBe(true);
    await eventually(async () => (await db.prisma.broadcast.findUniqueOrThrow({ where: { id: broadcast.id } })).status === 'DONE');
  }, 120_000);
});
