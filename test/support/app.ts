import pino, { type Logger } from 'pino';
import { type App, startApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { Clock } from '../../src/domain/clock.js';
import type { Program } from '../../src/domain/program.js';
import { TEST_FINGERPRINT_SECRET, TEST_REDIS_URL } from './env.js';
import type { FakeBotApi } from './fake-bot-api/server.js';
import { exampleProgram } from './program.js';
import { fileQueuePrefix } from './queue-prefix.js';

export interface TestAppOptions {
  fake: FakeBotApi;
  databaseUrl: string;
  program?: Program;
  clock?: Clock;
  env?: Record<string, string>;
  /** Default: silent (TEST_LOG_LEVEL to see logs); tests about what is logged pass their own. */
  logger?: Logger;
}

export { removeQueueKeys } from './queue-prefix.js';

/**
 * A chat's gap between two queued messages against a fake that enforces no per-chat limit.
 * The app keeps Telegram's (about a second) otherwise, and then every test whose member gets a
 * receipt and a notice in a row waited that second (the tasks file: 18 s, 2 s with this).
 * The gate itself still works (a message waits for the one before it); the tests of the limit
 * run against a fake that enforces it, and get the real gap.
 */
const FAKE_CHAT_GATE_MS = 50;

/** The whole app, in this process, against the fake Bot API, real PostgreSQL and real Redis. */
export async function startTestApp(options: TestAppOptions): Promise<App> {
  const config = loadConfig({
    BOT_TOKEN: options.fake.token,
    TELEGRAM_API_ROOT: options.fake.apiRoot,
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: TEST_REDIS_URL,
    PORT: '0',
    HOST: '127.0.0.1',
    QUEUE_PREFIX: fileQueuePrefix(),
    FINGERPRINT_SECRET: TEST_FINGERPRINT_SECRET,
    // Scenarios type faster than people do; the per-user limit is tested on its own.
    USER_UPDATES_BURST: '10000',
    USER_UPDATES_PER_SECOND: '10000',
    ...options.env,
  });
  const logger = options.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  return startApp(config, options.program ?? exampleProgram(), {
    logger,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.fake.limitsPerChat ? {} : { chatGateMs: FAKE_CHAT_GATE_MS }),
  });
}
