import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { TEST_REDIS_URL } from './env.js';

/**
 * The Redis prefix of the current test file's queues. A worker process runs several files one
 * after another and keeps their modules (vitest.config.ts: isolate false), so the prefix is not
 * drawn at import: test/support/per-file.ts draws a new one before each file and removes its
 * keys after it.
 */
let current = draw();

function draw(): string {
  return `test-${randomBytes(4).toString('hex')}`;
}

export function fileQueuePrefix(): string {
  return current;
}

/** A new prefix for the file about to run (called by the per-file setup only). */
export function beginFileQueues(): string {
  current = draw();
  return current;
}

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
