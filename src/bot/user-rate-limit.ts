import type { Context, NextFunction } from 'grammy';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { BotDeps } from './context.js';
import { detectLocale } from './i18n.js';

/**
 * One user cannot starve the others: every user has a token bucket in Redis (so the allowance
 * holds across bot instances), taken from before any other work on an update. An update over the
 * allowance is dropped on the spot: it never waits for its chat's turn in `sequentialize`, so a
 * flood never occupies the runner's slots or the database. The user hears "slow down" once per
 * window, where a window is the time an empty bucket takes to fill again.
 *
 * When Redis cannot answer, updates go through (fail open): the limiter protects fairness, and a
 * bot that stops answering everyone because its limiter's store is down protects nobody.
 */
export interface UserRateLimitOptions {
  /** Updates a user may send at once. */
  burst: number;
  /** Updates per second the allowance refills by (may be fractional). */
  perSecond: number;
  /** Redis key prefix (the deployment's QUEUE_PREFIX). */
  prefix: string;
}

export interface UserRateDecision {
  allowed: boolean;
  /** Tell the user to slow down: the first refused update of a window. */
  notify: boolean;
}

export interface UserRateLimiter {
  take(userId: number): Promise<UserRateDecision>;
}

// KEYS[1]: the user's bucket (a hash). ARGV[1]: burst, ARGV[2]: tokens per millisecond.
// Time comes from Redis itself, so bot instances with skewed clocks share one bucket correctly.
// Returns {allowed, notify, wait}: wait is the milliseconds until the next token when refused.
// The key expires once a full bucket and the absent key mean the same.
const TAKE_TOKEN = `
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'noticed')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
local noticed = tonumber(state[3])
local window = burst / rate
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local allowed, notify, wait = 0, 0, 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = math.ceil((1 - tokens) / rate)
  if noticed == nil or now - noticed >= window then
    noticed = now
    notify = 1
  end
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
if noticed then redis.call('HSET', KEYS[1], 'noticed', noticed) end
redis.call('PEXPIRE', KEYS[1], math.ceil(window) + 1000)
return {allowed, notify, wait}
`;

type WithTakeToken = Redis & { takeUserToken(key: string, burst: number, ratePerMs: number): Promise<[number, number, number]> };

const FAIL_OPEN_LOG_INTERVAL_MS = 60_000;
/** Past this many remembered refusals, the ones that have run out are swept. */
const REFUSALS_SWEEP_SIZE = 10_000;

export function createUserRateLimiter(redis: Redis, options: UserRateLimitOptions, logger: Logger): UserRateLimiter {
  if (!(options.burst >= 1) || !(options.perSecond > 0)) throw new Error('user rate limit: burst must be >= 1 and perSecond > 0');
  // defineCommand runs the script by its SHA and loads it again if Redis lost it.
  redis.defineCommand('takeUserToken', { numberOfKeys: 1, lua: TAKE_TOKEN });
  const client = redis as WithTakeToken;
  const ratePerMs = options.perSecond / 1000;
  let lastWarned = 0;
  // A refused user has no token until `wait` has passed, whichever instance asks (the others can
  // only take tokens, never add them): until then their updates are refused here, without a
  // round trip, so a flood costs Redis one call per token rather than one per update.
  const refusedUntil = new Map<number, number>();
  const rememberRefusal = (userId: number, waitMs: number) => {
    const now = performance.now();
    if (refusedUntil.size >= REFUSALS_SWEEP_SIZE) for (const [id, end] of refusedUntil) if (end <= now) refusedUntil.delete(id);
    refusedUntil.set(userId, now + waitMs);
  };

  return {
    async take(userId) {
      const until = refusedUntil.get(userId);
      if (until !== undefined) {
        if (performance.now() < until) return { allowed: false, notify: false };
        refusedUntil.delete(userId);
      }
      try {
        const [allowed, notify, wait] = await client.takeUserToken(`${options.prefix}:ratelimit:user:${userId}`, options.burst, ratePerMs);
        if (allowed !== 1) rememberRefusal(userId, wait);
        return { allowed: allowed === 1, notify: notify === 1 };
      } catch (error) {
        // An outage would otherwise log once per update.
        if (Date.now() - lastWarned >= FAIL_OPEN_LOG_INTERVAL_MS) {
          lastWarned = Date.now();
          logger.warn({ err: error }, 'user rate limiter unavailable; letting updates through');
        }
        return { allowed: true, notify: false };
      }
    },
  };
}

/** The first middleware of the bot: drops a user's updates over their allowance. */
export function userRateLimit(limiter: UserRateLimiter, deps: Pick<BotDeps, 'i18n' | 'defaultLocale' | 'logger'>) {
  return async (ctx: Context, next: NextFunction): Promise<void> => {
    const userId = ctx.from?.id;
    // my_chat_member says whether the user blocked the bot: state the delivery queue needs, and
    // Telegram sends it only when the user does something deliberate.
    if (userId === undefined || ctx.myChatMember) return next();
    const decision = await limiter.take(userId);
    if (decision.allowed) return next();
    if (decision.notify) {
      // Not awaited: the dropped update must not hold a runner slot while the note is sent
      // (or waits out a 429).
      void slowDown(ctx, deps).catch((error: unknown) => deps.logger.warn({ err: error, updateId: ctx.update.update_id }, 'could not send the slow-down note'));
    }
  };
}

/** The note in the user's Telegram language: the member's own setting would cost a database read. */
async function slowDown(ctx: Context, deps: Pick<BotDeps, 'i18n' | 'defaultLocale'>): Promise<void> {
  const text = deps.i18n.t(detectLocale(ctx.from?.language_code) ?? deps.defaultLocale)('common.slow_down');
  if (ctx.callbackQuery) await ctx.answerCallbackQuery({ text });
  else if (ctx.chat) await ctx.reply(text);
}
