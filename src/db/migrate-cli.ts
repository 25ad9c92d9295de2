import { ConfigError } from '../config.js';
import { openDatabase } from './client.js';

/**
 * `npm run db:migrate`: applies pending migrations to DATABASE_URL (or the embedded database
 * under DATA_DIR). Reads only the two variables it needs, so it runs without a bot token.
 */
async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) throw new ConfigError('the environment', ['DATABASE_URL: must be a postgresql:// URL']);
  const db = await openDatabase({ databaseUrl, dataDir: process.env.DATA_DIR || './data' });
  try {
    const applied = await db.migrate((message) => console.log(message));
    console.log(applied.length ? `applied ${applied.length} migration(s)` : 'database is up to date');
  } finally {
    await db.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
