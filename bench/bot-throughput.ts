// Throughput and latency of registered customers tapping Balance through the whole stack (fake
// Bot API over HTTP, runner long polling, per-user rate limit in Redis, sequentialize, Prisma,
// PostgreSQL), beside a bare grammY echo bot on the same kind of fake in the same run.
//
// Each party runs in a process of its own (DESIGN.md, "Performance"): the bot is the real entry
// point compiled (dist/main.js, bench/bot-process.ts), the baseline bench/bare-bot-process.ts, the fake Bot
// API bench/fake-api-process.ts (one per bot), and this process only drives the load. CPU and RSS
// are the bot process's own, from /proc. NODE_ENV=production. Machines are noisy: the numbers that
// mean something are the loyalty/bare ratios of one run.
//
// Loads: closed loop (BENCH_USERS users, each sends its next tap when the previous was answered,
// BENCH_TAPS taps each) and open loop (BENCH_OPEN_RATE updates/s offered for BENCH_OPEN_SECONDS,
// spread over BENCH_OPEN_USERS users, whatever the replies do). Then how a Balance tap's cost
// grows with one member's history (BENCH_HISTORY entries, comma-separated), loyalty bot only.
// Latency: reply reached the fake minus update queued in the fake, both Date.now() there.
// Growth (issue 12's table): BENCH_EXTRA_MEMBERS (0) more members in the tables, each with an
// entry and a lot, seeded set-based before the loyalty bot starts; with BENCH_HISTORY, a Balance
// tap's cost against both the program's size and one member's history.

import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import pg from 'pg';
import { makeRepositories } from '../src/db/repositories.js';
import { systemClock } from '../src/domain/clock.js';
import { generateMemberCode } from '../src/domain/codes.js';
import { removeQueueKeys } from '../test/support/app.js';
import { createTestDatabase, type TestDatabase } from '../test/support/db.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from '../test/support/env.js';
import type { FakeUser } from '../test/support/fake-bot-api/server.js';
import { type BotProcess, startBotProcess } from './bot-process.js';
import {
  type BenchFailure,
  type BenchResult,
  checkReply,
  closedLoop,
  envInt,
  FakeApiProcess,
  fixed,
  formatTable,
  mib,
  percentile,
  ratio,
  seedFillerMembers,
} from './lib.js';

const FIRST_USER_ID = 910_000_001;
const BALANCE = '💰 Balance';
const BALANCE_REPLY = /Tier:/;

interface Config {
  users: number;
  taps: number;
  warmup: number;
  openRate: number;
  openSeconds: number;
  openUsers: number;
  history: number[];
  timeoutMs: number;
  extraMembers: number;
}

function readConfig(): Config {
  return {
    users: envInt('BENCH_USERS', 50),
    taps: envInt('BENCH_TAPS', 20),
    warmup: envInt('BENCH_WARMUP', 3, 0),
    openRate: envInt('BENCH_OPEN_RATE', 1_000),
    openSeconds: envInt('BENCH_OPEN_SECONDS', 5),
    openUsers: envInt('BENCH_OPEN_USERS', 500),
    history: (process.env.BENCH_HISTORY ?? '1,100,1000,10000').split(',').map(Number),
    timeoutMs: envInt('BENCH_TIMEOUT_MS', 15_000),
    extraMembers: envInt('BENCH_EXTRA_MEMBERS', 0, 0),
  };
}

interface Phase {
  label: string;
  offered?: number;
  sent: number;
  latencies: number[];
  wallMs: number;
  cpuMs: number;
  peakRss: number;
}

/** Samples the bot process's RSS while `work` runs; CPU is the /proc difference. */
async function measured(bot: BotProcess, work: () => Promise<{ sent: number; latencies: number[] }>, label: string): Promise<Phase> {
  let peakRss = bot.rssBytes();
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, bot.rssBytes());
  }, 200);
  const cpu0 = bot.cpuMs();
  const t0 = performance.now();
  try {
    const { sent, latencies } = await work();
    return { label, sent, latencies, wallMs: performance.now() - t0, cpuMs: bot.cpuMs() - cpu0, peakRss };
  } finally {
    clearInterval(sampler);
  }
}

/** `rate` updates/s for `seconds`, round robin over the users, sent on a clock that ignores replies. */
async function openLoop(fake: FakeApiProcess, userIds: number[], rate: number, seconds: number, expected: RegExp | string, timeoutMs: number) {
  const latencies: number[] = [];
  let wrong: BenchFailure | undefined;
  fake.onReply = (reply) => {
    try {
      checkReply(reply, expected);
      latencies.push(reply.latencyMs);
    } catch (error) {
      wrong ??= error as BenchFailure;
    }
  };
  const start = Date.now();
  let sent = 0;
  while (Date.now() - start < seconds * 1000) {
    const due = Math.floor(((Date.now() - start) / 1000) * rate);
    for (; sent < due; sent++) fake.send(userIds[sent % userIds.length] as number, BALANCE);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const deadline = Date.now() + timeoutMs;
  while (latencies.length < sent && Date.now() < deadline && !wrong) await new Promise((resolve) => setTimeout(resolve, 20));
  fake.onReply = undefined;
  if (wrong) throw wrong;
  // Unanswered within the timeout is a result (the bot cannot keep up at this rate), not a failure.
  return { sent, latencies };
}

interface BotRun {
  idleRss: number;
  closed: Phase;
  open: Phase;
  history: Phase[];
}

/** Starts a bot process on a fresh fake, measures idle RSS, then the closed and the open loop. */
async function runBot(
  label: string,
  start: (fake: FakeApiProcess) => Promise<BotProcess>,
  config: Config,
  expected: RegExp | string,
  extra?: (fake: FakeApiProcess, bot: BotProcess) => Promise<Phase[]>,
): Promise<BotRun> {
  const fake = await FakeApiProcess.start();
  let bot: BotProcess | undefined;
  try {
    bot = await start(fake);
    // Idle: started, polled, settled; nothing asked yet.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const idleRss = bot.rssBytes();
    const closedIds = Array.from({ length: config.users }, (_, i) => FIRST_USER_ID + i);
    const openIds = Array.from({ length: config.openUsers }, (_, i) => FIRST_USER_ID + i);
    if (config.warmup > 0) await closedLoop(fake, closedIds, config.warmup, BALANCE, expected, config.timeoutMs);
    const b = bot;
    const closed = await measured(b, () => closedLoop(fake, closedIds, config.taps, BALANCE, expected, config.timeoutMs), `${label}, closed loop`);
    // History before the open loop: a rate the bot cannot keep up with leaves a backlog behind.
    const history = extra ? await extra(fake, b) : [];
    const open = await measured(b, () => openLoop(fake, openIds, config.openRate, config.openSeconds, expected, config.timeoutMs), `${label}, open loop`);
    return { idleRss, closed, open, history };
  } finally {
    await bot?.stop();
    fake.stop();
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

/** One member with `entries` ledger entries (each an open lot), written in bulk: the shape, not the path. */
async function seedHistory(db: TestDatabase, telegramId: number, entries: number): Promise<void> {
  const member = await db.prisma.member.create({
    data: {
      telegramId: BigInt(telegramId),
      code: generateMemberCode(),
      locale: 'en',
      status: 'ACTIVE',
      registrationStep: null,
      name: 'History',
      tier: 'basic',
      registeredAt: new Date(),
      balance: entries,
    },
  });
  await db.prisma.$executeRaw`
    WITH e AS (
      INSERT INTO "LedgerEntry" ("memberId", type, amount, "balanceAfter", "idempotencyKey", "actorType", "createdAt")
      SELECT ${member.id}, 'BONUS', 1, n, 'bench-history:' || ${member.id} || ':' || n, 'SYSTEM', now() - (${entries} - n) * interval '1 minute'
      FROM generate_series(1, ${entries}) AS n
      RETURNING id, "createdAt"
    )
    INSERT INTO "PointLot" ("memberId", "entryId", amount, remaining, "expiresAt", "createdAt")
    SELECT ${member.id}, e.id, 1, 1, e."createdAt" + interval '365 days', e."createdAt" FROM e`;
}

interface Stats {
  perSecond: number;
  p50: number;
  p99: number;
  cpuPerUpdate: number;
}

const statsOf = (phase: Phase): Stats => ({
  perSecond: phase.latencies.length / (phase.wallMs / 1000),
  p50: percentile(phase.latencies, 50),
  p99: percentile(phase.latencies, 99),
  cpuPerUpdate: phase.cpuMs / phase.latencies.length,
});

export async function botThroughput(): Promise<BenchResult> {
  const config = readConfig();
  const members = Math.max(config.users, config.openUsers);
  const users: FakeUser[] = Array.from({ length: members }, (_, i) => ({ id: FIRST_USER_ID + i, first_name: 'Bench', language_code: 'en' }));
  const historyIds = config.history.map((_, i) => FIRST_USER_ID + members + i);

  const bare = await runBot(
    'bare',
    (fake) =>
      startBotProcess(
        { BOT_TOKEN: fake.ready.token, TELEGRAM_API_ROOT: fake.ready.apiRoot, BOT_INFO: JSON.stringify({ ...fake.ready.botInfo, has_topics_enabled: false }) },
        () => fake.hasPolled(),
        60_000,
        'bench/bare-bot-process.ts',
      ),
    config,
    BALANCE,
  );

  const db = await createTestDatabase();
  const prefix = `bench-throughput-${randomBytes(4).toString('hex')}`;
  try {
    await seedMembers(db, users);
    for (const [i, entries] of config.history.entries()) await seedHistory(db, historyIds[i] as number, entries);
    await seedFillerMembers(db.prisma, config.extraMembers, 700_000_001);
    const loyalty = await runBot(
      'loyalty',
      (fake) =>
        startBotProcess(
          {
            BOT_TOKEN: fake.ready.token,
            TELEGRAM_API_ROOT: fake.ready.apiRoot,
            DATABASE_URL: db.url,
            REDIS_URL: TEST_REDIS_URL,
            QUEUE_PREFIX: prefix,
            PORT: '0',
            HOST: '127.0.0.1',
            // The per-user limiter runs (its Redis round trip is part of every update), with an
            // allowance no bench user reaches: this measures answering, not refusing.
            USER_UPDATES_BURST: '10000',
            USER_UPDATES_PER_SECOND: '10000',
          },
          () => fake.hasPolled(),
        ),
      config,
      BALANCE_REPLY,
      // One member at a time, 50 taps each after 3 unmeasured: the cost of one tap, not of a crowd.
      async (fake, bot) => {
        const phases: Phase[] = [];
        for (const [i, entries] of config.history.entries()) {
          const id = historyIds[i] as number;
          await closedLoop(fake, [id], 3, BALANCE, BALANCE_REPLY, config.timeoutMs);
          phases.push(await measured(bot, () => closedLoop(fake, [id], 50, BALANCE, BALANCE_REPLY, config.timeoutMs), `${entries} entries`));
        }
        return phases;
      },
    );
    return report(config, members, bare, loyalty);
  } finally {
    await dropDatabase(db);
    await removeQueueKeys(prefix);
  }
}

function report(config: Config, members: number, bare: BotRun, loyalty: BotRun): BenchResult {
  const row = (label: string, phase: Phase, s: Stats, offered?: string) => [
    label,
    offered ?? '',
    `${phase.latencies.length} / ${phase.sent}`,
    fixed(s.perSecond, 1),
    fixed(s.p50),
    fixed(s.p99),
    fixed(s.cpuPerUpdate, 2),
    mib(phase.peakRss),
  ];
  const tables: string[] = [];
  for (const loop of ['closed', 'open'] as const) {
    const b = statsOf(bare[loop]);
    const l = statsOf(loyalty[loop]);
    const offered = loop === 'open' ? `${config.openRate}/s` : `${config.users} users`;
    tables.push(
      formatTable(
        [`${loop} loop`, 'offered', 'answered / sent', 'updates/s', 'p50 ms', 'p99 ms', 'bot CPU ms/update', 'bot peak RSS'],
        [
          row('bare grammY', bare[loop], b, offered),
          row('loyalty bot', loyalty[loop], l, offered),
          ['loyalty / bare', '', '', ratio(l.perSecond, b.perSecond), ratio(l.p50, b.p50), ratio(l.p99, b.p99), ratio(l.cpuPerUpdate, b.cpuPerUpdate), ''],
        ],
      ),
    );
  }
  const first = loyalty.history[0];
  const history = formatTable(
    ['Balance, one member with', 'p50 ms', 'p99 ms', 'bot CPU ms/update', `p50 / ${config.history[0]} entry`],
    loyalty.history.map((phase) => {
      const s = statsOf(phase);
      return [phase.label, fixed(s.p50), fixed(s.p99), fixed(s.cpuPerUpdate, 2), first ? ratio(s.p50, statsOf(first).p50) : ''];
    }),
  );
  const l = statsOf(loyalty.open);
  const c = statsOf(loyalty.closed);
  const b = statsOf(bare.closed);
  const report = [
    `Balance taps; ${members} members (+ ${config.extraMembers} more in the tables); load average ${loadavg()
      .map((n) => n.toFixed(2))
      .join(
        ' ',
      )} at the end; closed loop ${config.users} users x ${config.taps} taps; open loop ${config.openRate}/s offered for ${config.openSeconds} s over ${config.openUsers} users. Each party in its own process, NODE_ENV=production.`,
    '',
    ...tables.flatMap((t) => [t, '']),
    history,
    '',
    `bot process RSS idle: loyalty ${mib(loyalty.idleRss)}, bare ${mib(bare.idleRss)} (${ratio(loyalty.idleRss, bare.idleRss)}); loyalty compiled under plain node as npm start runs it, the bare bot through tsx.`,
    'Latencies are whole milliseconds (Date.now() in the fake); compare ratios within a run.',
  ].join('\n');
  return {
    report,
    headline: {
      'closed updates/s loyalty/bare': ratio(c.perSecond, b.perSecond),
      [`open p99 at ${config.openRate}/s`]: `${fixed(l.p99)} ms`,
      'idle RSS': mib(loyalty.idleRss),
      ...Object.fromEntries(
        loyalty.history.map((phase) => {
          const s = statsOf(phase);
          return [`${phase.label}: CPU ms/tap, p50`, `${fixed(s.cpuPerUpdate, 2)}, ${fixed(s.p50)} ms`];
        }),
      ),
    },
  };
}
