// Throughput and latency of registered customers tapping Balance / Card / History through the
// whole stack (fake Bot API over HTTP, runner long polling, sequentialize, Prisma, PostgreSQL,
// Redis), beside a bare grammY echo bot on the same fake API in the same run. Machines are
// noisy, so the numbers that mean something are the loyalty/bare ratios of one run.
//
// Load: BENCH_USERS users each send BENCH_TAPS taps. In `waves` mode (default) every user sends
// one update, the next wave starts when all have been answered; in `closed` mode each user sends
// the next tap as soon as its previous one was answered. Either way no user has more than one
// update outstanding, so replies are matched to updates by chat id alone. A warm-up of
// BENCH_WARMUP waves runs first and is not measured.
//
// Latency: when the reply's sendMessage/sendPhoto reached the fake (RecordedCall.at) minus when
// the update was queued, both Date.now(), so whole milliseconds.

import { performance } from 'node:perf_hooks';
import { run } from '@grammyjs/runner';
import { Bot } from 'grammy';
import type { UserFromGetMe } from 'grammy/types';
import pg from 'pg';
import type { App } from '../src/app.js';
import { makeRepositories } from '../src/db/repositories.js';
import { systemClock } from '../src/domain/clock.js';
import { generateMemberCode } from '../src/domain/codes.js';
import { startTestApp } from '../test/support/app.js';
import { createTestDatabase, type TestDatabase } from '../test/support/db.js';
import { TEST_DATABASE_URL } from '../test/support/env.js';
import { FakeBotApi, type FakeUser, type RecordedCall } from '../test/support/fake-bot-api/server.js';
import { BenchFailure, type BenchResult, envInt, fixed, formatTable, mib, percentile, ratio } from './lib.js';

type Mode = 'waves' | 'closed';

interface Config {
  users: number;
  taps: number;
  warmupWaves: number;
  mode: Mode;
  timeoutMs: number;
}

interface Tap {
  label: string;
  text: string;
  /** What is wrong with the reply, if anything. */
  check(call: RecordedCall): string | undefined;
}

interface Sample {
  tap: string;
  latencyMs: number;
}

interface Load {
  samples: Sample[];
  wallMs: number;
  /** CPU of this whole process (fake API, bot, Prisma client); PostgreSQL and Redis are other processes. */
  cpuMs: number;
  eventLoopBusy: number;
}

interface BotRun {
  label: string;
  load: Load;
  /** process.memoryUsage() right after the measured phase, before anything is stopped. */
  memoryAfter: NodeJS.MemoryUsage;
}

const FIRST_USER_ID = 910_000_001;

const expectMessage =
  (pattern: RegExp) =>
  (call: RecordedCall): string | undefined => {
    if (call.method !== 'sendMessage') return `expected sendMessage, got ${call.method}`;
    const text = String(call.params.text ?? '');
    return pattern.test(text) ? undefined : `text ${JSON.stringify(text.slice(0, 120))} does not match ${pattern}`;
  };

const LOYALTY_TAPS: Tap[] = [
  { label: 'Balance', text: '💰 Balance', check: expectMessage(/100 points/) },
  {
    label: 'Card',
    text: '💳 Member card',
    check: (call) =>
      call.method === 'sendPhoto' && /member card/.test(String(call.params.caption ?? '')) ? undefined : `expected the card photo, got ${call.method}`,
  },
  { label: 'History', text: '📜 History', check: expectMessage(/Points history/) },
];

// The echo bot gets the same texts and must send each back unchanged.
const ECHO_TAPS: Tap[] = LOYALTY_TAPS.map(({ label, text }) => ({
  label,
  text,
  check: (call) => (call.method === 'sendMessage' && call.params.text === text ? undefined : `expected an echo of ${JSON.stringify(text)}`),
}));

function readConfig(): Config {
  const mode = process.env.BENCH_MODE ?? 'waves';
  if (mode !== 'waves' && mode !== 'closed') throw new BenchFailure(`BENCH_MODE must be "waves" or "closed", got "${mode}"`);
  return {
    users: envInt('BENCH_USERS', 50),
    taps: envInt('BENCH_TAPS', 20),
    warmupWaves: envInt('BENCH_WARMUP', 3, 0),
    mode,
    timeoutMs: envInt('BENCH_TIMEOUT_MS', 15_000),
  };
}

const makeUsers = (count: number): FakeUser[] => Array.from({ length: count }, (_, i) => ({ id: FIRST_USER_ID + i, first_name: 'Bench', language_code: 'en' }));

interface Pending {
  tap: Tap;
  queuedAt: number;
  timer: NodeJS.Timeout;
  resolve(sample: Sample): void;
  reject(error: Error): void;
}

/** Sends updates as users and matches each to the reply the bot sends to that chat. */
class ReplyTracker {
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly fake: FakeBotApi,
    private readonly label: string,
    private readonly timeoutMs: number,
  ) {
    // The fake has no events; watching its call log as it grows tells us at once when a reply arrived.
    const calls = fake.calls;
    const push = calls.push.bind(calls);
    calls.push = (...items: RecordedCall[]) => {
      const length = push(...items);
      for (const call of items) this.onCall(call);
      return length;
    };
  }

  send(user: FakeUser, tap: Tap): Promise<Sample> {
    if (this.pending.has(user.id)) return Promise.reject(new Error(`bench bug: user ${user.id} already has an update outstanding`));
    return new Promise<Sample>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(user.id);
        reject(new BenchFailure(`${this.label}: no reply to ${JSON.stringify(tap.text)} from user ${user.id} within ${this.timeoutMs} ms${this.diagnosis()}`));
      }, this.timeoutMs);
      this.pending.set(user.id, { tap, queuedAt: Date.now(), timer, resolve, reject });
      this.fake.sendText(user, tap.text);
    });
  }

  /** Forgets everything outstanding (after a failure) so no timer keeps the process alive. */
  cancel(): void {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
  }

  private onCall(call: RecordedCall): void {
    if ((call.method !== 'sendMessage' && call.method !== 'sendPhoto') || call.chatId === undefined) return;
    const p = this.pending.get(call.chatId);
    if (!p) return; // e.g. the apology after a failed reply, which was already reported
    this.pending.delete(call.chatId);
    clearTimeout(p.timer);
    const problem = call.ok ? p.tap.check(call) : `${call.method} failed: ${call.errorCode} ${call.description ?? ''}`;
    if (problem) p.reject(new BenchFailure(`${this.label}: wrong reply to ${JSON.stringify(p.tap.text)} from user ${call.chatId}: ${problem}`));
    else p.resolve({ tap: p.tap.label, latencyMs: call.at - p.queuedAt });
  }

  private diagnosis(): string {
    const lines = [`${this.pending.size} other update(s) outstanding`];
    const failed = this.fake.calls.filter((c) => !c.ok && c.method !== 'getUpdates').slice(-5);
    for (const c of failed) lines.push(`failed call: ${c.method} chat=${c.chatId ?? '-'} ${c.errorCode ?? ''} ${c.description ?? ''}`);
    for (const v of this.fake.violations.slice(0, 5)) lines.push(`violation: ${v}`);
    return `\n  ${lines.join('\n  ')}`;
  }
}

/** `waves` waves of taps (tap `pick(user, wave)`), no user ever having two updates outstanding. */
async function drive(tracker: ReplyTracker, users: FakeUser[], waves: number, mode: Mode, taps: Tap[]): Promise<Load> {
  const pick = (userIndex: number, wave: number) => taps[(userIndex + wave) % taps.length] as Tap;
  const samples: Sample[] = [];
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  if (mode === 'waves') {
    for (let wave = 0; wave < waves; wave++) {
      samples.push(...(await Promise.all(users.map((user, i) => tracker.send(user, pick(i, wave))))));
    }
  } else {
    await Promise.all(
      users.map(async (user, i) => {
        for (let wave = 0; wave < waves; wave++) samples.push(await tracker.send(user, pick(i, wave)));
      }),
    );
  }
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { samples, wallMs, cpuMs: (cpu.user + cpu.system) / 1000, eventLoopBusy: performance.eventLoopUtilization(elu0).utilization };
}

async function warmUpAndMeasure(tracker: ReplyTracker, users: FakeUser[], config: Config, taps: Tap[]): Promise<Load> {
  if (config.warmupWaves > 0) await drive(tracker, users, config.warmupWaves, config.mode, taps);
  return drive(tracker, users, config.taps, config.mode, taps);
}

async function runBareBot(config: Config, users: FakeUser[]): Promise<BotRun> {
  const label = 'bare echo bot';
  const fake = await FakeBotApi.start();
  // The fake's getMe answer lacks a few newer fields that grammY's type requires.
  const botInfo: UserFromGetMe = {
    ...fake.botInfo,
    has_topics_enabled: false,
    allows_users_to_create_topics: false,
    can_manage_bots: false,
    supports_join_request_queries: false,
  };
  const bot = new Bot(fake.token, { client: { apiRoot: fake.apiRoot }, botInfo });
  bot.on('message:text', (ctx) => ctx.reply(ctx.message.text));
  const handle = run(bot);
  const tracker = new ReplyTracker(fake, label, config.timeoutMs);
  try {
    const load = await warmUpAndMeasure(tracker, users, config, ECHO_TAPS);
    return { label, load, memoryAfter: process.memoryUsage() };
  } finally {
    tracker.cancel();
    if (handle.isRunning()) await handle.stop();
    await fake.close();
  }
}

/** Active English-speaking members with a 100-point bonus, as registration would leave them. */
export async function seedMembers(db: TestDatabase, users: FakeUser[]): Promise<void> {
  const ledger = makeRepositories(db.prisma, systemClock).ledger;
  const seedOne = async (user: FakeUser) => {
    const member = await db.prisma.member.create({
      data: {
        telegramId: BigInt(user.id),
        code: generateMemberCode(),
        locale: 'en',
        status: 'ACTIVE',
        registrationStep: null,
        name: 'Bench',
        tier: 'basic',
        registeredAt: new Date(),
      },
    });
    await ledger.post({
      kind: 'credit',
      type: 'BONUS',
      memberId: member.id,
      amount: 100,
      idempotencyKey: `bench:${member.id}`,
      actor: { type: 'SYSTEM' },
      expiresAt: null,
    });
  };
  for (let i = 0; i < users.length; i += 10) await Promise.all(users.slice(i, i + 10).map(seedOne));
}

async function runLoyaltyBot(config: Config, users: FakeUser[]): Promise<BotRun> {
  const label = 'loyalty bot';
  const db = await createTestDatabase();
  try {
    await seedMembers(db, users);
    const fake = await FakeBotApi.start();
    let app: App | undefined;
    const tracker = new ReplyTracker(fake, label, config.timeoutMs);
    try {
      app = await startTestApp({ fake, databaseUrl: db.url });
      const load = await warmUpAndMeasure(tracker, users, config, LOYALTY_TAPS);
      return { label, load, memoryAfter: process.memoryUsage() };
    } finally {
      tracker.cancel();
      await app?.stop();
      await fake.close();
    }
  } finally {
    await dropDatabase(db);
  }
}

/**
 * db.drop() without its race: pg-pool's end() resolves before its connections have closed, and
 * DROP DATABASE ... WITH (FORCE) then kills them mid-goodbye; the FATAL reaches a pool that has
 * no 'error' listener (ours or the app's) and crashes the process. So: close, wait until the
 * server has no sessions left on the database, then drop it.
 */
export async function dropDatabase(db: TestDatabase): Promise<void> {
  await db.close();
  const name = decodeURIComponent(new URL(db.url).pathname.slice(1));
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  try {
    for (let waited = 0; waited < 5000; waited += 20) {
      const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name]);
      if (rows[0]?.n === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await admin.query(`DROP DATABASE IF EXISTS "${name.replace(/"/g, '""')}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

interface Stats {
  updates: number;
  wallS: number;
  perSecond: number;
  p50: number;
  p99: number;
  cpuPerUpdate: number;
}

function statsOf(load: Load): Stats {
  const latencies = load.samples.map((s) => s.latencyMs);
  return {
    updates: load.samples.length,
    wallS: load.wallMs / 1000,
    perSecond: load.samples.length / (load.wallMs / 1000),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpuPerUpdate: load.cpuMs / load.samples.length,
  };
}

export async function botThroughput(): Promise<BenchResult> {
  const config = readConfig();
  const users = makeUsers(config.users);
  const bare = await runBareBot(config, users);
  const loyalty = await runLoyaltyBot(config, users);

  const b = statsOf(bare.load);
  const l = statsOf(loyalty.load);
  const row = (run: BotRun, s: Stats) => [
    run.label,
    String(s.updates),
    fixed(s.wallS, 2),
    fixed(s.perSecond, 1),
    fixed(s.p50),
    fixed(s.p99),
    fixed(s.cpuPerUpdate, 2),
    `${(run.load.eventLoopBusy * 100).toFixed(0)}%`,
  ];
  const main = formatTable(
    ['', 'updates', 'wall s', 'updates/s', 'p50 ms', 'p99 ms', 'CPU ms/update', 'event loop busy'],
    [
      row(bare, b),
      row(loyalty, l),
      [
        'loyalty / bare',
        '',
        ratio(l.wallS, b.wallS),
        ratio(l.perSecond, b.perSecond),
        ratio(l.p50, b.p50),
        ratio(l.p99, b.p99),
        ratio(l.cpuPerUpdate, b.cpuPerUpdate),
        '',
      ],
    ],
  );
  const byButton = formatTable(
    ['loyalty bot, by button', 'updates', 'p50 ms', 'p99 ms'],
    LOYALTY_TAPS.map((tap) => {
      const latencies = loyalty.load.samples.filter((s) => s.tap === tap.label).map((s) => s.latencyMs);
      return [tap.label, String(latencies.length), fixed(percentile(latencies, 50)), fixed(percentile(latencies, 99))];
    }),
  );
  const load =
    config.mode === 'waves'
      ? `${config.taps} waves of one update from each of ${config.users} users`
      : `${config.users} users, ${config.taps} taps each, next tap on reply`;
  const report = [
    `${load} (Balance / Card / History in rotation); warm-up of ${config.warmupWaves} tap(s) per user not measured`,
    '',
    main,
    '',
    byButton,
    '',
    `process RSS after the bare run ${mib(bare.memoryAfter.rss)} (heap used ${mib(bare.memoryAfter.heapUsed)}), ` +
      `after the loyalty run ${mib(loyalty.memoryAfter.rss)} (heap used ${mib(loyalty.memoryAfter.heapUsed)}); fake API, bots and Prisma client share this process`,
    'CPU ms/update and event loop busy are for this process only; PostgreSQL and Redis run in their own.',
    'Latencies are whole milliseconds (Date.now()); compare ratios within a run, not absolute numbers across runs.',
  ].join('\n');
  return {
    report,
    headline: {
      'updates/s loyalty/bare': ratio(l.perSecond, b.perSecond),
      'p50 loyalty/bare': ratio(l.p50, b.p50),
      'p99 loyalty/bare': ratio(l.p99, b.p99),
    },
  };
}
