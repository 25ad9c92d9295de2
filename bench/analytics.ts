// The program's analytics at scale (issue 16): for each size in BENCH_ANALYTICS_PURCHASES
// (default 10k, 100k, 1M purchases; members = purchases / 10, receipts = purchases / 3, one EARN
// entry per purchase and a SPEND every fifth), a fresh database is seeded set-based
// (INSERT ... SELECT generate_series), analysed, and each KPI query of the analytics repository is
// timed for a month and for a year, plus the cohort matrix over two years. The goal is 2 s per
// query at 1M purchases; a query over it fails the benchmark only at that size.
//
// The seed is for reading: member balances equal their entries, but no point lots are written.

import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { makeRepositories } from '../src/db/repositories.js';
import type { AnalyticsRepository, AnalyticsScope } from '../src/domain/analytics/types.js';
import { ManualClock } from '../src/domain/clock.js';
import { startOfLocalDay } from '../src/domain/jobs/schedule-rules.js';
import { createTestDatabase } from '../test/support/db.js';
import { BenchFailure, type BenchResult, fixed, formatTable } from './lib.js';

const GOAL_MS = 2000;
const ZONE = 'Europe/Moscow';

function sizes(): number[] {
  const raw = process.env.BENCH_ANALYTICS_PURCHASES ?? '10000,100000,1000000';
  return raw.split(',').map((value) => {
    const n = Number(value.trim());
    if (!Number.isInteger(n) || n < 100) throw new Error(`BENCH_ANALYTICS_PURCHASES: whole numbers of at least 100, got ${value}`);
    return n;
  });
}

/** Members registered over 2025-2026, purchases between registration and the end of 2026. */
async function seed(url: string, purchases: number): Promise<void> {
  const members = Math.max(10, Math.floor(purchases / 10));
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // One session, so that setseed makes every run draw the same data.
    await client.query(`
      SELECT setseed(0.42);
      INSERT INTO "Store" (code, name) SELECT 'b-' || g, 'Bench ' || g FROM generate_series(1, 10) g;
      INSERT INTO "Member" (code, status, "registrationStep", locale, tier, "registeredAt", "updatedAt")
        SELECT 'B' || g, 'ACTIVE', NULL, 'ru', (ARRAY['basic', 'silver', 'gold', 'platinum'])[1 + g % 4],
               timestamp '2025-01-01 09:00' + (g % 730) * interval '1 day', timestamp '2025-01-01'
        FROM generate_series(1, ${members}) g;
      INSERT INTO "Purchase" ("memberId", "storeId", "receiptNo", "amountMinor", "returnedMinor", "idempotencyKey", "requestHash", "actorType", "createdAt")
        SELECT m.id, 1 + g % 10, 'b' || g, 10000 + (random() * 290000)::int, 0, 'bench:' || g, 'x', 'TILL',
               m."registeredAt" + random() * (timestamp '2026-12-31 20:00' - m."registeredAt")
        FROM generate_series(1, ${purchases}) g JOIN "Member" m ON m.id = 1 + (g::bigint * 7919) % ${members};
      INSERT INTO "LedgerEntry" ("memberId", type, amount, "balanceAfter", "idempotencyKey", "actorType", "storeId", "purchaseId", "createdAt")
        SELECT p."memberId", 'EARN', p."amountMinor" / 100, 0, 'bench:earn:' || p.id, 'TILL', p."storeId", p.id, p."createdAt" FROM "Purchase" p;
      INSERT INTO "LedgerEntry" ("memberId", type, amount, "balanceAfter", "idempotencyKey", "actorType", "storeId", "purchaseId", "createdAt")
        SELECT p."memberId", 'SPEND', -100, 0, 'bench:spend:' || p.id, 'TILL', p."storeId", p.id, p."createdAt" FROM "Purchase" p WHERE p.id % 5 = 0;
      UPDATE "Member" m SET balance = t.total FROM (SELECT "memberId", sum(amount) AS total FROM "LedgerEntry" GROUP BY 1) t WHERE t."memberId" = m.id;
      INSERT INTO "Receipt" ("storeId", "receiptNo", "amountMinor", "idempotencyKey", "requestHash", "actorType", "createdAt")
        SELECT 1 + g % 10, 'r' || g, 5000 + (random() * 200000)::int, 'bench:r:' || g, 'x', 'TILL',
               timestamp '2025-01-01' + random() * interval '730 days'
        FROM generate_series(1, ${Math.floor(purchases / 3)}) g;
      ANALYZE;`);
  } finally {
    await client.end();
  }
}

const scope = (from: string, to: string): AnalyticsScope => ({
  from: startOfLocalDay(from, ZONE),
  to: startOfLocalDay(to, ZONE),
  storeId: null,
  tier: null,
  baseTier: 'basic',
  timeZone: ZONE,
});

/** The best of two runs (the first warms the cache and the plan). */
async function time(work: () => Promise<unknown>): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 2; i++) {
    const started = performance.now();
    await work();
    best = Math.min(best, performance.now() - started);
  }
  return best;
}

function queries(repo: AnalyticsRepository): [string, () => Promise<unknown>][] {
  const month = scope('2026-11-01', '2026-12-01');
  const year = scope('2026-01-01', '2027-01-01');
  const activeSince = (s: AnalyticsScope) => new Date(s.to.getTime() - 30 * 86_400_000);
  return [
    ['membership (month)', () => repo.membership(month, activeSince(month))],
    ['buying (month)', () => repo.buying(month)],
    ['churn (month, 90 d)', () => repo.churn(month, 90)],
    ['points (month)', () => repo.points(month)],
    ['coupons (month)', () => repo.coupons(month)],
    ['membership (year)', () => repo.membership(year, activeSince(year))],
    ['buying (year)', () => repo.buying(year)],
    ['churn (year, 90 d)', () => repo.churn(year, 90)],
    ['points (year)', () => repo.points(year)],
    ['buying (year, one store)', () => repo.buying({ ...year, storeId: 3 })],
    ['buying (year, one tier)', () => repo.buying({ ...year, tier: 'gold' })],
    ['cohorts (2 years)', () => repo.cohorts(scope('2025-01-01', '2027-01-01'))],
  ];
}

export async function analytics(): Promise<BenchResult> {
  const counts = sizes();
  const results = new Map<string, number[]>();
  const seedSeconds: number[] = [];
  for (const purchases of counts) {
    const db = await createTestDatabase({ poolSize: 2 });
    try {
      const started = performance.now();
      await seed(db.url, purchases);
      seedSeconds.push((performance.now() - started) / 1000);
      const repo = makeRepositories(db.prisma, new ManualClock()).analytics;
      for (const [name, run] of queries(repo)) results.set(name, [...(results.get(name) ?? []), await time(run)]);
    } finally {
      await db.drop();
    }
  }
  const label = (n: number) => (n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1000 ? `${n / 1000}k` : String(n));
  const rows = [...results].map(([name, ms]) => [name, ...ms.map((value) => fixed(value, 0))]);
  const report = [
    formatTable(['query (ms, best of 2)', ...counts.map((n) => `${label(n)} purchases`)], rows),
    '',
    `seed: ${counts.map((n, i) => `${label(n)} in ${fixed(seedSeconds[i] ?? 0)} s`).join(', ')}; members = purchases / 10, receipts = purchases / 3`,
  ].join('\n');
  const largest = counts.length - 1;
  const worst = Math.max(...[...results.values()].map((ms) => ms[largest] ?? 0));
  if (counts[largest] !== undefined && counts[largest] >= 1_000_000 && worst > GOAL_MS) {
    throw new BenchFailure(`a KPI query took ${fixed(worst, 0)} ms at ${label(counts[largest])} purchases (goal ${GOAL_MS} ms)\n${report}`);
  }
  return { report, headline: { [`slowest query at ${label(counts[largest] ?? 0)} purchases, ms`]: fixed(worst, 0) } };
}
