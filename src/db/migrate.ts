import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Applies prisma/migrations/<timestamp>_<name>/migration.sql in order and records them in
 * Prisma's own `_prisma_migrations` table with Prisma's checksum (sha256 of the file), so a
 * database migrated here is one that `prisma migrate deploy` considers up to date and vice versa.
 */

export interface SqlExecutor {
  /** Runs one or more statements (simple query protocol). */
  exec(sql: string): Promise<void>;
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
}

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export const MIGRATIONS_DIR = new URL('../../prisma/migrations/', import.meta.url);

export async function readMigrations(dir: URL | string = MIGRATIONS_DIR): Promise<Migration[]> {
  const path = typeof dir === 'string' ? dir : dir.pathname;
  const names = (await readdir(path, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(join(path, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    }),
  );
}

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

// Any constant: serialises concurrent migrators (several instances starting at once).
const LOCK_ID = 72_707_369;

export async function applyMigrations(db: SqlExecutor, migrations: Migration[], log: (message: string) => void = () => {}): Promise<string[]> {
  await db.query('SELECT pg_advisory_lock($1)', [LOCK_ID]);
  try {
    await db.exec(CREATE_TABLE);
    const rows = await db.query<{ migration_name: string; checksum: string; finished_at: Date | null; rolled_back_at: Date | null }>(
      'SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations"',
    );
    const applied = new Map(rows.filter((row) => row.rolled_back_at === null).map((row) => [row.migration_name, row]));
    const done: string[] = [];
    for (const migration of migrations) {
      const record = applied.get(migration.name);
      if (record) {
        if (record.finished_at === null) throw new Error(`migration ${migration.name} failed earlier; fix the database and mark it rolled back`);
        if (record.checksum !== migration.checksum) throw new Error(`migration ${migration.name} was edited after it was applied`);
        continue;
      }
      log(`applying migration ${migration.name}`);
      await db.exec('BEGIN');
      try {
        await db.exec(migration.sql);
        await db.query(
          `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
           VALUES ($1, $2, $3, now(), now(), 1)`,
          [randomUUID(), migration.checksum, migration.name],
        );
        await db.exec('COMMIT');
      } catch (error) {
        await db.exec('ROLLBACK');
        throw new Error(`migration ${migration.name} failed: ${(error as Error).message}`);
      }
      done.push(migration.name);
    }
    return done;
  } finally {
    await db.query('SELECT pg_advisory_unlock($1)', [LOCK_ID]);
  }
}
