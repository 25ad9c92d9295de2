import { readFileSync } from 'node:fs';
import { setTimeout as pause } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { createApiKey } from '../../src/domain/staff/api-keys.js';
import { startTestApp } from '../support/app.js';
import { Conversation, expectNoViolations, labelled } from '../support/conversation.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { eventually } from '../support/eventually.js';
import { FakeBotApi, type FakeUser, type Update } from '../support/fake-bot-api/server.js';
import { ledgerViolations } from '../support/ledger-invariants.js';
import { capturedLogs } from '../support/log-records.js';
import { MemberSeeder } from '../support/members.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

/**
 * Honest answers when things are odd or down. The app reaches PostgreSQL through a TCP proxy of
 * its own, so that "PostgreSQL is down" is this app's view alone: the shared server never stops.
 */

const ADMIN = 990_001;
let fake: FakeBotApi;
let db: TestDatabase;
let proxy: TcpProxy;
let app: App;
/** Every log record at warn and above, through the app's own logger. */
const logs = capturedLogs('warn');
const errorsLogged = () => logs.records.filter((record) => record.level >= 50);

beforeAll(async () => {
  fake = await FakeBotApi.start();
  db = await createTestDatabase();
  const target = new URL(db.url);
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
  app = await startTestApp({
    fake,
    databaseUrl: proxy.via(db.url),
    logger: logs.logger,
    // A Redis of its own: the API's rate-limit counters are keyed by API key id, which repeats across test databases.
    env: { REDIS_URL: '', ADMIN_TELEGRAM_IDS: String(ADMIN) },
  });
});
afterAll(async () => {
  await app?.stop();
  await proxy?.close();
  await fake?.close();
  await db?.drop();
});

const members = new MemberSeeder(() => db.prisma, 60_000);
type Texts = { common: Record<string, string> };
const load = (locale: string): Texts => JSON.parse(readFileSync(new URL(`../../locales/${locale}.json`, import.meta.url), 'utf8'));
const en = load('en');
const ru = load('ru');
const error = { en: en.common.error, ru: ru.common.error };
const unavailable = { en: en.common.unavailable, ru: ru.common.unavailable };

describe('odd updates', () => {
  it('are answered or ignored without the error boundary, and the bot keeps answering', async () => {
    const [member] = await members.add(1);
    if (!member) throw new Error('no member');
    const anna = new Conversation(fake, { id: member.chatId, first_name: 'Anna', language_code: 'en' });
    const ghost: FakeUser = { id: 60_900, first_name: 'Ghost', language_code: 'en' };
    const before = fake.calls.length;

    // A private message without `from` (it used to crash the staff wizard on BigInt(undefined)).
    const withoutSender = {
      message: { message_id: 1, date: Math.floor(Date.now() / 1000), chat: { id: ghost.id, type: 'private', first_name: 'Ghost' }, text: 'hello' },
    };
    fake.enqueueUpdate(withoutSender as unknown as Omit<Update, 'update_id'>);
    // A callback query without its message: answered as a stale button.
    expect(await new Conversation(fake, ghost).sendsCallback('set:home')).toBe(en.common.stale_button);
    // A button on a message that no longer exists (InaccessibleMessage): the edit is refused, harmlessly.
    const settings = await anna.says('/settings');
    const edited = async (tap: () => void) => {
      const from = fake.calls.length;
      tap();
      return fake.waitFor(() => fake.calls.slice(from).find((call) => call.method === 'editMessageText'), { what: 'the edit' });
    };
    const language = labelled(settings, '🌐 Language');
    expect((await edited(() => fake.sendCallbackQuery(anna.user, language, 999_999))).description).toBe('Bad Request: message to edit not found');
    // Buttons whose edits Telegram refuses: the message was deleted meanwhile, is too old, or already shows it.
    for (const description of ['Bad Request: message to edit not found', "Bad Request: message can't be edited", 'Bad Request: message is not modified']) {
      fake.failNext('editMessageText', 400, description);
      expect((await edited(() => fake.tapButton(anna.user, language, { messageId: settings.messageId }))).errorCode).toBe(400);
    }

    // The bot goes on answering, in order: the ghost's chat and Anna's.
    expect((await new Conversation(fake, ghost).says('/start')).text).not.toBe(error.en);
    expect((await anna.says('/balance')).text).toMatch(/0 points/);
    const answers = fake.calls.slice(before).filter((call) => call.method === 'answerCallbackQuery');
    expect(answers).toHaveLength(5);
    expect(answers.filter((call) => call.params.text === error.en)).toEqual([]);
    const edits = fake.calls.slice(before).filter((call) => call.method === 'editMessageText');
    expect(edits.map((call) => call.errorCode)).toEqual([400, 400, 400, 400]);
    expect(fake.messagesTo(ghost.id).map((m) => m.text)).not.toContain(error.en);
    expect(fake.messagesTo(anna.user.id).map((m) => m.text)).not.toContain(error.en);
    expect(errorsLogged()).toEqual([]);
    expectNoViolations(fake);
  });
});

describe('PostgreSQL down for ten seconds under load', () => {
  it('answers 503 with Retry-After (API) and "try again in a minute" (chat), then recovers by itself', async () => {
    const tillKey = (await createApiKey(app.domain, ADMIN, { name: 'till msk-01', storeCode: 'msk-01' })).key;
    const buyers = await members.add(3);
    const codes = await Promise.all(buyers.map(async (b) => (await db.prisma.member.findUniqueOrThrow({ where: { id: b.id } })).code));

    interface Outcome {
      n: number;
      status: number;
      retryAfter: string | null;
      type: string | null;
      code?: string;
      at: number;
    }
    const purchase = async (n: number): Promise<Outcome> => {
      const response = await fetch(`${app.httpUrl}/v1/purchases`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tillKey}`, 'content-type': 'application/json', 'idempotency-key': `outage-${n}` },
        body: JSON.stringify({ memberCode: codes[n % codes.length], receiptNo: `OUT-${n}`, amountMinor: 10_000 + n }),
      });
      const body = (await response.json()) as { code?: string };
      return {
        n,
        status: response.status,
        retryAfter: response.headers.get('retry-after'),
        type: response.headers.get('content-type'),
        code: body.code,
        at: Date.now(),
      };
    };

    // A light, steady load: two tills, a purchase every 200 ms each.
    const outcomes: Outcome[] = [];
    let next = 0;
    let loading = true;
    const till = async () => {
      while (loading) {
        const n = next++;
        // A request that never got an answer (status 0) fails the test below, not the loop.
        outcomes.push(await purchase(n).catch(() => ({ n, status: 0, retryAfter: null, type: null, at: Date.now() })));
        await pause(200);
      }
    };
    const tills = [till(), till()];
    const count = (status: number, after = 0) => outcomes.filter((o) => o.status === status && o.at >= after).length;

    const olga = new Conversation(fake, { id: 60_901, first_name: 'Olga', language_code: 'ru' });
    let restoredAt = 0;
    try {
      await eventually(async () => count(201) >= 5, { what: 'purchases recorded before the outage' });
      const cutAt = Date.now();
      proxy.cut();

      // Chat users hear it in their language, from a message or a button.
      expect((await olga.says('/balance')).text).toBe(unavailable.ru);
      const tom = new Conversation(fake, { id: 60_902, first_name: 'Tom', language_code: 'en' });
      expect(await tom.sendsCallback('set:home')).toBe(unavailable.en);

      // Ten seconds down, under load.
      await eventually(async () => count(503) >= 10 && Date.now() - cutAt >= 10_000, { timeoutMs: 30_000, what: 'ten seconds of 503s' });
      restoredAt = Date.now();
      proxy.restore();
      await eventually(async () => count(201, restoredAt) >= 5, { timeoutMs: 20_000, what: 'purchases recorded again after the outage' });
    } finally {
      proxy.restore();
      loading = false;
      await Promise.all(tills);
    }
    const refused = outcomes.filter((o) => o.status === 503);
    expect(refused.every((o) => o.retryAfter === '10' && o.code === 'SERVICE_UNAVAILABLE' && o.type?.startsWith('application/problem+json'))).toBe(true);
    expect(outcomes.filter((o) => o.status !== 201 && o.status !== 503)).toEqual([]);
    // No 503 once the database was back: nothing stayed broken.
    expect(outcomes.filter((o) => o.status === 503 && o.at > restoredAt + 5_000)).toEqual([]);

    // The tills retry what was refused, with the same keys: each purchase is recorded exactly once
    // (a request cut off after its commit is replayed, not doubled).
    const retried: number[] = [];
    for (const o of refused) {
      let again = await purchase(o.n);
      // Replays are quick: a till that retries a backlog meets the key's rate limit, and honours it.
      while (again.status === 429) {
        await pause(Number(again.retryAfter) * 1000);
        again = await purchase(o.n);
      }
      retried.push(again.status);
    }
    expect(retried.filter((status) => status !== 200 && status !== 201)).toEqual([]);
    expect(await db.prisma.purchase.count({ where: { receiptNo: { startsWith: 'OUT-' } } })).toBe(outcomes.length);
    expect(await ledgerViolations(db.prisma)).toEqual([]);
    // And the chat is itself again.
    expect((await olga.says('/start')).text).not.toBe(unavailable.ru);
    expectNoViolations(fake);
  }, 90_000);
});
