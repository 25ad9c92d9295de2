import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateMemberCode } from '../../src/domain/codes.js';
import type { Member } from '../../src/domain/members/member.js';
import { createApiKey } from '../../src/domain/staff/api-keys.js';
import { referralTokenOf, registerReferral } from '../../src/domain/tasks/referrals.js';
import { removeQueueKeys } from '../support/app.js';
import { childAppArgs } from '../support/child-app.js';
import { expectNoViolations } from '../support/conversation.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { type DomainHarness, domainHarness } from '../support/domain.js';
import { TEST_FINGERPRINT_SECRET, TEST_REDIS_URL } from '../support/env.js';
import { eventually } from '../support/eventually.js';
import { FakeBotApi } from '../support/fake-bot-api/server.js';
import { programWithTasks } from '../support/program.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

/**
 * Nothing that follows a commit is lost (DESIGN principle 8). The app runs as a child process
 * (the shipped example program: tasks and referrals on); a burst of 200 till purchases is cut
 * by SIGKILL, the app starts again and the till replays every request with its key. Then every
 * committed purchase has exactly one task record, one receipt in the Delivery outbox and, for
 * a referred friend, one referral conversion: the events committed with the purchases and the
 * events worker (plus its start-up sweep and BullMQ's stalled-job recovery) did the rest.
 */

const ADMIN = 990_001;
const FIRST_CHAT = 4_100_000;
const PAIRS = 25; // 25 referrers and 25 friends they invited: 50 buyers
const PER_MEMBER = 4; // 200 purchases
const CONCURRENCY = 16;
const KEYS = 8; // tills; the API allows 20 requests/s per key
const QUEUE_PREFIX = `test-outbox-${randomBytes(4).toString('hex')}`;

let fake: FakeBotApi;
let db: TestDatabase;
let h: DomainHarness;
let child: ChildProcess | undefined;
let output = '';

beforeAll(async () => {
  fake = await FakeBotApi.start();
  db = await createTestDatabase({ poolSize: 5 });
  h = await domainHarness(db, { program: programWithTasks(), admins: [ADMIN] });
});
afterAll(async () => {
  child?.kill('SIGKILL');
  await fake?.close();
  await db?.drop();
  await removeQueueKeys(QUEUE_PREFIX);
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The app as `npm start` runs it, with the example program; resolves once it is ready. */
async function startChild(env: Record<string, string> = {}): Promise<{ process: ChildProcess; url: string }> {
  const port = await freePort();
  const started = spawn(process.execPath, childAppArgs(), {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      BOT_TOKEN: fake.token,
      TELEGRAM_API_ROOT: fake.apiRoot,
      DATABASE_URL: db.url,
      FINGERPRINT_SECRET: TEST_FINGERPRINT_SECRET,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      DELIVERY_RATE_PER_SECOND: '1000',
      // The events the killed process held run again once their lock lapses: 3 s here, not 15.
      EVENTS_LOCK_MS: '3000',
      ADMIN_TELEGRAM_IDS: String(ADMIN),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  started.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  child = started;
  const url = `http://127.0.0.1:${port}`;
  await eventually(async () => started.exitCode === null && (await fetch(`${url}/readyz`)).ok, {
    timeoutMs: 60_000,
    what: `the app to start; output:\n${output}`,
  });
  return { process: started, url };
}

const exited = (process: ChildProcess) =>
  new Promise<void>((resolve) => (process.exitCode !== null || process.signalCode !== null ? resolve() : process.once('exit', () => resolve())));

interface TillRequest {
  key: string;
  idempotencyKey: string;
  body: { memberCode: string; storeCode: string; receiptNo: string; amountMinor: number; pointsToSpend: number };
}

/** One till request; a 429 is waited out as a till would. Null when the connection broke (the app died). */
async function send(url: string, request: TillRequest): Promise<{ status: number; purchaseId: number } | null> {
  for (;;) {
    let response: Response;
    try {
      response = await fetch(`${url}/v1/purchases`, {
        method: 'POST',
        headers: { authorization: `Bearer ${request.key}`, 'idempotency-key': request.idempotencyKey, 'content-type': 'application/json' },
        body: JSON.stringify(request.body),
      });
    } catch {
      return null;
    }
    if (response.status === 429) {
      await new Promise((resolve) => setTimeout(resolve, Number(response.headers.get('retry-after') ?? 1) * 1_000));
      continue;
    }
    const json = (await response.json()) as { purchaseId: number };
    return { status: response.status, purchaseId: json.purchaseId };
  }
}

/** Sends the requests, `CONCURRENCY` at a time; `onAnswer` sees each answer as it comes. */
async function burst(url: string, requests: TillRequest[], onAnswer: (answered: number) => void = () => {}) {
  const answers = new Map<string, { status: number; purchaseId: number } | null>();
  let next = 0;
  const lane = async () => {
    while (next < requests.length) {
      const request = requests[next++] as TillRequest;
      const answer = await send(url, request);
      answers.set(request.idempotencyKey, answer);
      if (answer) onAnswer([...answers.values()].filter(Boolean).length);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  return answers;
}

/** Active members with card codes and chats, registered at the harness clock's time. */
async function seedMembers(count: number, firstChat: number): Promise<Member[]> {
  const members: Member[] = [];
  for (let i = 0; i < count; i++) {
    const member = await h.member(firstChat + i);
    await db.prisma.member.update({ where: { id: member.id }, data: { code: generateMemberCode() } });
    members.push((await h.deps.repos.members.findById(member.id)) as Member);
  }
  return members;
}

it('200 till purchases, SIGKILL mid-burst, restart and replay: every committed purchase has its task record, receipt and referral conversion once', async () => {
  // The child runs on the system clock: the members registered just now, referrers first.
  h.clock.set(new Date(Date.now() - 3_600_000));
  const referrers = await seedMembers(PAIRS, FIRST_CHAT);
  h.clock.set(new Date());
  const friends = await seedMembers(PAIRS, FIRST_CHAT + PAIRS);
  for (const [i, friend] of friends.entries()) {
    expect((await registerReferral(h.deps, friend.id, await referralTokenOf(h.deps, referrers[i] as Member))).kind).toBe('linked');
  }
  const keys: string[] = [];
  for (let i = 0; i < KEYS; i++) keys.push((await createApiKey(h.deps, ADMIN, { name: `till ${i}`, storeCode: null })).key);

  // Every member buys PER_MEMBER times for 1 500 RUB (above the referral minimum), interleaved.
  const buyers = [...referrers, ...friends];
  const requests: TillRequest[] = [];
  for (let round = 0; round < PER_MEMBER; round++) {
    for (const [i, member] of buyers.entries()) {
      const n = requests.length;
      requests.push({
        key: keys[n % KEYS] as string,
        idempotencyKey: `burst-${n}`,
        body: { memberCode: member.code, storeCode: 'msk-01', receiptNo: `B-${round}-${i}`, amountMinor: 150_000, pointsToSpend: 0 },
      });
    }
  }

  // The burst, cut by SIGKILL once about half of it has been answered.
  const first = await startChild();
  const answered = await burst(first.url, requests, (count) => {
    if (count === requests.length / 2) first.process.kill('SIGKILL');
  });
  await exited(first.process);
  const committedBefore = await db.prisma.purchase.count();
  expect(committedBefore).toBeGreaterThanOrEqual(requests.length / 2);
  expect(committedBefore).toBeLessThan(requests.length);

  // Start again; the till replays every request with its key.
  const second = await startChild();
  const replayed = await burst(second.url, requests);
  for (const request of requests) {
    const before = answered.get(request.idempotencyKey);
    const again = replayed.get(request.idempotencyKey);
    expect(again?.status === 200 || again?.status === 201).toBe(true);
    // What was answered before is answered the same (a replay), and writes nothing new.
    if (before) expect(again).toEqual({ status: 200, purchaseId: before.purchaseId });
  }

  const purchases = await db.prisma.purchase.findMany({ orderBy: { id: 'asc' } });
  expect(purchases).toHaveLength(requests.length);
  // Every consequence arrives, however the crash cut the first run.
  await eventually(async () => (await db.prisma.domainEvent.count({ where: { status: 'PROCESSED' } })) === requests.length, {
    timeoutMs: 90_000,
    what: 'every purchase event processed',
  });
  expect(await db.prisma.domainEvent.count()).toBe(requests.length);

  // Exactly one record of the purchase-count task per purchase.
  const records = await db.prisma.taskRecord.groupBy({ by: ['eventId'], where: { taskCode: 'three-purchases' }, _count: { _all: true } });
  expect(new Map(records.map((r) => [r.eventId, r._count._all]))).toEqual(new Map(purchases.map((p) => [`purchase:${p.id}`, 1])));

  // Exactly one receipt per purchase in the Delivery outbox.
  const receipts = await db.prisma.delivery.findMany({ where: { kind: 'purchaseRecorded' }, select: { dedupeKey: true, memberId: true } });
  expect(receipts.map((r) => r.dedupeKey).sort()).toEqual(purchases.map((p) => `purchase:${p.id}:receipt`).sort());
  for (const member of buyers) expect(receipts.filter((r) => r.memberId === member.id)).toHaveLength(PER_MEMBER);

  // Every friend's referral converted once, by one of their purchases: one bonus each side,
  // one message each, and the referrer's «invite three friends» task counted the friend once.
  const referralBonuses = await db.prisma.ledgerEntry.findMany({ where: { reason: 'referral' }, select: { memberId: true, amount: true } });
  for (const [i, friend] of friends.entries()) {
    const referrer = referrers[i] as Member;
    const referral = await db.prisma.referral.findUniqueOrThrow({ where: { friendId: friend.id } });
    expect(referral).toMatchObject({ referrerId: referrer.id, status: 'CONVERTED', referrerRewarded: true });
    expect(purchases.filter((p) => p.memberId === friend.id).map((p) => p.id)).toContain(referral.purchaseId);
    expect(referralBonuses.filter((e) => e.memberId === friend.id).map((e) => e.amount)).toEqual([200]);
    expect(referralBonuses.filter((e) => e.memberId === referrer.id).map((e) => e.amount)).toEqual([300]);
    expect(await db.prisma.delivery.count({ where: { kind: 'referralRewarded', memberId: { in: [friend.id, referrer.id] } } })).toBe(2);
    expect(await db.prisma.taskRecord.count({ where: { memberId: referrer.id, taskCode: 'invite-three', eventId: `referral:${referral.id}` } })).toBe(1);
  }
  expect(referralBonuses).toHaveLength(2 * PAIRS);

  child?.kill('SIGTERM');
  await exited(second.process);
  expectNoViolations(fake);
}, 240_000);

/** The app started with its Redis behind a proxy, which then stalls: Redis hangs, as for `stop`. */
async function withHungRedis(shutdownTimeoutMs: number, body: (app: ChildProcess) => Promise<void>): Promise<void> {
  const target = new URL(TEST_REDIS_URL);
  const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
  try {
    output = '';
    const { process: app } = await startChild({ REDIS_URL: proxy.via(TEST_REDIS_URL), SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs) });
    proxy.stall();
    await body(app);
  } finally {
    proxy.restore();
    await proxy.close();
  }
}

it('stops within SHUTDOWN_TIMEOUT_MS when Redis hangs, and says so', async () => {
  await withHungRedis(2_000, async (app) => {
    const stopped = Date.now();
    app.kill('SIGTERM');
    await exited(app);
    // The deadline, not the orchestrator's SIGKILL: a hung Redis cannot keep the process alive.
    expect(Date.now() - stopped).toBeLessThan(15_000);
    expect(app.exitCode).toBe(1);
    expect(output).toContain('shutdown did not finish in time');
  });
}, 90_000);

it('exits at once on a second signal while a stop hangs on Redis', async () => {
  // A deadline far beyond the test's: only the second signal can end this stop in time.
  await withHungRedis(600_000, async (app) => {
    // Whichever the process handles first starts the stop; the other finds it under way.
    app.kill('SIGTERM');
    app.kill('SIGINT');
    await exited(app);
    expect(app.exitCode).toBe(1);
    expect(output).toContain('second signal while stopping');
  });
}, 90_000);
