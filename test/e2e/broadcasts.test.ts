import type { LightMyRequestResponse } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { createBroadcast } from '../../src/domain/broadcasts/create-broadcast.js';
import { runBroadcasts } from '../../src/domain/broadcasts/run-broadcast.js';
import { ManualClock } from '../../src/domain/clock.js';
import { createApiKey } from '../../src/domain/staff/api-keys.js';
import { startTestApp } from '../support/app.js';
import { Conversation, expectNoViolations, inlineButtons, labelled } from '../support/conversation.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { eventually } from '../support/eventually.js';
import { FakeBotApi, type SentMessage } from '../support/fake-bot-api/server.js';
import { MemberSeeder, type SeededMember } from '../support/members.js';

/**
 * Broadcasts end to end: a marketer in the chat (wizard, preview, send, schedule, cancel), the
 * members' copies through the delivery queue against a fake Bot API enforcing 30 messages/s, the
 * CRM's HTTP API, and who may do what. The clock starts at 23 Nov 2026, 12:00 in Moscow.
 */

const ADMIN = 950_001;
const MARKETER = 950_002;
const CASHIER = 950_003;
const FIRST_TELEGRAM_ID = 960_000;

let fake: FakeBotApi;
let db: TestDatabase;
let app: App;
const clock = new ManualClock(new Date('2026-11-23T09:00:00Z'));

beforeAll(async () => {
  // Telegram's global limit is enforced; the per-chat one is not (the marketer's chat gets its
  // replies in quick succession; the delivery queue's per-chat gate is tested in delivery.test.ts).
  fake = await FakeBotApi.start({ botUsername: 'loyalty_test_bot', globalPerSecond: 30 });
  db = await createTestDatabase();
  app = await startTestApp({ fake, databaseUrl: db.url, clock, env: { ADMIN_TELEGRAM_IDS: String(ADMIN) } });
  await app.domain.repos.staff.upsert({ telegramId: MARKETER, role: 'MARKETER', storeId: null, name: 'Mia' });
  const store = await app.domain.repos.stores.findByCode('msk-01');
  await app.domain.repos.staff.upsert({ telegramId: CASHIER, role: 'STAFF', storeId: store?.id ?? null, name: 'Carl' });
});
afterEach(() => {
  expectNoViolations(fake);
  expect(fake.tooManyRequests).toBe(0);
});
afterAll(async () => {
  await app?.stop();
  await fake?.close();
  await db?.drop();
});

const mia = () => new Conversation(fake, { id: MARKETER, first_name: 'Mia', language_code: 'en' });

type Seeded = SeededMember;

const members = new MemberSeeder(
  () => db.prisma,
  FIRST_TELEGRAM_ID,
  () => clock.now(),
);

/** The callback data of the button whose data starts with `prefix`. */
function data(message: SentMessage, prefix: string): string {
  const found = inlineButtons(message).find((b) => b.data?.startsWith(prefix));
  if (!found?.data) throw new Error(`no button ${prefix}… in ${JSON.stringify(inlineButtons(message))}`);
  return found.data;
}

const wizardId = (message: SentMessage) => data(message, 'bc:').split(':')[2] as string;
const received = (member: Seeded) => fake.messagesTo(member.chatId);
const broadcastSends = (chatIds: Set<number>) =>
  fake.calls.filter((call) => (call.method === 'sendMessage' || call.method === 'sendPhoto') && call.ok && chatIds.has(call.chatId ?? 0));

describe('a marketer in the chat', () => {
  it('composes with formatting and a link button, previews, sends: members get identical copies; opted-out and blocked ones are skipped and reported', async () => {
    const [r1, r2, r3] = (await members.add(3, { tier: 'gold' })) as [Seeded, Seeded, Seeded];
    const [russian] = (await members.add(1, { tier: 'gold', locale: 'ru' })) as [Seeded];
    const [optedOut] = (await members.add(1, { tier: 'gold', notificationsEnabled: false })) as [Seeded];
    const [gone] = (await members.add(1, { tier: 'gold', reachable: false })) as [Seeded];
    const [blocker] = (await members.add(1, { tier: 'gold' })) as [Seeded];
    await members.add(1, { tier: 'gold', status: 'REGISTERING' });
    // Blocked the bot without us knowing yet: Telegram answers 403 when it is sent.
    fake.blockUser(blocker.chatId);

    const marketer = mia();
    expect((await marketer.says('/broadcast')).text).toContain('New broadcast');
    const text = 'Black Friday: 20% off everything until Sunday!';
    const entities = [
      { type: 'bold', offset: 0, length: 12 },
      { type: 'italic', offset: 14, length: 7 },
      { type: 'text_link', offset: 22, length: 10, url: 'https://example.com/bf' },
    ];
    fake.sendFormattedText(marketer.user, text, entities);
    const askButton = await marketer.nextMessage();
    expect(askButton.text).toContain('Add a button');
    const id = wizardId(askButton);

    expect((await marketer.taps(`bc:bt:${id}:url`)).text).toContain('Send the link');
    expect((await marketer.says('not a link')).text).toContain('That is not a link');
    expect((await marketer.says('https://example.com/bf?utm=bot')).text).toContain('Send the text of the button');
    const audience = await marketer.says('Shop now');
    // Everyone who takes offers and is reachable: 3 + the Russian speaker + the one who blocked us without our knowing.
    expect(audience.text).toContain('Audience: 5 members');
    expect(audience.text).toContain('left out: 1 opted out, 1 blocked the bot');

    // Filters: English speakers only. The audience size follows each change.
    const languages = await marketer.tapsAndSeesEdit(`bc:f:${id}:l`, /Language/);
    const picked = await marketer.tapsAndSeesKeyboard(labelled(languages, 'English'));
    expect(inlineButtons(picked).map((b) => b.text)).toContain('✓ English');
    // The keyboard it replaced is outdated now: its button toggles nothing back.
    expect(await marketer.sendsCallback(labelled(languages, 'English'))).toBe('This button is no longer active.');
    // Another marketer (the admin) replaying Mia's current picker acts on nothing: it is not their wizard's.
    const boss = new Conversation(fake, { id: ADMIN, first_name: 'Boss', language_code: 'en' });
    expect(await boss.sendsCallback(labelled(picked, '✓ English'))).toBe('This button is no longer active.');
    const filtered = await marketer.tapsAndSeesEdit(labelled(picked, '✅ Done'), /Audience/);
    expect(filtered.text).toContain('Audience: 4 members');
    expect(filtered.text).toContain('Language: English');

    // The preview is sent exactly as members will get it.
    const preview = await marketer.taps(`bc:pv:${id}`);
    expect(preview.text).toBe(text);
    expect(preview.entities).toEqual(entities);
    expect(preview.params.parse_mode).toBeUndefined();
    expect(inlineButtons(preview)).toEqual([{ text: 'Shop now', url: 'https://example.com/bf?utm=bot' }]);
    const control = await marketer.nextMessage();
    expect(control.text).toContain('It goes to 4 members');

    const started = await marketer.taps(`bc:go:${id}`);
    expect(started.text).toMatch(/Broadcast #\d+ is on its way to 4 members/);
    const broadcastId = Number(/#(\d+)/.exec(started.text ?? '')?.[1]);

    await fake.waitFor(() => [r1, r2, r3].every((m) => received(m).length === 1), { timeoutMs: 10_000, what: 'the copies' });
    for (const member of [r1, r2, r3]) {
      const [copy] = received(member) as [SentMessage];
      expect(copy.text).toBe(preview.text);
      expect(copy.entities).toEqual(preview.entities);
      expect(copy.replyMarkup).toEqual(preview.replyMarkup);
    }
    for (const member of [russian, optedOut, gone, blocker]) expect(received(member)).toEqual([]);

    const report = await marketer.nextMessage((m) => /is done/.test(m.text ?? ''));
    expect(report.text).toContain(`Broadcast #${broadcastId} is done`);
    expect(report.text).toContain('Delivered: 3');
    expect(report.text).toContain('Blocked the bot: 2');
    expect(report.text).toContain('Failed: 0');
    expect(report.text).toContain('Skipped (opted out of offers): 1');
    expect(await db.prisma.broadcast.findUnique({ where: { id: broadcastId } })).toMatchObject({
      status: 'DONE',
      sent: 3,
      blocked: 2,
      skipped: 1,
      audience: 6,
    });
    expect(await db.prisma.member.findUnique({ where: { id: blocker.id } })).toMatchObject({ reachable: false });

    // A second tap on «Send now» (a double tap, before its buttons went) sends nothing twice.
    await marketer.sendsCallback(`bc:go:${id}`);
    expect((await marketer.nextMessage()).text).toContain('has already been created');
    expect(await db.prisma.broadcast.count()).toBe(1);
  });

  it('sends a photo with a caption and a deep link button at a scheduled time, started by the scheduler', async () => {
    const targets = await members.add(2, { tier: 'silver', locale: 'ru' });
    const marketer = mia();
    await marketer.says('/broadcast');
    const caption = 'New collection is here';
    const captionEntities = [{ type: 'bold', offset: 0, length: 14 }];
    fake.sendUserPhoto(marketer.user, { caption, caption_entities: captionEntities });
    const askButton = await marketer.nextMessage();
    const id = wizardId(askButton);
    expect((await marketer.taps(`bc:bt:${id}:rewards`)).text).toContain('Send the text of the button');
    const audience = await marketer.says('🎁 Open rewards');
    expect(audience.text).toContain('Audience:');

    // Tier Silver, and a numeric filter tried and removed again.
    const tiers = await marketer.tapsAndSeesEdit(`bc:f:${id}:t`, /Tier/);
    const silver = await marketer.tapsAndSeesKeyboard(labelled(tiers, 'Silver'));
    expect((await marketer.tapsAndSeesEdit(labelled(silver, '✅ Done'), /Audience/)).text).toContain('Audience: 2 members');
    expect((await marketer.taps(`bc:f:${id}:b`)).text).toContain('Balance at least N');
    expect((await marketer.says('lots')).text).toContain('Please send a whole number');
    const rich = await marketer.says('100');
    expect(rich.text).toContain('Audience: 0 members');
    expect(rich.text).toContain('Balance of at least 100 points');
    await marketer.taps(`bc:f:${id}:b`);
    expect((await marketer.says('0')).text).toContain('Audience: 2 members');
    // A contradiction is refused, and the filters stay as they were.
    await marketer.tapsAndSeesEdit(`bc:f:${id}:np`, /Never bought anything/);
    await marketer.taps(`bc:f:${id}:w`);
    expect((await marketer.says('7')).text).toContain('The audience filters are not valid');
    expect((await marketer.tapsAndSeesEdit(`bc:f:${id}:np`, /Audience/)).text).toContain('Audience: 2 members');

    const preview = await marketer.taps(`bc:pv:${id}`);
    expect(preview.method).toBe('sendPhoto');
    expect(preview.caption).toBe(caption);
    expect(preview.entities).toEqual(captionEntities);
    expect(inlineButtons(preview)).toEqual([{ text: '🎁 Open rewards', url: 'https://t.me/loyalty_test_bot?start=rewards' }]);
    await marketer.nextMessage();

    expect((await marketer.taps(`bc:sc:${id}`)).text).toContain('DD.MM.YYYY HH:MM (Europe/Moscow)');
    expect((await marketer.says('31.02.2026 10:00')).text).toContain('Please send a date and time in the future');
    expect((await marketer.says('22.11.2026 10:00')).text).toContain('Please send a date and time in the future');
    const scheduled = await marketer.says('24.11.2026 10:00');
    expect(scheduled.text).toMatch(/Broadcast #\d+ is scheduled for 24 Nov 2026, 10:00 \(Europe\/Moscow\)/);
    const broadcastId = Number(/#(\d+)/.exec(scheduled.text ?? '')?.[1]);
    expect(await db.prisma.broadcast.findUnique({ where: { id: broadcastId } })).toMatchObject({
      status: 'SCHEDULED',
      scheduledAt: new Date('2026-11-24T07:00:00Z'),
      photoFileId: preview.photo,
    });

    const list = await marketer.says('/broadcasts');
    expect(list.text).toContain(`#${broadcastId} · 🕒 scheduled · 24 Nov 2026, 10:00`);
    expect(inlineButtons(list).map((b) => b.data)).toContain(`bc:x:${broadcastId}`);

    // The scheduler's minute tick leaves it until it is due, then starts it (run through the jobs
    // queue as the scheduler runs it, once the clock has moved on).
    expect(await runBroadcasts(app.domain)).toMatchObject({ started: 0 });
    expect((await db.prisma.broadcast.findUnique({ where: { id: broadcastId } }))?.status).toBe('SCHEDULED');
    clock.set('2026-11-24T07:00:00Z');
    await app.queues.jobsQueue.add('broadcasts', {});
    await fake.waitFor(() => targets.every((m) => received(m).length === 1), { timeoutMs: 10_000, what: 'the photo copies' });
    for (const member of targets) {
      const [copy] = received(member) as [SentMessage];
      expect(copy).toMatchObject({ method: 'sendPhoto', caption, entities: captionEntities, photo: preview.photo });
      expect(copy.replyMarkup).toEqual(preview.replyMarkup);
    }
    expect((await marketer.nextMessage((m) => /is done/.test(m.text ?? ''))).text).toContain('Delivered: 2');
  });

  it('cancels a running broadcast from the list: the rest is never sent', async () => {
    const targets = await members.add(150, { tier: 'platinum' });
    const chatIds = new Set(targets.map((m) => m.chatId));
    const { broadcast } = await createBroadcast(
      app.domain,
      { kind: 'staff', telegramId: ADMIN, locale: 'en' },
      {
        content: { text: 'Platinum night', entities: [], photoFileId: null, button: null },
        segment: { tiers: ['platinum'] },
        scheduledAt: null,
      },
    );
    await fake.waitFor(() => broadcastSends(chatIds).length >= 10, { timeoutMs: 10_000 });

    const marketer = mia();
    const list = await marketer.says('/broadcasts');
    expect(list.text).toContain(`#${broadcast.id} · 📤 sending`);
    expect(list.text).toMatch(/Delivered \d+ of 150/);
    const confirm = await marketer.taps(`bc:x:${broadcast.id}`);
    expect(confirm.text).toContain(`Cancel broadcast #${broadcast.id}?`);
    const done = await marketer.taps(`bc:xy:${broadcast.id}`);
    expect(done.text).toMatch(new RegExp(`Broadcast #${broadcast.id} is cancelled. Delivered before that: \\d+; not sent: \\d+`));

    const row = await db.prisma.broadcast.findUniqueOrThrow({ where: { id: broadcast.id } });
    expect(row.status).toBe('CANCELLED');
    expect(row.sent + row.cancelled).toBe(150);
    expect(row.cancelled).toBeGreaterThan(50);
    expect(await db.prisma.delivery.count({ where: { broadcastId: broadcast.id, status: 'PENDING' } })).toBe(0);
    // The cancelled deliveries left the queue; what a worker held at that moment finishes.
    await eventually(async () => (await app.queues.deliveryQueue.getActiveCount()) === 0, { what: 'the jobs in hand' });
    const cancelled = await db.prisma.delivery.findMany({ where: { broadcastId: broadcast.id, error: 'cancelled' }, select: { id: true } });
    const states = await Promise.all(cancelled.map(async ({ id }) => (await app.queues.deliveryQueue.getJob(`delivery-${id}`))?.finishedOn ?? 'gone'));
    expect(states.every((state) => state === 'gone' || typeof state === 'number')).toBe(true);
    const sends = broadcastSends(chatIds);
    // Nobody twice; at most the messages in flight at the cancel beyond those counted as sent.
    expect(new Set(sends.map((call) => call.chatId)).size).toBe(sends.length);
    expect(sends.length - row.sent).toBeLessThanOrEqual(25);
    expect(sends.length).toBeLessThan(150);
  });

  it('sends a transactional message during a running broadcast before the broadcast is done', async () => {
    const targets = await members.add(150, { tier: 'gold', locale: 'ru' });
    const [customer] = (await members.add(1, { tier: 'basic' })) as [Seeded];
    const chatIds = new Set(targets.map((m) => m.chatId));
    fake.resetRecords();
    await createBroadcast(
      app.domain,
      { kind: 'staff', telegramId: ADMIN, locale: 'en' },
      {
        content: { text: 'Gold weekend', entities: [], photoFileId: null, button: null },
        segment: { tiers: ['gold'], languages: ['ru'] },
        scheduledAt: null,
      },
    );
    await fake.waitFor(() => broadcastSends(chatIds).length >= 20, { timeoutMs: 10_000 });
    const queuedAt = Date.now();
    await app.domain.notifier.notify(customer.id, { kind: 'pointsAdjusted', amount: 50, balance: 50 }, { dedupeKey: 'during-broadcast' });
    const receipt = await fake.waitFor(() => fake.calls.find((call) => call.method === 'sendMessage' && call.ok && call.chatId === customer.chatId), {
      timeoutMs: 5_000,
    });
    const broadcastSoFar = broadcastSends(chatIds).filter((call) => call.at <= receipt.at).length;
    // It did not wait for the broadcast's 100+ messages still queued before it.
    expect(broadcastSoFar).toBeLessThan(targets.length - 50);
    expect(receipt.at - queuedAt).toBeLessThan(2_000);
    await fake.waitFor(() => broadcastSends(chatIds).length === targets.length, { timeoutMs: 15_000, what: 'the rest of the broadcast' });
  });
});

describe('who may broadcast', () => {
  it('refuses everyone but marketers and admins: commands, wizard steps and forged buttons', async () => {
    const { broadcast } = await createBroadcast(
      app.domain,
      { kind: 'staff', telegramId: MARKETER, locale: 'en' },
      {
        content: { text: 'Later', entities: [], photoFileId: null, button: null },
        segment: {},
        scheduledAt: new Date(clock.now().getTime() + 86_400_000),
      },
    );
    const forbidden = 'Broadcasts are only for marketers and administrators.';
    for (const user of [
      new Conversation(fake, { id: CASHIER, first_name: 'Carl', language_code: 'en' }),
      new Conversation(fake, { id: FIRST_TELEGRAM_ID - 1, first_name: 'Stranger', language_code: 'en' }),
    ]) {
      expect((await user.says('/broadcast')).text).toBe(forbidden);
      expect((await user.says('/broadcasts')).text).toBe(forbidden);
      for (const forged of [
        `bc:x:${broadcast.id}`,
        `bc:xy:${broadcast.id}`,
        'bc:ls',
        'bc:go:AAAAAAAA',
        'bc:f:AAAAAAAA:t',
        'bc:tg:AAAAAAAA:t:gold',
        'bc-pick/0/0//fAAAA',
        'bc-pick/0/0//x',
        // The right hash of a stranger's picker fingerprint ('-') at a place past the menu's edge.
        `bc-pick/ff/0//f${menuHash('-')}`,
        'bc:zz',
      ]) {
        expect([forged, await user.sendsCallback(forged)]).toEqual([forged, forbidden]);
      }
    }
    expect(await db.prisma.broadcast.findUnique({ where: { id: broadcast.id } })).toMatchObject({ status: 'SCHEDULED', cancelledAt: null });
    expect(await db.prisma.delivery.count({ where: { broadcastId: broadcast.id } })).toBe(0);

    // A marketer revoked halfway through a wizard: the next step is refused, nothing is created.
    const leaving = 950_010;
    await app.domain.repos.staff.upsert({ telegramId: leaving, role: 'MARKETER', storeId: null, name: 'Leo' });
    const leo = new Conversation(fake, { id: leaving, first_name: 'Leo', language_code: 'en' });
    expect((await leo.says('/broadcast')).text).toContain('New broadcast');
    await app.domain.repos.staff.revoke(leaving, clock.now());
    expect((await leo.says('One last offer')).text).toBe(forbidden);
    const count = await db.prisma.broadcast.count();

    // The admin may: the list, and cancelling.
    const admin = new Conversation(fake, { id: ADMIN, first_name: 'Boss', language_code: 'en' });
    fake.sendText(admin.user, '/broadcasts');
    expect((await admin.nextMessage((m) => /Broadcasts/.test(m.text ?? ''))).text).toContain(`#${broadcast.id} · 🕒 scheduled`);
    // Wait for the confirmation itself: other messages (a broadcast's report) may reach the
    // admin's chat in between, and its button must be there before it is tapped.
    fake.tapButton(admin.user, `bc:x:${broadcast.id}`);
    expect((await admin.nextMessage((m) => /Cancel broadcast/.test(m.text ?? ''))).text).toContain(`Cancel broadcast #${broadcast.id}?`);
    fake.tapButton(admin.user, `bc:xy:${broadcast.id}`);
    expect((await admin.nextMessage((m) => /is cancelled/.test(m.text ?? ''))).text).toContain(`Broadcast #${broadcast.id} is cancelled`);
    expect(await db.prisma.broadcast.count()).toBe(count);
  });
});

describe('the CRM API', () => {
  let crmKey: string;
  let tillKey: string;

  beforeAll(async () => {
    crmKey = (await createApiKey(app.domain, ADMIN, { name: 'crm', storeCode: null })).key;
    tillKey = (await createApiKey(app.domain, ADMIN, { name: 'till', storeCode: 'msk-01' })).key;
  });

  const post = (body: unknown, headers: Record<string, string> = {}, key = crmKey): Promise<LightMyRequestResponse> =>
    app.http.inject({ method: 'POST', url: '/v1/broadcasts', payload: body as object, headers: { authorization: `Bearer ${key}`, ...headers } });
  const get = (id: number | string, key = crmKey) =>
    app.http.inject({ method: 'GET', url: `/v1/broadcasts/${id}`, headers: { authorization: `Bearer ${key}` } });

  it('refuses invalid requests with problem details naming the fields', async () => {
    const missingKey = await post({ text: 'Hi' });
    expect(missingKey.statusCode).toBe(400);
    expect(missingKey.headers['content-type']).toContain('application/problem+json');
    expect(missingKey.json().errors).toEqual([expect.objectContaining({ field: 'Idempotency-Key' })]);

    const cases: [unknown, string, string][] = [
      [{ text: 'Hi', segment: { tiers: ['diamond'] } }, 'SEGMENT_INVALID', 'segment.tiers'],
      [{ text: 'Hi', segment: { tier: ['gold'] } }, 'VALIDATION_FAILED', 'segment.tier'],
      [{ text: 'Hi', segment: { npsGroups: ['fans'] } }, 'VALIDATION_FAILED', 'segment.npsGroups.0'],
      [{ text: 'Hi', entities: [{ type: 'bold', offset: 1, length: 5 }] }, 'BROADCAST_INVALID', 'entities.0'],
      [{ text: 'Hi', button: { text: 'Go', url: 'ftp://example.com' } }, 'BROADCAST_INVALID', 'button.url'],
      [{ text: 'Hi', scheduledAt: '2026-11-22T10:00' }, 'SCHEDULE_INVALID', 'scheduledAt'],
      [{ text: 'Hi', scheduledAt: 'tomorrow' }, 'VALIDATION_FAILED', 'scheduledAt'],
      [{ text: '' }, 'VALIDATION_FAILED', 'text'],
    ];
    for (const [body, code, field] of cases) {
      const response = await post(body, { 'idempotency-key': `bad-${field}` });
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
      expect(response.json()).toMatchObject({ code, errors: [expect.objectContaining({ field })] });
    }
    const till = await post({ text: 'Hi' }, { 'idempotency-key': 'till-1' }, tillKey);
    expect(till.statusCode).toBe(403);
    expect(till.json().code).toBe('FORBIDDEN');
  });

  it('creates a scheduled broadcast (local time in the program time zone), replays a retry, and reports status', async () => {
    const body = { text: 'Tomorrow only', segment: { tiers: ['silver'] }, scheduledAt: '2026-11-25T11:30' };
    const created = await post(body, { 'idempotency-key': 'camp-1' });
    expect(created.statusCode).toBe(201);
    const broadcast = created.json();
    expect(broadcast).toMatchObject({ status: 'SCHEDULED', scheduledAt: '2026-11-25T08:30:00.000Z', audience: 0, paid: false });
    const retry = await post(body, { 'idempotency-key': 'camp-1' });
    expect(retry.statusCode).toBe(200);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.json().id).toBe(broadcast.id);
    expect((await get(broadcast.id)).json()).toMatchObject({ id: broadcast.id, status: 'SCHEDULED' });
    expect((await get(999_999)).json()).toMatchObject({ code: 'BROADCAST_NOT_FOUND' });
    expect((await get(broadcast.id, tillKey)).statusCode).toBe(403);
    expect((await get('abc')).statusCode).toBe(400);
  });

  it('sends now with entities and a button, and the status follows it to the end', async () => {
    clock.advance(2 * 86_400_000);
    const targets = await members.add(3, { tier: 'gold', locale: 'en' });
    const segment = { tiers: ['gold'], languages: ['en'], registeredWithinDays: 1 };
    const body = {
      text: 'Hello from the CRM',
      entities: [{ type: 'underline', offset: 11, length: 3 }],
      button: { text: 'Open', url: 'https://example.com' },
      segment,
    };
    const created = await post(body, { 'idempotency-key': 'camp-now' });
    expect(created.statusCode).toBe(201);
    const { id, status } = created.json();
    expect(status).toBe('SENDING');
    await fake.waitFor(() => targets.every((m) => received(m).length === 1), { timeoutMs: 10_000 });
    for (const member of targets) expect(received(member)[0]).toMatchObject({ text: 'Hello from the CRM', entities: body.entities });
    const final = await eventually(async () => {
      const view = (await get(id)).json();
      return view.status === 'DONE' ? view : null;
    });
    expect(final.counts).toMatchObject({ pending: 0, sent: 3, failed: 0, cancelled: 0 });
    expect(final.durationMs).toEqual(expect.any(Number));
  });
});

describe('personal offers', () => {
  const COUPON = /🎁 Your personal coupon: ([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}), valid until \d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2}$/;

  async function addOffer(code: string, stock: number | null, active = true) {
    await app.domain.repos.rewards.create({
      code,
      kind: 'FREE_ITEM',
      value: null,
      cost: 500,
      stock,
      limit: null,
      minTier: null,
      validityDays: 7,
      availableFrom: null,
      availableTo: null,
      imageUrl: null,
      title: { ru: 'Десерт', en: 'A free dessert' },
      description: { ru: 'Любой десерт', en: 'Any dessert' },
      active,
      programHash: null,
    });
  }

  it('a marketer attaches a reward: each member gets a distinct coupon of their own in the message, issued once even when a send is retried', async () => {
    clock.advance(2 * 86_400_000);
    await addOffer('bc-dessert', 50);
    await addOffer('bc-paused', null, false);
    const targets = await members.add(3, { tier: 'platinum', locale: 'en' });
    const [russian] = (await members.add(1, { tier: 'platinum', locale: 'ru' })) as [Seeded];
    const all = [...targets, russian];

    const marketer = mia();
    await marketer.says('/broadcast');
    const caption = 'Dessert week';
    fake.sendUserPhoto(marketer.user, { caption, caption_entities: [{ type: 'bold', offset: 0, length: 7 }] });
    const id = wizardId(await marketer.nextMessage());
    await marketer.taps(`bc:bt:${id}:none`);
    const tiers = await marketer.tapsAndSeesEdit(`bc:f:${id}:t`, /Tier/);
    const platinum = await marketer.tapsAndSeesKeyboard(labelled(tiers, 'Platinum'));
    await marketer.tapsAndSeesEdit(labelled(platinum, '✅ Done'), /Audience/);
    await marketer.taps(`bc:f:${id}:r`);
    expect((await marketer.says('1')).text).toContain('Audience: 4 members');

    // The picker lists active rewards only; a forged pick of a paused or unknown one is refused on the server.
    const picker = await marketer.tapsAndSeesEdit(`bc:of:${id}`, /Attach a personal coupon/);
    const picks = inlineButtons(picker).map((b) => b.data);
    expect(picks).toContain(`bc:or:${id}:bc-dessert`);
    expect(picks).not.toContain(`bc:or:${id}:bc-paused`);
    expect(await marketer.sendsCallback(`bc:or:${id}:bc-paused`)).toContain('the reward bc-paused is paused');
    expect(await marketer.sendsCallback(`bc:or:${id}:no-such-reward`)).toContain('no reward with the code no-such-reward');
    // Not a marketer: the same forged tap is refused.
    expect(await new Conversation(fake, { id: CASHIER, first_name: 'Carl', language_code: 'en' }).sendsCallback(`bc:or:${id}:bc-dessert`)).toContain(
      'only for marketers',
    );
    const chosen = await marketer.tapsAndSeesEdit(`bc:or:${id}:bc-dessert`, /Audience/);
    expect(chosen.text).toContain('Personal coupon: A free dessert');
    expect(inlineButtons(chosen).map((b) => b.text)).toContain('🎁 Coupon: A free dessert');

    // The preview shows the coupon line with a sample code.
    const preview = await marketer.taps(`bc:pv:${id}`);
    expect(preview.method).toBe('sendPhoto');
    expect(preview.caption).toMatch(/^Dessert week\n\n🎁 Your personal coupon: XXXX-XXXX-XXXX, valid until /);
    await marketer.nextMessage();

    // The first member copy fails once (Telegram's 500): the retry sends the same coupon.
    fake.failNext('sendPhoto', 500, 'Internal Server Error');
    const started = await marketer.taps(`bc:go:${id}`);
    const broadcastId = Number(/#(\d+)/.exec(started.text ?? '')?.[1]);
    await fake.waitFor(() => all.every((m) => received(m).length === 1), { timeoutMs: 15_000, what: 'the copies with coupons' });

    const codes = new Set<string>();
    for (const member of all) {
      const [copy] = received(member) as [SentMessage];
      expect(copy.method).toBe('sendPhoto');
      expect(copy.caption?.startsWith(member === russian ? 'Dessert week\n\n🎁 Ваш персональный купон: ' : 'Dessert week\n\n')).toBe(true);
      const code =
        member === russian
          ? (/Ваш персональный купон: ([A-Z0-9-]{14}), действует до /.exec(copy.caption ?? '')?.[1] as string)
          : (COUPON.exec(copy.caption ?? '')?.[1] as string);
      expect(code, copy.caption).toBeDefined();
      codes.add(code);
      // The code is set as `code` (tap to copy); the marketer's formatting is kept.
      expect(copy.entities).toEqual([
        { type: 'bold', offset: 0, length: 7 },
        { type: 'code', offset: (copy.caption as string).indexOf(code), length: 14 },
      ]);
      // The coupon is the member's, free, valid, and the only one of this broadcast for them.
      const coupon = await db.prisma.coupon.findUnique({ where: { code: code.replaceAll('-', '') }, include: { reward: true } });
      expect(coupon).toMatchObject({ memberId: member.id, status: 'ISSUED', cost: 0, idempotencyKey: `broadcast:${broadcastId}:${member.id}` });
      expect(coupon?.reward.code).toBe('bc-dessert');
      expect(coupon?.expiresAt.getTime()).toBe((coupon?.issuedAt.getTime() as number) + 7 * 86_400_000);
      expect(await db.prisma.coupon.count({ where: { memberId: member.id } })).toBe(1);
    }
    expect(codes.size).toBe(4);
    expect((await db.prisma.reward.findUniqueOrThrow({ where: { code: 'bc-dessert' } })).stock).toBe(46);
    expect((await marketer.nextMessage((m) => /is done/.test(m.text ?? ''))).text).toContain('Delivered: 4');
  });

  it('the API: refuses an unknown reward naming the field; out of stock, members get the message without a coupon and it is counted', async () => {
    clock.advance(2 * 86_400_000);
    await addOffer('bc-last-one', 1);
    const crmKey = (await createApiKey(app.domain, ADMIN, { name: 'crm-offers', storeCode: null })).key;
    const post = (body: unknown, key: string) =>
      app.http.inject({
        method: 'POST',
        url: '/v1/broadcasts',
        payload: body as object,
        headers: { authorization: `Bearer ${crmKey}`, 'idempotency-key': key },
      });

    const unknown = await post({ text: 'Hi', offerRewardCode: 'no-such-reward' }, 'offer-bad-1');
    expect(unknown.statusCode).toBe(400);
    expect(unknown.headers['content-type']).toContain('application/problem+json');
    expect(unknown.json()).toMatchObject({ code: 'BROADCAST_INVALID', errors: [expect.objectContaining({ field: 'offerRewardCode' })] });
    const malformed = await post({ text: 'Hi', offerRewardCode: 'No Such' }, 'offer-bad-2');
    expect(malformed.json()).toMatchObject({ code: 'VALIDATION_FAILED', errors: [expect.objectContaining({ field: 'offerRewardCode' })] });
    const tooLong = await post({ text: 'x'.repeat(4000), offerRewardCode: 'bc-last-one' }, 'offer-bad-3');
    expect(tooLong.json()).toMatchObject({ code: 'BROADCAST_INVALID', errors: [expect.objectContaining({ field: 'text' })] });

    const targets = await members.add(2, { tier: 'gold', locale: 'en' });
    const created = await post({ text: 'Last dessert!', segment: { tiers: ['gold'], registeredWithinDays: 1 }, offerRewardCode: 'bc-last-one' }, 'offer-1');
    expect(created.statusCode).toBe(201);
    const { id } = created.json();
    await fake.waitFor(() => targets.every((m) => received(m).length === 1), { timeoutMs: 10_000 });
    const texts = targets.map((m) => received(m)[0]?.text ?? '');
    expect(texts.filter((text) => COUPON.test(text))).toHaveLength(1);
    expect(texts.filter((text) => text === 'Last dessert!')).toHaveLength(1);
    const final = await eventually(async () => {
      const view = (await app.http.inject({ method: 'GET', url: `/v1/broadcasts/${id}`, headers: { authorization: `Bearer ${crmKey}` } })).json();
      return view.status === 'DONE' ? view : null;
    });
    expect(final.offer).toEqual({ rewardCode: 'bc-last-one', withCoupon: 1, withoutCoupon: 1 });
    expect(final.counts).toMatchObject({ sent: 2, failed: 0 });
  });
});

/** @grammyjs/menu's hash of a fingerprint (its tinyHash), as a forger would compute it. */
function menuHash(fingerprint: string): string {
  let hash = 17;
  for (const char of fingerprint) hash = (hash * 37 + (char.codePointAt(0) ?? 0)) >>> 0;
  return new TextDecoder().decode(Uint8Array.from([hash >>> 24, (hash >> 16) & 0xff, (hash >> 8) & 0xff, hash & 0xff]));
}
