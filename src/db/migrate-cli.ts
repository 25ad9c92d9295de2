import { ConfigError, loadDatabaseConfig } from '../config.js';
import { openDatabase } from './client.js';

/**
 * `npm run db:migrate`: applies pending migrations to DATABASE_URL (or the embedded database
 * under DATA_DIR). It needs only those two settings, so it runs without a bot token.
 */
async function main(): Promise<void> {
  const config = loadDatabaseConfig();
  const db = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
  try {
    const applied = await db.migrate((message) => console.log(message));
    console.log(applied.length ? `applied ${applied.length} migration(s)` : 'database is up to date');
  } finally {
    await db.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error instanceof Error ? error.message : error);
  process.exit(1);
});
