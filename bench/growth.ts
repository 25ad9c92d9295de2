// Issue 12's growth table: how a till purchase and a Balance tap cost as the program grows from
// 1k to 1M members, and as one member's history grows from 1 to 10k ledger entries, in one run.
//
// Program size: one database grown in steps (BENCH_GROWTH_MEMBERS, default 1000,10000,100000,
// 1000000 members in all), each step's new members seeded set-based (bench/lib.ts
// seedFillerMembers: one statement, each with an entry and a lot), then VACUUM ANALYZE as
// autovacuum would leave the tables. At each size the real app (dist/main.js, production
// settings, bench/bot-process.ts) is started in a process of its own against the fake Bot API in
// another (bench/fake-api-process.ts), and measured as bench/till-api.ts and
// bench/bot-throughput.ts measure it:
//   purchase:  POST /v1/purchases (100.00, 10 points spent with a one-time code, points earned)
//              over BENCH_GROWTH_CLIENTS keep-alive connections, closed loop, by
//              BENCH_GROWTH_PURCHASERS members round robin: purchases/s, p50/p99, app CPU/purchase;
//   Balance:   BENCH_GROWTH_USERS members tapping Balance, closed loop, BENCH_GROWTH_TAPS each
//              (after 3 unmeasured): taps/s, p50/p99, app CPU/tap.
// History: a second database of the smallest size with, per BENCH_GROWTH_HISTORY entry count
// (default 1,100,1000,10000), BENCH_GROWTH_HISTORY_PURCHASERS members with that many entries
// (each an open lot) buying, and one such member tapping Balance alone (50 taps), as
// bot-throughput's history rows do.
//
// Every figure is printed beside its ratio to the first row of its table (the smallest size,
// the shortest history) of the same run: the machine is shared and noisy, the ratios are what
// mean something. The app runs without queue workers (RUN_WORKERS=false: receipts wait in the
// outbox), as till-api's does. After each database's rows the ledger invariants are checked.
// Each app first gets an unmeasured round of purchases and taps (a fresh process is still
// compiling its hot paths). BENCH_GROWTH_SECONDS (5) per purchase row after 2 s of warm-up; a
// row also ends when the purchasers' spend codes run out (BENCH_GROWTH_CODES per member, 120,
// reset before each row).

import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { removeQueueKeys } from '../test/support/app.js';
import { createTestDatabase, type TestDatabase } from '../test/support/db.js';
import { TEST_REDIS_URL } from '../test/support/env.js';
import { ledgerViolations } from '../test/support/ledger-invariants.js';
import { type BotProcess, startBotProcess } from './bot-process.js';
import { dropDatabase } from './bot-throughput.js';
import {
  analyzeAfterWarmup,
  BenchFailure,
  type BenchResult,
  closedLoop,
  type Driven,
  drivePurchases,
  envInt,
  FakeApiProcess,
  fixed,
  formatTable,
  freePort,
  percentile,
  ratio,
  SPEND_CODE_SECRET,
  seedApiKeys,
  seedFillerMembers,
  seedHistories,
  seedPurchasers,
  spendCodeFor,
  waitForHealth,
} from './lib.js';

const BALANCE = '💰 Balance';
const BALANCE_REPLY = /Tier:/;
const FIRST_USER_ID = 930_000_001;
const FIRST_FILLER_TELEGRAM_ID = 600_000_001;
const API_KEYS = 200;
const WARMUP_MS = 2_000;
const HISTORY_TAPS = 50;
const TIMEOUT_MS = 30_000;

interface Config {
  sizes: number[];
  histories: number[];
  clients: number;
  seconds: number;
  purchasers: number;
  historyPurchasers: number;
  codes: number;
  users: number;
  taps: number;
}

function list(name: string, fallback: string): number[] {
  const raw = process.env[name] || fallback;
  const values = raw.split(',').map((part) => Number(part.trim()));
  if (values.some((v) => !Number.isSafeInteger(v) || v < 1)) throw new BenchFailure(`${name} must be positive integers separated by commas, got "${raw}"`);
  return [...new Set(values)].sort((a, b) => a - b);
}

function readConfig(): Config {
  const config = {
    sizes: list('BENCH_GROWTH_MEMBERS', '1000,10000,100000,1000000'),
    histories: list('BENCH_GROWTH_HISTORY', '1,100,1000,10000'),
    clients: envInt('BENCH_GROWTH_CLIENTS', 16),
    seconds: envInt('BENCH_GROWTH_SECONDS', 5),
    purchasers: envInt('BENCH_GROWTH_PURCHASERS', 200),
    historyPurchasers: envInt('BENCH_GROWTH_HISTORY_PURCHASERS', 50),
    codes: envInt('BENCH_GROWTH_CODES', 120),
    users: envInt('BENCH_GROWTH_USERS', 10),
    taps: envInt('BENCH_GROWTH_TAPS', 30),
  };
  const measured = config.purchasers + config.users;
  const smallest = config.sizes[0] as number;
  if (smallest < measured) throw new BenchFailure(`the smallest BENCH_GROWTH_MEMBERS (${smallest}) must hold the ${measured} measured members`);
  const historyMembers = config.histories.length * (config.historyPurchasers + 1);
  if (smallest < historyMembers) throw new BenchFailure(`the smallest BENCH_GROWTH_MEMBERS (${smallest}) must hold the ${historyMembers} history members`);
  return config;
}

/** One purchase row and one Balance row against one app process. */
interface Row {
  label: string;
  purchase: Driven;
  balance: { perSecond: number; p50: number; p99: number; cpuMs: number };
  /** Seconds spent seeding before this row (growing the program or the history). */
  seedS: number;
}

/** A group of purchasing members and what buying as them takes. */
interface Purchasers {
  ids: number[];
  codes: string[];
}

/** Active members with a chat (tapping Balance) and a 100-point bonus, as registration leaves them; `history` older entries first. */
async function seedTappers(db: TestDatabase, telegramIds: number[], history: number): Promise<void> {
  const rows = await db.prisma.$queryRawUnsafe<{ id: number }[]>(
    `INSERT INTO "Member" ("telegramId", code, locale, status, "registrationStep", name, tier, "registeredAt", "createdAt", "updatedAt")
     SELECT t, 'T' || lpad((t - 900000000)::text, 10, '0'), 'en', 'ACTIVE', NULL, 'Bench', 'basic', now(), now(), now() FROM unnest($1::bigint[]) AS t
     RETURNING id`,
    telegramIds,
  );
  const ids = rows.map((row) => row.id);
  await seedHistories(db.prisma, ids, history);
  await db.prisma.$executeRawUnsafe(
    `SELECT ledger_post(id, 'credit', 'BONUS', 100, false, 'bench:' || id, 'SYSTEM', NULL, NULL, NULL, NULL, NULL, now()::timestamp(3))
     FROM "Member" WHERE id = ANY($1::int[]) ORDER BY id`,
    ids,
  );
}

const memberCount = async (db: TestDatabase) => (await db.prisma.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM "Member"`))[0]?.n ?? 0;

/** What autovacuum would have done by the time a program is this big: visibility maps and statistics. */
async function settle(db: TestDatabase): Promise<void> {
  await db.prisma.$executeRawUnsafe('VACUUM ANALYZE "Member", "LedgerEntry", "PointLot", "SpendCode"');
}

/** The app on a fresh fake Bot API, each in its own process; `work` measures it. */
async function withApp<T>(db: TestDatabase, work: (app: BotProcess, port: number, fake: FakeApiProcess) => Promise<T>): Promise<T> {
  const prefix = `bench-growth-${randomBytes(4).toString('hex')}`;
  const fake = await FakeApiProcess.start();
  let app: BotProcess | undefined;
  try {
    const port = await freePort();
    app = await startBotProcess(
      {
        BOT_TOKEN: fake.ready.token,
        TELEGRAM_API_ROOT: fake.ready.apiRoot,
        DATABASE_URL: db.url,
        REDIS_URL: TEST_REDIS_URL,
        QUEUE_PREFIX: prefix,
        PORT: String(port),
        HOST: '127.0.0.1',
        RUN_WORKERS: 'false',
        SPEND_CODE_SECRET,
        // The per-user limiter runs (its Redis round trip is part of every update), with an
        // allowance no bench user reaches: this measures answering, not refusing.
        USER_UPDATES_BURST: '10000',
        USER_UPDATES_PER_SECOND: '10000',
      },
      () => fake.hasPolled(),
    );
    await waitForHealth(port, '/healthz');
    return await work(app, port, fake);
  } finally {
    await app?.stop();
    fake.stop();
    await removeQueueKeys(prefix);
  }
}

/** Purchases by `group` round robin, each with the member's next spend code; codes reset first, so every row starts alike. */
async function purchaseRow(db: TestDatabase, label: string, app: BotProcess, port: number, keys: string[], group: Purchasers, config: Config): Promise<Driven> {
  await db.prisma.$executeRawUnsafe(`UPDATE "SpendCode" SET "usedAt" = NULL, "purchaseId" = NULL WHERE "memberId" = ANY($1::int[])`, group.ids);
  const run = randomBytes(3).toString('hex');
  const uses = new Map<number, number>();
  const result = await drivePurchases(
    label,
    port,
    {
      clients: config.clients,
      seconds: config.seconds,
      warmupMs: WARMUP_MS,
      maxRequests: group.ids.length * config.codes,
      afterWarmup: analyzeAfterWarmup(db.prisma),
    },
    (seq) => {
      const member = seq % group.codes.length;
      const use = uses.get(member) ?? 0;
      uses.set(member, use + 1);
      return {
        key: keys[seq % keys.length] as string,
        idempotencyKey: `g-${run}-${seq}`,
        json: JSON.stringify({
          memberCode: group.codes[member],
          storeCode: 'msk-01',
          receiptNo: `G-${run}-${seq}`,
          amountMinor: 10_000,
          pointsToSpend: 10,
          spendCode: spendCodeFor(use),
        }),
      };
    },
    app.pid,
  );
  if (result.requests === 0) throw new BenchFailure(`${label}: no purchase succeeded; first error: ${result.firstError ?? 'none'}`);
  return result;
}

/**
 * An unmeasured round of both before an app's first row: a freshly started app is still
 * compiling its hot paths, and the first row would pay for that alone.
 */
async function warmUp(
  db: TestDatabase,
  app: BotProcess,
  port: number,
  fake: FakeApiProcess,
  keys: string[],
  group: Purchasers,
  userIds: number[],
  config: Config,
): Promise<void> {
  await purchaseRow(db, 'warm-up', app, port, keys, group, { ...config, seconds: 2 });
  await closedLoop(fake, userIds, 10, BALANCE, BALANCE_REPLY, TIMEOUT_MS);
}

/** `taps` Balance taps per user, closed loop, after 3 unmeasured. */
async function balanceRow(fake: FakeApiProcess, app: BotProcess, userIds: number[], taps: number): Promise<Row['balance']> {
  await closedLoop(fake, userIds, 3, BALANCE, BALANCE_REPLY, TIMEOUT_MS);
  const cpu0 = app.cpuMs();
  const t0 = performance.now();
  const { latencies } = await closedLoop(fake, userIds, taps, BALANCE, BALANCE_REPLY, TIMEOUT_MS);
  const wallS = (performance.now() - t0) / 1000;
  return {
    perSecond: latencies.length / wallS,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpuMs: (app.cpuMs() - cpu0) / latencies.length,
  };
}

async function checkLedger(db: TestDatabase): Promise<void> {
  const violations = await ledgerViolations(db.prisma);
  if (violations.length > 0) throw new BenchFailure(`ledger invariants broken after the run:\n${violations.join('\n')}`);
}

/** One database grown through the sizes; a purchase row and a Balance row at each. */
async function sizeRows(config: Config): Promise<Row[]> {
  const db = await createTestDatabase();
  try {
    let started = performance.now();
    const group = await seedPurchasers(db.prisma, config.purchasers, { history: 0, codesPerMember: config.codes });
    const keys = await seedApiKeys(db.prisma, API_KEYS);
    const userIds = Array.from({ length: config.users }, (_, i) => FIRST_USER_ID + i);
    await seedTappers(db, userIds, 0);
    let fillers = 0;
    const rows: Row[] = [];
    for (const size of config.sizes) {
      const more = size - (await memberCount(db));
      await seedFillerMembers(db.prisma, more, FIRST_FILLER_TELEGRAM_ID, fillers);
      fillers += Math.max(0, more);
      await settle(db);
      const seedS = (performance.now() - started) / 1000;
      const label = `${size.toLocaleString('en-US')} members`;
      console.log(`growth: ${label} seeded in ${fixed(seedS)} s; measuring`);
      rows.push(
        await withApp(db, async (app, port, fake) => {
          await warmUp(db, app, port, fake, keys, group, userIds, config);
          return {
            label,
            seedS,
            purchase: await purchaseRow(db, label, app, port, keys, group, config),
            balance: await balanceRow(fake, app, userIds, config.taps),
          };
        }),
      );
      started = performance.now();
    }
    await checkLedger(db);
    return rows;
  } finally {
    await dropDatabase(db);
  }
}

/** A database of the smallest size with, per history length, a purchasing group and one tapping member. */
async function historyRows(config: Config): Promise<Row[]> {
  const db = await createTestDatabase();
  try {
    const started = performance.now();
    const keys = await seedApiKeys(db.prisma, API_KEYS);
    const groups: { entries: number; group: Purchasers; userId: number; seedS: number }[] = [];
    for (const [i, entries] of config.histories.entries()) {
      const t0 = performance.now();
      // `entries` in all: the history, then the credit (purchasers) or the bonus (the tapper).
      const group = await seedPurchasers(db.prisma, config.historyPurchasers, {
        history: entries - 1,
        codesPerMember: config.codes,
        name: `History ${entries}`,
      });
      const userId = FIRST_USER_ID + 100_000 + i;
      await seedTappers(db, [userId], entries - 1);
      groups.push({ entries, group, userId, seedS: (performance.now() - t0) / 1000 });
    }
    await seedFillerMembers(db.prisma, (config.sizes[0] as number) - (await memberCount(db)), FIRST_FILLER_TELEGRAM_ID, 0);
    await settle(db);
    console.log(`growth: histories seeded in ${fixed((performance.now() - started) / 1000)} s; measuring`);
    const rows = await withApp(db, async (app, port, fake) => {
      const first = groups[0] as (typeof groups)[number];
      await warmUp(db, app, port, fake, keys, first.group, [first.userId], config);
      const measured: Row[] = [];
      for (const { entries, group, userId, seedS } of groups) {
        const label = `${entries.toLocaleString('en-US')} ${entries === 1 ? 'entry' : 'entries'}`;
        measured.push({
          label,
          seedS,
          purchase: await purchaseRow(db, label, app, port, keys, group, config),
          balance: await balanceRow(fake, app, [userId], HISTORY_TAPS),
        });
      }
      return measured;
    });
    await checkLedger(db);
    return rows;
  } finally {
    await dropDatabase(db);
  }
}

/** "value (ratio to the first row)". */
const withRatio = (value: number, first: number, digits = 1) => `${fixed(value, digits)} (${ratio(value, first)})`;

function table(title: string, rows: Row[]): string {
  const first = rows[0] as Row;
  return formatTable(
    [title, 'purchases/s', 'purchase p50 ms', 'purchase p99 ms', 'CPU ms/purchase', 'errors', 'taps/s', 'tap p50 ms', 'tap p99 ms', 'CPU ms/tap', 'seed s'],
    rows.map((row) => [
      row.label,
      withRatio(row.purchase.rps, first.purchase.rps),
      withRatio(row.purchase.p50Ms, first.purchase.p50Ms),
      withRatio(row.purchase.p99Ms, first.purchase.p99Ms),
      withRatio(row.purchase.serverCpuMsPerReq, first.purchase.serverCpuMsPerReq, 2),
      String(row.purchase.errors),
      withRatio(row.balance.perSecond, first.balance.perSecond),
      withRatio(row.balance.p50, first.balance.p50),
      withRatio(row.balance.p99, first.balance.p99),
      withRatio(row.balance.cpuMs, first.balance.cpuMs, 2),
      fixed(row.seedS),
    ]),
  );
}

export async function growth(): Promise<BenchResult> {
  const config = readConfig();
  const sizes = await sizeRows(config);
  const histories = await historyRows(config);
  const errors = [...sizes, ...histories]
    .filter((row) => row.purchase.firstError)
    .map((row) => `first purchase error at ${row.label}: ${row.purchase.firstError}`);
  const lastSize = sizes.at(-1) as Row;
  const lastHistory = histories.at(-1) as Row;
  const report = [
    `Each figure with its ratio to the first row of its table, same run. Purchases: POST /v1/purchases (spend 10 points with a one-time code + earn) over ${config.clients} keep-alive connections, closed loop, ` +
      `${config.seconds} s per row after ${WARMUP_MS / 1000} s of warm-up (or until the spend codes run out). Balance: closed loop, ${config.users} users x ${config.taps} taps (program size), ` +
      `one member x ${HISTORY_TAPS} taps (history). App (dist/main.js, NODE_ENV=production, no queue workers) and fake Bot API each in their own process; CPU is the app's.`,
    '',
    `Program size: ${config.purchasers} members buying, ${config.users} tapping, the rest filler members with an entry and a lot each.`,
    table('members in all', sizes),
    '',
    `One member's history (${(config.sizes[0] as number).toLocaleString('en-US')} members in all): ${config.historyPurchasers} members with that many entries buying, one tapping.`,
    table('entries per member', histories),
    '',
    ...errors,
    `Load average at the end: ${loadavg()
      .map((n) => n.toFixed(2))
      .join(' ')}. Ledger invariants after each database's rows: 0 violations. Latencies of taps are whole ms (Date.now() in the fake).`,
  ];
  return {
    report: report.join('\n'),
    headline: {
      [`purchase CPU ${lastSize.label}/${(sizes[0] as Row).label}`]: ratio(lastSize.purchase.serverCpuMsPerReq, (sizes[0] as Row).purchase.serverCpuMsPerReq),
      [`tap CPU ${lastSize.label}/${(sizes[0] as Row).label}`]: ratio(lastSize.balance.cpuMs, (sizes[0] as Row).balance.cpuMs),
      [`purchase CPU ${lastHistory.label}/${(histories[0] as Row).label}`]: ratio(
        lastHistory.purchase.serverCpuMsPerReq,
        (histories[0] as Row).purchase.serverCpuMsPerReq,
      ),
      [`tap CPU ${lastHistory.label}/${(histories[0] as Row).label}`]: ratio(lastHistory.balance.cpuMs, (histories[0] as Row).balance.cpuMs),
    },
  };
}
