import { defineConfig } from 'vitest/config';
import LongPolesFirst from './test/support/sequencer.js';

/**
 * Two projects, one `vitest run` (so `npm test` runs all and prints one summary):
 *
 * - unit: pure code and in-memory fakes, no services. Worker threads start faster than
 *   processes and nothing here needs a process of its own.
 * - services (test/db, test/e2e, and the fake Bot API's own tests): real PostgreSQL and Redis,
 *   apps, child processes and native sockets: forks, so that a file's process state stays out of
 *   the unit threads. Each fork runs several files one after another and keeps their modules
 *   (isolate: false): importing the app and Prisma's client again for every file cost about as
 *   much CPU as the tests of a short file, on a CPU-bound suite. Safe because no such file mocks
 *   modules, stubs env or globals, or installs process handlers, and the one per-file state of
 *   the support code (the Redis queue prefix) is drawn per file by test/support/per-file.ts.
 *   One project, not a db and an e2e one: each project has forks of its own that each import
 *   the app again, and the sequencer can then mix the long database files in with the e2e ones.
 *
 * Their databases are copies of one template migrated once per run (test/support/global-setup.ts).
 */
// Shared by the projects. Not `extends: true`: that would also give each project the root's
// globalSetup, and migrate one template per project instead of one per run.
const common = { testTimeout: 30_000, hookTimeout: 60_000 };

export default defineConfig({
  test: {
    // 2 cores. Many service files spend seconds waiting in real time (a chat's 1 s gap, a 10 s
    // database outage, a send rate) while others are CPU-bound: 4 workers let the waiting ones
    // overlap the others. Measured side by side (same machine, alternating runs): 3 workers
    // 91-93 s, 4 workers 77-80 s; 4 workers with separate db and e2e projects 84-85 s. 5 workers
    // (later, on a slower machine): 102 / 112 s against 100 / 102 s, with more CPU. 3 workers
    // again once the suite was CPU-bound (one pair): 123.5 s against 123.0 s, with 162 s of
    // Node CPU against 174 s: the overlap lost cost what the CPU saved.
    maxWorkers: 4,
    // Transformed TypeScript (the app, the generated Prisma client, the tests) is kept on disk
    // between runs, keyed by content: a run after the first skips transforming it again.
    experimental: { fsModuleCache: true },
    globalSetup: ['test/support/global-setup.ts'],
    // Long files first across the projects (see the sequencer).
    sequence: { sequencer: LongPolesFirst },
    projects: [
      {
        // isolate: false: the files share a thread's module cache instead of each importing the
        // domain again. Safe because unit tests are pure: no mocks, no env or global changes.
        test: { ...common, name: 'unit', include: ['test/unit/**/*.test.ts'], pool: 'threads', isolate: false },
      },
      {
        test: {
          ...common,
          name: 'services',
          include: ['test/db/**/*.test.ts', 'test/e2e/**/*.test.ts', 'test/support/**/*.test.ts'],
          pool: 'forks',
          isolate: false,
          setupFiles: ['test/support/per-file.ts'],
        },
      },
    ],
  },
});
