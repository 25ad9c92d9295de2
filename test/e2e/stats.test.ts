import { PNG } from 'pngjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
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
});
