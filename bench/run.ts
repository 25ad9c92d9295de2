// `npm run bench [-- <filter>...]`: runs the benchmarks below one after another (all of them, or
// those whose name contains one of the filters) and prints each one's report, then a summary.
// Exit code: 0 when all passed, 1 when one failed, 2 when no benchmark matched.
//
// Adding a benchmark: a module in bench/ exporting `async () => BenchResult` (see lib.ts), and
// one entry in `benchmarks`.

import { performance } from 'node:perf_hooks';
import { BenchFailure, type Benchmark, formatTable } from './lib.js';

const benchmarks: Benchmark[] = [
  {
    name: 'bot-throughput',
    description:
      "members tapping Balance end to end vs a bare grammY echo bot, each party in its own process: closed and open loop, cost vs one member's history (BENCH_USERS, BENCH_TAPS, BENCH_OPEN_RATE, BENCH_OPEN_SECONDS, BENCH_HISTORY)",
    // Loaded when run: test/support/app.ts calls vitest's afterAll at import, which throws outside
    // vitest; a static import would take every benchmark down with it.
    run: async () => (await import('./bot-throughput.js')).botThroughput(),
  },
  {
    name: 'fairness',
    description:
      "other users' p99 Balance latency while one user floods at 1,000 updates/s / the same without the flood, bot in its own process (BENCH_FAIRNESS_USERS, BENCH_FAIRNESS_SECONDS, BENCH_FLOOD_RATE)",
    run: async () => (await import('./fairness.js')).fairness(),
  },
  {
    name: 'ledger',
    description: 'accrual / spend / purchase transactions/s through the domain vs pgbench, invariant violations (BENCH_LEDGER_CLIENTS, BENCH_LEDGER_SECONDS)',
    run: async () => (await import('./ledger.js')).ledger(),
  },
  {
    name: 'till-api',
    description:
      'POST /v1/purchases end to end, app in its own process, vs a bare Fastify server doing one INSERT and pgbench -N (BENCH_TILL_CLIENTS, BENCH_TILL_SECONDS, BENCH_TILL_MEMBERS)',
    run: async () => (await import('./till-api.js')).tillApi(),
  },
  {
    name: 'growth',
    description:
      "issue 12's growth table: a till purchase and a Balance tap (app in its own process) at 1k, 10k, 100k, 1M members and for members with 1, 100, 1k, 10k entries, each figure as a ratio to the smallest (BENCH_GROWTH_MEMBERS, BENCH_GROWTH_HISTORY, BENCH_GROWTH_SECONDS, BENCH_GROWTH_CLIENTS, BENCH_GROWTH_PURCHASERS, BENCH_GROWTH_USERS, BENCH_GROWTH_TAPS)",
    run: async () => (await import('./growth.js')).growth(),
  },
  {
    name: 'expiry',
    description:
      'expirePoints over BENCH_EXPIRY_LOTS due lots (as many not due beside them) with the real notifier vs a plain UPDATE of a copy, invariant violations, RSS',
    run: async () => (await import('./expiry.js')).expiry(),
  },
  {
    name: 'delivery',
    description: 'delivery queue rate achieved / configured against a fake Bot API enforcing limits, 429s (BENCH_DELIVERY_MESSAGES)',
    run: async () => (await import('./delivery.js')).delivery(),
  },
  {
    name: 'broadcast',
    description:
      'broadcast to 100,000 members: rate / limit and 429s against an enforcing fake, engine max msg/s, paid mode at 1000/s, restart duplicates/losses (BENCH_BROADCAST_MEMBERS, BENCH_BROADCAST_WINDOW)',
    run: async () => (await import('./broadcast.js')).broadcast(),
  },
  {
    name: 'analytics',
    description:
      'each KPI and series query of the analytics repository (month, year, cohorts over 2 years) and /stats end to end (queries + PNG charts) as data grows, seeded set-based; goals <= 2 s per query, <= 5 s per /stats at 1M purchases (BENCH_ANALYTICS_PURCHASES, default 10000,100000,1000000)',
    run: async () => (await import('./analytics.js')).analytics(),
  },
];

const filters = process.argv
  .slice(2)
  .filter((arg) => arg !== '--')
  .map((arg) => arg.toLowerCase());
const selected = filters.length === 0 ? benchmarks : benchmarks.filter((b) => filters.some((f) => b.name.toLowerCase().includes(f)));

if (selected.length === 0) {
  console.error(`No benchmark matches ${filters.join(', ')}. Available:\n${benchmarks.map((b) => `  ${b.name}  ${b.description}`).join('\n')}`);
  process.exitCode = 2;
} else {
  const summary: string[][] = [];
  let failed = false;
  for (const bench of selected) {
    console.log(`\n=== ${bench.name}: ${bench.description}\n`);
    const started = performance.now();
    const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
    try {
      const result = await bench.run();
      console.log(result.report);
      const headline = Object.entries(result.headline ?? {})
        .map(([key, value]) => `${key} ${value}`)
        .join(', ');
      summary.push([bench.name, 'ok', seconds(), headline]);
    } catch (error) {
      failed = true;
      console.error(
        `\nFAILED ${bench.name}: ${error instanceof BenchFailure ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
      summary.push([bench.name, 'FAILED', seconds(), '']);
    }
  }
  console.log(`\n=== summary\n\n${formatTable(['benchmark', 'result', 'seconds', 'headline'], summary)}`);
  process.exitCode = failed ? 1 : 0;

  // Every benchmark cleans up after itself, so the process should now end by itself. If it does
  // not, say what is still open instead of hanging.
  setTimeout(() => {
    console.error(`bench: still running 10 s after the last benchmark; open resources: ${process.getActiveResourcesInfo().join(', ')}`);
    process.exit(process.exitCode || 1);
  }, 10_000).unref();
}
