import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { startTestApp } from '../support/app.js';
import { Conversation, expectNoViolations } from '../support/conversation.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { FakeBotApi } from '../support/fake-bot-api/server.js';

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

async function start(env: Record<string, string> = {}): Promise<App> {
  const app = await startTestApp({ fake, databaseUrl: db.url, env });
  running.push(app);
  return app;
}

describe('restarts', () => {
  it('resumes an interrupted registration after the bot restarts', async () => {
    const first = await start();
    const user = new Conversation(fake, { id: 7001, first_name: 'Дарья', language_code: 'ru' });
    await user.says('/start s_msk-01');
    await user.taps('reg:lang:ru');
    await user.taps('reg:consent:yes');
    await user.sharesContact('79125550001');

    await first.stop();
    running.splice(0);
    await start();

    // The user carries on answering the question the first process asked.
    const birthdayPrompt = await user.says('Дарья');
    expect(birthdayPrompt.text).toContain('Когда у вас день рождения?');
    // And /start tells where they are instead of starting over.
    const resumed = await user.says('/start');
    expect(resumed.text).toContain('С возвращением');
    expect((await user.nextMessage()).text).toContain('Когда у вас день рождения?');
    const welcome = await user.says('Пропустить');
    expect(welcome.text).toContain('Готово, Дарья!');
    const member = await db.prisma.member.findUnique({ where: { telegramId: 7001n } });
    expect(member).toMatchObject({ status: 'ACTIVE', phone: '+79125550001', startPayload: 's_msk-01', balance: 100 });
  });
});

describe('HTTP', () => {
  it('reports health and readiness of the database, Redis and the job schedules', async () => {
    const app = await start();
    const health = await fetch(`${app.httpUrl}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${app.httpUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { database: 'ok', redis: 'ok', schedules: 'ok' } });
  });

  it('serves the Telegram webhook only to requests carrying the secret token', async () => {
    const secret = 'test-secret-token-0123456789';
    const app = await start({ BOT_MODE: 'webhook', WEBHOOK_URL: 'https://bot.example.com/telegram/webhook', WEBHOOK_SECRET: secret });
    const setWebhook = fake.calls.find((call) => call.method === 'setWebhook');
    expect(setWebhook?.params).toMatchObject({ url: 'https://bot.example.com/telegram/webhook', secret_token: secret });

    const update = {
      update_id: 900001,
      message: {
        message_id: 1,
        date: 1_700_000_000,
        chat: { id: 7002, type: 'private', first_name: 'Web' },
        from: { id: 7002, is_bot: false, first_name: 'Web', language_code: 'en' },
        text: 'hello',
      },
    };
    const post = (headers: Record<string, string>) =>
      fetch(`${app.httpUrl}/telegram/webhook`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(update) });

    const before = fake.calls.length;
    expect((await post({})).status).toBe(401);
    expect((await post({ 'x-telegram-bot-api-secret-token': 'wrong-secret-token-000000' })).status).toBe(401);
    expect(fake.calls.slice(before).filter((call) => call.method === 'sendMessage')).toEqual([]);

    expect((await post({ 'x-telegram-bot-api-secret-token': secret })).status).toBe(200);
    const reply = await fake.waitFor(() => fake.calls.slice(before).find((call) => call.method === 'sendMessage'));
    expect(reply.params).toMatchObject({ chat_id: 7002, text: expect.stringContaining('send /start') });
  });
});
