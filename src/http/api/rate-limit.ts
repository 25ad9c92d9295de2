import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { type Clock, systemClock } from '../../domain/clock.js';
import { requireKey } from './auth.js';
import { ApiProblem } from './problems.js';

/**
 * Requests per API key, counted in Redis so that every instance of the app shares the count
 * (nothing relies on in-process memory). The scheme is a fixed window: INCR on a key named by
 * the API key id and the window number, with an EXPIRE so old windows vanish; no Lua needed.
 * A fixed window lets a client send up to twice the limit across a window boundary, which is the
 * "burst" here: the default (20 per second) allows bursts of 40, as a 20/s bucket of 40 would.
 * When Redis is unreachable the limiter lets requests through (and logs): a till must keep
 * selling when the limiter's store is down, and the database still guards correctness.
 */
export interface RateLimitOptions {
  /** Requests allowed per window and key. Default 20. */
  limit?: number;
  /** Window length in seconds. Default 1. */
  windowSeconds?: number;
  /** Prefix of the Redis keys. Default `loyalty:ratelimit:api:`. */
  keyPrefix?: string;
  /** Time source; tests pin it so windows do not roll over mid-test. */
  clock?: Clock;
}

export const DEFAULT_RATE_LIMIT = { limit: 20, windowSeconds: 1 } as const;

export interface RateDecision {
  allowed: boolean;
  remaining: number;
  /** Seconds until the window resets (at least 1). */
  resetSeconds: number;
}

export function createRateLimiter(redis: Redis, options: RateLimitOptions, logger: FastifyBaseLogger) {
  const limit = options.limit ?? DEFAULT_RATE_LIMIT.limit;
  const windowMs = (options.windowSeconds ?? DEFAULT_RATE_LIMIT.windowSeconds) * 1000;
  const prefix = options.keyPrefix ?? 'loyalty:ratelimit:api:';
  const clock = options.clock ?? systemClock;
  if (!Number.isSafeInteger(limit) || limit < 1 || !(windowMs >= 1000)) throw new Error('rate limit: limit must be >= 1 and windowSeconds >= 1');

  async function take(subject: string): Promise<RateDecision> {
    const now = clock.now().getTime();
    const window = Math.floor(now / windowMs);
    const resetSeconds = Math.max(1, Math.ceil(((window + 1) * windowMs - now) / 1000));
    const key = `${prefix}${subject}:${window}`;
    try {
      const results = await redis
        .multi()
        .incr(key)
        .pexpire(key, windowMs * 2)
        .exec();
      const count = Number(results?.[0]?.[1] ?? 0);
      return { allowed: count <= limit, remaining: Math.max(0, limit - count), resetSeconds };
    } catch (error) {
      logger.warn({ err: error }, 'rate limiter unavailable; letting the request through');
      return { allowed: true, remaining: limit, resetSeconds };
    }
  }

  /** An onRequest hook, after authentication: 429 with Retry-After when the key is over its limit. */
  const hook = async (request: FastifyRequest): Promise<void> => {
    const decision = await take(String(requireKey(request).id));
    if (!decision.allowed) {
      throw new ApiProblem('RATE_LIMITED', {
        detail: `At most ${limit} requests per ${windowMs / 1000} s for one API key; retry after ${decision.resetSeconds} s.`,
        headers: { 'Retry-After': String(decision.resetSeconds) },
      });
    }
  };

  return { take, hook, limit };
}
