import pino from 'pino';
import { type App, startApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { Clock } from '../../src/domain/clock.js';
import type { Program } from '../../src/domain/program.js';
import { TEST_REDIS_URL } from './env.js';
import type { FakeBotApi } from './fake-bot-api/server.js';
import { exampleProgram } from './program.js';

export interface TestAppOptions {
  fake: FakeBotApi;
  databaseUrl: string;
  program?: Program;
  clock?: Clock;
  env?: Record<string, string>;
}

/** The whole app, in this process, against the fake Bot API, real PostgreSQL and real Redis. */
export function startTestApp(options: TestAppOptions): Promise<App> {
  const config = loadConfig({
    BOT_TOKEN: options.fake.token,
    TELEGRAM_API_ROOT: options.fake.apiRoot,
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: TEST_REDIS_URL,
    PORT: '0',
    HOST: '127.0.0.1',
    ...options.env,
  });
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  return startApp(config, options.program ?? exampleProgram(), { logger, ...(options.clock ? { clock: options.clock } : {}) });
}
