// Fairness: other users' p99 Balance latency while one user floods the bot at BENCH_FLOOD_RATE
// (1,000) updates/s, divided by the same figure without the flood. Goal: at most 2x.
//
// The bot is the real entry point (src/main.ts) in a process of its own (bench/bot-process.ts),
// with production settings and the default per-user allowance, on PostgreSQL and Redis; the
// fake Bot API (no Telegram limits) and the load driver run in this process.
//
// Load: BENCH_FAIRNESS_USERS members each tap Balance every BENCH_FAIRNESS_INTERVAL_MS (a human
// pace, within the allowance), staggered, open loop (the next tap does not wait for the reply).
// After a warm-up, the "quiet" phase runs BENCH_FAIRNESS_SECONDS of that; the "flood" phase the
// same while one more member sends Balance at the flood rate, pushed into the fake's update queue.
// Latency: when the reply reached the fake (RecordedCall.at) minus when the tap was queued.

import { randomBytes } from 'node:crypto';
import { removeQueueKeys } from '../test/support/app.js';
import { createTestDatabase } from '../test/support/db.js';
import { TEST_FINGERPRINT_SECRET, TEST_REDIS_URL } from '../test/support/env.js';
import { FakeBotApi, type FakeUser, type RecordedCall } from '../test/support/fake-bot-api/server.js';
import { type BotProcess, startBotProcess } from './bot-process.js';
import { dropDatabase, seedMembers } from './bot-throughput.js';
import { type BenchResult, envInt, fixed, formatTable, percentile, ratio } from './lib.js';

const FIRST_USER_ID = 950_000_001;
const BALANCE_TAP = '💰 Balance';
const BALANCE_REPLY = /Tier:/;
const SLOW_DOWN = /faster than we can answer/;
const GOAL = 2;

interface Config {
  users: number;
  intervalMs: number;
  seconds: number;
  warmupSeconds: number;
  floodRate: number;
  timeoutMs: number;
}

interface Phase {
  label: string;
  taps: number;
  latencies: number[];
  unanswered: number;
  botCpuMs: number;
  flood?: { sent: number; answered: number; slowDowns: number };
}

function readConfig(): Config {
  return {
    users: envInt('BENCH_FAIRNESS_USERS', 30),
    intervalMs: envInt('BENCH_FAIRNESS_INTERVAL_MS', 2_000),
    seconds: envInt('BENCH_FAIRNESS_SECONDS', 10),
    warmupSeconds: envInt('BENCH_FAIRNESS_WARMUP', 3, 0),
    floodRate: envInt('BENCH_FLOOD_RATE', 1_000),
    timeoutMs: envInt('BENCH_TIMEOUT_MS', 15_000),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Matches the bot's Balance replies to the taps of the tracked users, first in first out. */
class TapTracker {
  private readonly queued = new Map<number, number[]>();
  latencies: number[] = [];

  constructor(fake: FakeBotApi, users: FakeUser[]) {
    for (const user of users) this.queued.set(user.id, []);
    // The fake has no events; watching its call log grow tells us at once when a reply arrived.
    const calls = fake.calls;
    const push = calls.push.bind(calls);
    calls.push = (...items: RecordedCall[]) => {
      const length = push(...items);
      for (const call of items) this.onCall(call);
      return length;
    };
  }

  tapped(userId: number): void {
    this.queued.get(userId)?.push(Date.now());
  }

  outstanding(): number {
    let count = 0;
    for (const times of this.queued.values()) count += times.length;
    return count;
  }

  /** Starts a new phase: forgets samples and anything still unanswered. */
  reset(): void {
    this.latencies = [];
    for (const times of this.queued.values()) times.length = 0;
  }

  private onCall(call: RecordedCall): void {
    if (call.method !== 'sendMessage' || !call.ok || call.chatId === undefined || !BALANCE_REPLY.test(String(call.params.text))) return;
    const queuedAt = this.queued.get(call.chatId)?.shift();
    if (queuedAt !== undefined) this.latencies.push(call.at - queuedAt);
  }
}

async function runPhase(
  label: string,
  fake: FakeBotApi,
  tracker: TapTracker,
  bot: BotProcess,
  users: FakeUser[],
  config: Config,
  seconds: number,
  flooder?: FakeUser,
): Promise<Phase> {
  tracker.reset();
  const callsBefore = fake.calls.length;
  const cpuBefore = bot.cpuMs();
  const start = Date.now();
  const nextTap = users.map((_, i) => start + (i * config.intervalMs) / users.length);
  let taps = 0;
  let floodSent = 0;
  for (let now = Date.now(); now - start < seconds * 1000; now = Date.now()) {
    users.forEach((user, i) => {
      if (now < (nextTap[i] as number)) return;
      tracker.tapped(user.id);
      fake.sendText(user, BALANCE_TAP);
      taps++;
      nextTap[i] = (nextTap[i] as number) + config.intervalMs;
    });
    if (flooder) {
      const due = Math.floor(((now - start) / 1000) * config.floodRate);
      for (; floodSent < due; floodSent++) fake.sendText(flooder, BALANCE_TAP);
    }
    await sleep(5);
  }
  const deadline = Date.now() + config.timeoutMs;
  while (tracker.outstanding() > 0 && Date.now() < deadline) await sleep(20);
  const phase: Phase = { label, taps, latencies: [...tracker.latencies], unanswered: tracker.outstanding(), botCpuMs: bot.cpuMs() - cpuBefore };
  if (flooder) {
    const toFlooder = fake.calls.slice(callsBefore).filter((c) => c.method === 'sendMessage' && c.ok && c.chatId === flooder.id);
    phase.flood = {
      sent: floodSent,
      answered: toFlooder.filter((c) => BALANCE_REPLY.test(String(c.params.text))).length,
      slowDowns: toFlooder.filter((c) => SLOW_DOWN.test(String(c.params.text))).length,
    };
  }
  return phase;
}

export async function fairness(): Promise<BenchResult> {
  const config = readConfig();
  const users: FakeUser[] = Array.from({ length: config.users }, (_, i) => ({ id: FIRST_USER_ID + i, first_name: 'Bench', language_code: 'en' }));
  const flooder: FakeUser = { id: FIRST_USER_ID + config.users, first_name: 'Flood', language_code: 'en' };
  const prefix = `bench-fairness-${randomBytes(4).toString('hex')}`;
  const db = await createTestDatabase();
  const fake = await FakeBotApi.start();
  let bot: BotProcess | undefined;
  try {
    await seedMembers(db, [...users, flooder]);
    bot = await startBotProcess(
      {
        BOT_TOKEN: fake.token,
        TELEGRAM_API_ROOT: fake.apiRoot,
        DATABASE_URL: db.url,
        FINGERPRINT_SECRET: TEST_FINGERPRINT_SECRET,
        REDIS_URL: TEST_REDIS_URL,
        QUEUE_PREFIX: prefix,
        PORT: '0',
        HOST: '127.0.0.1',
      },
      () => fake.calls.some((c) => c.method === 'getUpdates'),
    );
    const tracker = new TapTracker(fake, users);
    if (config.warmupSeconds > 0) await runPhase('warm-up', fake, tracker, bot, users, config, config.warmupSeconds);
    const quiet = await runPhase('quiet', fake, tracker, bot, users, config, config.seconds);
    const flood = await runPhase('flood', fake, tracker, bot, users, config, config.seconds, flooder);
    const rss = bot.rssBytes();
    return report(config, quiet, flood, rss);
  } finally {
    await bot?.stop();
    await fake.close();
    await dropDatabase(db);
    await removeQueueKeys(prefix);
  }
}

function report(config: Config, quiet: Phase, flood: Phase, rssBytes: number): BenchResult {
  const row = (phase: Phase) => [
    phase.label,
    String(phase.taps),
    String(phase.latencies.length),
    String(phase.unanswered),
    fixed(percentile(phase.latencies, 50)),
    fixed(percentile(phase.latencies, 99)),
    fixed(Math.max(...phase.latencies)),
    fixed(phase.botCpuMs / 1000, 2),
  ];
  const p99 = (phase: Phase) => percentile(phase.latencies, 99);
  const fairnessRatio = p99(flood) / p99(quiet);
  const f = flood.flood ?? { sent: 0, answered: 0, slowDowns: 0 };
  const lines = [
    `${config.users} members tapping Balance every ${config.intervalMs} ms (staggered, open loop) for ${config.seconds} s per phase; ` +
      `in the flood phase one more member sends ${config.floodRate} updates/s. Bot in its own process, default per-user allowance.`,
    '',
    formatTable(['other users', 'taps', 'answered', 'unanswered', 'p50 ms', 'p99 ms', 'max ms', 'bot CPU s'], [row(quiet), row(flood)]),
    '',
    `fairness (p99 with the flood / p99 without): ${ratio(p99(flood), p99(quiet))} (goal <= ${GOAL}x: ${fairnessRatio <= GOAL ? 'met' : 'MISSED'})`,
    `flooder: ${f.sent} updates sent, ${f.answered} answered, ${f.slowDowns} slow-down note(s), the rest dropped`,
    `bot process RSS at the end ${(rssBytes / 1024 / 1024).toFixed(0)} MiB`,
    'Latencies are whole milliseconds (Date.now()); compare the ratio within a run, not absolute numbers across runs.',
  ];
  return {
    report: lines.join('\n'),
    headline: {
      'fairness p99 flood/quiet': ratio(p99(flood), p99(quiet)),
      'unanswered during flood': String(flood.unanswered),
    },
  };
}
