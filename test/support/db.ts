import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { connectPostgres, type Database } from '../../src/db/client.js';
import { TEST_DATABASE_URL } from './env.js';

export interface TestDatabase extends Database {
  url: string;
  /**
   * Closes the handle and drops the database. Under vitest it resolves once the handle is
   * closed and leaves the drop running (see dropRunDatabases).
   */
  drop(): Promise<void>;
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** The migrated template database of this run (test/support/global-setup.ts); '' when there is none. */
    templateDatabase: string;
  }
}

export function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

export async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`cannot reach PostgreSQL at ${TEST_DATABASE_URL} (set TEST_DATABASE_URL): ${(error as Error).message}`);
  }
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * Waits until the server has seen every connection to `name` go: pg's Pool.end() resolves before
 * its sockets are gone, and both DROP ... FORCE (which would kill them mid-close) and CREATE
 * DATABASE ... TEMPLATE (which refuses a template anyone is connected to) need them gone.
 */
export async function waitForNoConnections(client: pg.Client, name: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { rows } = await client.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name]);
    if (rows[0].n === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * A test database's sessions (the tests', the apps' and the child processes') commit without
 * waiting for the WAL to reach the disk. A commit is as visible, as ordered and as atomic as
 * with the server's default: only a crash of the PostgreSQL server itself could lose the last
 * commits, and no test crashes the server (they kill the app, or cut its connection with a
 * proxy). On the shared test server a flush took 5-8 ms per commit, more than most statements.
 * Settings of a database are not copied by CREATE DATABASE ... TEMPLATE: every database sets its own.
 * Under vitest only: `npm run bench` keeps the server's settings.
 */
export const UNFLUSHED_COMMITS = (name: string) => `ALTER DATABASE "${name}" SET synchronous_commit = off`;

/** The run's template database, when vitest's global setup made one (benchmarks run without). */
function templateDatabase(): string {
  return process.env.VITEST ? inject('templateDatabase') || '' : '';
}

/**
 * A PostgreSQL database of its own for one test file.
 *
 * `migrate` (default true): a migrated database. Under vitest it is a copy of the run's template
 * (migrated once in global setup): CREATE DATABASE ... TEMPLATE copies files, far cheaper than
 * running every migration again in every file. 'fresh' runs the migrations on an empty database
 * instead, for tests about the migrations themselves; false leaves the database empty.
 */
export async function createTestDatabase(options: { poolSize?: number; migrate?: boolean | 'fresh' } = {}): Promise<TestDatabase> {
  const run = templateDatabase();
  // Under vitest, named after the run's template, so that the run's teardown finds it if its
  // file's drop did not finish (dropRunDatabases).
  const name = run ? `${run}_${randomBytes(4).toString('hex')}` : `loyalty_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const migrate = options.migrate ?? true;
  const template = migrate === true ? run : '';
  await admin(async (client) => {
    await client.query(template ? `CREATE DATABASE "${name}" TEMPLATE "${template}"` : `CREATE DATABASE "${name}"`);
    // Benchmarks measure with the server's own settings (DESIGN: the settings production uses).
    if (process.env.VITEST) await client.query(UNFLUSHED_COMMITS(name));
  });
  const url = withDatabase(TEST_DATABASE_URL, name);
  const db = connectPostgres(url, options.poolSize ?? 10);
  if (migrate !== false && !template) await db.migrate();
  return {
    ...db,
    url,
    async drop() {
      await db.close();
      const dropping = admin(async (client) => {
        await waitForNoConnections(client, name);
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      });
      // Under vitest the file goes on without waiting: the run's teardown drops what is left.
      if (run) void dropping.catch(() => {});
      else await dropping;
    },
  };
}

/**
 * Drops what is left of a run's databases (named after its template) at the run's end.
 *
 * Each DROP DATABASE forces a checkpoint on PostgreSQL 15: it writes every dirty buffer of the
 * server and waits for the disk to sync what was written since the last one (on this machine
 * 50-200 ms while the suite runs). A file's `drop()` therefore starts its drop and goes on
 * without waiting, and the next file starts at once; drops waiting together can share one.
 * Measured side by side (2 runs each, 4 workers): 80.3 / 82.4 s with every file waiting for its
 * drop, 78.2 / 75.3 s without. Deferring every drop to the end instead (81.4 / 77.7 s) left one
 * checkpoint syncing the whole run's writes in a 5-7 s tail. What a fork had not dropped when it
 * exited (its last file's database) is dropped here.
 */
export async function dropRunDatabases(template: string): Promise<void> {
  const names = await admin(async (client) => {
    const { rows } = await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE starts_with(datname, $1 || '_')", [template]);
    return rows.map((row) => row.datname);
  });
  const lane = () =>
    admin(async (client) => {
      for (let name = names.pop(); name; name = names.pop()) await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    });
  await Promise.all(Array.from({ length: Math.min(4, names.length) }, lane));
}
