import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { ApiProblem } from './problems.js';

/**
 * API-key lookups per client address. A request with a made-up key is free to send, but looking
 * the key up costs a hash and a database query; the per-key limiter (rate-limit.ts) cannot help,
 * there is no key yet. So each address may have at most `limit` lookups that found no usable key
 * per window; over that it is answered 429 RATE_LIMITED before any lookup.
 *
 * The lookup is counted before it runs (INCR), and given back when it found a valid key, in
 * Redis (shared by every instance): a flood sent all at once gets `limit` lookups, not one per
 * request, and honest tills never use up the budget (their keys are mostly answered from the
 * lookup cache without coming here at all). IPv6 addresses count per /64, the block one client
 * usually holds. When Redis is unreachable lookups go through (and are logged), as in
 * rate-limit.ts: tills keep selling. The client address is the socket's unless TRUST_PROXY
 * names the reverse proxy in front (then the one its X-Forwarded-For gives).
 */
export interface LookupLimitOptions {
  /** Lookups that found no usable key, per address and window. Default 20. */
  limit?: number;
  /** Default 60. */
  windowSeconds?: number;
}

export const DEFAULT_LOOKUP_LIMIT = { limit: 20, windowSeconds: 60 } as const;

/** Runs `lookup` within `address`'s budget; `found` says whether it found a usable key. */
export type LookupGuard = <T>(lookup: () => Promise<T>, found: (result: T) => boolean) => Promise<T>;

// KEYS[1] the address's counter; ARGV window ms, limit. 0 = go ahead, else ms until the window ends.
const RESERVE = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if n <= tonumber(ARGV[2]) then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) ttl = tonumber(ARGV[1]) end
return ttl`;
// A lookup that found its key gives its count back; a counter back at 0 is removed.
const RELEASE = `local n = redis.call('DECR', KEYS[1])
if n <= 0 then redis.call('DEL', KEYS[1]) end
return n`;

/** The counted unit of an address: itself for IPv4, its /64 for IPv6 (an IPv4-mapped one is IPv4). */
export function addressBucket(ip: string): string {
  if (!ip.includes(':')) return ip;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped?.[1]) return mapped[1];
  const [head = '', tail = ''] = ip.split('::');
  const left = head ? head.split(':') : [];
  const right = ip.includes('::') && tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((group) => Number.parseInt(group || '0', 16).toString(16))
    .join(':')}::/64`;
}

export function lookupGuard(redis: Redis, keyPrefix: string, options: LookupLimitOptions, logger: FastifyBaseLogger) {
  const limit = options.limit ?? DEFAULT_LOOKUP_LIMIT.limit;
  const windowMs = (options.windowSeconds ?? DEFAULT_LOOKUP_LIMIT.windowSeconds) * 1000;
  return (ip: string): LookupGuard =>
    async <T>(lookup: () => Promise<T>, found: (result: T) => boolean): Promise<T> => {
      const counter = `${keyPrefix}lookups:${addressBucket(ip)}`;
      let counted = false;
      try {
        const wait = Number(await redis.eval(RESERVE, 1, counter, windowMs, limit));
        if (wait > 0) {
          const seconds = Math.max(1, Math.ceil(wait / 1000));
          throw new ApiProblem('RATE_LIMITED', {
            detail: `Too many requests without a valid API key from this address; retry after ${seconds} s.`,
            headers: { 'Retry-After': String(seconds) },
          });
        }
        counted = true;
      } catch (error) {
        if (error instanceof ApiProblem) throw error;
        logger.warn({ err: error }, 'API key lookup limiter unavailable; letting the lookup through');
      }
      const release = () => redis.eval(RELEASE, 1, counter).catch((error: unknown) => logger.warn({ err: error }, 'API key lookup limiter: release failed'));
      let result: T;
      try {
        result = await lookup();
      } catch (error) {
        // Not an answer about the key (the database is down): it must not use up the address's
        // budget, or every till behind one address is refused for a minute after an outage.
        if (counted) await release();
        throw error;
      }
      if (counted && found(result)) await release();
      return result;
    };
}
