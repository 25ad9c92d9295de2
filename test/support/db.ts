import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { connectPostgres, type Database } from '../../src/db/client.js';
import { TEST_DATABASE_URL } from './env.js';

export interface TestDatabase extends Database {
  url: string;
  /** Closes the handle and drops the database. */
  drop(): Promise<void>;
}

function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
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

/** A fresh, migrated PostgreSQL database of its own for one test file. */
export async function createTestDatabase(options: { poolSize?: number; migrate?: boolean } = {}): Promise<TestDatabase> {
  const name = `loyalty_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin((client) => client.query(`CREATE DATABASE "${name}"`));
  const url = withDatabase(TEST_DATABASE_URL, name);
  const db = connectPostgres(url, options.poolSize ?? 10);
  if (options.migrate !== false) await db.migrate();
  return {
    ...db,
    url,
    async drop() {
      await db.close();
      await admin(async (client) => {
        // pg's Pool.end() resolves before its sockets are gone; wait for the server to see them
        // go, so that DROP ... FORCE does not kill connections that are still closing.
        const deadline = Date.now() + 5_000;
        while (Date.now() < deadline) {
          const { rows } = await client.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name]);
          if (rows[0].n === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      });
    },
  };
}
