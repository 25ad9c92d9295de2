import pino, { type DestinationStream, type Logger } from 'pino';

// Telegram puts the bot token in every request URL (`/bot<token>/<method>`), and network errors
// quote the URL. Whatever ends up in a log line, the token does not.
const TOKEN_IN_TEXT = /\d{5,}:[A-Za-z0-9_-]{30,}/g;

export const scrubSecrets = (line: string) => line.replace(TOKEN_IN_TEXT, '<bot-token>');

/** Structured logs. Never log personal data: ids and codes of outcomes only. */
export function createLogger(level: string, pretty: boolean, destination?: DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'loyalty-bot' },
    hooks: { streamWrite: scrubSecrets },
    ...(pretty && !destination ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
  };
  return destination ? pino(options, destination) : pino(options);
}
