// `npm run bench [-- <filter>...]`: runs the benchmarks below one after another (all of them, or
// those whose name contains one of the filters) and prints each one's report, then a summary.
// Exit code: 0 when all passed, 1 when one failed, 2 when no benchmark matched.
//
// Adding a benchmark: a module in bench/ exporting `async () => BenchResult` (see lib.ts), and
// one entry in `benchmarks`.

import { performance } from 'node:perf_hooks';
import { botThroughput } from './bot-throughput.js';
import { BenchFailure, type Benchmark, formatTable } from './lib.js';

const benchmarks: Benchmark[] = [
  {
    name: 'bot-throughput',
    description: 'members tapping Balance / Card / History end to end vs a bare grammY echo bot (BENCH_USERS, BENCH_TAPS, BENCH_MODE)',
    run: botThroughput,
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
