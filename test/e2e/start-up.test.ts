import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { startTestApp } from '../support/app.js';
import { Conversation } from '../support/conversation.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { FakeBotApi } from '../support/fake-bot-api/server.js';

/**
 * Start-up when Telegram does not answer at first (a network outage, a machine without access):
 * the bot's getMe is retried, and every failure is logged, token scrubbed, so that a start that
 * waits says why instead of seeming to hang.
 */
let fake: FakeBotApi;
let db: TestDatabase;
let app: App | undefined;
const logged: { level: number; msg: string; err?: { message?: string } }[] = [];

beforeAll(async () => {
  fake = await FakeBotApi.start();
  db = await createTestDatabase();
});
afterAll(async () => {
  await app?.stop();
  await fake?.close();
  await db?.drop();
});

it('logs each failed getMe while it retries, then starts and answers', async () => {
  // Telegram asks the bot to wait a second, then has a server error (auto-retry waits both out).
  fake.failNext('getMe', 429, 1);
  fake.failNext('getMe', 502, 'Bad Gateway');
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logged.push(JSON.parse(line));
      done();
    },
  });
  app = await startTestApp({ fake, databaseUrl: db.url, logger: pino({ level: 'warn' }, sink) });

  const warnings = logged.filter((record) => record.msg === 'getMe failed; retrying');
  expect(warnings).toHaveLength(2);
  expect(warnings.every((record) => record.level === 40)).toBe(true);
  expect(JSON.stringify(logged)).not.toContain(fake.token);
  expect(warnings.map((record) => (record as { errorCode?: number }).errorCode)).toEqual([429, 502]);
  expect(fake.calls.filter((call) => call.method === 'getMe').map((call) => call.errorCode ?? 200)).toEqual([429, 502, 200]);
  // Started for real: it answers.
  expect((await new Conversation(fake, { id: 65_001, first_name: 'Ada', language_code: 'en' }).says('/start')).text).toBeTruthy();
});
