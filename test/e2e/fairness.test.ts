import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { createUserRateLimiter } from '../../src/bot/user-rate-limit.js';
import { startTestApp } from '../support/app.js';
import { expectNoViolations } from '../support/conversation.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { TEST_REDIS_URL } from '../support/env.js';
import { eventually } from '../support/eventually.js';
import { FakeBotApi, type FakeUser, type RecordedCall, type Update } from '../support/fake-bot-api/server.js';
import { MemberSeeder } from '../support/members.js';

// One user cannot starve the others (issue 11 §4): a flooder's excess is dropped before it takes
// a runner slot or its chat's turn, and a reply waiting out a 429 holds only its own chat.

const BURST = 5;
const FLOOD = 2_000;
const SLOW_DOWN = /sending messages faster than we can answer/;
const BALANCE = /Tier:/;

let fake: FakeBotApi;
let db: TestDatabase;
let app: App;
const members = new MemberSeeder(() => db.prisma, 41_000);
const silent = pino({ level: 'silent' });

/** Every update the bot has finished with (handled or dropped), in the order it finished. */
const finished: Update[] = [];

const userOf = (update: Update): number | undefined => update.message?.from.id ?? update.callback_query?.from.id;
const asUser = (chatId: number): FakeUser => ({ id: chatId, first_name: `Member ${chatId}`, language_code: 'en' });
const isMessage = (chatId: number, text: RegExp) => (c: RecordedCall) =>
  c.method === 'sendMessage' && c.ok && c.chatId === chatId && text.test(String(c.params.text));
const sent = (chatId: number, text: RegExp) => fake.calls.filter(isMessage(chatId, text));
/** Position of the first such message among all calls the fake recorded; -1 when none. */
const firstSent = (chatId: number, text: RegExp) => fake.calls.findIndex(isMessage(chatId, text));

beforeAll(async () => {
  fake = await FakeBotApi.start();
  db = await createTestDatabase();
  // A bucket that hardly refills during the test (one update per 100 s), so what gets through is
  // exactly the burst, and the slow-down window (burst / rate = 500 s) outlasts the test.
  app = await startTestApp({ fake, databaseUrl: db.url, env: { USER_UPDATES_BURST: String(BURST), USER_UPDATES_PER_SECOND: '0.01' } });
  // The runner hands each update to bot.handleUpdate and awaits it: record when each is done.
  const handleUpdate = app.bot.handleUpdate.bind(app.bot);
  app.bot.handleUpdate = async (...args) => {
    try {
      return await handleUpdate(...args);
    } finally {
      finished.push(args[0]);
    }
  };
});
afterEach(() => expectNoViolations(fake));
afterAll(async () => {
  await app?.stop();
  await fake?.close();
  await db?.drop();
});

describe('one user flooding the bot', () => {
  it('does not keep the other users waiting, and has the excess dropped with one note to slow down', async () => {
    const [flooder, ...others] = (await members.add(6)).map((m) => asUser(m.chatId));
    if (!flooder) throw new Error('no flooder');
    // The flooder's first reply (or the slow-down note, whichever goes first; hence two) is told
    // to wait out a 429: the flooder's chat is stuck for that long, and nobody else may be.
    for (let i = 0; i < 2; i++) fake.failNext('sendMessage', 429, 5, { chatId: flooder.id });

    // Half the flood, the others' taps, the other half: all queued at once, as fast as it goes.
    for (let i = 0; i < FLOOD / 2; i++) fake.sendText(flooder, '💰 Balance');
    for (const user of others) fake.sendText(user, '💰 Balance');
    for (let i = 0; i < FLOOD / 2; i++) fake.sendText(flooder, '💰 Balance');

    const floodFinished = () => finished.filter((u) => userOf(u) === flooder.id).length;
    await fake.waitFor(() => floodFinished() === FLOOD && others.every((u) => finished.some((f) => userOf(f) === u.id)), {
      timeoutMs: 25_000,
      what: 'the whole flood and every other tap to be done with',
    });

    // Each of the others got their balance before the flooder got any: had the flood's excess
    // waited in sequentialize behind the flooder's stuck reply, it would have filled the runner's
    // slots and the others' taps would not even have been fetched until that reply went out.
    const firstToFlooder = firstSent(flooder.id, BALANCE);
    expect(firstToFlooder).toBeGreaterThanOrEqual(0);
    for (const user of others) {
      const reply = firstSent(user.id, BALANCE);
      expect(reply, `user ${user.id} got an answer`).toBeGreaterThanOrEqual(0);
      expect(reply, `user ${user.id} answered before the flooder`).toBeLessThan(firstToFlooder);
    }

    // The flood is over: of 2,000 updates the burst was handled, the rest dropped, with one note.
    expect(sent(flooder.id, BALANCE)).toHaveLength(BURST);
    await fake.waitFor(() => sent(flooder.id, SLOW_DOWN).length > 0, { what: 'the slow-down note' });
    expect(sent(flooder.id, SLOW_DOWN)).toHaveLength(1);
  });
});

describe('a reply that meets a 429', () => {
  it('is delivered after retry_after, however often it is told to wait, while other chats go on', async () => {
    const [anna, boris] = (await members.add(2)).map((m) => asUser(m.chatId));
    if (!anna || !boris) throw new Error('no members');
    // Three 429s in a row for Anna's chat only: more than the two retries replies used to get.
    for (let i = 0; i < 3; i++) fake.failNext('sendMessage', 429, 1, { chatId: anna.id });

    fake.sendText(anna, '💰 Balance');
    await fake.waitFor(() => fake.calls.some((c) => c.method === 'sendMessage' && c.chatId === anna.id && c.errorCode === 429), {
      what: "Anna's first 429",
    });
    fake.sendText(boris, '💰 Balance');
    const borisReply = await fake.waitForMessageTo(boris.id);
    expect(borisReply.text).toMatch(BALANCE);
    const annaReply = await fake.waitForMessageTo(anna.id, undefined, { timeoutMs: 15_000 });
    expect(annaReply.text).toMatch(BALANCE);

    // In order: Anna told to wait, Boris answered while she waits, then Anna after three waits.
    const toAnna = fake.calls.filter((c) => c.method === 'sendMessage' && c.chatId === anna.id);
    expect(toAnna.map((c) => c.errorCode ?? 'ok')).toEqual([429, 429, 429, 'ok']);
    expect(firstSent(boris.id, BALANCE)).toBeLessThan(firstSent(anna.id, BALANCE));
  });
});

describe('the per-user limiter', () => {
  const prefix = `test-limiter-${process.pid}`;
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it('lets a burst through, then refuses, asking for one slow-down note per window', async () => {
    const limiter = createUserRateLimiter(redis, { burst: 3, perSecond: 0.01, prefix }, silent);
    const decisions = [];
    for (let i = 0; i < 6; i++) decisions.push(await limiter.take(7));
    expect(decisions).toEqual([
      { allowed: true, notify: false },
      { allowed: true, notify: false },
      { allowed: true, notify: false },
      { allowed: false, notify: true },
      { allowed: false, notify: false },
      { allowed: false, notify: false },
    ]);
    // Another user has a bucket of their own.
    expect(await limiter.take(8)).toEqual({ allowed: true, notify: false });
  });

  it('lets the user in again once a token has refilled', async () => {
    const limiter = createUserRateLimiter(redis, { burst: 1, perSecond: 20, prefix }, silent);
    expect((await limiter.take(11)).allowed).toBe(true);
    expect((await limiter.take(11)).allowed).toBe(false);
    await eventually(async () => (await limiter.take(11)).allowed, { what: 'a refilled token' });
  });

  it('is shared by every instance using the same Redis', async () => {
    const one = createUserRateLimiter(redis, { burst: 2, perSecond: 0.01, prefix }, silent);
    const secondConnection = new Redis(TEST_REDIS_URL);
    const other = createUserRateLimiter(secondConnection, { burst: 2, perSecond: 0.01, prefix }, silent);
    expect((await one.take(9)).allowed).toBe(true);
    expect((await other.take(9)).allowed).toBe(true);
    expect((await one.take(9)).allowed).toBe(false);
    expect((await other.take(9)).allowed).toBe(false);
    secondConnection.disconnect();
  });

  it('lets everything through when Redis cannot answer', async () => {
    // Nothing listens on port 1; the limiter's connection fails fast rather than queueing.
    const down = new Redis('redis://127.0.0.1:1', { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    down.on('error', () => {});
    const limiter = createUserRateLimiter(down, { burst: 1, perSecond: 0.01, prefix }, silent);
    for (let i = 0; i < 3; i++) expect(await limiter.take(10)).toEqual({ allowed: true, notify: false });
    down.disconnect();
  });
});
