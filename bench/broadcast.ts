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
// a vitest hook at import). The fake Bot API runs in a process of its own (bench/fake-sink-process.ts),
// so the CPU this process spends in a window is the app's (and the driver's, which only waits):
// each row says it per message sent, with the load average of the machine. Row (e) is the
// baseline: a bare grammY sender in its own process (bench/bare-sender-process.ts), no database,
// no queue, against an unlimited fake: what the engine's (b) compares with.

import { fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { Redis } from 'ioredis';
import pino from 'pino';
import { type App, startApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { cancelBroadcast } from '../src/domain/broadcasts/cancel-broadcast.js';
import { createBroadcast } from '../src/domain/broadcasts/create-broadcast.js';
import type { Segment } from '../src/domain/broadcasts/types.js';
import { DomainError } from '../src/domain/errors.js';
import type { Program } from '../src/domain/program.js';
import { removeQueueKeys } from '../test/support/app.js';
import { createTestDatabase, type TestDatabase } from '../test/support/db.js';
import { TEST_FINGERPRINT_SECRET, TEST_REDIS_URL } from '../test/support/env.js';
import type { FakeBotApiOptions } from '../test/support/fake-bot-api/server.js';
import { exampleProgram } from '../test/support/program.js';
import type { FakeSinkIn, FakeSinkOut } from './fake-sink-process.js';
import { BenchFailure, type BenchResult, envInt, fixed, formatTable, mib, peakWithin, ratio } from './lib.js';

const ADMIN = 1;
const admin = { kind: 'staff', telegramId: ADMIN, locale: 'en' } as const;
const FIRST_CHAT_ID = 940_000_001;

interface Config {
  members: number;
  windowS: number;
  restart: number;
  bare: number;
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
  /** CPU of this process (the app) per message sent in the window, ms. */
  cpuMsPerMessage: number;
  /** The fake's CPU per message sent in the window, ms. */
  fakeCpuMsPerMessage: number;
  /** 1-minute load average at the end of the window. */
  load: number;
}

/** The fake Bot API in its own process: its address, questions about what it received, its CPU. */
interface FakeSink {
  token: string;
  apiRoot: string;
  ask<T extends FakeSinkOut['type']>(question: FakeSinkIn & { type: T }): Promise<Extract<FakeSinkOut, { type: T }>>;
  cpuMs(): number;
  close(): Promise<void>;
}

const CLOCK_TICKS_PER_SECOND = 100;
function procCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
}

async function startFakeSink(limits: FakeBotApiOptions): Promise<FakeSink> {
  const child = fork('bench/fake-sink-process.ts', [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, FAKE_LIMITS: JSON.stringify(limits), FAKE_MIN_CHAT_ID: String(FIRST_CHAT_ID) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting: ((message: FakeSinkOut) => void)[] = [];
  const ready = new Promise<FakeSinkOut & { type: 'ready' }>((resolve, reject) => {
    child.once('exit', (code) => reject(new BenchFailure(`the fake Bot API process exited with code ${code}`)));
    child.on('message', (message: FakeSinkOut) => {
      if (message.type === 'ready') resolve(message);
      else waiting.shift()?.(message);
    });
  });
  const { token, apiRoot } = await ready;
  return {
    token,
    apiRoot,
    ask: (question) =>
      new Promise((resolve) => {
        waiting.push(resolve as (message: FakeSinkOut) => void);
        child.send(question);
      }),
    cpuMs: () => procCpuMs(child.pid as number),
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.disconnect();
      await exited;
    },
  };
}

const cpuNowMs = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1_000;
};

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

async function startBenchApp(db: TestDatabase, fake: FakeSink, prefix: string, scenario: { rate: number; paid: boolean }): Promise<App> {
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

async function runScenario(db: TestDatabase, prefix: string, config: Config, scenario: Scenario): Promise<Row> {
  const limits: FakeBotApiOptions = scenario.limit === null ? {} : { globalPerSecond: scenario.limit, perChatPerSecond: 1 };
  const fake = await startFakeSink(limits);
  let app: App | undefined;
  try {
    app = await startBenchApp(db, fake, prefix, scenario);
    const memoryBefore = await redisUsedMemory();
    const started = Date.now();
    const { broadcast } = await createBroadcast(app.domain, admin, {
      content: { text: `Bench ${scenario.label}`, entities: [{ type: 'bold', offset: 0, length: 5 }], photoFileId: null, button: null },
      segment: {},
      scheduledAt: null,
      // Every member receives it: the window measures sends, not the control group's size.
      controlPercent: 0,
    });
    const resolveAndQueueS = (Date.now() - started) / 1000;
    const redisForQueue = (await redisUsedMemory()) - memoryBefore;
    if (broadcast.audience !== config.members) throw new BenchFailure(`${scenario.label}: audience ${broadcast.audience}, expected ${config.members}`);

    // The window: after the first second of sending, BENCH_BROADCAST_WINDOW seconds.
    const firstSend = await waitFor(async () => (await fake.ask({ type: 'first' })).at ?? undefined, 30_000, `${scenario.label}: a first message`);
    const from = Math.max(firstSend + 1_000, started + resolveAndQueueS * 1_000);
    const to = from + config.windowS * 1_000;
    await sleep(Math.max(0, from - Date.now()));
    const cpuFrom = cpuNowMs();
    const fakeCpuFrom = fake.cpuMs();
    await sleep(Math.max(0, to - Date.now()));
    const cpuMs = cpuNowMs() - cpuFrom;
    const fakeCpuMs = fake.cpuMs() - fakeCpuFrom;
    const load = loadavg()[0] as number;
    await sleep(200);
    const { okTimes: times, tooManyRequests } = await fake.ask({ type: 'window', from, to });

    const cancelStarted = Date.now();
    await cancelBroadcast(app.domain, admin, broadcast.id).catch((error: unknown) => {
      // Sent to everyone before the window closed: the window did not measure a steady rate.
      if (error instanceof DomainError && error.code === 'BROADCAST_NOT_CANCELLABLE') {
        throw new BenchFailure(`${scenario.label}: the broadcast finished within the window; raise BENCH_BROADCAST_MEMBERS`);
      }
      throw error;
    });
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
      cpuMsPerMessage: cpuMs / times.length,
      fakeCpuMsPerMessage: fakeCpuMs / times.length,
      load,
    };
  } finally {
    await app?.stop();
    await fake.close();
  }
}

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new BenchFailure(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

interface BareRow {
  sent: number;
  perSecond: number;
  cpuMsPerMessage: number;
  fakeCpuMsPerMessage: number;
  load: number;
}

/** (e): a bare grammY sender in its own process against an unlimited fake: BENCH_BROADCAST_BARE messages, 250 in flight. */
async function runBare(count: number): Promise<BareRow> {
  const fake = await startFakeSink({});
  try {
    const fakeCpuFrom = fake.cpuMs();
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/bare-sender-process.ts'], {
      env: {
        ...process.env,
        BOT_TOKEN: fake.token,
        TELEGRAM_API_ROOT: fake.apiRoot,
        BARE_COUNT: String(count),
        BARE_CONCURRENCY: '250',
        BARE_FIRST_CHAT_ID: String(FIRST_CHAT_ID),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    const load = loadavg()[0] as number;
    if (code !== 0) throw new BenchFailure(`the bare sender exited with code ${code}`);
    const { sent, ms, cpuMs } = JSON.parse(output.trim().split('\n').at(-1) as string) as { sent: number; ms: number; cpuMs: number };
    return { sent, perSecond: sent / (ms / 1000), cpuMsPerMessage: cpuMs / sent, fakeCpuMsPerMessage: (fake.cpuMs() - fakeCpuFrom) / sent, load };
  } finally {
    await fake.close();
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
  const fake = await startFakeSink({});
  const scenario = { rate: 1000, paid: false };
  let app: App | undefined;
  try {
    app = await startBenchApp(db, fake, prefix, scenario);
    const segment: Segment = { tiers: ['gold'] };
    const started = Date.now();
    await createBroadcast(app.domain, admin, {
      content: { text: 'Bench restart', entities: [], photoFileId: null, button: null },
      segment,
      scheduledAt: null,
      controlPercent: 0,
    });
    const ours = () => fake.ask({ type: 'chats', text: 'Bench restart' });
    await waitFor(async () => ((await ours()).calls >= config.restart / 3 ? true : undefined), 120_000, 'a third of the restart broadcast');
    await app.stop();
    app = undefined;
    const beforeStop = (await ours()).calls;
    app = await startBenchApp(db, fake, prefix, scenario);
    const deadline = Date.now() + 180_000;
    while ((await ours()).chats < config.restart && Date.now() < deadline) await sleep(100);
    // A moment for a duplicate that would follow the last expected message.
    await sleep(1_000);
    const { calls, chats } = await ours();
    return {
      recipients: config.restart,
      beforeStop,
      duplicates: calls - chats,
      lost: config.restart - chats,
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
    bare: envInt('BENCH_BROADCAST_BARE', 20_000, 100),
  };
  if (config.restart > config.members) throw new BenchFailure('BENCH_BROADCAST_RESTART must not exceed BENCH_BROADCAST_MEMBERS');
  const db = await createTestDatabase({ poolSize: 20 });
  const prefix = `bench-broadcast-${randomBytes(4).toString('hex')}`;
  try {
    const seedStarted = Date.now();
    await seedMembers(db, config.members, config.restart);
    const seedS = (Date.now() - seedStarted) / 1000;
    const scenarios: Scenario[] = [
      { label: '(a) limited', rate: 30, limit: 30, paid: false },
      { label: '(b) unlimited', rate: 0, limit: null, paid: false },
      { label: '(c) paid', rate: 1000, limit: 1000, paid: true },
    ];
    const rows: Row[] = [];
    for (const scenario of scenarios) rows.push(await runScenario(db, prefix, config, scenario));
    const bare = await runBare(config.bare);
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
        'app CPU ms/msg',
        'fake CPU ms/msg',
        'load 1m',
      ],
      [
        ...rows.map((row) => [
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
          fixed(row.cpuMsPerMessage, 3),
          fixed(row.fakeCpuMsPerMessage, 3),
          fixed(row.load, 2),
        ]),
        [
          '(e) bare grammY sender',
          'none',
          'none',
          fixed(bare.perSecond),
          '-',
          '-',
          '-',
          '0',
          '-',
          '-',
          '-',
          fixed(bare.cpuMsPerMessage, 3),
          fixed(bare.fakeCpuMsPerMessage, 3),
          fixed(bare.load, 2),
        ],
      ],
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
        `CPU ms/msg: this process (the app; the driver only waits) and the fake's own process over the window; (e) the bare sender's process over ${config.bare} sends.`,
        '',
        table,
        '',
        restartTable,
      ].join('\n'),
      headline: {
        'limited achieved/limit': ratio(limited.perSecond, 30),
        '429s': String(limited.tooManyRequests + paid.tooManyRequests),
        'engine msg/s': fixed(unlimited.perSecond, 0),
        'engine/bare': ratio(unlimited.perSecond, bare.perSecond),
        'paid achieved/limit': ratio(paid.perSecond, 1000),
        'restart dup/lost': `${restart.duplicates}/${restart.lost}`,
      },
    };
  } finally {
    await db.drop();
    await removeQueueKeys(prefix);
  }
}
