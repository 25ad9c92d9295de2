import type { Logger } from 'pino';

/**
 * Stops the process on SIGTERM or SIGINT: `stop` (the app's cleanup), then exit 0. A dependency
 * that hangs instead of failing (a stalled Redis, a PostgreSQL that stopped answering) would keep
 * `stop` waiting forever, and the process with it until someone kills it; so after `timeoutMs`
 * it exits with 1 and says so. A stop that fails exits with 1 too, with its error. Nothing
 * committed is lost either way: the outbox rows are in the database and the next start's sweeps
 * queue them. A second signal while stopping (Ctrl-C again) exits at once, with 1.
 */
export function stopOnSignals(stop: () => Promise<void>, logger: Logger, timeoutMs: number): void {
  const shutdown = async (signal: string) => {
    logger.info({ signal }, 'shutting down');
    // Not unref'd: the deadline must fire even if nothing else keeps the event loop alive.
    setTimeout(() => {
      logger.error({ signal, timeoutMs }, 'shutdown did not finish in time; exiting');
      process.exit(1);
    }, timeoutMs);
    try {
      await stop();
    } catch (error) {
      logger.error({ err: error, signal }, 'shutdown failed; exiting');
      process.exit(1);
    }
    logger.info('stopped');
    process.exit(0);
  };
  let stopping = false;
  const onSignal = (signal: string) => () => {
    if (stopping) {
      logger.warn({ signal }, 'second signal while stopping; exiting now');
      process.exit(1);
    }
    stopping = true;
    void shutdown(signal);
  };
  process.on('SIGTERM', onSignal('SIGTERM'));
  process.on('SIGINT', onSignal('SIGINT'));
}
