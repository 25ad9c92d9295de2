// A broadcast to BENCH_BROADCAST_MEMBERS (100,000) members through the whole app (resolve the
// audience into the delivery list, queue it, BullMQ workers, grammY, fake Bot API over HTTP):
//
//   (a) limited:   the fake enforces Telegram's 30 messages/s (and 1/s per chat), the app runs
//                  at its default 25/s: achieved rate / configured and / Telegram's limit, 429s.
//   (b) unlimited: the fake has no limits, the app runs with no rate at all
//                  (DELIVERY_RATE_PER_SECOND=0: the GCRA paces nothing, the per-chat gate stays):
//                  the engine's own messages/s.
//   (c) paid:      the program enables paid broadcasts at 1000/s (allow_paid_broadcast, their
//                  own queue), the fake enforces 1000/s: achieved / limit, 429s.
//   (d) restart:   BENCH_BROADCAST_RESTART (10,000) recipients at 1000/s; the app is stopped
//                  mid-run and started again: duplicates and losses (both must be 0).
//
// (a)-(c) are measured over a fixed window of BENCH_BROADCAST_WINDOW seconds (15) after the
// first second of sending (and after the start returned), then the broadcast is cancelled. Each
// row also says how long starting took (resolving the audience in one INSERT ... SELECT, and
// queueing the first window of 5,000 with addBulk), the Redis memory the queued jobs took, and how
// long the cancel took (taking the queued jobs back out).
//
// The app is started as bench/delivery.ts does (not through test/support/app.ts, which registers
// a vitest hook at import).

import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pino from 'pino';
import { type App, startApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { cancelBroadcast } from '../src/domain/broadcasts/cancel-broadcast.js';
import { createBroadcast } from '../src/domain/broadcasts/create-broadcast.js';
import type { Segment } from '../src/domain/broadcasts/types.js';
import type { Program } from '../src/domain/program.js';
import { removeQueueKeys } from '../test/support/app.js';
import { createTestDatabase, type TestDatabase } from '../test/support/db.js';
import { TEST_FINGERPRINT_SECRET, TEST_REDIS_URL } from '../test/support/env.js';
import { FakeBotApi, type FakeBotApiOptions, type RecordedCall } from '../test/support/fake-bot-api/server.js';
import { exampleProgram } from '../test/support/program.js';
import { BenchFailure, type BenchResult, envInt, fixed, formatTable, mib, peakWithin, ratio } from './lib.js';

const ADMIN = 1;
const admin = { kind: 'staff', telegramId: ADMIN, locale: 'en' } as const;
const FIRST_CHAT_ID = 940_000_001;

interface Config {
  members: number;
  windowS: number;
  restart: number;
}

interface Scenario {
  label: string;
  rate: number;
  /** The limit the fake enforces (messages/s); null: none. */
  limit: number | null;
  paid: boolean;
}

interface Row {
  scenario: Scenario;
  resolveAndQueueS: number;
  redisForQueue: number;
  sentInWindow: number;
  perSecond: number;
  peakPerSecond: number;
  tooManyRequests: number;
  cancelS: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function redisUsedMemory(): Promise<number> {
  const redis = new Redis(TEST_REDIS_URL);
  try {
    const info = await redis.info('memory');
    return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
  } finally {
    redis.disconnect();
  }
}

/** `count` active members in one set-based INSERT: chat ids from FIRST_CHAT_ID; the first `gold` of them in tier gold. */
async function seedMembers(db: TestDatabase, count: number, gold: number): Promise<void> {
  await db.prisma.$executeRaw`
    INSERT INTO "Member" ("telegramId", "code", "status", "registrationStep", "locale", "tier", "registeredAt", "updatedAt")
    SELECT ${FIRST_CHAT_ID}::bigint + g, 'B' || lpad(g::text, 10, '0'), 'ACTIVE', NULL, 'en',
           CASE WHEN g < ${gold} THEN 'gold' ELSE 'basic' END, now(), now()
    FROM generate_series(0, ${count - 1}) g`;
  await db.prisma.$executeRaw`ANALYZE "Member"`;
}

function programFor(paid: boolean, rate: number): Program {
  return exampleProgram((raw) => {
    // Broadcasts respect quiet hours; a benchmark must not depend on the hour it runs.
    raw.notifications = { quietHours: { from: '00:00', to: '00:00' } };
    raw.broadcasts = { paid, paidRatePerSecond: rate };
  });
}

async function startBenchApp(db: TestDatabase, fake: FakeBotApi, prefix: string, scenario: { rate: number; paid: boolean }): Promise<App> {
  return startApp(
    loadConfig({
      BOT_TOKEN: fake.token,
      TELEGRAM_API_ROOT: fake.apiRoot,
      DATABASE_URL: db.url,
      FINGERPRINT_SECRET: TEST_FINGERPRINT_SECRET,
      REDIS_URL: TEST_REDIS_URL,
      PORT: '0',
      HOST: '127.0.0.1',
      QUEUE_PREFIX: prefix,
      ADMIN_TELEGRAM_IDS: String(ADMIN),
      DELIVERY_RATE_PER_SECOND: String(scenario.paid ? 25 : scenario.rate),
    }),
    programFor(scenario.paid, scenario.paid ? scenario.rate : 1000),
    { logger: pino({ level: process.env.BENCH_LOG_LEVEL ?? 'silent' }) },
  );
}

const isBroadcastSend = (call: RecordedCall) => call.method === 'sendMessage' && call.chatId !== undefined && call.chatId >= FIRST_CHAT_ID;

async function runScenario(db: TestDatabase, prefix: string, config: Config, scenario: Scenario): Promise<Row> {
  const limits: FakeBotApiOptions = scenario.limit === null ? {} : { globalPerSecond: scenario.limit, perChatPerSecond: 1 };
  const fake = await FakeBotApi.start(limits);
  let app: App | undefined;
  try {
    app = await startBenchApp(db, fake, prefix, scenario);
    const memoryBefore = await redisUsedMemory();
    const started = Date.now();
    const { broadcast } = await createBroadcast(app.domain, admin, {
      content: { text: `Bench ${scenario.label}`, entities: [{ type: 'bold', offset: 0, length: 5 }], photoFileId: null, button: null },
      segment: {},
      scheduledAt: null,
    });
    const resolveAndQueueS = (Date.now() - started) / 1000;
    const redisForQueue = (await redisUsedMemory()) - memoryBefore;
    if (broadcast.audience !== config.members) throw new BenchFailure(`${scenario.label}: audience ${broadcast.audience}, expected ${config.members}`);

    // The window: after the first second of sending, BENCH_BROADCAST_WINDOW seconds.
    const firstSend = await waitFor(() => fake.calls.find((call) => call.ok && isBroadcastSend(call))?.at, 30_000, `${scenario.label}: a first message`);
    const from = Math.max(firstSend + 1_000, started + resolveAndQueueS * 1_000);
    const to = from + config.windowS * 1_000;
    await sleep(Math.max(0, to - Date.now()) + 200);
    const times = fake.calls.filter((call) => call.ok && isBroadcastSend(call) && call.at >= from && call.at < to).map((call) => call.at);
    const tooManyRequests = fake.calls.filter((call) => call.errorCode === 429 && call.at < to).length;

    const cancelStarted = Date.now();
    await cancelBroadcast(app.domain, admin, broadcast.id);
    const cancelS = (Date.now() - cancelStarted) / 1000;
    return {
      scenario,
      resolveAndQueueS,
      redisForQueue,
      sentInWindow: times.length,
      perSecond: times.length / config.windowS,
      peakPerSecond: peakWithin(times, 1000),
      tooManyRequests,
      cancelS,
    };
  } finally {
    await app?.stop();
    await fake.close();
  }
}

async function waitFor<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new BenchFailure(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

interface RestartRow {
  recipients: number;
  beforeStop: number;
  duplicates: number;
  lost: number;
  seconds: number;
}

/** (d): a broadcast to the gold members, the app stopped mid-run and started again. */
async function runRestart(db: TestDatabase, prefix: string, config: Config): Promise<RestartRow> {
  const fake = await FakeBotApi.start();
  const scenario = { rate: 1000, paid: false };
  let app: App | undefined;
  try {
    app = await startBenchApp(db, fake, prefix, scenario);
    const segment: Segment = { tiers: ['gold'] };
    const started = Date.now();
    await createBroadcast(app.domain, admin, { content: { text: 'Bench restart', entities: [], photoFileId: null, button: null }, segment, scheduledAt: null });
    const ours = () => fake.calls.filter((call) => call.ok && isBroadcastSend(call) && call.params.text === 'Bench restart');
    await waitFor(() => (ours().length >= config.restart / 3 ? true : undefined), 120_000, 'a third of the restart broadcast');
    await app.stop();
    app = undefined;
    const beforeStop = ours().length;
    app = await startBenchApp(db, fake, prefix, scenario);
    const deadline = Date.now() + 180_000;
    while (new Set(ours().map((call) => call.chatId)).size < config.restart && Date.now() < deadline) await sleep(100);
    // A moment for a duplicate that would follow the last expected message.
    await sleep(1_000);
    const calls = ours();
    const chats = new Set(calls.map((call) => call.chatId));
    return {
      recipients: config.restart,
      beforeStop,
      duplicates: calls.length - chats.size,
      lost: config.restart - chats.size,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await app?.stop();
    await fake.close();
  }
}

export async function broadcast(): Promise<BenchResult> {
  const config: Config = {
    members: envInt('BENCH_BROADCAST_MEMBERS', 100_000, 100),
    windowS: envInt('BENCH_BROADCAST_WINDOW', 15, 2),
    restart: envInt('BENCH_BROADCAST_RESTART', 10_000, 10),
  };
  if (config.restart > config.members) throw new BenchFailure('BENCH_BROADCAST_RESTART must not exceed BENCH_BROADCAST_MEMBERS');
  const db = await createTestDatabase({ poolSize: 20 });
  const prefix = `bench-broadcast-${randomBytes(4).toString('hex')}`;
  try {
    const seedStarted = Date.now();
    await seedMembers(db, config.members, config.restart);
    const seedS = (Date.now() - seedStarted) / 1000;
    const scenarios: Scenario[] = [
      { label: '(a) limited', rate: 25, limit: 30, paid: false },
      { label: '(b) unlimited', rate: 0, limit: null, paid: false },
      { label: '(c) paid', rate: 1000, limit: 1000, paid: true },
    ];
    const rows: Row[] = [];
    for (const scenario of scenarios) rows.push(await runScenario(db, prefix, config, scenario));
    const restart = await runRestart(db, prefix, config);

    const table = formatTable(
      [
        'scenario',
        'configured/s',
        'limit/s',
        'achieved/s',
        'peak 1 s',
        'achieved/configured',
        'achieved/limit',
        '429s',
        'resolve+queue s',
        'Redis for queue',
        'cancel s',
      ],
      rows.map((row) => [
        row.scenario.label,
        row.scenario.rate === 0 ? 'none' : String(row.scenario.rate),
        row.scenario.limit === null ? 'none' : String(row.scenario.limit),
        fixed(row.perSecond),
        String(row.peakPerSecond),
        row.scenario.rate === 0 ? '-' : ratio(row.perSecond, row.scenario.rate),
        row.scenario.limit === null ? '-' : ratio(row.perSecond, row.scenario.limit),
        String(row.tooManyRequests),
        fixed(row.resolveAndQueueS),
        mib(row.redisForQueue),
        fixed(row.cancelS),
      ]),
    );
    const restartTable = formatTable(
      ['restart (d)', 'recipients', 'sent before stop', 'duplicates', 'lost', 'seconds'],
      [
        [
          'stop mid-run, start again',
          String(restart.recipients),
          String(restart.beforeStop),
          String(restart.duplicates),
          String(restart.lost),
          fixed(restart.seconds),
        ],
      ],
    );
    const [limited, unlimited, paid] = rows as [Row, Row, Row];
    if (restart.duplicates > 0 || restart.lost > 0) throw new BenchFailure(`restart: ${restart.duplicates} duplicates, ${restart.lost} lost\n${restartTable}`);
    return {
      report: [
        `${config.members} members seeded in ${fixed(seedS)} s (one INSERT ... SELECT); window ${config.windowS} s after the first second of sending.`,
        '',
        table,
        '',
        restartTable,
      ].join('\n'),
      headline: {
        'limited achieved/limit': ratio(limited.perSecond, 30),
        '429s': String(limited.tooManyRequests + paid.tooManyRequests),
        'engine msg/s': fixed(unlimited.perSecond, 0),
        'paid achieved/limit': ratio(paid.perSecond, 1000),
        'restart dup/lost': `${restart.duplicates}/${restart.lost}`,
      },
    };
  } finally {
    await db.drop();
    await removeQueueKeys(prefix);
  }
}
