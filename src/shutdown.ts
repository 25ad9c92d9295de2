import type { Logger } from 'pino';

/**
 * Stops the process on SIGTERM or SIGINT: `stop` (the app's cleanup), then exit 0. A dependency
 * that hangs instead of failing (a stalled Redis, a PostgreSQL that stopped answering) would keep
 * `stop` waiting forever, and the process with it until someone kills it; so after `timeoutMs`
 * it exits with 1 and says so. Nothing committed is lost by that: the outbox rows are in the
 * database and the next start's sweeps queue them.
 */
export function stopOnSignals(stop: () => Promise<void>, logger: Logger, timeoutMs: number): void {
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => {
      logger.error({ signal, timeoutMs }, 'shutdown did not finish in time; exiting');
      process.exit(1);
    }, timeoutMs).unref();
    await stop();
    logger.info('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}
