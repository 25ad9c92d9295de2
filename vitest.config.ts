import { defineConfig } from 'vitest/config';
import LongPolesFirst from './test/support/sequencer.js';

/**
 * Three projects, one `vitest run` (so `npm test` runs all and prints one summary):
 *
 * - unit: pure code and in-memory fakes, no services. Worker threads start faster than
 *   processes and nothing here needs a process of its own.
 * - db and e2e: real PostgreSQL and Redis, apps, child processes and native sockets: forks, so
 *   that a file's process state stays out of the unit threads. Each fork runs several files one
 *   after another and keeps their modules (isolate: false): importing the app and Prisma's
 *   client again for every file cost about as much CPU as the tests of a short file, on a
 *   CPU-bound suite. Safe because no db or e2e file mocks modules, stubs env or globals, or
 *   installs process handlers, and the one per-file state of the support code (the Redis queue
 *   prefix) is drawn per file by test/support/per-file.ts.
 *
 * Their databases are copies of one template migrated once per run (test/support/global-setup.ts).
 */
// Shared by the projects. Not `extends: true`: that would also give each project the root's
// globalSetup, and migrate one template per project instead of one per run.
const common = { testTimeout: 30_000, hookTimeout: 60_000 };
const PER_FILE = 'test/support/per-file.ts';

export default defineConfig({
  test: {
    // 2 cores. Vitest's default here is 1 worker (cores - 1): files then take turns even while
    // one only waits on a socket or a child process. Measured on the loaded machine: 4 workers
    // made each e2e file up to 4x slower (they are mostly CPU-bound: the app, the fake Bot API,
    // PostgreSQL and Redis all share the 2 cores), so one worker more than cores, not more.
    maxWorkers: 3,
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
        test: { ...common, name: 'db', include: ['test/db/**/*.test.ts'], pool: 'forks', isolate: false, setupFiles: [PER_FILE] },
      },
      {
        // The fake Bot API's own tests run servers and sockets: with the e2e files.
        test: {
          ...common,
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts', 'test/support/**/*.test.ts'],
          pool: 'forks',
          isolate: false,
          setupFiles: [PER_FILE],
        },
      },
    ],
  },
});
