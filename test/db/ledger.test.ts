import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRepositories, PrismaUnitOfWork } from '../../src/db/repositories.js';
import { systemClock } from '../../src/domain/clock.js';
import { DomainError, type ErrorCode } from '../../src/domain/errors.js';
import { type PostPlan, planPost } from '../../src/domain/ledger/posting.js';
import type { CreditCommand, DebitCommand, LedgerCommand, PostResult } from '../../src/domain/ledger/types.js';
import type { LedgerRepository } from '../../src/domain/ports.js';
import { type Prisma, PrismaClient } from '../../src/generated/prisma/client.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { ledgerViolations } from '../support/ledger-invariants.js';

/**
 * The ledger on real PostgreSQL (PGlite runs one transaction at a time, so it cannot show
 * races): concurrent spends never overdraw, replays write once, a random concurrent mix keeps
 * every invariant, spends draw the soonest-expiring lots first, the database itself refuses a
 * negative balance, and a unit of work rolls back everything it posted.
 */

let db: TestDatabase;
let pool: pg.Pool;
let prisma: PrismaClient;
let ledger: LedgerRepository;

beforeAll(async () => {
  // createTestDatabase owns the database (create, migrate, drop). The work below runs on a pool
  // of our own with 20 connections, so that up to 20 transactions really run at once and contend
  // for row locks, and so that we can wait until every connection has really closed before the
  // database is dropped: pg's Pool.end() resolves before its sockets close, and DROP DATABASE
  // ... WITH (FORCE) would then kill the stragglers, which surfaces as uncaught errors.
  db = await createTestDatabase({ poolSize: 2 });
  pool = new pg.Pool({ connectionString: db.url, max: 20 });
  // Same transaction limits as src/db/client.ts: 1000 replays queue behind one row lock.
  prisma = new PrismaClient({ adapter: new PrismaPg(pool), transactionOptions: { maxWait: 30_000, timeout: 30_000 } });
  ledger = makeRepositories(prisma, systemClock).ledger;
});

afterAll(async () => {
  if (prisma) await prisma.$disconnect();
  if (pool) await endPool(pool);
  await db?.drop();
});

/** Ends the pool and resolves once every client's connection has closed. */
async function endPool(target: pg.Pool): Promise<void> {
  let open = target.totalCount;
  const closed = new Promise<void>((resolve) => {
    if (open === 0) resolve();
    target.on('remove', () => {
      open -= 1;
      if (open === 0) resolve();
    });
  });
  await target.end();
  await closed;
}

const DAY = 86_400_000;
// Fixed instants, so that expiry order does not depend on when the test runs.
const T0 = Date.UTC(2031, 0, 1);
const inDays = (days: number): Date => new Date(T0 + days * DAY);

let memberSeq = 0;
async function newMember(): Promise<number> {
  memberSeq += 1;
  const member = await prisma.member.create({
    data: { telegramId: BigInt(1_000_000 + memberSeq), code: `LEDGER${memberSeq}`, locale: 'ru', status: 'ACTIVE' },
  });
  return member.id;
}

let keySeq = 0;
const newKey = (prefix: string): string => `${prefix}:${++keySeq}`;

function credit(memberId: number, amount: number, expiresAt: Date | null, extra: Partial<CreditCommand> = {}): CreditCommand {
  return { kind: 'credit', type: 'EARN', memberId, amount, expiresAt, idempotencyKey: newKey('credit'), actor: { type: 'SYSTEM' }, ...extra };
}

function debit(memberId: number, amount: number, extra: Partial<DebitCommand> = {}): DebitCommand {
  return { kind: 'debit', type: 'SPEND', memberId, amount, idempotencyKey: newKey('debit'), actor: { type: 'SYSTEM' }, ...extra };
}

/** What a promise rejected with; fails the test when it resolves instead. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (reason: unknown) => reason,
  );
}

/** The DomainError code a promise rejected with; rethrows any other error. */
async function rejectionCode(promise: Promise<unknown>): Promise<ErrorCode> {
  const error = await rejectionOf(promise);
  if (!(error instanceof DomainError)) throw error;
  return error.code;
}

const codeOf = (result: PromiseSettledResult<unknown>): string =>
  result.status === 'fulfilled' ? 'ok' : result.reason instanceof DomainError ? result.reason.code : String(result.reason);

function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

async function balanceOf(memberId: number): Promise<number> {
  return (await prisma.member.findUniqueOrThrow({ where: { id: memberId } })).balance;
}

/** Everything a member's ledger holds, read straight from the tables. */
async function snapshot(memberId: number) {
  const [balance, entries, lots, allocations] = await Promise.all([
    balanceOf(memberId),
    prisma.ledgerEntry.findMany({ where: { memberId }, orderBy: { id: 'asc' } }),
    prisma.pointLot.findMany({ where: { memberId }, orderBy: { id: 'asc' } }),
    prisma.lotAllocation.findMany({ where: { entry: { memberId } }, orderBy: [{ entryId: 'asc' }, { lotId: 'asc' }] }),
  ]);
  return { balance, entries, lots, allocations };
}

/** Which lots an entry drew from, as lot id -> points. */
async function drawnBy(entryId: number): Promise<Record<number, number>> {
  const rows = await prisma.lotAllocation.findMany({ where: { entryId } });
  return Object.fromEntries(rows.map((row) => [row.lotId, row.amount]));
}

/** Small, fast, seedable PRNG (mulberry32): the same seed replays the same operations. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Runs `work` over the items with at most `concurrency` in flight and settles every one. */
async function settlePool<T, R>(items: readonly T[], concurrency: number, work: (item: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      try {
        results[index] = { status: 'fulfilled', value: await work(items[index] as T) };
      } catch (reason) {
        results[index] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

/**
 * Resolves once some session of this database waits on a lock, i.e. a transaction started
 * elsewhere has reached the point where it must wait for ours. A condition with a deadline,
 * not a sleep: each round is one query.
 */
async function untilSomeoneWaitsForALock(deadlineMs = 10_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const [row] = await prisma.$queryRaw<{ waiting: number }[]>`
      SELECT count(*)::int AS waiting FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event_type = 'Lock'`;
    if ((row?.waiting ?? 0) > 0) return;
    if (Date.now() > deadline) throw new Error('no session started waiting on a lock before the deadline');
  }
}

describe('concurrent spends', () => {
  it('100 spends of 30 against 1000 points: exactly 33 succeed, the rest are refused, the balance never goes negative', async () => {
    const memberId = await newMember();
    // Several lots with different expiries (one never expires), so that spends cross lots.
    const lots: [number, Date | null][] = [
      [250, inDays(90)],
      [125, inDays(10)],
      [300, null],
      [205, inDays(30)],
      [120, inDays(10)],
    ];
    for (const [amount, expiresAt] of lots) await ledger.post(credit(memberId, amount, expiresAt));
    expect(await balanceOf(memberId)).toBe(1000);

    const spends = Array.from({ length: 100 }, () => debit(memberId, 30));
    const results = await Promise.allSettled(spends.map((command) => ledger.post(command)));

    const k = Math.floor(1000 / 30);
    expect(countBy(results, codeOf)).toEqual({ ok: k, INSUFFICIENT_POINTS: 100 - k });
    const succeeded = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    expect(succeeded.every((result) => !result.replayed && result.entry.amount === -30)).toBe(true);
    // Each success saw the balance its predecessor left: 970, 940, ..., 10, each exactly once.
    const balancesAfter = succeeded.map((result) => result.entry.balanceAfter).sort((a, b) => b - a);
    expect(balancesAfter).toEqual(Array.from({ length: k }, (_, i) => 1000 - 30 * (i + 1)));

    const after = await snapshot(memberId);
    expect(after.balance).toBe(1000 - 30 * k);
    expect(after.entries).toHaveLength(lots.length + k);
    expect(Math.min(...after.entries.map((entry) => entry.balanceAfter))).toBe(1000 - 30 * k);
    expect(after.lots.reduce((sum, lot) => sum + lot.remaining, 0)).toBe(1000 - 30 * k);
    expect(after.allocations.reduce((sum, allocation) => sum + allocation.amount, 0)).toBe(30 * k);
    expect(await ledgerViolations(prisma)).toEqual([]);
  });
});

describe('idempotent replays', () => {
  it('the same credit posted 1000 times at once writes one entry and one lot and returns it every time', async () => {
    const memberId = await newMember();
    const command = credit(memberId, 70, inDays(30));
    const results = await Promise.all(Array.from({ length: 1000 }, () => ledger.post({ ...command })));

    expect(new Set(results.map((result) => result.entry.id)).size).toBe(1);
    expect(results.filter((result) => !result.replayed)).toHaveLength(1);
    expect(results.every((result) => result.entry.amount === 70 && result.entry.balanceAfter === 70)).toBe(true);

    const after = await snapshot(memberId);
    expect(after.balance).toBe(70);
    expect(after.entries.map((entry) => entry.id)).toEqual([results[0]?.entry.id]);
    expect(after.lots.map((lot) => [lot.amount, lot.remaining])).toEqual([[70, 70]]);
  });

  it('the same debit posted 1000 times at once draws once', async () => {
    const memberId = await newMember();
    await ledger.post(credit(memberId, 100, inDays(30)));
    const command = debit(memberId, 40);
    const results = await Promise.all(Array.from({ length: 1000 }, () => ledger.post({ ...command })));

    expect(new Set(results.map((result) => result.entry.id)).size).toBe(1);
    expect(results.filter((result) => !result.replayed)).toHaveLength(1);
    expect(results.every((result) => result.entry.amount === -40 && result.entry.balanceAfter === 60)).toBe(true);

    const after = await snapshot(memberId);
    expect(after.balance).toBe(60);
    expect(after.entries).toHaveLength(2);
    expect(after.lots.map((lot) => lot.remaining)).toEqual([60]);
    expect(after.allocations.map((allocation) => allocation.amount)).toEqual([40]);
  });

  it('a later replay returns the first result unchanged, though the balance has moved since', async () => {
    const memberId = await newMember();
    const earn = credit(memberId, 50, null);
    const earned = await ledger.post(earn);
    const spend = debit(memberId, 20);
    const spent = await ledger.post(spend);
    await ledger.post(credit(memberId, 5, null));

    expect(await ledger.post({ ...earn })).toEqual({ entry: earned.entry, replayed: true } satisfies PostResult);
    expect(await ledger.post({ ...spend })).toEqual({ entry: spent.entry, replayed: true } satisfies PostResult);
    expect(await balanceOf(memberId)).toBe(35);
  });

  it('a key reused with another amount, type, direction or member is refused as IDEMPOTENCY_CONFLICT and writes nothing', async () => {
    const memberId = await newMember();
    const otherId = await newMember();
    await ledger.post(credit(otherId, 500, null));
    const earn = credit(memberId, 100, inDays(30));
    await ledger.post(earn);
    const spend = debit(memberId, 30);
    await ledger.post(spend);
    const before = { member: await snapshot(memberId), other: await snapshot(otherId) };

    const conflicting: LedgerCommand[] = [
      { ...earn, amount: 101 },
      { ...earn, amount: 99 },
      { ...earn, type: 'BONUS' },
      { ...earn, memberId: otherId },
      debit(memberId, 100, { idempotencyKey: earn.idempotencyKey, type: 'ADJUST' }),
      { ...spend, amount: 29 },
      { ...spend, type: 'ADJUST' },
      { ...spend, memberId: otherId },
      credit(memberId, 30, null, { idempotencyKey: spend.idempotencyKey, type: 'ADJUST' }),
    ];
    for (const command of conflicting) {
      expect(await rejectionCode(ledger.post(command)), JSON.stringify(command)).toBe('IDEMPOTENCY_CONFLICT');
    }
    expect({ member: await snapshot(memberId), other: await snapshot(otherId) }).toEqual(before);
  });

  // Only capped debits (upToBalance) may record less than they asked for; a plain spend key
  // reused for a different amount is a different command.
  it('a spend key reused for a larger spend is refused too', async () => {
    const memberId = await newMember();
    await ledger.post(credit(memberId, 100, null));
    const spend = debit(memberId, 30);
    await ledger.post(spend);
    const before = await snapshot(memberId);

    expect(await rejectionCode(ledger.post({ ...spend, amount: 31 }))).toBe('IDEMPOTENCY_CONFLICT');
    expect(await snapshot(memberId)).toEqual(before);
  });

  /**
   * Member A's transaction posts key K and stays open; member B then posts K. B locks a different
   * member row, so nothing serialises it behind A: it does not see A's uncommitted entry, tries
   * to insert K, and waits on the unique index until A commits.
   */
  async function raceOneKeyAcrossMembers() {
    const a = await newMember();
    const b = await newMember();
    const key = newKey('race');
    let second: Promise<PostResult> | undefined;
    const first = await new PrismaUnitOfWork(prisma, systemClock).run(async (repos) => {
      const posted = await repos.ledger.post(credit(a, 10, null, { idempotencyKey: key }));
      second = ledger.post(credit(b, 10, null, { idempotencyKey: key }));
      // Keep B's rejection from counting as unhandled before we await it below.
      second.catch(() => undefined);
      await untilSomeoneWaitsForALock();
      return posted;
    });
    const error = await rejectionOf(second as Promise<PostResult>);
    return { a, b, key, first, error };
  }

  it('a key raced by two members at once is written once, for the first; the other is refused and writes nothing', async () => {
    const { a, b, key, first, error } = await raceOneKeyAcrossMembers();
    expect(first.replayed).toBe(false);
    expect(error).toBeInstanceOf(Error);
    expect(await prisma.ledgerEntry.findMany({ where: { idempotencyKey: key }, select: { id: true, memberId: true } })).toEqual([
      { id: first.entry.id, memberId: a },
    ]);
    expect(await snapshot(b)).toMatchObject({ balance: 0, entries: [], lots: [] });
  });

  // The member locks do not meet, so the unique index decides; the loser must get the domain
  // error (409 over HTTP), not a raw database error.
  it('a key raced by two members at once: the loser is told IDEMPOTENCY_CONFLICT', async () => {
    const { error } = await raceOneKeyAcrossMembers();
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe('IDEMPOTENCY_CONFLICT');
  });
});

describe('a random concurrent mix', () => {
  interface Op {
    command: LedgerCommand;
    /** Index of the op this one replays, if it is a replay. */
    replayOf?: number;
  }

  function generate(random: () => number, members: readonly number[], count: number): Op[] {
    const int = (min: number, max: number): number => min + Math.floor(random() * (max - min + 1));
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const expiry = (): Date | null => (random() < 0.25 ? null : inDays(int(-5, 365)));
    const ops: Op[] = [];
    // Guaranteed coverage whatever the seed: one spend per member that no balance can cover,
    // and one closing debit that takes whatever there is (possibly nothing).
    for (const memberId of members) {
      ops.push({ command: debit(memberId, 1_000_000) });
      ops.push({ command: debit(memberId, 1_000_000, { type: 'CLOSE', upToBalance: true }) });
    }
    while (ops.length < count) {
      const memberId = pick(members);
      const roll = random();
      if (roll < 0.35) {
        ops.push({ command: credit(memberId, int(1, 200), expiry(), { type: pick(['EARN', 'BONUS', 'REFUND'] as const) }) });
      } else if (roll < 0.45) {
        ops.push({ command: credit(memberId, int(1, 100), expiry(), { type: 'ADJUST', actor: { type: 'ADMIN', id: 'admin-1' }, reason: 'fix' }) });
      } else if (roll < 0.7) {
        ops.push({ command: debit(memberId, int(1, 250)) });
      } else if (roll < 0.8) {
        ops.push({ command: debit(memberId, int(0, 300), { type: pick(['REVERSE', 'EXPIRE', 'CLOSE'] as const), upToBalance: true }) });
      } else if (roll < 0.88) {
        ops.push({ command: debit(memberId, int(1, 80), { type: 'ADJUST', actor: { type: 'ADMIN', id: 'admin-1' }, reason: 'fix' }) });
      } else {
        // A replay of an earlier op: right behind it (so the two likely run at once) or later.
        const original = random() < 0.5 ? ops.length - 1 : int(0, ops.length - 1);
        ops.push({ command: { ...(ops[original] as Op).command }, replayOf: original });
      }
    }
    return ops;
  }

  it('keeps every invariant across ~10 members, with replays; a close-out leaves every lot empty', async () => {
    const seed = Number(process.env.LEDGER_SEED ?? Math.floor(Math.random() * 2 ** 31));
    if (!Number.isSafeInteger(seed)) throw new Error(`LEDGER_SEED must be an integer, got ${process.env.LEDGER_SEED}`);
    console.log(`ledger mix: seed ${seed} (rerun with LEDGER_SEED=${seed})`);
    const members: number[] = [];
    for (let i = 0; i < 10; i += 1) members.push(await newMember());
    const ops = generate(mulberry32(seed), members, 700);

    const results = await settlePool(ops, 20, (op) => ledger.post(op.command));

    const context = `seed ${seed}`;
    // Only plain debits may be refused, and only for want of points.
    const unexpected = results.flatMap((result, i) => {
      const command = (ops[i] as Op).command;
      if (result.status === 'fulfilled') return [];
      const allowed = command.kind === 'debit' && !command.upToBalance && codeOf(result) === 'INSUFFICIENT_POINTS';
      return allowed ? [] : [`op ${i} ${JSON.stringify(command)}: ${String(result.reason)}`];
    });
    expect(unexpected, context).toEqual([]);

    // Every success wrote what it was asked to: credits exactly, plain debits exactly,
    // upToBalance debits anything from nothing to the amount asked.
    const wrongAmounts = results.flatMap((result, i) => {
      if (result.status !== 'fulfilled') return [];
      const { command } = ops[i] as Op;
      const { amount } = result.value.entry;
      const right =
        command.kind === 'credit' ? amount === command.amount : command.upToBalance ? amount <= 0 && amount >= -command.amount : amount === -command.amount;
      return right ? [] : [`op ${i} ${JSON.stringify(command)} wrote ${amount}`];
    });
    expect(wrongAmounts, context).toEqual([]);

    // Per key: every success returns the same entry, and exactly one of them wrote it.
    const byKey = new Map<string, PostResult[]>();
    results.forEach((result, i) => {
      if (result.status !== 'fulfilled') return;
      const key = (ops[i] as Op).command.idempotencyKey;
      byKey.set(key, [...(byKey.get(key) ?? []), result.value]);
    });
    const badKeys = [...byKey].filter(([, posted]) => new Set(posted.map((p) => p.entry.id)).size !== 1 || posted.filter((p) => !p.replayed).length !== 1);
    expect(
      badKeys.map(([key]) => key),
      context,
    ).toEqual([]);

    // What the callers were told adds up to what the database holds.
    const written = [...byKey.values()].map((posted) => (posted[0] as PostResult).entry);
    const entryCount = await prisma.ledgerEntry.count({ where: { memberId: { in: members } } });
    expect(entryCount, context).toBe(written.length);
    for (const memberId of members) {
      const told = written.filter((entry) => entry.memberId === memberId).reduce((sum, entry) => sum + entry.amount, 0);
      expect(await balanceOf(memberId), `${context}, member ${memberId}`).toBe(told);
    }
    expect(await ledgerViolations(prisma), context).toEqual([]);

    const outcomes = countBy(results, (result) =>
      result.status === 'rejected' ? codeOf(result) : result.value.replayed ? 'replayed' : result.value.entry.amount === 0 ? 'took nothing' : 'written',
    );
    console.log(`ledger mix: ${ops.length} ops, ${ops.filter((op) => op.replayOf !== undefined).length} replays issued, outcomes`, outcomes);
    expect(outcomes.INSUFFICIENT_POINTS, context).toBeGreaterThanOrEqual(members.length);
    expect(outcomes.replayed, context).toBeGreaterThan(0);

    // Close every account at once: each balance goes to 0, every lot empties, invariants hold.
    await Promise.all(members.map((memberId) => ledger.post(debit(memberId, 1_000_000, { type: 'CLOSE', upToBalance: true }))));
    for (const memberId of members) expect(await balanceOf(memberId), context).toBe(0);
    expect(await prisma.pointLot.count({ where: { memberId: { in: members }, remaining: { gt: 0 } } }), context).toBe(0);
    expect(await ledgerViolations(prisma), context).toEqual([]);
  });
});

describe('ledgerViolations', () => {
  /** Runs `corrupt` in a transaction, returns what the checker sees there, and rolls back. */
  async function violationsAfter(corrupt: (tx: Prisma.TransactionClient) => Promise<unknown>, limitPerCheck?: number): Promise<string[]> {
    const rollback = new Error('rollback');
    let seen: string[] = [];
    const outcome = await rejectionOf(
      prisma.$transaction(async (tx) => {
        await corrupt(tx);
        seen = await ledgerViolations(tx, limitPerCheck === undefined ? {} : { limitPerCheck });
        throw rollback;
      }),
    );
    expect(outcome).toBe(rollback);
    return seen;
  }

  it('sees each kind of corruption, and nothing once it is rolled back', async () => {
    const memberId = await newMember();
    const otherId = await newMember();
    await ledger.post(credit(otherId, 10, null));
    const first = await ledger.post(credit(memberId, 100, inDays(5)));
    const second = await ledger.post(credit(memberId, 50, null));
    const spent = await ledger.post(debit(memberId, 120));
    await ledger.post(credit(memberId, 7, inDays(9)));
    const [firstLot] = await prisma.pointLot.findMany({ where: { entryId: first.entry.id } });
    const lotId = firstLot?.id as number;
    expect(await ledgerViolations(prisma)).toEqual([]);

    const balanceBumped = await violationsAfter((tx) => tx.$executeRaw`UPDATE "Member" SET balance = balance + 5 WHERE id IN (${memberId}, ${otherId})`, 1);
    expect(balanceBumped).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^balance vs entries: member \d+: balance \d+ but its entries sum to \d+$/),
        'balance vs entries: ... and 1 more',
        expect.stringMatching(/^balance vs lots: /),
        expect.stringMatching(/^last balanceAfter: /),
      ]),
    );

    const lotGrown = await violationsAfter((tx) => tx.$executeRaw`UPDATE "PointLot" SET remaining = remaining + 1 WHERE "entryId" = ${second.entry.id}`);
    expect(lotGrown).toEqual(
      expect.arrayContaining([expect.stringMatching(/^balance vs lots: member /), expect.stringMatching(/^lot vs its allocations: lot \d+: remaining /)]),
    );

    const allocationLost = await violationsAfter(
      (tx) => tx.$executeRaw`DELETE FROM "LotAllocation" WHERE "entryId" = ${spent.entry.id} AND "lotId" = ${lotId}`,
    );
    expect(allocationLost).toEqual(
      expect.arrayContaining([
        `debit allocations: debit entry ${spent.entry.id} (SPEND -120): allocations sum to 20, expected 120`,
        expect.stringMatching(new RegExp(`^lot vs its allocations: lot ${lotId}: remaining 0 but amount 100 minus allocations 0 is 100$`)),
      ]),
    );

    const historyRewritten = await violationsAfter(
      (tx) => tx.$executeRaw`UPDATE "LedgerEntry" SET "balanceAfter" = "balanceAfter" + 1 WHERE id = ${spent.entry.id}`,
    );
    expect(historyRewritten).toEqual([expect.stringMatching(new RegExp(`^running balance: entry ${spent.entry.id} of member ${memberId}: `))]);

    const lotMoved = await violationsAfter((tx) => tx.$executeRaw`UPDATE "PointLot" SET "memberId" = ${otherId} WHERE id = ${lotId}`);
    expect(lotMoved).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^lot belongs to a credit of the same size: /),
        expect.stringMatching(/^allocation direction and owner: /),
      ]),
    );

    expect(await ledgerViolations(prisma)).toEqual([]);
  });
});

describe('FIFO', () => {
  it('spends draw the soonest-expiring lots first, never-expiring last, ties by lot id', async () => {
    const memberId = await newMember();
    const lot = async (amount: number, expiresAt: Date | null): Promise<number> => {
      const { entry } = await ledger.post(credit(memberId, amount, expiresAt));
      return (await prisma.pointLot.findUniqueOrThrow({ where: { entryId: entry.id } })).id;
    };
    // Created in an order unrelated to the spending order.
    const l1 = await lot(100, inDays(60));
    const l2 = await lot(50, null);
    const l3 = await lot(80, inDays(10));
    const l4 = await lot(30, inDays(60)); // same expiry as l1: after it (higher id)
    const l5 = await lot(40, null); // never expires, like l2: after it
    const l6 = await lot(20, inDays(5));
    expect((await ledger.openLots(memberId)).map((open) => open.id)).toEqual([l6, l3, l1, l4, l2, l5]);

    const spend = async (amount: number) => drawnBy((await ledger.post(debit(memberId, amount))).entry.id);
    expect(await spend(10)).toEqual({ [l6]: 10 });
    expect(await spend(50)).toEqual({ [l6]: 10, [l3]: 40 });
    expect(await spend(100)).toEqual({ [l3]: 40, [l1]: 60 });
    // The newest lot expires soonest of all, so it is drawn first.
    const l7 = await lot(15, inDays(1));
    expect(await spend(60)).toEqual({ [l7]: 15, [l1]: 40, [l4]: 5 });
    expect(await spend(35)).toEqual({ [l4]: 25, [l2]: 10 });
    // Nothing left but the 80 never-expiring points; an upToBalance debit asks for more.
    const closed = await ledger.post(debit(memberId, 500, { type: 'CLOSE', upToBalance: true }));
    expect(closed.entry.amount).toBe(-80);
    expect(await drawnBy(closed.entry.id)).toEqual({ [l2]: 40, [l5]: 40 });

    const empty = await ledger.post(debit(memberId, 500, { type: 'CLOSE', upToBalance: true }));
    expect(empty.entry).toMatchObject({ amount: 0, balanceAfter: 0 });
    expect(await drawnBy(empty.entry.id)).toEqual({});
    expect(await ledger.openLots(memberId)).toEqual([]);
    expect(await ledgerViolations(prisma)).toEqual([]);
  });
});

describe('the database executes the domain plan', () => {
  // ledger_post mirrors planPost's take and FIFO draw in SQL: on random lots (ties, never-expiring
  // ones, already drawn ones) and random debits, both must come to the same entries and draws.
  it('random lots and debits: ledger_post writes what planPost plans', async () => {
    const seed = Number(process.env.LEDGER_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const random = mulberry32(seed);
    const int = (min: number, max: number): number => min + Math.floor(random() * (max - min + 1));
    for (let round = 0; round < 5; round += 1) {
      const memberId = await newMember();
      for (let i = int(1, 8); i > 0; i -= 1) {
        const expiresAt = random() < 0.25 ? null : inDays(int(0, 4) * 10);
        await ledger.post(credit(memberId, int(1, 60), expiresAt));
      }
      for (let i = 0; i < 6; i += 1) {
        const command = debit(memberId, int(0, 90), random() < 0.3 ? { type: 'CLOSE', upToBalance: true } : {});
        if (command.amount === 0 && !command.upToBalance) continue;
        const balance = await balanceOf(memberId);
        let plan: PostPlan | ErrorCode;
        try {
          plan = planPost(command, balance, await ledger.openLots(memberId));
        } catch (error) {
          plan = (error as DomainError).code;
        }
        const posted = await ledger.post(command).then(
          async ({ entry }) => ({ amount: entry.amount, balanceAfter: entry.balanceAfter, allocations: await drawnBy(entry.id) }),
          (error: unknown) => (error as DomainError).code,
        );
        const planned = typeof plan === 'string' ? plan : { ...plan, allocations: Object.fromEntries(plan.allocations.map((a) => [a.lotId, a.amount])) };
        expect(posted, `seed ${seed}, ${JSON.stringify(command)}`).toEqual(planned);
      }
    }
    expect(await ledgerViolations(prisma)).toEqual([]);
  });
});

describe("the Balance screen's standing", () => {
  it('is the nearest expiry of open points (ties summed, spent lots skipped) and the qualifying total, in one query', async () => {
    const memberId = await newMember();
    const members = makeRepositories(prisma, systemClock).members;
    expect(await members.standing(memberId, { metric: 'pointsEarned', since: null })).toEqual({ qualifyingTotal: 0, nearestExpiry: null });
    await ledger.post(credit(memberId, 40, inDays(5)));
    await ledger.post(credit(memberId, 30, inDays(9)));
    await ledger.post(credit(memberId, 20, inDays(9)));
    await ledger.post(credit(memberId, 10, null, { type: 'BONUS' }));
    await ledger.post(debit(memberId, 45));
    expect(await members.standing(memberId, { metric: 'pointsEarned', since: null })).toEqual({
      qualifyingTotal: 90,
      nearestExpiry: { at: inDays(9), points: 45 },
    });
    expect(await members.standing(memberId, { metric: 'spend', since: null })).toMatchObject({ qualifyingTotal: 0 });
  });
});

describe('the database itself', () => {
  it('refuses a negative balance, a negative balanceAfter and a lot outside 0..amount, whatever the code does', async () => {
    const memberId = await newMember();
    const { entry } = await ledger.post(credit(memberId, 10, null));

    const refusals = [
      await rejectionOf(prisma.$executeRaw`UPDATE "Member" SET balance = -1 WHERE id = ${memberId}`),
      await rejectionOf(prisma.$executeRaw`UPDATE "LedgerEntry" SET "balanceAfter" = -1 WHERE id = ${entry.id}`),
      await rejectionOf(prisma.$executeRaw`UPDATE "PointLot" SET remaining = -1 WHERE "entryId" = ${entry.id}`),
      await rejectionOf(prisma.$executeRaw`UPDATE "PointLot" SET remaining = amount + 1 WHERE "entryId" = ${entry.id}`),
    ].map(String);
    expect(refusals[0]).toMatch(/Member_balance_non_negative/);
    expect(refusals[1]).toMatch(/LedgerEntry_balance_after_non_negative/);
    expect(refusals[2]).toMatch(/PointLot_remaining_within_amount/);
    expect(refusals[3]).toMatch(/PointLot_remaining_within_amount/);

    const after = await snapshot(memberId);
    expect(after.balance).toBe(10);
    expect(after.lots.map((lot) => lot.remaining)).toEqual([10]);
  });
});

describe('unit of work', () => {
  it('rolls back the entry, the lot, the allocations and the balance when the work throws after posting', async () => {
    const memberId = await newMember();
    await ledger.post(credit(memberId, 40, inDays(3)));
    const before = await snapshot(memberId);
    const earn = credit(memberId, 50, inDays(30));
    const spend = debit(memberId, 60);
    const boom = new Error('boom after posting');

    const error = await rejectionOf(
      new PrismaUnitOfWork(prisma, systemClock).run(async (repos) => {
        await repos.ledger.post(earn);
        await repos.ledger.post(spend);
        // Inside the transaction the posts are real: balance 40 + 50 - 60.
        expect((await repos.members.findById(memberId))?.balance).toBe(30);
        throw boom;
      }),
    );
    expect(error).toBe(boom);

    expect(await snapshot(memberId)).toEqual(before);
    expect(await prisma.ledgerEntry.count({ where: { idempotencyKey: { in: [earn.idempotencyKey, spend.idempotencyKey] } } })).toBe(0);
    // The keys were not consumed: posting them now writes them for the first time.
    expect((await ledger.post(earn)).replayed).toBe(false);
    expect((await ledger.post(spend)).replayed).toBe(false);
    expect(await balanceOf(memberId)).toBe(30);
    expect(await ledgerViolations(prisma)).toEqual([]);
  });
});
