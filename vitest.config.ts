import { defineConfig } from 'vitest/config';

/**
 * Three projects, one `vitest run` (so `npm test` runs all and prints one summary):
 *
 * - unit: pure code and in-memory fakes, no services. Worker threads start faster than
 *   processes and nothing here needs a process of its own.
 * - db and e2e: real PostgreSQL and Redis, apps with signal handlers, child processes and
 *   native sockets. Forks keep each file's process state (handlers, env, timers) apart.
 *
 * Their databases are copies of one template migrated once per run (test/support/global-setup.ts).
 */
// Shared by the projects. Not `extends: true`: that would also give each project the root's
// globalSetup, and migrate one template per project instead of one per run.
const common = { testTimeout: 30_000, hookTimeout: 60_000 };

export default defineConfig({
  test: {
    // 2 cores. Vitest's default here is 1 worker (cores - 1): files then take turns even while
    // one only waits on a socket or a child process. Measured on the loaded machine: 4 workers
    // made each e2e file up to 4x slower (they are mostly CPU-bound: the app, the fake Bot API,
    // PostgreSQL and Redis all share the 2 cores), so one worker more than cores, not more.
    maxWorkers: 3,
    globalSetup: ['test/support/global-setup.ts'],
    projects: [
      {
        // isolate: false: the files share a thread's module cache instead of each importing the
        // domain again. Safe because unit tests are pure: no mocks, no env or global changes.
        test: { ...common, name: 'unit', include: ['test/unit/**/*.test.ts'], pool: 'threads', isolate: false },
      },
      {
        test: { ...common, name: 'db', include: ['test/db/**/*.test.ts'], pool: 'forks' },
      },
      {
        // The fake Bot API's own tests run servers and sockets: with the e2e files.
        test: { ...common, name: 'e2e', include: ['test/e2e/**/*.test.ts', 'test/support/**/*.test.ts'], pool: 'forks' },
      },
    ],
  },
});
