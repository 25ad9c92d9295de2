import { existsSync } from 'node:fs';
import { startApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { loadProgram } from './program.js';
import { stopOnSignals } from './shutdown.js';
import { setEntryPointV8Flags } from './v8-flags.js';

/** Process entry: parse configuration (stop with the key's name if it is wrong), start, stop on signals. */
async function main(): Promise<void> {
  // A local .env is a convenience for development; real deployments set the environment.
  if (existsSync('.env')) process.loadEnvFile('.env');
  const config = loadConfig();
  setEntryPointV8Flags({ postgres: Boolean(config.DATABASE_URL) });
  const program = await loadProgram(config.PROGRAM_FILE);
  const logger = createLogger(config.LOG_LEVEL, config.PRETTY_LOGS);
  const app = await startApp(config, program, { logger });
  stopOnSignals(() => app.stop(), logger, config.SHUTDOWN_TIMEOUT_MS);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(error.message);
  } else {
    console.error('Start-up failed:', error);
  }
  process.exit(1);
});
