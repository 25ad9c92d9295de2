import { createHash } from 'node:crypto';
// Ledger transactions/s through the domain on PostgreSQL, beside `pgbench` running a comparable
// script (one conditional row update + one insert, in one transaction) on tables of its own in
// the same database, with the same number of clients, in the same run. Machines are noisy, so
// the numbers that mean something are the domain/pgbench ratios of one run.
//
// Two shapes of load, each with its own pgbench baseline:
//   own members: each client works on its own BENCH_LEDGER_MEMBERS members (throughput);
//   one member:  every client on the same member (the member row lock serialises them).
// Each domain row gets fresh members holding one large never-expiring BONUS lot, so debits
// draw from one lot and rows do not inherit each other's lots.
//
// After all rows the ledger invariants (test/support/ledger-invariants.ts) are checked over
// the whole database: any violation fails the benchmark.
//
// BENCH_LEDGER_CLIENTS (8), BENCH_LEDGER_SECONDS per row (8), BENCH_LEDGER_MEMBERS per client (50).

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { DomainDeps } from '../src/domain/ports.js';
import { recordPurchase } from '../src/domain/purchases/record-purchase.js';
import { issueSpendCode } from '../src/domain/spending/spend-codes.js';
import type { PrismaClient } from '../src/generated/prisma/client.js';
import { createTestDatabase, type TestDatabase } from '../test/support/db.js';
import { domainHarness } from '../test/support/domain.js';
import { ledgerViolations } from '../test/support/ledger-invariants.js';
import { BenchFailure, type BenchResult, envInt, fixed, formatTable, percentile, ratio, runProcess } from './lib.js';

interface Config {
  clients: number;
  seconds: number;
  membersPerClient: number;
}

/** One measured row: transactions completed in `wallS`, and their latencies when known. */
interface Measured {
  label: string;
  transactions: number;
  wallS: number;
  tps: number;
  /** Mean latency (pgbench reports only this); p50/p99 for the domain rows. */
  avgMs: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU of this process (Node: Prisma, pg) per transaction; NaN for pgbench (another process). */
  cpuMsPerTx: number;
  /** Transactions that failed (measured phase only), and the first one's message. */
  errors: number;
  firstError?: string;
}

const WARMUP_PER_CLIENT = 10;
const WARMUP_MAX_MS = 1_000;
const SEED_POINTS = 10_000_000;
const EXPIRES_AT = new Date('2027-11-23T09:00:00Z');

function readConfig(): Config {
  return {
    clients: envInt('BENCH_LEDGER_CLIENTS', 8),
    seconds: envInt('BENCH_LEDGER_SECONDS', 8),
    membersPerClient: envInt('BENCH_LEDGER_MEMBERS', 50),
  };
}

// --- pgbench ---------------------------------------------------------------------------------

/** pgbench's tables: a member with a balance that may not go negative, and its entries. */
const PGBENCH_TABLES = [
  'CREATE TABLE bench_member (id int PRIMARY KEY, balance int NOT NULL CHECK (balance >= 0), updated_at timestamp(3) NOT NULL DEFAULT now())',
  `CREATE TABLE bench_entry (
     id serial PRIMARY KEY,
     member_id int NOT NULL REFERENCES bench_member (id),
     amount int NOT NULL,
     balance_after int NOT NULL,
     created_at timestamp(3) NOT NULL DEFAULT now()
   )`,
  'CREATE INDEX bench_entry_member_created ON bench_entry (member_id, created_at)',
];

/** The pgbench script: `pick` sets :id (pgbench meta-commands), then one transaction. */
const pgbenchScript = (pick: string) => `${pick}
BEGIN;
UPDATE bench_member SET balance = balance + 1, updated_at = now() WHERE id = :id AND balance + 1 >= 0 RETURNING balance \\gset
INSERT INTO bench_entry (member_id, amount, balance_after) VALUES (:id, 1, :balance);
END;
`;

/**
 * The database's own ceiling for a domain credit: pgbench calling ledger_post() itself, one
 * statement per transaction as the app sends it, on members seeded as the domain rows' are.
 * The gap between this row and "ledger.post credit" is the client's (Node, Prisma, pg); the
 * gap between this row and the plain script is the function's work (lock, key lookup, entry,
 * lot, their indexes and foreign keys).
 */
const ledgerPostScript = (pick: string) => `${pick}
\\set k random(1, 1000000000000)
SELECT r.outcome, r.member_balance, (r.entry).* FROM ledger_post(:id, 'credit', 'EARN', 1, false, 'pgbench:' || :client_id || ':' || :k,
  'TILL', NULL, NULL, NULL, NULL, '2027-11-23 09:00:00'::timestamp(3), now()::timestamp(3)) AS r;
`;

async function runPgbench(label: string, db: TestDatabase, config: Config, scriptText: string): Promise<Measured> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-ledger-'));
  try {
    const script = join(dir, 'ledger.sql');
    await writeFile(script, scriptText);
    const jobs = Math.min(2, config.clients);
    const args = ['-n', '-f', script, '-c', String(config.clients), '-j', String(jobs), '-T', String(config.seconds), db.url];
    const { code, stdout, stderr } = await runProcess('pgbench', args);
    const number = (pattern: RegExp) => {
      const match = pattern.exec(stdout);
      return match ? Number(match[1]) : Number.NaN;
    };
    const tps = number(/^tps = ([\d.]+)/m);
    if (code !== 0 || !Number.isFinite(tps)) throw new BenchFailure(`pgbench (${label}) exited with ${code}:\n${stderr || stdout}`);
    const transactions = number(/number of transactions actually processed: (\d+)/);
    const failed = number(/number of failed transactions: (\d+)/);
    return {
      label,
      transactions,
      wallS: transactions / tps,
      tps,
      avgMs: number(/latency average = ([\d.]+) ms/),
      p50Ms: Number.NaN,
      p99Ms: Number.NaN,
      cpuMsPerTx: Number.NaN,
      errors: Number.isFinite(failed) ? failed : 0,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// --- the domain ------------------------------------------------------------------------------

/**
 * `count` fresh active members, each holding one never-expiring BONUS lot of SEED_POINTS, written
 * set-based (member, its credit entry, its lot) so that the ledger invariants hold. Ids in order.
 */
async function seedMembers(prisma: PrismaClient, tag: string, count: number): Promise<number[]> {
  const rows = await prisma.$queryRawUnsafe<{ memberId: number }[]>(
    `WITH m AS (
       INSERT INTO "Member" ("code", "status", "registrationStep", "locale", "name", "tier", "balance", "registeredAt", "updatedAt")
       SELECT $1 || '-' || g, 'ACTIVE'::"MemberStatus", NULL, 'en', 'Bench', 'basic', $2::int, now(), now()
       FROM generate_series(1, $3::int) AS g
       RETURNING id, balance
     ), e AS (
       INSERT INTO "LedgerEntry" ("memberId", "type", "amount", "balanceAfter", "idempotencyKey", "actorType")
       SELECT id, 'BONUS'::"EntryType", balance, balance, 'bench-seed:' || id, 'SYSTEM'::"ActorType" FROM m
       RETURNING id, "memberId", amount
     )
     INSERT INTO "PointLot" ("memberId", "entryId", "amount", "remaining", "expiresAt")
     SELECT "memberId", id, amount, amount, NULL FROM e
     RETURNING "memberId"`,
    `L${tag}`,
    SEED_POINTS,
    count,
  );
  return rows.map((row) => row.memberId).sort((a, b) => a - b);
}

type Operation = (memberId: number, key: string) => Promise<unknown>;

/**
 * `clients` concurrent loops, each one transaction at a time on the member `memberFor(client, i)`,
 * for `seconds` after a short unmeasured warm-up. Failed transactions are counted, not retried.
 */
async function drive(label: string, config: Config, memberFor: (client: number, i: number) => number, op: Operation): Promise<Measured> {
  const tag = label.replace(/\W+/g, '-');
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const counters = Array.from({ length: config.clients }, () => 0);
  const once = async (client: number, measured: boolean) => {
    const i = counters[client] ?? 0;
    counters[client] = i + 1;
    const started = performance.now();
    try {
      await op(memberFor(client, i), `bench:${tag}:${client}:${i}`);
      if (measured) latencies.push(performance.now() - started);
    } catch (error) {
      if (!measured) return;
      errors++;
      firstError ??= (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').trim();
    }
  };
  const clients = Array.from({ length: config.clients }, (_, c) => c);
  const warmupUntil = performance.now() + WARMUP_MAX_MS;
  await Promise.all(
    clients.map(async (c) => {
      for (let i = 0; i < WARMUP_PER_CLIENT && performance.now() < warmupUntil; i++) await once(c, false);
    }),
  );
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + config.seconds * 1000;
  await Promise.all(
    clients.map(async (c) => {
      while (performance.now() < deadline) await once(c, true);
    }),
  );
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return {
    label,
    transactions: latencies.length,
    wallS,
    tps: latencies.length / wallS,
    avgMs: latencies.length > 0 ? latencies.reduce((sum, v) => sum + v, 0) / latencies.length : Number.NaN,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    cpuMsPerTx: (cpu.user + cpu.system) / 1000 / latencies.length,
    errors,
    ...(firstError !== undefined ? { firstError } : {}),
  };
}

interface DomainRow {
  label: string;
  op(deps: DomainDeps, storeId: number): Operation;
}

// The harness's repos are makeRepositories(db.prisma): each post opens its own transaction.
const ledgerOf = (deps: DomainDeps) => deps.repos.ledger;

const CREDIT: DomainRow = {
  label: 'ledger.post credit EARN',
  op: (deps) => (memberId, key) =>
    ledgerOf(deps).post({ kind: 'credit', type: 'EARN', memberId, amount: 1, idempotencyKey: key, actor: { type: 'TILL' }, expiresAt: EXPIRES_AT }),
};
const DEBIT: DomainRow = {
  label: 'ledger.post debit SPEND',
  op: (deps) => (memberId, key) => ledgerOf(deps).post({ kind: 'debit', type: 'SPEND', memberId, amount: 1, idempotencyKey: key, actor: { type: 'TILL' } }),
};
const purchase = (pointsToSpend: number): DomainRow => ({
  // Spending needs the member's spend code: issuing it (one more transaction, as when the member
  // opens the Card screen) is part of what a spending row measures.
  label: pointsToSpend > 0 ? `recordPurchase with a spend code, ${pointsToSpend} points spent + earn` : 'recordPurchase, earn only',
  op: (deps, storeId) => async (memberId, key) =>
    recordPurchase(deps, {
      memberId,
      storeId,
      // Receipt numbers are at most 64 characters (request.ts); the key is longer.
      receiptNo: createHash('sha256').update(key).digest('hex').slice(0, 40),
      amountMinor: 50_000,
      pointsToSpend,
      idempotencyKey: key,
      actor: { type: 'TILL', id: 'bench' },
      spendProof: pointsToSpend > 0 ? { kind: 'code', code: (await issueSpendCode(deps, memberId)).code } : null,
    }),
});

async function measureDomain(db: TestDatabase, config: Config, deps: DomainDeps, storeId: number, row: DomainRow, shape: 'own' | 'one'): Promise<Measured> {
  const label = `${row.label} (${shape === 'own' ? 'own members' : 'one member'})`;
  const count = shape === 'own' ? config.clients * config.membersPerClient : 1;
  const members = await seedMembers(db.prisma, label.replace(/\W+/g, ''), count);
  const memberFor =
    shape === 'own'
      ? (client: number, i: number) => members[client * config.membersPerClient + (i % config.membersPerClient)] as number
      : () => members[0] as number;
  return drive(label, config, memberFor, row.op(deps, storeId));
}

export async function ledger(): Promise<BenchResult> {
  const config = readConfig();
  // One connection per client, as pgbench has; a couple more for seeding and checks.
  const db = await createTestDatabase({ poolSize: config.clients + 2 });
  try {
    const harness = await domainHarness(db);
    // The harness collects notifications in memory; nobody reads them here.
    const deps: DomainDeps = { ...harness.deps, notifier: { notify: async () => {} } };
    const storeId = (await harness.store()).id;
    for (const sql of PGBENCH_TABLES) await db.prisma.$executeRawUnsafe(sql);
    const memberRows = config.clients * config.membersPerClient;
    await db.prisma.$executeRawUnsafe(`INSERT INTO bench_member (id, balance) SELECT g, ${SEED_POINTS} FROM generate_series(1, ${memberRows}) g`);
    await db.prisma.$executeRawUnsafe('ANALYZE');

    // pgbench's :client_id runs from 0 to clients - 1.
    const n = config.membersPerClient;
    const pgOwn = await runPgbench('pgbench (own members)', db, config, pgbenchScript(`\\set id :client_id * ${n} + random(1, ${n})`));
    const fnMembers = await seedMembers(db.prisma, 'pgbenchfn', config.clients * n);
    const pgFn = await runPgbench(
      'pgbench ledger_post() credit (own members)',
      db,
      config,
      ledgerPostScript(`\\set id ${fnMembers[0]} + :client_id * ${n} + random(0, ${n - 1})`),
    );
    const own: Measured[] = [];
    for (const row of [CREDIT, DEBIT, purchase(0), purchase(10)]) own.push(await measureDomain(db, config, deps, storeId, row, 'own'));
    const pgOne = await runPgbench('pgbench (one member)', db, config, pgbenchScript('\\set id 1'));
    const one: Measured[] = [];
    // One member's purchases at 8 tills at once earn only: a member has one spend code at a time
    // (a new one ends the last), so 8 tills spending by code for one member would refuse each other.
    for (const row of [CREDIT, DEBIT, purchase(0)]) one.push(await measureDomain(db, config, deps, storeId, row, 'one'));

    const checkStarted = performance.now();
    await db.prisma.$executeRawUnsafe('ANALYZE'); // the checks' plans need statistics that know the new rows
    const violations = await ledgerViolations(db.prisma);
    const checkS = (performance.now() - checkStarted) / 1000;
    const [{ entries, lots }] = (await db.prisma.$queryRawUnsafe<{ entries: number; lots: number }[]>(
      `SELECT (SELECT count(*)::int FROM "LedgerEntry") AS entries, (SELECT count(*)::int FROM "PointLot") AS lots`,
    )) as [{ entries: number; lots: number }];

    const row = (m: Measured, baseline: Measured) => [
      m.label,
      String(m.transactions),
      fixed(m.tps, 0),
      m === baseline ? '1.00x' : ratio(m.tps, baseline.tps),
      fixed(m.avgMs, 2),
      fixed(m.p50Ms, 2),
      fixed(m.p99Ms, 2),
      fixed(m.cpuMsPerTx, 2),
      String(m.errors),
    ];
    const table = formatTable(
      ['', 'tx', 'tx/s', 'vs pgbench', 'avg ms', 'p50 ms', 'p99 ms', 'Node CPU ms/tx', 'failed'],
      [row(pgOwn, pgOwn), row(pgFn, pgOwn), ...own.map((m) => row(m, pgOwn)), row(pgOne, pgOne), ...one.map((m) => row(m, pgOne))],
    );
    const report = [
      `${config.clients} clients, ${config.seconds} s per row after a warm-up of ${WARMUP_PER_CLIENT} transactions per client (domain rows); ` +
        `"own members": ${config.membersPerClient} members per client, "one member": all clients on one member`,
      `pgbench: -c ${config.clients} -j ${Math.min(2, config.clients)} -T ${config.seconds}, one transaction = BEGIN; conditional UPDATE ... RETURNING; INSERT; END`,
      "pgbench ledger_post(): pgbench calling the function itself, one statement per transaction: the database's ceiling for a domain credit",
      'domain: ledger.post is one statement (ledger_post(): update balance (it takes the member lock), insert entry (its key finds a replay), insert lot or FIFO-draw lots); ' +
        'recordPurchase is one read (its snapshot) and one record_purchase() statement',
      '',
      table,
      '',
      `ledger invariant violations: ${violations.length} (checked in ${fixed(checkS, 1)} s over ${entries} entries and ${lots} lots)`,
      'Compare ratios within a run, not absolute numbers across runs; Node, PostgreSQL and pgbench share the CPUs.',
    ].join('\n');
    const problems = [
      ...[pgOwn, pgFn, ...own, pgOne, ...one]
        .filter((m) => m.errors > 0)
        .map((m) => `${m.label}: ${m.errors} failed transaction(s); first: ${m.firstError ?? '-'}`),
      ...violations.slice(0, 20).map((v) => `invariant: ${v}`),
    ];
    if (problems.length > 0) throw new BenchFailure(`${problems.join('\n')}\n\n${report}`);
    const byLabel = (list: Measured[], prefix: string) => list.find((m) => m.label.startsWith(prefix)) as Measured;
    return {
      report,
      headline: {
        'credit/pgbench': ratio(byLabel(own, CREDIT.label).tps, pgOwn.tps),
        'credit/ledger_post()': ratio(byLabel(own, CREDIT.label).tps, pgFn.tps),
        'debit/pgbench': ratio(byLabel(own, DEBIT.label).tps, pgOwn.tps),
        'purchase/pgbench': ratio(byLabel(own, 'recordPurchase, earn').tps, pgOwn.tps),
        violations: String(violations.length),
      },
    };
  } finally {
    await db.drop();
  }
}
