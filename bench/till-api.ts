// The till API end to end (issue 12): `POST /v1/purchases` with points spent and earned,
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
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { generateMemberCode } from '../src/domain/codes.js';
import { hashSpendCode } from '../src/domain/spending/spend-codes.js';
import { hashApiKey } from '../src/domain/staff/api-keys.js';
import { removeQueueKeys } from '../test/support/app.js';
import { createTestDatabase, type TestDatabase } from '../test/support/db.js';
import { TEST_REDIS_URL } from '../test/support/env.js';
import { FakeBotApi } from '../test/support/fake-bot-api/server.js';
import { ledgerViolations } from '../test/support/ledger-invariants.js';
import { type BotProcess, startBotProcess } from './bot-process.js';
import { dropDatabase } from './bot-throughput.js';
import { BenchFailure, type BenchResult, envInt, fixed, formatTable, mib, percentile, ratio, runProcess, seedFillerMembers, seedHistories } from './lib.js';

interface Config {
  clients: number;
  seconds: number;
  members: number;
  extraMembers: number;
  history: number;
}

interface Measured {
  label: string;
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  firstError?: string;
  /** CPU of the server process per request (ms); NaN for pgbench. */
  serverCpuMsPerReq: number;
  serverRssBytes: number;
  /** 1-minute load average at the end of the row. */
  load: number;
}

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

const CLOCK_TICKS_PER_SECOND = 100;
const PAGE_SIZE = 4096;
const cpuMsOf = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
};
const rssOf = (pid: number) => Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * PAGE_SIZE;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitForHealth(port: number, path: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}${path}`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new BenchFailure(`nothing answered ${path} on port ${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The app's spend-code key in the run (SPEND_CODE_SECRET), so the seed can store codes' hashes. */
const SPEND_CODE_SECRET = 'bench-spend-code-secret-0123456789';
/** One-time spend codes seeded per member: more than a member is used in a row at any rate seen. */
const SPEND_CODES_PER_MEMBER = 60;
/**
 * The spend code of a member's `use`-th purchase. Paying with points needs the member's consent
 * (a one-time code from their Card screen); the seed stores SPEND_CODES_PER_MEMBER of them per
 * member, the first use's newest, so that each purchase consumes the current one and the next
 * becomes current: what a member showing a fresh code for every purchase makes the till do,
 * without the member's own Card taps in the measured loop.
 */
const spendCodeFor = (use: number) => String(use).padStart(6, '0');

/** Members with a valid card code, points to spend and spend codes; API keys of tills (store given per request). */
async function seed(db: TestDatabase, config: Config): Promise<{ codes: string[]; keys: string[] }> {
  const codes = Array.from({ length: config.members }, () => generateMemberCode());
  await db.prisma.$executeRawUnsafe(
    `INSERT INTO "Member" (code, locale, status, "registrationStep", name, tier, "registeredAt", "createdAt", "updatedAt")
     SELECT c, 'en', 'ACTIVE', NULL, 'Bench', 'basic', now(), now(), now() FROM unnest($1::text[]) AS c`,
    codes,
  );
  const members = await db.prisma.$queryRawUnsafe<{ id: number }[]>(`SELECT id FROM "Member" ORDER BY id`);
  // A long history first (older entries), then the points the purchases spend.
  await seedHistories(
    db.prisma,
    members.map(({ id }) => id),
    config.history,
  );
  // Through ledger_post, so that balances, entries and lots agree as the invariants demand.
  await db.prisma.$executeRawUnsafe(
    `SELECT ledger_post(id, 'credit', 'BONUS', 1000000, false, 'bench:' || id, 'SYSTEM', NULL, NULL, NULL, NULL, NULL, now()::timestamp(3)) FROM "Member"`,
  );
  const memberIds: number[] = [];
  const hashes: string[] = [];
  // Newest first use: ids grow as rows go in, and the current code is the member's newest unused.
  for (let use = SPEND_CODES_PER_MEMBER - 1; use >= 0; use--) {
    for (const { id } of members) {
      memberIds.push(id);
      hashes.push(hashSpendCode({ spendCodeKey: SPEND_CODE_SECRET }, spendCodeFor(use)));
    }
  }
  await db.prisma.$executeRawUnsafe(
    `INSERT INTO "SpendCode" ("memberId", "codeHash", "createdAt", "expiresAt")
     SELECT m, h, now(), now() + interval '1 hour' FROM unnest($1::int[], $2::text[]) WITH ORDINALITY AS t(m, h, n) ORDER BY n`,
    memberIds,
    hashes,
  );
  // The shape createApiKey issues (lk_<8 hex>_<32 base64url>); only the hash is stored.
  const keys = Array.from({ length: API_KEYS }, () => `lk_${randomBytes(4).toString('hex')}_${randomBytes(24).toString('base64url')}`);
  await db.prisma.$executeRawUnsafe(
    `INSERT INTO "ApiKey" (name, prefix, hash, "storeId") SELECT 'bench till', substr(k, 4, 8), h, NULL FROM unnest($1::text[], $2::text[]) AS t(k, h)`,
    keys,
    keys.map(hashApiKey),
  );
  await seedFillerMembers(db.prisma, config.extraMembers, 800_000_001);
  return { codes, keys };
}

/** Closed loop over `clients` keep-alive connections: warm-up, then `seconds` measured. */
async function drive(label: string, port: number, config: Config, body: (seq: number) => { key: string; json: string }, pid: number): Promise<Measured> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: config.clients });
  let seq = 0;
  let measuring = false;
  let stop = false;
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const send = (seqNo: number) =>
    new Promise<void>((resolve) => {
      const { key, json } = body(seqNo);
      const started = performance.now();
      const request = http.request(
        {
          agent,
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/v1/purchases',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(json),
            authorization: `Bearer ${key}`,
            'idempotency-key': `b-${seqNo}`,
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            if (measuring) {
              if (response.statusCode === 201) latencies.push(performance.now() - started);
              else {
                errors++;
                firstError ??= `${response.statusCode} ${Buffer.concat(chunks).toString().slice(0, 300)}`;
              }
            }
            resolve();
          });
        },
      );
      request.on('error', (error) => {
        if (measuring) {
          errors++;
          firstError ??= error.message;
        }
        resolve();
      });
      request.end(json);
    });
  const loop = async () => {
    while (!stop) await send(seq++);
  };
  const loops = Array.from({ length: config.clients }, loop);
  await new Promise((resolve) => setTimeout(resolve, WARMUP_MS));
  const cpuBefore = cpuMsOf(pid);
  measuring = true;
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, config.seconds * 1000));
  measuring = false;
  const wallS = (performance.now() - started) / 1000;
  const cpuMs = cpuMsOf(pid) - cpuBefore;
  stop = true;
  await Promise.all(loops);
  agent.destroy();
  return {
    label,
    requests: latencies.length,
    rps: latencies.length / wallS,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    errors,
    ...(firstError ? { firstError } : {}),
    serverCpuMsPerReq: cpuMs / Math.max(1, latencies.length),
    serverRssBytes: rssOf(pid),
    load: loadavg()[0] as number,
  };
}

async function pgbenchN(db: TestDatabase, config: Config): Promise<Measured> {
  const init = await runProcess('pgbench', ['-i', '-s', '1', '-q', db.url]);
  if (init.code !== 0) throw new BenchFailure(`pgbench -i exited with ${init.code}:\n${init.stderr}`);
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
  return {
    label: 'pgbench -N',
    requests: Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1]),
    rps: tps,
    // pgbench reports the mean only.
    p50Ms: Number(/latency average = ([\d.]+) ms/.exec(stdout)?.[1]),
    p99Ms: Number.NaN,
    errors: Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0),
    serverCpuMsPerReq: Number.NaN,
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
    const loyalty = await drive('loyalty app', appPort, config, purchase, app.pid);
    await app.stop();
    app = undefined;

    const barePort = await freePort();
    bare = await startBare(db, barePort);
    uses.clear();
    const bareRow = await drive('bare Fastify + 1 INSERT', barePort, config, purchase, bare.child.pid as number);
    await bare.stop();
    bare = undefined;

    const pgbench = await pgbenchN(db, config);

    await db.prisma.$executeRawUnsafe('ANALYZE');
    const violations = await ledgerViolations(db.prisma);
    if (violations.length > 0) throw new BenchFailure(`ledger invariants broken after the run:\n${violations.join('\n')}`);
    return report(config, loyalty, bareRow, pgbench);
  } finally {
    await app?.stop();
    await bare?.stop();
    await fake.close();
    await dropDatabase(db);
    await removeQueueKeys(prefix);
  }
}

function report(config: Config, loyalty: Measured, bare: Measured, pgbench: Measured): BenchResult {
  const row = (m: Measured) => [
    m.label,
    String(m.requests),
    fixed(m.rps),
    fixed(m.p50Ms),
    fixed(m.p99Ms),
    String(m.errors),
    fixed(m.serverCpuMsPerReq, 2),
    Number.isFinite(m.serverRssBytes) ? mib(m.serverRssBytes) : '',
  ];
  const vsPgbench = loyalty.rps / pgbench.rps;
  const lines = [
    `POST /v1/purchases (spend 10 points + earn) over ${config.clients} keep-alive connections, closed loop, ${config.seconds} s per row after ${WARMUP_MS / 1000} s of warm-up; ` +
      `${config.members} members, ${API_KEYS} API keys; each server in its own process with NODE_ENV=production.`,
    `Growth: ${config.extraMembers} more members in the tables, ${config.history} more entries per purchasing member; load average at the end of the loyalty row: ${fixed(loyalty.load, 2)}.`,
    '',
    formatTable(['row', 'requests', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'server CPU ms/req', 'server RSS'], [row(loyalty), row(bare), row(pgbench)]),
    '(pgbench: the p50 column is its mean latency; it reports no percentiles.)',
    '',
    `loyalty / pgbench -N: ${ratio(loyalty.rps, pgbench.rps)} (goal >= ${GOAL}x: ${vsPgbench >= GOAL ? 'met' : 'MISSED'}; 0.013x before issue 12)`,
    `loyalty / bare Fastify + 1 INSERT: ${ratio(loyalty.rps, bare.rps)}`,
    `bare Fastify / pgbench -N: ${ratio(bare.rps, pgbench.rps)}`,
    ...(loyalty.firstError ? [`first loyalty error: ${loyalty.firstError}`] : []),
    ...(bare.firstError ? [`first bare error: ${bare.firstError}`] : []),
    'Ledger invariants after the run: 0 violations.',
  ];
  return {
    report: lines.join('\n'),
    headline: {
      'purchases/s': fixed(loyalty.rps),
      'p99 ms': fixed(loyalty.p99Ms),
      'vs pgbench -N': ratio(loyalty.rps, pgbench.rps),
      'vs bare Fastify': ratio(loyalty.rps, bare.rps),
      'CPU ms/purchase': fixed(loyalty.serverCpuMsPerReq, 2),
      members: String(config.members + config.extraMembers),
      'entries/member': String(config.history + 1),
    },
  };
}
