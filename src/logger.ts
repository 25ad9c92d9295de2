import pino, { type Logger } from 'pino';

/** Structured logs. Never log personal data: ids and codes of outcomes only. */
export function createLogger(level: string, pretty: boolean): Logger {
  return pino({
    level,
    base: { service: 'loyalty-bot' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
  });
}
