import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import { afterAll } from 'vitest';
import { type App, startApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { Clock } from '../../src/domain/clock.js';
import type { Program } from '../../src/domain/program.js';
import { TEST_FINGERPRINT_SECRET, TEST_REDIS_URL } from './env.js';
import type { FakeBotApi } from './fake-bot-api/server.js';
import { exampleProgram } from './program.js';

export interface TestAppOptions {
  fake: FakeBotApi;
  databaseUrl: string;
  program?: Program;
  clock?: Clock;
  env?: Record<string, string>;
  /** Default: silent (TEST_LOG_LEVEL to see logs); tests about what is logged pass their own. */
  logger?: Logger;
}

/** Queues of one test file live under their own Redis prefix. */
const QUEUE_PREFIX = `test-${randomBytes(4).toString('hex')}`;

/** Deletes every Redis key of a queue prefix (tests and benchmarks clean up after themselves). */
export async function removeQueueKeys(prefix: string): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** The whole app, in this process, against the fake Bot API, real PostgreSQL and real Redis. */
export async function startTestApp(options: TestAppOptions): Promise<App> {
  const config = loadConfig({
    BOT_TOKEN: options.fake.token,
    TELEGRAM_API_ROOT: options.fake.apiRoot,
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: TEST_REDIS_URL,
    PORT: '0',
    HOST: '127.0.0.1',
    QUEUE_PREFIX,
    FINGERPRINT_SECRET: TEST_FINGERPRINT_SECRET,
    // Scenarios type faster than people do; the per-user limit is tested on its own.
    USER_UPDATES_BURST: '10000',
    USER_UPDATES_PER_SECOND: '10000',
    ...options.env,
  });
  const logger = options.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  return startApp(config, options.program ?? exampleProgram(), { logger, ...(options.clock ? { clock: options.clock } : {}) });
}

// Queued work survives an app restart within a test file (tests rely on that); the file's
// queues are removed once it has finished.
// (Registered only under vitest: benchmarks import this file too.)
if (process.env.VITEST) afterAll(() => removeQueueKeys(QUEUE_PREFIX));
