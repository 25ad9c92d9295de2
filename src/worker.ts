import { existsSync } from 'node:fs';
import { ConfigError, loadConfig } from './config.js';
import { startWorkerHttp } from './http/worker-metrics.js';
import { createLogger } from './logger.js';
import { loadProgram } from './program.js';
import { runCleanup, startServices } from './services.js';
import { stopOnSignals } from './shutdown.js';
import { setEntryPointV8Flags } from './v8-flags.js';

/**
 * `npm run worker`: the queue workers and schedules without the bot, for scaling out. Bot
 * instances then run with RUN_WORKERS=false. Several worker processes may share one Redis.
 */
async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const config = loadConfig();
  setEntryPointV8Flags({ postgres: Boolean(config.DATABASE_URL) });
  const program = await loadProgram(config.PROGRAM_FILE);
  const logger = createLogger(config.LOG_LEVEL, config.PRETTY_LOGS);
  const services = await startServices(config, program, { logger });
  await services.queues.startWorkers(services.domain);
  const http = await startWorkerHttp(config, services, logger);
  if (http) {
    services.cleanup.push(() => http.http.close());
    logger.info({ url: `${http.url}/metrics` }, 'worker metrics served');
  }
  logger.info({ database: services.db.kind, redis: services.redis.embedded ? 'embedded' : 'external' }, 'worker started');
  stopOnSignals(() => runCleanup(services.cleanup, logger), logger, config.SHUTDOWN_TIMEOUT_MS);
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
