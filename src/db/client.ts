import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../generated/prisma/client.js';
import { registerPool } from './hot-sql.js';
import { applyMigrations, readMigrations, type SqlExecutor } from './migrate.js';

/**
 * One database handle for the whole process: PostgreSQL when a URL is given, otherwise an
 * embedded PGlite under the data directory. Same schema, same migrations.
 */
export interface Database {
  kind: 'postgres' | 'pglite';
  prisma: PrismaClient;
  migrate(log?: (message: string) => void): Promise<string[]>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

// Interactive transactions queue behind row locks under load; the defaults (2 s / 5 s) are for toy apps.
// errorFormat 'minimal': production settings (DESIGN.md, Performance); the default 'pretty' is for
// reading errors in a terminal while developing.
const clientOptions = { transactionOptions: { maxWait: 30_000, timeout: 30_000 }, errorFormat: 'minimal' } as const;

export function connectPostgres(url: string, poolSize = 10, onIdleError: (error: Error) => void = () => {}): Database {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  // An idle connection dropped by the server (restart, admin) must not crash the process:
  // the pool replaces it on the next checkout.
  pool.on('error', onIdleError);
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool), ...clientOptions });
  registerPool(prisma, pool);
  return {
    kind: 'postgres',
    prisma,
    async migrate(log) {
      const client = await pool.connect();
      try {
        const executor: SqlExecutor = {
          exec: async (sql) => void (await client.query(sql)),
          query: async <T>(sql: string, params?: unknown[]) => (await client.query(sql, params)).rows as T[],
        };
        return await applyMigrations(executor, await readMigrations(), log);
      } finally {
        client.release();
      }
    },
    async ping() {
      await pool.query('SELECT 1');
    },
    async close() {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

export async function openPglite(dataDir: string): Promise<Database> {
  const dir = resolve(join(dataDir, 'pglite'));
  await mkdir(dir, { recursive: true });
  // The embedded database (and its WebAssembly PostgreSQL) only where it is used, not beside a real server.
  const [{ PGlite }, { PrismaPGlite }] = await Promise.all([import('@electric-sql/pglite'), import('pglite-prisma-adapter')]);
  const pglite = await PGlite.create(dir);
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite), ...clientOptions });
  return {
    kind: 'pglite',
    prisma,
    migrate(log) {
      const executor: SqlExecutor = {
        exec: async (sql) => void (await pglite.exec(sql)),
        query: async <T>(sql: string, params?: unknown[]) => (await pglite.query<T>(sql, params)).rows,
      };
      return readMigrations().then((migrations) => applyMigrations(executor, migrations, log));
    },
    async ping() {
      await pglite.query('SELECT 1');
    },
    async close() {
      await prisma.$disconnect();
      await pglite.close();
    },
  };
}

export function openDatabase(options: { databaseUrl?: string | undefined; dataDir: string; onIdleError?: (error: Error) => void }): Promise<Database> {
  return options.databaseUrl ? Promise.resolve(connectPostgres(options.databaseUrl, 10, options.onIdleError)) : openPglite(options.dataDir);
}
