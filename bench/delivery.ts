// The delivery queue's achieved rate against its configured limit, through the whole app
// (notifier -> Delivery outbox -> BullMQ -> worker -> grammY -> fake Bot API over HTTP).
//
//   limited:   DELIVERY_RATE_PER_SECOND=BENCH_DELIVERY_RATE (25) against a fake that enforces
//              Telegram's limits (30 messages/s overall, 1/s per chat) and answers 429 beyond;
//              the ratio achieved/configured says how much of the allowance the engine uses,
//              and 429s must be 0.
//   unlimited: DELIVERY_RATE_PER_SECOND=BENCH_DELIVERY_MAX_RATE (100) against a fake with no
//              limits: what the engine reaches at that setting.
//
// Each row: BENCH_DELIVERY_MESSAGES members (one message each, so the per-chat limit never
// binds) are seeded, one `pointsAdjusted` notification each is queued while the queue is
// paused, then the queue is resumed. The steady rate is measured from the BENCH_DELIVERY_STEADY-th
// delivered message to the last; "overall" is from the resume to the last.
//
// The app is started as test/support/app.ts's startTestApp does, but without importing it:
// that module registers a vitest afterAll hook at import, which throws outside vitest.

import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { type App, startApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { generateMemberCode } from '../src/domain/codes.js';
import { removeQueueKeys } from '../test/support/app.js';
import { createTestDatabase, type TestDatabase } from '../test/support/db.js';
import { TEST_FINGERPRINT_SECRET, TEST_REDIS_URL } from '../test/support/env.js';
import { FakeBotApi, type FakeBotApiOptions, type RecordedCall } from '../test/support/fake-bot-api/server.js';
import { exampleProgram } from '../test/support/program.js';
import { BenchFailure, type BenchResult, envInt, fixed, formatTable, peakWithin, ratio } from './lib.js';

interface Config {
  messages: number;
  steadyFrom: number;
  rate: number;
  maxRate: number;
}

interface Scenario {
  label: string;
  rate: number;
  limits: FakeBotApiOptions;
  limitsLabel: string;
}

interface RowResult {
  scenario: Scenario;
  delivered: number;
  steadyPerSecond: number;
  overallPerSecond: number;
  /** Most messages the fake accepted within any 1,000 ms. */
  peakPerSecond: number;
  tooManyRequests: number;
  failedCalls: number;
  duplicates: number;
  notSent: number;
  enqueueS: number;
}

const FIRST_CHAT_ID = 930_000_001;

function readConfig(): Config {
  const messages = envInt('BENCH_DELIVERY_MESSAGES', 1000, 2);
  const steadyFrom = envInt('BENCH_DELIVERY_STEADY', Math.min(50, Math.floor(messages / 2)));
  if (steadyFrom >= messages) throw new BenchFailure(`BENCH_DELIVERY_STEADY (${steadyFrom}) must be below BENCH_DELIVERY_MESSAGES (${messages})`);
  return { messages, steadyFrom, rate: envInt('BENCH_DELIVERY_RATE', 25), maxRate: envInt('BENCH_DELIVERY_MAX_RATE', 100) };
}

/** Active English-speaking members with Telegram ids FIRST_CHAT_ID.., ids in that order. */
async function seedMembers(db: TestDatabase, count: number): Promise<number[]> {
  await db.prisma.member.createMany({
    data: Array.from({ length: count }, (_, i) => ({
      telegramId: BigInt(FIRST_CHAT_ID + i),
      code: generateMemberCode(),
      locale: 'en',
      status: 'ACTIVE' as const,
      registrationStep: null,
      name: 'Bench',
      tier: 'basic',
      registeredAt: new Date(),
    })),
  });
  const rows = await db.prisma.member.findMany({ select: { id: true }, orderBy: { telegramId: 'asc' } });
  return rows.map((row) => row.id);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function runScenario(config: Config, scenario: Scenario): Promise<RowResult> {
  const db = await createTestDatabase();
  const prefix = `bench-delivery-${randomBytes(4).toString('hex')}`;
  try {
    const members = await seedMembers(db, config.messages);
    const fake = await FakeBotApi.start(scenario.limits);
    let app: App | undefined;
    try {
      app = await startApp(
        loadConfig({
          BOT_TOKEN: fake.token,
          TELEGRAM_API_ROOT: fake.apiRoot,
          DATABASE_URL: db.url,
          FINGERPRINT_SECRET: TEST_FINGERPRINT_SECRET,
          REDIS_URL: TEST_REDIS_URL,
          PORT: '0',
          HOST: '127.0.0.1',
          QUEUE_PREFIX: prefix,
          DELIVERY_RATE_PER_SECOND: String(scenario.rate),
        }),
        exampleProgram(),
        { logger: pino({ level: process.env.BENCH_LOG_LEVEL ?? 'silent' }) },
      );
      const { domain, queues } = app;

      // Queue everything while the queue is paused, so that the run starts with a full queue.
      await queues.deliveryQueue.pause();
      const enqueueStarted = Date.now();
      for (let i = 0; i < members.length; i += 20) {
        await Promise.all(
          members
            .slice(i, i + 20)
            .map((memberId) => domain.notifier.notify(memberId, { kind: 'pointsAdjusted', amount: 1, balance: 1 }, { dedupeKey: `bench:${memberId}` })),
        );
      }
      const enqueueS = (Date.now() - enqueueStarted) / 1000;

      const isOurs = (call: RecordedCall) =>
        call.method === 'sendMessage' && call.chatId !== undefined && call.chatId >= FIRST_CHAT_ID && call.chatId < FIRST_CHAT_ID + config.messages;
      const sent = () => fake.calls.filter((call) => call.ok && isOurs(call));
      const resumedAt = Date.now();
      await queues.deliveryQueue.resume();
      // Deadline: three times the nominal duration plus half a minute.
      const deadline = resumedAt + Math.ceil((config.messages / scenario.rate) * 3000) + 30_000;
      while (sent().length < config.messages && Date.now() < deadline) await sleep(100);
      // The outbox rows are marked after each send: give the last ones a moment (this also
      // leaves time for duplicates that would follow the last expected message to show up).
      const countSent = () => db.prisma.delivery.count({ where: { status: 'SENT' } });
      for (const settle = Date.now() + 5_000; Date.now() < settle && (await countSent()) < config.messages; ) await sleep(100);
      await sleep(300);

      const delivered = sent();
      const chats = new Set(delivered.map((call) => call.chatId));
      const times = delivered.map((call) => call.at).sort((a, b) => a - b);
      const steadyStart = times[config.steadyFrom - 1];
      const last = times.at(-1);
      const statuses = await db.prisma.delivery.groupBy({ by: ['status'], _count: { _all: true } });
      const sentRows = statuses.find((s) => s.status === 'SENT')?._count._all ?? 0;
      const result: RowResult = {
        scenario,
        delivered: delivered.length,
        steadyPerSecond:
          steadyStart !== undefined && last !== undefined && last > steadyStart
            ? (times.length - config.steadyFrom) / ((last - steadyStart) / 1000)
            : Number.NaN,
        overallPerSecond: last !== undefined ? times.length / ((last - resumedAt) / 1000) : Number.NaN,
        peakPerSecond: peakWithin(times, 1000),
        tooManyRequests: fake.tooManyRequests,
        failedCalls: fake.calls.filter((call) => !call.ok && isOurs(call)).length,
        duplicates: delivered.length - chats.size,
        notSent: config.messages - sentRows,
        enqueueS,
      };
      if (chats.size < config.messages) {
        const byStatus = statuses.map((s) => `${s.status} ${s._count._all}`).join(', ');
        throw new BenchFailure(
          `${scenario.label}: ${chats.size} of ${config.messages} messages delivered before the deadline ` +
            `(deliveries: ${byStatus}; 429s: ${fake.tooManyRequests}; fake violations: ${fake.violations.slice(0, 3).join('; ') || 'none'})`,
        );
      }
      return result;
    } finally {
      await app?.stop();
      await fake.close();
    }
  } finally {
    await db.drop();
    await removeQueueKeys(prefix);
  }
}

export async function delivery(): Promise<BenchResult> {
  const config = readConfig();
  const scenarios: Scenario[] = [
    { label: 'limited', rate: config.rate, limits: { globalPerSecond: 30, perChatPerSecond: 1 }, limitsLabel: '30/s, 1/s per chat' },
    { label: 'unlimited', rate: config.maxRate, limits: {}, limitsLabel: 'none' },
  ];
  const results: RowResult[] = [];
  for (const scenario of scenarios) results.push(await runScenario(config, scenario));

  const table = formatTable(
    [
      '',
      'configured/s',
      'fake limits',
      'messages',
      'steady/s',
      'steady/configured',
      'overall/s',
      'peak in 1 s',
      '429s',
      'failed calls',
      'duplicates',
      'not SENT',
    ],
    results.map((r) => [
      r.scenario.label,
      String(r.scenario.rate),
      r.scenario.limitsLabel,
      String(r.delivered),
      fixed(r.steadyPerSecond, 1),
      ratio(r.steadyPerSecond, r.scenario.rate),
      fixed(r.overallPerSecond, 1),
      String(r.peakPerSecond),
      String(r.tooManyRequests),
      String(r.failedCalls),
      String(r.duplicates),
      String(r.notSent),
    ]),
  );
  const report = [
    `${config.messages} members, one pointsAdjusted notification each, queued while the queue was paused ` +
      `(${results.map((r) => `${r.scenario.label} ${fixed(r.enqueueS, 1)} s`).join(', ')}), then resumed`,
    `steady: from the ${config.steadyFrom}th delivered message to the last; overall: from the resume to the last`,
    '',
    table,
    '',
    '429s must be 0 in the limited row. Compare ratios within a run, not absolute numbers across runs.',
  ].join('\n');
  const [limited, unlimited] = results as [RowResult, RowResult];
  const problems = results.flatMap((r) => [
    ...(r.duplicates > 0 ? [`${r.scenario.label}: ${r.duplicates} duplicate message(s)`] : []),
    ...(r.notSent > 0 ? [`${r.scenario.label}: ${r.notSent} delivery row(s) not SENT`] : []),
  ]);
  if (limited.tooManyRequests > 0) problems.push(`limited: ${limited.tooManyRequests} 429 answer(s) from the fake at ${limited.scenario.rate}/s`);
  if (problems.length > 0) throw new BenchFailure(`${problems.join('\n')}\n\n${report}`);
  return {
    report,
    headline: {
      [`achieved/${limited.scenario.rate}`]: ratio(limited.steadyPerSecond, limited.scenario.rate),
      '429s': String(limited.tooManyRequests),
      [`achieved/${unlimited.scenario.rate} unlimited`]: ratio(unlimited.steadyPerSecond, unlimited.scenario.rate),
    },
  };
}
