import { PNG } from 'pngjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { createApiKey } from '../../src/domain/staff/api-keys.js';
import { startTestApp } from '../support/app.js';
import { Conversation, expectNoViolations } from '../support/conversation.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import type { UploadedFile } from '../support/fake-bot-api/multipart.js';
import { FakeBotApi } from '../support/fake-bot-api/server.js';

/**
 * /stats in the chat: marketers and admins read the program's KPIs and get its charts as one
 * album of PNGs; everyone else is refused before anything is read or rendered.
 */

const ADMIN_ID = 910_001;
const RU_ADMIN_ID = 910_002;

let fake: FakeBotApi;
let db: TestDatabase;
let app: App;
let nextUserId = 71_000;

beforeAll(async () => {
  fake = await FakeBotApi.start({ botUsername: 'loyalty_test_bot' });
  db = await createTestDatabase();
  app = await startTestApp({ fake, databaseUrl: db.url, env: { ADMIN_TELEGRAM_IDS: `${ADMIN_ID},${RU_ADMIN_ID}` } });
});
afterAll(async () => {
  await app?.stop();
  await fake?.close();
  await db?.drop();
});
afterEach(() => expectNoViolations(fake));

const admin = () => new Conversation(fake, { id: ADMIN_ID, first_name: 'Boss', language_code: 'en' });
const newUser = (firstName: string, languageCode = 'en') => new Conversation(fake, { id: nextUserId++, first_name: firstName, language_code: languageCode });

/** The next `count` album photos the bot sends to a chat (read in order, so later replies are not mistaken for them). */
async function albumTo(chatId: number, count: number) {
  const photos = [];
  for (let i = 0; i < count; i++) {
    // Charts are rendered on the first /stats (modules loaded lazily) on a shared machine.
    photos.push(await fake.waitForMessageTo(chatId, (m) => m.method === 'sendMediaGroup', { timeoutMs: 60_000 }));
  }
  return photos;
}

const mediaGroupCalls = (chatId: number) => fake.calls.filter((call) => call.method === 'sendMediaGroup' && Number(call.params.chat_id) === chatId);

describe('/stats', () => {
  it('gives an admin the KPIs in words and four charts as one album', async () => {
    const customer = newUser('Kate');
    await customer.registers();
    const boss = admin();
    const summary = await boss.says('/stats');
    expect(summary.text).toContain('Program statistics');
    // One member, registered just now (the last 30 days include today), holding the welcome bonus.
    expect(summary.text).toMatch(/Members: 1 \(new 1, active in the last 30 days 0/);
    expect(summary.text).toMatch(/Points: issued \d+, redeemed 0, expired 0/);
    expect(summary.text).toContain('Average check: members —, non-members —');
    expect(summary.text).toContain('ROI: cannot be computed yet');
    expect(summary.text).toContain('no campaigns with a finished attribution window yet');

    const photos = await albumTo(ADMIN_ID, 4);
    expect(photos[0]?.caption).toMatch(/^Period: /);
    for (const photo of photos) {
      const png = PNG.sync.read((photo.photo as UploadedFile).data);
      expect([png.width, png.height]).toEqual([1000, 560]);
    }
  });

  it('speaks the reader’s language, and answers a period it cannot read with examples', async () => {
    const boss = new Conversation(fake, { id: RU_ADMIN_ID, first_name: 'Босс', language_code: 'ru' });
    for (const input of ['/stats вчера', '/stats 2026-13', '/stats 2026-03-31..2026-01-01']) {
      const answer = await boss.says(input);
      expect(answer.text).toContain('Не понял период');
      expect(answer.text).toContain('/stats 2026-01-01..2026-03-31');
    }
    expect(mediaGroupCalls(RU_ADMIN_ID)).toHaveLength(0);
    const summary = await boss.says('/stats 2026-11');
    expect(summary.text).toContain('Статистика программы');
    expect(summary.text).toContain('Период: 01.11.2026 – 30.11.2026');
    const photos = await albumTo(RU_ADMIN_ID, 4);
    expect(photos[0]?.caption).toContain('Период:');
  });

  it('serves a marketer, until the admin revokes them', async () => {
    const invite = await admin().says('/invite marketer');
    const payload = /start=(inv_[\w-]+)/.exec(invite.text ?? '')?.[1];
    const marketer = newUser('Mia');
    expect((await marketer.says(`/start ${payload}`)).text).toContain('You are now a marketer');
    expect((await marketer.says('/stats 7d')).text).toContain('Program statistics');
    await albumTo(marketer.user.id, 4);
    await admin().says(`/revoke ${marketer.user.id}`);
    expect((await marketer.says('/stats')).text).toContain('only for');
    expect(mediaGroupCalls(marketer.user.id)).toHaveLength(1);
  });

  it('shows a marketer bound to a store that store only', async () => {
    const invite = await admin().says('/invite marketer msk-01');
    const payload = /start=(inv_[\w-]+)/.exec(invite.text ?? '')?.[1];
    const marketer = newUser('Sam');
    expect((await marketer.says(`/start ${payload}`)).text).toContain('You are now a marketer');
    const summary = await marketer.says('/stats');
    expect(summary.text).toContain('Store: Tverskaya 1');
    // Members registered through the bot bought nowhere yet: not this store's customers. Expiry has no store.
    expect(summary.text).toMatch(/Members: 0 /);
    expect(summary.text).toMatch(/expired —/);
    expect(summary.text).toContain('Outstanding points in money: —');
    await albumTo(marketer.user.id, 4);
  });

  it('refuses a customer, a cashier and a stranger, and renders nothing for them', async () => {
    const customer = newUser('Eve');
    await customer.registers();
    const invite = await admin().says('/invite staff msk-01');
    const payload = /start=(inv_[\w-]+)/.exec(invite.text ?? '')?.[1];
    const cashier = newUser('Carl');
    await cashier.says(`/start ${payload}`);
    const stranger = newUser('Mallory');
    for (const person of [customer, cashier, stranger]) {
      for (const command of ['/stats', '/stats 90d', '/stats 2026-01-01..2026-03-31']) {
        const answer = await person.says(command);
        expect(answer.text).not.toContain('statistics');
        expect(answer.text).not.toMatch(/Members: \d/);
      }
      expect(mediaGroupCalls(person.user.id)).toHaveLength(0);
    }
    expect((await cashier.says('/stats')).text).toContain('only for');
  });

  it('adds the lift chart and names the lift once a campaign with a control group is measured; a store’s marketer gets neither', async () => {
    const boss = admin();
    expect((await boss.says('/stats')).text).toContain('no campaigns with a finished attribution window yet');
    await albumTo(ADMIN_ID, 4);

    // A broadcast that finished 29 days ago (the window is the program's attributionDays, 7):
    // 20 members got it and 15 of them bought within the window; of 20 held back, 2 did.
    const now = Date.now();
    const daysAgo = (days: number) => new Date(now - days * 86_400_000);
    const store = await db.prisma.store.findFirstOrThrow({ where: { code: 'msk-01' } });
    await db.prisma.$executeRaw`
      INSERT INTO "Member" ("telegramId", code, status, "registrationStep", locale, name, tier, "registeredAt", "createdAt", "updatedAt")
      SELECT 8800000 + g, 'LIFT' || g, 'ACTIVE', NULL, 'en', 'Test', 'basic', ${daysAgo(60)}, ${daysAgo(60)}, ${daysAgo(60)}
      FROM generate_series(1, 40) AS g`;
    const members = (await db.prisma.member.findMany({ where: { code: { startsWith: 'LIFT' } }, orderBy: { id: 'asc' } })).map((m) => m.id);
    const treated = members.slice(0, 20);
    const control = members.slice(20);
    const broadcast = await db.prisma.broadcast.create({
      data: {
        status: 'DONE',
        text: 'Spring sale\nEverything -20 %',
        entities: [],
        segment: {},
        scheduledAt: daysAgo(30),
        startedAt: daysAgo(30),
        finishedAt: daysAgo(29),
        controlPercent: 50,
        createdByType: 'STAFF',
        createdById: String(ADMIN_ID),
      },
    });
    await db.prisma.delivery.createMany({
      data: treated.map((memberId) => ({
        dedupeKey: `broadcast:${broadcast.id}:${memberId}`,
        memberId,
        kind: 'broadcast',
        class: 'broadcast',
        payload: { kind: 'broadcast', broadcastId: broadcast.id },
        status: 'SENT',
        sentAt: daysAgo(30),
        broadcastId: broadcast.id,
      })),
    });
    await db.prisma.broadcastHoldout.createMany({ data: control.map((memberId) => ({ broadcastId: broadcast.id, memberId, createdAt: daysAgo(30) })) });
    const buyers = [...treated.slice(0, 15), ...control.slice(0, 2)];
    await db.prisma.purchase.createMany({
      data: buyers.map((memberId) => ({
        memberId,
        storeId: store.id,
        receiptNo: `lift-${memberId}`,
        amountMinor: 100_000n,
        idempotencyKey: `lift-${memberId}`,
        requestHash: 'x',
        actorType: 'TILL',
        createdAt: daysAgo(28),
      })),
    });

    // 75 % against 10 %: +65 percentage points.
    const summary = await boss.says('/stats');
    expect(summary.text).toContain('Campaign lift (conversion against the control group');
    expect(summary.text).toMatch(/• Spring sale: \+65 pp \(95 % CI \+\d+(\.\d)? … \+\d+(\.\d)?\)/);
    expect(summary.text).not.toContain('no campaigns with a finished attribution window yet');
    expect(summary.text).toMatch(/Program cost: .+ \(points .+, tier discounts .+, free coupons .+\)/);
    const photos = await albumTo(ADMIN_ID, 5);
    for (const photo of photos) {
      const png = PNG.sync.read((photo.photo as UploadedFile).data);
      expect([png.width, png.height]).toEqual([1000, 560]);
    }
    const album = mediaGroupCalls(ADMIN_ID).at(-1);
    expect(album?.params.media).toHaveLength(5);

    // Lifts are chain-wide: a marketer bound to a store sees its store's figures only.
    const invite = await boss.says('/invite marketer msk-01');
    const payload = /start=(inv_[\w-]+)/.exec(invite.text ?? '')?.[1];
    const local = newUser('Lou');
    expect((await local.says(`/start ${payload}`)).text).toContain('You are now a marketer');
    const theirs = await local.says('/stats');
    expect(theirs.text).toContain('Store: Tverskaya 1');
    expect(theirs.text).not.toContain('Spring sale');
    expect(theirs.text).not.toContain('Campaign lift');
    await albumTo(local.user.id, 4);
    const localAlbum = mediaGroupCalls(local.user.id).at(-1);
    expect(localAlbum?.params.media).toHaveLength(4);

    // The table behind the chart, over the API: JSON and CSV for a chain-wide key, refused to a store's.
    const chainKey = (await createApiKey(app.domain, ADMIN_ID, { name: 'bi', storeCode: null })).key;
    const storeKey = (await createApiKey(app.domain, ADMIN_ID, { name: 'till', storeCode: 'msk-01' })).key;
    const get = (key: string, url: string, accept = 'application/json') =>
      app.http.inject({ method: 'GET', url, headers: { authorization: `Bearer ${key}`, accept } });
    const campaigns = await get(chainKey, '/v1/analytics/campaigns');
    expect(campaigns.statusCode).toBe(200);
    const [campaign] = campaigns.json().campaigns;
    expect(campaign).toMatchObject({ broadcastId: broadcast.id, title: 'Spring sale', metric: 'conversion' });
    expect(campaign.lift).toBeCloseTo(65, 6);
    expect(campaign.ciLow).toBeLessThan(65);
    expect(campaign.ciHigh).toBeGreaterThan(65);
    const table = await get(chainKey, '/v1/analytics/campaigns?limit=5', 'text/csv');
    expect(table.headers['content-type']).toContain('text/csv');
    expect(table.body.split('\r\n')[0]).toBe('broadcastId,title,metric,lift,ciLow,ciHigh,pValue');
    expect(table.body).toContain(`${broadcast.id},Spring sale,conversion,`);
    expect((await get(storeKey, '/v1/analytics/campaigns')).statusCode).toBe(403);
    const badLimit = await get(chainKey, '/v1/analytics/campaigns?limit=500');
    expect(badLimit.statusCode).toBe(400);
    expect(badLimit.json().errors.map((error: { field: string }) => error.field)).toEqual(['limit']);
  });
});
