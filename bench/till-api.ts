// The till API end to end (issue 12): `POST /v1/purchases` with points spent and earned (the
// heaviest purchase: a one-time spend code used up, a FIFO draw, a debit and a credit), then, on
// the same app process, purchases that only earn (no points paid: the common case at a till),
// through the real app (src/main.ts, production settings) in a process of its own, driven by
// BENCH_TILL_CLIENTS keep-alive connections from this process (closed loop: each connection
// sends its next purchase when the last one was answered). Beside it, in the same run and on
// the same database:
//   bare Fastify:  a Fastify server in a process of its own doing one INSERT per request
//                  (bench/bare-insert-server.ts), driven the same way: what HTTP + one write cost;
//   pgbench -N:    the database alone (TPC-B without the branch/teller updates), same clients.
// Machines are noisy and shared: the ratios of one run are what mean something.
//
// The app runs without queue workers (RUN_WORKERS=false, as an API instance behind a load
// balancer would; receipts wait in the outbox and in Redis). Purchases use 200 API keys (tills),
// so the per-key rate limit (20/s) does not cap the run, and BENCH_TILL_MEMBERS members chosen
// round robin. After the run the ledger invariants are checked over the whole database.
//
// BENCH_TILL_CLIENTS (16), BENCH_TILL_SECONDS per row (8), BENCH_TILL_MEMBERS (2000).
// BENCH_CPU_PROF=<dir>: a V8 CPU profile of the app process (start-up and warm-up included),
// written when it stops; the switch is bench/bot-process.ts's, which starts the app here too.
// Growth (issue 12's table): BENCH_TILL_EXTRA_MEMBERS (0) more members in the tables, each with
// an entry and a lot, and BENCH_TILL_HISTORY (0) more entries per purchasing member, both seeded
// set-based: how a purchase's cost grows with the program, not with the load.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import { removeQueueKeys } from '../test/support/app.js';
import { createTestDatabase, type TestDatabase } from '../test/support/db.js';
import { TEST_REDIS_URL } from '../test/support/env.js';
import { FakeBotApi } from '../test/support/fake-bot-api/server.js';
import { ledgerViolations } from '../test/support/ledger-invariants.js';
import { type BotProcess, startBotProcess } from './bot-process.js';
import { dropDatabase } from './bot-throughput.js';
import {
  analyzeAfterWarmup,
  BenchFailure,
  type BenchResult,
  type Driven,
  databaseCpuMs,
  drivePurchases,
  envInt,
  fixed,
  formatTable,
  freePort,
  mib,
  postgresPids,
  ratio,
  runProcess,
  SPEND_CODE_SECRET,
  seedApiKeys,
  seedFillerMembers,
  seedPurchasers,
  spendCodeFor,
  untilEnded,
  waitForHealth,
} from './lib.js';

interface Config {
  clients: number;
  seconds: number;
  members: number;
  extraMembers: number;
  history: number;
}

type Measured = Driven;

const API_KEYS = 200;
const WARMUP_MS = 2_000;
const GOAL = 0.4;

function readConfig(): Config {
  return {
    clients: envInt('BENCH_TILL_CLIENTS', 16),
    seconds: envInt('BENCH_TILL_SECONDS', 8),
    members: envInt('BENCH_TILL_MEMBERS', 2_000),
    extraMembers: envInt('BENCH_TILL_EXTRA_MEMBERS', 0, 0),
    history: envInt('BENCH_TILL_HISTORY', 0, 0),
  };
}

/** One-time spend codes seeded per member: more than a member is used in a row at any rate seen. */
const SPEND_CODES_PER_MEMBER = 60;

/** Members with a valid card code, points to spend and spend codes; API keys of tills (store given per request). */
async function seed(db: TestDatabase, config: Config): Promise<{ codes: string[]; keys: string[] }> {
  const { codes } = await seedPurchasers(db.prisma, config.members, { history: config.history, codesPerMember: SPEND_CODES_PER_MEMBER });
  const keys = await seedApiKeys(db.prisma, API_KEYS);
  await seedFillerMembers(db.prisma, config.extraMembers, 800_000_001);
  return { codes, keys };
}

/**
 * Closed loop over `clients` keep-alive connections: warm-up, then `seconds` measured; the
 * tables are analyzed between the two (analyzeAfterWarmup).
 */
function drive(
  db: TestDatabase,
  label: string,
  port: number,
  config: Config,
  body: (seq: number) => { key: string; json: string },
  pid: number,
  keyPrefix = 'b',
): Promise<Measured> {
  return drivePurchases(
    label,
    port,
    { clients: config.clients, seconds: config.seconds, warmupMs: WARMUP_MS, afterWarmup: analyzeAfterWarmup(db.prisma) },
    (seq) => ({ ...body(seq), idempotencyKey: `${keyPrefix}-${seq}` }),
    pid,
  );
}

async function pgbenchN(db: TestDatabase, config: Config): Promise<Measured> {
  const init = await runProcess('pgbench', ['-i', '-s', '1', '-q', db.url]);
  if (init.code !== 0) throw new BenchFailure(`pgbench -i exited with ${init.code}:\n${init.stderr}`);
  const serverBefore = new Set(postgresPids());
  const databaseBefore = databaseCpuMs();
  const { code, stdout, stderr } = await runProcess('pgbench', [
    '-N',
    '-n',
    '-c',
    String(config.clients),
    '-j',
    '2',
    '-T',
    String(config.seconds),
    '-r',
    db.url,
  ]);
  const tps = Number(/^tps = ([\d.]+)/m.exec(stdout)?.[1]);
  if (code !== 0 || !Number.isFinite(tps)) throw new BenchFailure(`pgbench -N exited with ${code}:\n${stderr || stdout}`);
  const requests = Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1]);
  // pgbench's backends are still ending as it exits: read the database's CPU once they are reaped.
  await untilEnded(postgresPids().filter((pid) => !serverBefore.has(pid)));
  const databaseAfter = databaseCpuMs();
  return {
    label: 'pgbench -N',
    requests,
    rps: tps,
    // pgbench reports the mean only.
    p50Ms: Number(/latency average = ([\d.]+) ms/.exec(stdout)?.[1]),
    p99Ms: Number.NaN,
    errors: Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0),
    serverCpuMsPerReq: Number.NaN,
    // The whole run, its connections' start included (pgbench -T counts only the transactions).
    databaseCpuMsPerReq: (databaseAfter - databaseBefore) / Math.max(1, requests),
    serverRssBytes: Number.NaN,
    load: loadavg()[0] as number,
  };
}

async function startBare(db: TestDatabase, port: number): Promise<{ child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/bare-insert-server.ts'], {
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', DATABASE_URL: db.url, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new BenchFailure(`the bare server exited with code ${code} before it was ready`)));
  });
  return {
    child,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export async function tillApi(): Promise<BenchResult> {
  const config = readConfig();
  const prefix = `bench-till-${randomBytes(4).toString('hex')}`;
  const db = await createTestDatabase();
  const fake = await FakeBotApi.start();
  let app: BotProcess | undefined;
  let bare: Awaited<ReturnType<typeof startBare>> | undefined;
  try {
    const { codes, keys } = await seed(db, config);
    // Each run (the app's, the bare server's) starts with every member's first code.
    const uses = new Map<number, number>();
    const purchase = (seq: number) => {
      const member = seq % codes.length;
      const use = uses.get(member) ?? 0;
      uses.set(member, use + 1);
      return {
        key: keys[seq % keys.length] as string,
        // 100.00 paid partly with 10 points: a spend (with the member's one-time code) and an earn per purchase.
        json: JSON.stringify({
          memberCode: codes[member],
          storeCode: 'msk-01',
          receiptNo: `B-${seq}`,
          amountMinor: 10_000,
          pointsToSpend: 10,
          // Past the seeded codes (only the bare server goes that fast) the code is refused: an error row.
          spendCode: spendCodeFor(use % SPEND_CODES_PER_MEMBER),
        }),
      };
    };

    const appPort = await freePort();
    app = await startBotProcess(
      {
        BOT_TOKEN: fake.token,
        TELEGRAM_API_ROOT: fake.apiRoot,
        DATABASE_URL: db.url,
        REDIS_URL: TEST_REDIS_URL,
        QUEUE_PREFIX: prefix,
        PORT: String(appPort),
        HOST: '127.0.0.1',
        RUN_WORKERS: 'false',
        SPEND_CODE_SECRET,
      },
      () => fake.calls.some((c) => c.method === 'getUpdates'),
    );
    await waitForHealth(appPort, '/healthz');
    const loyalty = await drive(db, 'loyalty app', appPort, config, purchase, app.pid);
    // 100.00 with no points paid: the purchase row, one credit and its lot, the receipt and the event.
    const earnOnly = (seq: number) => ({
      key: keys[seq % keys.length] as string,
      json: JSON.stringify({ memberCode: codes[seq % codes.length], storeCode: 'msk-01', receiptNo: `E-${seq}`, amountMinor: 10_000 }),
    });
    const earning = await drive(db, 'loyalty app, earn only', appPort, config, earnOnly, app.pid, 'e');
    await app.stop();
    app = undefined;

    const barePort = await freePort();
    bare = await startBare(db, barePort);
    uses.clear();
    const bareRow = await drive(db, 'bare Fastify + 1 INSERT', barePort, config, purchase, bare.child.pid as number);
    await bare.stop();
    bare = undefined;

    const pgbench = await pgbenchN(db, config);

    await db.prisma.$executeRawUnsafe('ANALYZE');
    const violations = await ledgerViolations(db.prisma);
    if (violations.length > 0) throw new BenchFailure(`ledger invariants broken after the run:\n${violations.join('\n')}`);
    return report(config, loyalty, earning, bareRow, pgbench);
  } finally {
    await app?.stop();
    await bare?.stop();
    await fake.close();
    await dropDatabase(db);
    await removeQueueKeys(prefix);
  }
}

function report(config: Config, loyalty: Measured, earning: Measured, bare: Measured, pgbench: Measured): BenchResult {
  const row = (m: Measured) => [
    m.label,
    String(m.requests),
    fixed(m.rps),
    fixed(m.p50Ms),
    fixed(m.p99Ms),
    String(m.errors),
    fixed(m.serverCpuMsPerReq, 2),
    fixed(m.databaseCpuMsPerReq, 2),
    Number.isFinite(m.serverRssBytes) ? mib(m.serverRssBytes) : '',
  ];
  // With the database alone on every core (no HTTP, no app, no load driver), it could do at most
  // this many purchases per second: a bound no change outside the database can pass.
  const cores = availableParallelism();
  const bound = (m: Measured) => {
    const databaseBound = (cores * 1000) / m.databaseCpuMsPerReq;
    return Number.isFinite(databaseBound)
      ? [
          `${m.label}: database CPU per purchase ${ratio(m.databaseCpuMsPerReq, pgbench.databaseCpuMsPerReq)} of a pgbench -N transaction's; ` +
            `on ${cores} cores the database alone could do at most ${fixed(databaseBound)} purchases/s: ${ratio(databaseBound, pgbench.rps)} of pgbench -N.`,
        ]
      : [];
  };
  const vsPgbench = loyalty.rps / pgbench.rps;
  const lines = [
    `POST /v1/purchases over ${config.clients} keep-alive connections, closed loop, ${config.seconds} s per row after ${WARMUP_MS / 1000} s of warm-up; ` +
      `${config.members} members, ${API_KEYS} API keys; each server in its own process with NODE_ENV=production. ` +
      "The loyalty app's rows: 100.00 paid partly with 10 points (a spend with a one-time code, and an earn), then, on the same process, 100.00 with no points paid (an earn only).",
    `Growth: ${config.extraMembers} more members in the tables, ${config.history} more entries per purchasing member; load average at the end of the loyalty row: ${fixed(loyalty.load, 2)}.`,
    '',
    formatTable(
      ['row', 'requests', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'server CPU ms/req', 'database CPU ms/req', 'server RSS'],
      [row(loyalty), row(earning), row(bare), row(pgbench)],
    ),
    '(pgbench: the p50 column is its mean latency; it reports no percentiles. Database CPU: every PostgreSQL process on this machine, background writers included.)',
    ...bound(loyalty),
    ...bound(earning),
    '',
    `loyalty (spend + earn) / pgbench -N: ${ratio(loyalty.rps, pgbench.rps)} (goal >= ${GOAL}x: ${vsPgbench >= GOAL ? 'met' : 'MISSED'}; 0.013x before issue 12)`,
    `loyalty (earn only) / pgbench -N: ${ratio(earning.rps, pgbench.rps)}`,
    `loyalty (spend + earn) / bare Fastify + 1 INSERT: ${ratio(loyalty.rps, bare.rps)}`,
    `bare Fastify / pgbench -N: ${ratio(bare.rps, pgbench.rps)}`,
    ...(loyalty.firstError ? [`first loyalty error: ${loyalty.firstError}`] : []),
    ...(earning.firstError ? [`first earn-only error: ${earning.firstError}`] : []),
    ...(bare.firstError ? [`first bare error: ${bare.firstError}`] : []),
    'Ledger invariants after the run: 0 violations.',
  ];
  return {
    report: lines.join('\n'),
    headline: {
      'purchases/s': fixed(loyalty.rps),
      'p99 ms': fixed(loyalty.p99Ms),
      'vs pgbench -N': ratio(loyalty.rps, pgbench.rps),
      'earn only vs pgbench -N': ratio(earning.rps, pgbench.rps),
      'vs bare Fastify': ratio(loyalty.rps, bare.rps),
      'CPU ms/purchase': fixed(loyalty.serverCpuMsPerReq, 2),
      'database CPU ms/purchase': fixed(loyalty.databaseCpuMsPerReq, 2),
      members: String(config.members + config.extraMembers),
      'entries/member': String(config.history + 1),
    },
  };
}
