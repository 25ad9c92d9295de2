import { createRequire } from 'node:module';
import rateLimit from '@fastify/rate-limit';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { requireKey } from './auth.js';
import { ApiProblem } from './problems.js';

/**
 * Requests per API key (@fastify/rate-limit), counted in Redis so that every instance of the app
 * shares one budget per key (nothing relies on in-process memory). The counter is named by the
 * API key's id, never by the key itself (a secret does not belong in Redis key names). It is a
 * fixed window that starts with a key's first request: INCR, and PEXPIRE on the first, in one
 * Lua call. A client may send up to twice the limit across a window boundary, which is the
 * "burst" here. When Redis is unreachable requests go through (and are logged): a till must keep
 * selling when the limiter's store is down, and the database still guards correctness.
 */
export interface RateLimitOptions {
  /** Requests allowed per window and key. Default 20 (API_RATE_LIMIT). */
  limit?: number;
  /** Window length in seconds. Default 1 (API_RATE_LIMIT_WINDOW_SECONDS). */
  windowSeconds?: number;
  /** Prefix of the Redis keys. Default `loyalty:ratelimit:api:`. */
  keyPrefix?: string;
}

export const DEFAULT_RATE_LIMIT = { limit: 20, windowSeconds: 1 } as const;

type Callback = (error: Error | null, result?: { current: number; ttl: number }) => void;
interface Store {
  incr(key: string, callback: Callback, timeWindow: number, max: number): void;
  child(routeOptions: unknown): Store;
}
// The plugin's own Redis store (one Lua call per request); it ships no types of its own.
const RedisStore = createRequire(import.meta.url)('@fastify/rate-limit/store/RedisStore.js') as new (
  continueExceeding: boolean,
  exponentialBackoff: boolean,
  redis: Redis,
  key: string,
) => Store;

/** The Redis store, saying in the log when Redis fails (the plugin then lets the request through). */
function loggingStore(redis: Redis, keyPrefix: string, logger: FastifyBaseLogger) {
  return class implements Store {
    private readonly inner = new RedisStore(false, false, redis, keyPrefix);
    incr(key: string, callback: Callback, timeWindow: number, max: number): void {
      this.inner.incr(
        key,
        (error, result) => {
          if (error) logger.warn({ err: error }, 'rate limiter unavailable; letting the request through');
          callback(error, result ?? undefined);
        },
        timeWindow,
        max,
      );
    }
    child(routeOptions: unknown): Store {
      return this.inner.child(routeOptions);
    }
  };
}

export function rateLimitSettings(options: RateLimitOptions) {
  const limit = options.limit ?? DEFAULT_RATE_LIMIT.limit;
  const windowSeconds = options.windowSeconds ?? DEFAULT_RATE_LIMIT.windowSeconds;
  if (!Number.isSafeInteger(limit) || limit < 1 || !Number.isSafeInteger(windowSeconds) || windowSeconds < 1)
    throw new Error('rate limit: limit must be >= 1 and windowSeconds a whole number >= 1');
  return { limit, windowSeconds, keyPrefix: options.keyPrefix ?? 'loyalty:ratelimit:api:' };
}

/**
 * Registers the limiter on the authenticated scope: it adds an onRequest hook to each route
 * registered after it, which runs after the scope's own hooks (authentication), so the API key
 * is known. Over the limit: 429 problem+json RATE_LIMITED with Retry-After and X-RateLimit-*.
 */
export async function registerRateLimit(scope: FastifyInstance, redis: Redis, options: RateLimitOptions): Promise<void> {
  const { limit, windowSeconds, keyPrefix } = rateLimitSettings(options);
  await scope.register(rateLimit, {
    global: true,
    max: limit,
    timeWindow: windowSeconds * 1000,
    store: loggingStore(redis, keyPrefix, scope.log),
    keyGenerator: (request) => `key:${requireKey(request).id}`,
    skipOnError: true,
    onExceeded: () => {},
    errorResponseBuilder: (_request, context) => {
      const seconds = Math.max(1, Math.ceil(context.ttl / 1000));
      return new ApiProblem('RATE_LIMITED', {
        detail: `At most ${limit} requests per ${windowSeconds} s for one API key; retry after ${seconds} s.`,
        headers: {
          'Retry-After': String(seconds),
          'X-RateLimit-Limit': String(limit),
          'X-RateLimit-Remaining': '0',
          'X-RateLimit-Reset': String(seconds),
        },
      });
    },
  });
}
