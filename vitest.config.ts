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
    // The machine has 2 cores; files mostly wait on PostgreSQL, Redis and sockets, so a few
    // more workers than cores keep it busy (measured: see the testspeed commit message).
    maxWorkers: 4,
    globalSetup: ['test/support/global-setup.ts'],
    projects: [
      {
        test: { ...common, name: 'unit', include: ['test/unit/**/*.test.ts'], pool: 'threads' },
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
