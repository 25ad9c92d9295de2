import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { type Clock, ManualClock } from '../../src/domain/clock.js';
import { startTestApp } from '../support/app.js';
import { expectNoViolations } from '../support/conversation.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { eventually } from '../support/eventually.js';
import { FakeBotApi } from '../support/fake-bot-api/server.js';
import { MemberSeeder } from '../support/members.js';

/**
 * The delivery queue against a fake Bot API that enforces Telegram's limits: 30 messages/s for
 * the bot and 1 message/s per chat, answering 429 with retry_after when they are exceeded.
 */
let fake: FakeBotApi;
let db: TestDatabase;
const running: App[] = [];

beforeAll(async () => {
  fake = await FakeBotApi.start({ globalPerSecond: 30, perChatPerSecond: 1 });
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

async function start(env: Record<string, string> = {}, clock?: Clock): Promise<App> {
  const app = await startTestApp({ fake, databaseUrl: db.url, env, ...(clock ? { clock } : {}) });
  running.push(app);
  return app;
}

const members = new MemberSeeder(() => db.prisma, 30_000);

const adjusted = (amount: number) => ({ kind: 'pointsAdjusted' as const, amount, balance: amount });
const sentTo = (chatId: number) => fake.calls.filter((call) => call.method === 'sendMessage' && call.ok && call.chatId === chatId);
const statusOf = async (dedupeKey: string) => (await db.prisma.delivery.findUnique({ where: { dedupeKey } }))?.status;

describe('delivery queue', () => {
  it('stays under the global and per-chat limits: no 429 at the default rate', async () => {
    const app = await start();
    fake.resetRecords();
    const recipients = await members.add(60);
    const busy = recipients[0] as { id: number; chatId: number };
    for (const member of recipients) await app.domain.notifier.notify(member.id, adjusted(1), { dedupeKey: `limits:${member.id}` });
    // Three messages to one chat: they must be spaced a second apart.
    for (let i = 0; i < 3; i++) await app.domain.notifier.notify(busy.id, adjusted(i + 2), { dedupeKey: `limits:busy:${i}` });
    await fake.waitFor(() => recipients.every((m) => sentTo(m.chatId).length >= (m === busy ? 4 : 1)), { timeoutMs: 20_000, what: 'every message delivered' });
    expect(fake.tooManyRequests).toBe(0);
    for (const member of recipients) expect(sentTo(member.chatId)).toHaveLength(member === busy ? 4 : 1);
  });

  it('sends one message per dedupe key, however often it is asked', async () => {
    const app = await start();
    const [member] = await members.add(1);
    if (!member) throw new Error('no member');
    await Promise.all(Array.from({ length: 5 }, () => app.domain.notifier.notify(member.id, adjusted(5), { dedupeKey: 'birthday-like:once' })));
    await fake.waitFor(() => sentTo(member.chatId).length === 1);
    // The outbox row is marked right after Telegram answered.
    await eventually(async () => (await statusOf('birthday-like:once')) === 'SENT');
    expect(await db.prisma.delivery.count({ where: { memberId: member.id } })).toBe(1);
  });

  it('pauses the whole queue for retry_after when Telegram answers 429', async () => {
    const app = await start();
    const recipients = await members.add(5);
    fake.failNext('sendMessage', 429, 2);
    const before = fake.calls.length;
    for (const member of recipients) await app.domain.notifier.notify(member.id, adjusted(1), { dedupeKey: `429:${member.id}` });
    await fake.waitFor(() => recipients.every((m) => sentTo(m.chatId).length === 1), { timeoutMs: 15_000 });
    const sends = fake.calls.slice(before).filter((call) => call.method === 'sendMessage');
    const refused = sends.find((call) => call.errorCode === 429);
    if (!refused) throw new Error('the injected 429 was not seen');
    // Nothing went out while the queue was told to wait. (A message already on its way when the
    // 429 came back may still arrive just after it: the first half second is not counted.)
    const during = sends.filter((call) => call.ok && call.at > refused.at + 500 && call.at < refused.at + 2_000);
    expect(during).toEqual([]);
    for (const member of recipients) expect(sentTo(member.chatId)).toHaveLength(1);
  });

  it('marks a member who blocked the bot unreachable, without retrying, until they come back', async () => {
    const app = await start();
    const [member] = await members.add(1);
    if (!member) throw new Error('no member');
    fake.blockUser(member.chatId);
    await app.domain.notifier.notify(member.id, adjusted(1), { dedupeKey: 'blocked:1' });
    await eventually(async () => (await statusOf('blocked:1')) === 'BLOCKED');
    expect(await db.prisma.member.findUnique({ where: { id: member.id } })).toMatchObject({ reachable: false });
    expect(fake.calls.filter((call) => call.method === 'sendMessage' && call.chatId === member.chatId)).toHaveLength(1);

    // Later messages are not even attempted; unblocking (my_chat_member) makes them reachable again.
    await app.domain.notifier.notify(member.id, adjusted(2), { dedupeKey: 'blocked:2' });
    await eventually(async () => (await statusOf('blocked:2')) === 'BLOCKED');
    expect(fake.calls.filter((call) => call.method === 'sendMessage' && call.chatId === member.chatId)).toHaveLength(1);
    fake.sendMyChatMember({ id: member.chatId, first_name: 'Back' }, 'member');
    await eventually(async () => (await db.prisma.member.findUnique({ where: { id: member.id } }))?.reachable === true);
    await app.domain.notifier.notify(member.id, adjusted(3), { dedupeKey: 'blocked:3' });
    await fake.waitFor(() => sentTo(member.chatId).length === 1);
  });

  it('sends a document (the charity report with its CSV) like a text: once, after a 429, and never again after a 403', async () => {
    const app = await start();
    const report = (month: string) => ({
      kind: 'charityReport' as const,
      month,
      causes: [{ causeCode: 'shelter', points: 100, valueMinor: 10_000, donors: 1 }],
      overall: { points: 100, valueMinor: 10_000, donors: 1 },
    });
    const documentsTo = (chatId: number) => fake.calls.filter((call) => call.method === 'sendDocument' && call.chatId === chatId);
    const admin = 930_001;
    fake.failNext('sendDocument', 429, 1);
    await app.domain.notifier.notifyChat?.({ chatId: admin, locale: 'en' }, report('2026-10'), { dedupeKey: 'doc:429' });
    await app.domain.notifier.notifyChat?.({ chatId: admin, locale: 'en' }, report('2026-10'), { dedupeKey: 'doc:429' });
    await eventually(async () => (await statusOf('doc:429')) === 'SENT', { what: 'the document sent after the pause' });
    expect(documentsTo(admin).map((call) => call.errorCode ?? 'ok')).toEqual([429, 'ok']);
    const message = fake.messagesTo(admin).find((m) => m.method === 'sendDocument');
    expect(message?.caption).toContain('Charity, 2026-10');
    expect(message?.document).toMatchObject({ filename: 'charity-2026-10.csv' });

    const blocked = 930_002;
    fake.blockUser(blocked);
    await app.domain.notifier.notifyChat?.({ chatId: blocked, locale: 'en' }, report('2026-10'), { dedupeKey: 'doc:403' });
    await eventually(async () => (await statusOf('doc:403')) === 'BLOCKED', { what: 'the document refused for good' });
    expect(documentsTo(blocked)).toHaveLength(1);
  });

  it('skips reminders for members who turned notifications off, but not receipts', async () => {
    const app = await start();
    const [member] = await members.add(1, { notificationsEnabled: false });
    if (!member) throw new Error('no member');
    await app.domain.notifier.notify(member.id, adjusted(1), { dedupeKey: 'optout:reminder', class: 'reminder' });
    await app.domain.notifier.notify(member.id, adjusted(2), { dedupeKey: 'optout:receipt', class: 'transactional' });
    await eventually(async () => (await statusOf('optout:reminder')) === 'SKIPPED');
    await fake.waitFor(() => sentTo(member.chatId).length === 1);
    expect(String(sentTo(member.chatId)[0]?.params.text)).toContain('2 points');
  });

  it('warns before points expire, with a button that opens the rewards catalogue', async () => {
    // Midday in the program's time zone: outside the quiet hours that hold reminders back.
    const app = await start({}, new ManualClock(new Date('2026-11-23T09:00:00Z')));
    const [member] = await members.add(1);
    if (!member) throw new Error('no member');
    await app.domain.notifier.notify(member.id, { kind: 'pointsExpiring', points: 120, at: '2026-12-31' }, { dedupeKey: 'expiring:button', class: 'reminder' });
    const reminder = await fake.waitForMessageTo(member.chatId);
    expect(reminder.text).toContain('120 points');
    expect(reminder.text).toContain('31 Dec 2026');
    fake.tapButton({ id: member.chatId, first_name: 'Saver', language_code: 'en' }, 'rw:open');
    const catalogue = await fake.waitForMessageTo(member.chatId);
    expect(catalogue.text).toContain('Rewards');
  });

  it('loses nothing and sends nothing twice when the worker stops mid-run and starts again', async () => {
    const first = await start({ DELIVERY_RATE_PER_SECOND: '20' });
    const recipients = await members.add(80);
    for (const member of recipients) await first.domain.notifier.notify(member.id, adjusted(1), { dedupeKey: `restart:${member.id}` });
    await fake.waitFor(() => recipients.filter((m) => sentTo(m.chatId).length > 0).length >= 15, { timeoutMs: 15_000 });
    await first.stop();
    running.splice(running.indexOf(first), 1);
    const delivered = recipients.filter((m) => sentTo(m.chatId).length > 0).length;
    expect(delivered).toBeLessThan(recipients.length);

    await start({ DELIVERY_RATE_PER_SECOND: '20' });
    await fake.waitFor(() => recipients.every((m) => sentTo(m.chatId).length > 0), { timeoutMs: 20_000, what: 'the rest delivered after the restart' });
    for (const member of recipients) expect(sentTo(member.chatId)).toHaveLength(1);
    await eventually(async () => (await db.prisma.delivery.count({ where: { dedupeKey: { startsWith: 'restart:' }, status: 'SENT' } })) === 80, {
      what: 'every outbox row marked SENT',
    });
  });
});
