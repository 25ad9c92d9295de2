import { afterAll, beforeAll, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { startTestApp } from '../support/app.js';
import { Conversation } from '../support/conversation.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { eventually } from '../support/eventually.js';
import { FakeBotApi } from '../support/fake-bot-api/server.js';
import { capturedLogs } from '../support/log-records.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

/**
 * Start-up when Telegram does not answer at first (a network outage, a machine without access,
 * Telegram busy): the bot's getMe is retried, and every failure is logged through the app's
 * logger, token scrubbed, so that a start that waits says why instead of seeming to hang.
 */
let fake: FakeBotApi;
let db: TestDatabase;
let proxy: TcpProxy;
let app: App | undefined;

beforeAll(async () => {
  fake = await FakeBotApi.start();
  db = await createTestDatabase();
  const root = new URL(fake.apiRoot);
  proxy = await startTcpProxy({ host: root.hostname, port: Number(root.port) });
});
afterAll(async () => {
  await app?.stop();
  await proxy?.close();
  await fake?.close();
  await db?.drop();
});

const getMeWarnings = (records: { msg: string; level: number }[]) => records.filter((record) => record.msg === 'getMe failed; retrying');

it('logs each failed getMe while Telegram cannot be reached, and starts once it can', async () => {
  const logs = capturedLogs();
  // Telegram's address resets every connection, as from a machine whose network is down.
  proxy.cut();
  const starting = startTestApp({ fake, databaseUrl: db.url, logger: logs.logger, env: { TELEGRAM_API_ROOT: proxy.via(fake.apiRoot).replace(/\/$/, '') } });
  try {
    await eventually(async () => getMeWarnings(logs.records).length >= 1, { timeoutMs: 20_000, what: 'a warning about getMe' });
  } finally {
    proxy.restore();
  }
  app = await starting;

  const warnings = getMeWarnings(logs.records);
  expect(warnings.every((record) => record.level === 40)).toBe(true);
  // The network error's text names the request, never with the token in it.
  expect(logs.text()).toContain('getMe');
  expect(logs.text()).not.toContain(fake.token);
  expect((await new Conversation(fake, { id: 65_002, first_name: 'Ben', language_code: 'en' }).says('/start')).text).toBeTruthy();
  await app.stop();
  app = undefined;
}, 60_000);

it('logs each flood wait and server error on getMe that it waits out, then starts and answers', async () => {
  const logs = capturedLogs();
  fake.failNext('getMe', 429, 1);
  fake.failNext('getMe', 502, 'Bad Gateway');
  const getMeBefore = fake.calls.filter((call) => call.method === 'getMe').length;
  app = await startTestApp({ fake, databaseUrl: db.url, logger: logs.logger });

  const warnings = getMeWarnings(logs.records);
  expect(warnings.map((record) => (record as { errorCode?: number }).errorCode)).toEqual([429, 502]);
  expect(warnings.every((record) => record.level === 40)).toBe(true);
  expect(logs.text()).not.toContain(fake.token);
  expect(
    fake.calls
      .filter((call) => call.method === 'getMe')
      .slice(getMeBefore)
      .map((call) => call.errorCode ?? 200),
  ).toEqual([429, 502, 200]);
  expect((await new Conversation(fake, { id: 65_001, first_name: 'Ada', language_code: 'en' }).says('/start')).text).toBeTruthy();
});
