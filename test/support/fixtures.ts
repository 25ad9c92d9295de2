import { test } from 'vitest';
import { createTestDatabase } from './db.js';
import { domainHarness } from './domain.js';

/**
 * `test` for files on real PostgreSQL: `db`, a migrated database of the file's own (a copy of the
 * run's template), dropped after the file, and `h`, the domain harness on it (manual clock,
 * collected notifications). Both are file-scoped, so a file pays for them once; they are set up
 * only when a test (or a beforeAll) asks for them. Files that need other options (a bigger pool,
 * another program) build their own with createTestDatabase and domainHarness.
 */
export const dbTest = test
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from its destructured first parameter
  .extend('db', { scope: 'file' }, async ({}, { onCleanup }) => {
    const db = await createTestDatabase();
    onCleanup(() => db.drop());
    return db;
  })
  .extend('h', { scope: 'file' }, async ({ db }) => domainHarness(db));
