// Points expiry at scale: BENCH_EXPIRY_LOTS due point lots (default a million) among as many
// that are not due yet (BENCH_EXPIRY_LOTS_PER_MEMBER per member, every other lot due) written
// set-based, then `expirePoints` from the domain times how long it takes to expire the due half
// in batches of BENCH_EXPIRY_BATCH, in BENCH_EXPIRY_LANES lanes at once (default: as the
// scheduled job, EXPIRY_LANES). Beside it, in the same
// run and on a copy of the same lots (same indexes), a plain
//   UPDATE ... SET remaining = 0 WHERE "expiresAt" <= <now> AND remaining > 0
// gives the raw cost of touching those rows: the ratio is what the job's bookkeeping (member
// locks, balances, one EXPIRE entry per member, allocations, notifications) costs on top.
//
// The seed keeps the ledger invariants (one EARN entry per lot, running balances), so the
// invariant check after the run sees only what the expiry did: any violation fails the benchmark.
// The outbox path is the production one: each batch's notices are written to the Delivery outbox
// in the batch's transaction and, after its commit, queued by the unit of work's relay (queueRelay,
// one job per batch) on a real BullMQ queue in Redis (a prefix of its own, removed after), as the
// jobs process does; no delivery worker runs (sending is the delivery benchmarks' part).

import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { PrismaUnitOfWork } from '../src/db/repositories.js';
import { EXPIRY_LANES, expirePoints, type PointsExpiryRun } from '../src/domain/jobs/expire-points.js';
import type { UnitOfWork } from '../src/domain/ports.js';
import { createDeliveryQueue } from '../src/jobs/delivery.js';
import { createEventsQueue, queueRelay } from '../src/jobs/events.js';
import { startRedis } from '../src/redis.js';
import { removeQueueKeys } from '../test/support/app.js';
import { createTestDatabase } from '../test/support/db.js';
import { domainHarness } from '../test/support/domain.js';
import { TEST_REDIS_URL } from '../test/support/env.js';
import { ledgerViolations } from '../test/support/ledger-invariants.js';
import { BenchFailure, type BenchResult, envInt, fixed, formatTable, mib, processCpuMs, ratio } from './lib.js';

interface Config {
  lots: number;
  lotsPerMember: number;
  batchSize: number;
  lanes: number;
}

function readConfig(): Config {
  const lotsPerMember = envInt('BENCH_EXPIRY_LOTS_PER_MEMBER', 5);
  // A million lots means a million due: as many again that are not due sit beside them.
  const wanted = 2 * envInt('BENCH_EXPIRY_LOTS', 1_000_000, lotsPerMember);
  return {
    lots: Math.floor(wanted / lotsPerMember) * lotsPerMember,
    lotsPerMember,
    batchSize: envInt('BENCH_EXPIRY_BATCH', 5000),
    // As the scheduled job runs it (src/jobs/registry.ts) unless told otherwise.
    lanes: envInt('BENCH_EXPIRY_LANES', EXPIRY_LANES),
  };
}

/** The UTC text form the repositories use for timestamp(3) columns. */
const sqlTimestamp = (date: Date) => date.toISOString().replace('T', ' ').replace('Z', '');

const seconds = (since: number) => (performance.now() - since) / 1000;

/**
 * CPU (user + system, ms from /proc) of the PostgreSQL backends serving the bench's database, by
 * pid: where the expiry's work is done, and far steadier than seconds on a shared machine.
 */
async function backendsCpu(prisma: { $queryRawUnsafe<T>(query: string): Promise<T> }): Promise<Map<number, number>> {
  const rows = await prisma.$queryRawUnsafe<{ pid: number }[]>('SELECT pid FROM pg_stat_activity WHERE datname = current_database()');
  const cpu = new Map<number, number>();
  for (const { pid } of rows) {
    try {
      cpu.set(pid, processCpuMs(pid));
    } catch {
      // Gone since the query.
    }
  }
  return cpu;
}

/** Backend CPU spent since `before`, in seconds (a backend that appeared since counts from 0). */
async function backendsCpuSince(prisma: Parameters<typeof backendsCpu>[0], before: Map<number, number>): Promise<number> {
  let ms = 0;
  for (const [pid, now] of await backendsCpu(prisma)) ms += now - (before.get(pid) ?? 0);
  return ms / 1000;
}

/** Peak RSS of this process while `work` runs, sampled every 50 ms. */
async function withPeakRss<T>(work: () => Promise<T>): Promise<{ result: T; peakRss: number }> {
  let peakRss = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }, 50);
  try {
    const result = await work();
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    return { result, peakRss };
  } finally {
    clearInterval(timer);
  }
}

export async function expiry(): Promise<BenchResult> {
  const config = readConfig();
  const members = config.lots / config.lotsPerMember;
  const db = await createTestDatabase({ poolSize: 4 });
  const prefix = `bench-expiry-${randomBytes(4).toString('hex')}`;
  const logger = pino({ level: 'silent' });
  const redis = await startRedis(TEST_REDIS_URL, logger);
  const queue = createDeliveryQueue(redis, prefix);
  const eventsQueue = createEventsQueue(redis, prefix);
  try {
    const harness = await domainHarness(db);
    // Where the run's time goes: the ledger statement, the outbox INSERT (both in the batch's
    // transaction), the commits, and the queue calls (after the commits, behind the run).
    const phases = { ledgerMs: 0, outboxMs: 0, transactionMs: 0, queueMs: 0 };
    const timed =
      <A extends unknown[], R>(fn: (...args: A) => Promise<R>, key: keyof typeof phases) =>
      async (...args: A) => {
        const started = performance.now();
        try {
          return await fn(...args);
        } finally {
          phases[key] += performance.now() - started;
        }
      };
    // The production unit of work: the relay queues what each batch's transaction wrote.
    const relay = queueRelay({ deliveryQueue: queue, eventsQueue }, logger);
    const uow = new PrismaUnitOfWork(db.prisma, harness.clock, relay);
    const timedUow: UnitOfWork = {
      atomic: (work) => uow.atomic(work),
      run: timed(
        (work) =>
          uow.run((repos) => {
            repos.jobs.expireDueLots = timed(repos.jobs.expireDueLots.bind(repos.jobs), 'ledgerMs');
            repos.outbox.notifyMany = timed(repos.outbox.notifyMany.bind(repos.outbox), 'outboxMs');
            return work(repos);
          }),
        'transactionMs',
      ) as UnitOfWork['run'],
    };
    harness.deps.uow = timedUow;
    queue.addBulk = timed(queue.addBulk.bind(queue), 'queueMs');
    const now = sqlTimestamp(harness.clock.now());
    const sql = (text: string, ...params: unknown[]) => db.prisma.$executeRawUnsafe(text, ...params);

    // Seed: members, then lotsPerMember EARN entries each (amounts 10, 11, ...; ids in member
    // then lot order, so each entry's balanceAfter is the running total), then one lot per entry.
    // Even entry ids are due 1..30 days ago, odd ones fall due 1..300 days ahead.
    const seedStarted = performance.now();
    const l = config.lotsPerMember;
    const total = 10 * l + (l * (l - 1)) / 2;
    await sql(
      `INSERT INTO "Member" ("code", "status", "registrationStep", "locale", "name", "tier", "balance", "registeredAt", "updatedAt")
       SELECT 'X' || g, 'ACTIVE'::"MemberStatus", NULL, 'en', 'Bench', 'basic', $1::int, $2::timestamp, $2::timestamp
       FROM generate_series(1, $3::int) AS g`,
      total,
      now,
      members,
    );
    await sql(
      `INSERT INTO "LedgerEntry" ("memberId", "type", "amount", "balanceAfter", "idempotencyKey", "actorType", "createdAt")
       SELECT m.id, 'EARN'::"EntryType", 10 + k, 10 * (k + 1) + k * (k + 1) / 2, 'seed:' || m.id || ':' || k, 'SYSTEM'::"ActorType",
              $1::timestamp - interval '400 days'
       FROM "Member" m CROSS JOIN generate_series(0, $2::int - 1) AS k
       WHERE m.code LIKE 'X%'
       ORDER BY m.id, k`,
      now,
      l,
    );
    await sql(
      `INSERT INTO "PointLot" ("memberId", "entryId", "amount", "remaining", "expiresAt", "createdAt")
       SELECT e."memberId", e.id, e.amount, e.amount,
              CASE WHEN e.id % 2 = 0 THEN $1::timestamp - (1 + e.id % 30) * interval '1 day'
                   ELSE $1::timestamp + (1 + e.id % 300) * interval '1 day' END,
              e."createdAt"
       FROM "LedgerEntry" e WHERE e."idempotencyKey" LIKE 'seed:%'`,
      now,
    );
    const seedS = seconds(seedStarted);

    // The baseline's copy: same columns, defaults, checks and indexes (incl. the partial one).
    const copyStarted = performance.now();
    await sql(`CREATE TABLE "PointLotCopy" (LIKE "PointLot" INCLUDING ALL)`);
    await sql(`INSERT INTO "PointLotCopy" SELECT * FROM "PointLot"`);
    await sql(`VACUUM (ANALYZE) "Member", "LedgerEntry", "PointLot", "PointLotCopy"`);
    const copyS = seconds(copyStarted);
    const [counts] = await db.prisma.$queryRawUnsafe<{ lots: number; due: number; dueMembers: number }[]>(
      `SELECT count(*)::int AS lots, (count(*) FILTER (WHERE "expiresAt" <= $1::timestamp))::int AS due,
              (count(DISTINCT "memberId") FILTER (WHERE "expiresAt" <= $1::timestamp))::int AS "dueMembers"
       FROM "PointLot"`,
      now,
    );
    if (!counts || counts.lots !== config.lots) throw new BenchFailure(`seeding wrote ${counts?.lots ?? 0} lots, expected ${config.lots}`);

    const baselineCpu = await backendsCpu(db.prisma);
    const baselineStarted = performance.now();
    const baselineRows = await sql(`UPDATE "PointLotCopy" SET remaining = 0 WHERE "expiresAt" <= $1::timestamp AND remaining > 0`, now);
    const baselineS = seconds(baselineStarted);
    const baselineCpuS = await backendsCpuSince(db.prisma, baselineCpu);
    await sql(`DROP TABLE "PointLotCopy"`);

    const rssBefore = process.memoryUsage();
    const expiryCpu = await backendsCpu(db.prisma);
    const ownCpu = process.cpuUsage();
    const expiryStarted = performance.now();
    const { result: run, peakRss } = await withPeakRss<PointsExpiryRun>(async () => {
      const result = await expirePoints(harness.deps, { batchSize: config.batchSize, lanes: config.lanes });
      // What the relay still has in flight is part of the run.
      await relay.drain();
      return result;
    });
    const expiryS = seconds(expiryStarted);
    const expiryCpuS = await backendsCpuSince(db.prisma, expiryCpu);
    const ownCpuUsed = process.cpuUsage(ownCpu);
    const ownCpuS = (ownCpuUsed.user + ownCpuUsed.system) / 1e6;
    const rssAfter = process.memoryUsage();
    const [outbox] = await db.prisma.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM "Delivery" WHERE kind = 'pointsExpired'`);
    const notifications = outbox?.n ?? 0;
    const counts0 = await queue.getJobCounts('prioritized', 'waiting', 'delayed');
    const queuedJobs = Object.values(counts0).reduce((sum, n) => sum + n, 0);

    // Fresh statistics first: the checks' plans go badly wrong on the pre-expiry estimates (no
    // debit entries then), e.g. 13 s instead of 0.02 s for one check at 100,000 lots.
    const checkStarted = performance.now();
    await sql('ANALYZE');
    const violations = await ledgerViolations(db.prisma);
    const [left] = await db.prisma.$queryRawUnsafe<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM "PointLot" WHERE "expiresAt" <= $1::timestamp AND remaining > 0`,
      now,
    );
    const checkS = seconds(checkStarted);

    const table = formatTable(
      ['', 'lots', 'members', 'batches', 'seconds', 'lots/s', 'vs UPDATE', 'db CPU s', 'vs UPDATE (CPU)'],
      [
        [
          'plain UPDATE of a copy',
          String(baselineRows),
          '-',
          '1',
          fixed(baselineS, 2),
          fixed(baselineRows / baselineS, 0),
          '1.00x',
          fixed(baselineCpuS, 2),
          '1.00x',
        ],
        [
          `expirePoints (batch ${config.batchSize}, ${config.lanes} lanes)`,
          String(run.lots),
          String(run.members),
          String(run.batches),
          fixed(expiryS, 2),
          fixed(run.lots / expiryS, 0),
          ratio(expiryS, baselineS, 1),
          fixed(expiryCpuS, 2),
          ratio(expiryCpuS, baselineCpuS, 1),
        ],
      ],
    );
    const report = [
      `${counts.lots} lots (${config.lotsPerMember} per member, ${members} members), ${counts.due} due for ${counts.dueMembers} members; ` +
        `seeded in ${fixed(seedS, 1)} s, copied + VACUUM ANALYZE in ${fixed(copyS, 1)} s`,
      '',
      table,
      '',
      `"vs UPDATE" is seconds relative to the plain UPDATE (higher is slower); "db CPU" is the CPU of the database's backends ` +
        `(from /proc), steadier on a busy machine. This process used ${fixed(ownCpuS, 1)} s of CPU during the expiry. expirePoints took ${run.points} points, ` +
        `${notifications} outbox rows written and ${queuedJobs} jobs queued (real outbox and relay), complete: ${run.complete}`,
      `time in (summed over the lanes): batch transactions ${fixed(phases.transactionMs / 1000, 1)} s, of which ledger statements ` +
        `${fixed(phases.ledgerMs / 1000, 1)} s and outbox INSERTs ${fixed(phases.outboxMs / 1000, 1)} s; queue addBulk ${fixed(phases.queueMs / 1000, 1)} s`,
      `load average at the end: ${loadavg()
        .map((n) => n.toFixed(2))
        .join(' ')}`,
      `process RSS before ${mib(rssBefore.rss)}, peak during expiry ${mib(peakRss)}, after ${mib(rssAfter.rss)} (heap used ${mib(rssAfter.heapUsed)})`,
      `ledger invariant violations: ${violations.length}; due lots left with points: ${left?.n ?? '?'} (checked in ${fixed(checkS, 1)} s)`,
    ].join('\n');

    const problems = [
      ...violations.slice(0, 20).map((v) => `invariant: ${v}`),
      ...(run.complete ? [] : ['expirePoints stopped before the end']),
      ...(run.lots !== counts.due ? [`expirePoints expired ${run.lots} lots, ${counts.due} were due`] : []),
      ...(run.members !== counts.dueMembers ? [`expirePoints touched ${run.members} members, ${counts.dueMembers} had due lots`] : []),
      ...(left?.n !== 0 ? [`${left?.n} due lots still hold points`] : []),
      ...(notifications !== counts.dueMembers ? [`${notifications} notifications for ${counts.dueMembers} members`] : []),
    ];
    if (problems.length > 0) throw new BenchFailure(`${problems.join('\n')}\n\n${report}`);
    return {
      report,
      headline: {
        seconds: fixed(expiryS, 1),
        'lots/s': fixed(run.lots / expiryS, 0),
        'vs UPDATE': ratio(expiryS, baselineS, 1),
        'db CPU vs UPDATE': ratio(expiryCpuS, baselineCpuS, 1),
        'peak RSS': mib(peakRss),
        violations: String(violations.length),
      },
    };
  } finally {
    await queue.close();
    await eventsQueue.close();
    await redis.stop();
    await removeQueueKeys(prefix);
    await db.drop();
  }
}
