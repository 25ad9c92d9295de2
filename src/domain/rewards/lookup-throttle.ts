import { DomainError } from '../errors.js';
import type { Actor } from '../ledger/types.js';
import type { DomainDeps } from '../ports.js';
import type { ThrottleState } from './types.js';

/**
 * The brute-force guard on coupon codes. A staff account or till that looks up `maxFailures`
 * well-formed but unknown codes within `windowMs` must wait `blockMs` before it may look up
 * any code again.
 *
 * Only well-formed unknown codes count: a typo caught by the check character tells a guesser
 * nothing (anyone can compute check characters), so honest typos never lock a cashier out.
 *
 * The counters live in PostgreSQL (one row per account, updated under a row lock) rather than
 * in process memory or Redis: every bot and API instance sees the same count, a restart does
 * not reset it, it needs no extra service in embedded mode, and wrong codes are rare enough
 * that one small write each costs nothing. Each failure and each block is written to the audit
 * log.
 */
export interface ThrottlePolicy {
  maxFailures: number;
  windowMs: number;
  blockMs: number;
}

export const COUPON_LOOKUP_POLICY: ThrottlePolicy = { maxFailures: 5, windowMs: 10 * 60_000, blockMs: 10 * 60_000 };

/** The state after one more failure at `now`: a new window once the old one (or a block) is over. */
export function afterFailure(state: ThrottleState | null, now: Date, policy: ThrottlePolicy = COUPON_LOOKUP_POLICY): ThrottleState {
  const fresh =
    !state ||
    state.failures === 0 ||
    now.getTime() - state.windowStart.getTime() >= policy.windowMs ||
    (state.blockedUntil !== null && state.blockedUntil <= now);
  const failures = fresh ? 1 : state.failures + 1;
  return {
    failures,
    windowStart: fresh ? now : state.windowStart,
    blockedUntil: failures >= policy.maxFailures ? new Date(now.getTime() + policy.blockMs) : null,
  };
}

/** Seconds left to wait at `now` (0: not blocked). */
export function waitSeconds(state: Pick<ThrottleState, 'blockedUntil'> | null, now: Date): number {
  if (!state?.blockedUntil || state.blockedUntil <= now) return 0;
  return Math.ceil((state.blockedUntil.getTime() - now.getTime()) / 1000);
}

/** Throws TOO_MANY_ATTEMPTS while the account must wait. */
export async function assertNotThrottled(deps: DomainDeps, key: string): Promise<void> {
  const wait = waitSeconds(await deps.repos.lookupThrottle.get(key), deps.clock.now());
  if (wait > 0) throw new DomainError('TOO_MANY_ATTEMPTS', { retryAfterSeconds: wait });
}

/** Counts one wrong code for `key` (its own transaction: it must stick although the lookup fails). */
export async function recordFailedLookup(deps: DomainDeps, key: string, actor: Actor, attempted: string): Promise<ThrottleState> {
  const now = deps.clock.now();
  return deps.uow.run(async (repos) => {
    const next = afterFailure(await repos.lookupThrottle.lock(key, now), now);
    await repos.lookupThrottle.save(key, next);
    await repos.audit.record({ actor, action: 'coupon.lookup_failed', subject: key, details: { code: attempted.slice(0, 32), failures: next.failures } });
    if (next.blockedUntil) {
      await repos.audit.record({
        actor,
        action: 'coupon.lookup_blocked',
        subject: key,
        details: { until: next.blockedUntil.toISOString(), failures: next.failures },
      });
    }
    return next;
  });
}
