import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import { DomainError } from '../errors.js';
import type { DomainDeps } from '../ports.js';
import { afterFailure, type ThrottlePolicy, waitSeconds } from '../rewards/lookup-throttle.js';
import type { ThrottleState } from '../rewards/types.js';
import type { SpendCodeState } from './types.js';

/**
 * One-time spend codes: six digits on the member's Card screen that a cashier or till types to
 * let the member pay with points. Short enough to read out, so they are guarded the other ways:
 *
 * - valid for SPEND_CODE_TTL_MS and used once (consumed in the purchase's own transaction);
 * - bound to one member: a code is only ever compared with that member's current code, so a
 *   stranger needs both the card and the code shown in the member's own chat right now;
 * - guessing is throttled per member (SPEND_CODE_POLICY, counted in the database so every
 *   instance sees it): after a few wrong codes spending is locked for that member a while;
 * - stored as an HMAC under a server key: a million six-digit codes are trivial to hash through,
 *   so a plain SHA-256 in the database would be as good as the code itself.
 */
export const SPEND_CODE_TTL_MS = 2 * 60_000;
export const SPEND_CODE_POLICY: ThrottlePolicy = { maxFailures: 5, windowMs: 10 * 60_000, blockMs: 15 * 60_000 };
export const SPEND_CODE_PATTERN = /^\d{6}$/;

/** Used when the composition root gives no key (domain tests): then the hash is only a digest. */
const FALLBACK_KEY = 'loyalty-spend-code';

export const spendThrottleKey = (memberId: number) => `spend:${memberId}`;

export function hashSpendCode(deps: Pick<DomainDeps, 'spendCodeKey'>, memberId: number, code: string): string {
  return createHmac('sha256', deps.spendCodeKey ?? FALLBACK_KEY)
    .update(`${memberId}:${code}`)
    .digest('hex');
}

/** Spaces and dashes a cashier may type are ignored: "123 456" is 123456. */
export const normalizeSpendCode = (code: string) => code.replace(/[\s-]/g, '');

/**
 * A fresh code for the member's Card screen; the previous one stops working (only the code on
 * screen is valid). The member is the one asking, in their own chat.
 */
export async function issueSpendCode(deps: DomainDeps, memberId: number): Promise<{ code: string; expiresAt: Date }> {
  const now = deps.clock.now();
  const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
  const expiresAt = new Date(now.getTime() + SPEND_CODE_TTL_MS);
  await deps.uow.run(async (repos) => {
    const member = await repos.members.findById(memberId);
    if (member?.status !== 'ACTIVE') throw new DomainError('MEMBER_NOT_FOUND');
    await repos.spendCodes.replace(memberId, { codeHash: hashSpendCode(deps, memberId, code), createdAt: now, expiresAt });
  });
  return { code, expiresAt };
}

/** Throws SPENDING_LOCKED while the member's spending is locked after wrong codes. */
export async function assertSpendingNotLocked(deps: DomainDeps, memberId: number): Promise<void> {
  assertNotLocked(await deps.repos.lookupThrottle.get(spendThrottleKey(memberId)), deps.clock.now());
}

function assertNotLocked(throttle: ThrottleState | null, now: Date): void {
  const wait = waitSeconds(throttle, now);
  if (wait > 0) throw new DomainError('SPENDING_LOCKED', { retryAfterSeconds: wait });
}

/**
 * The id of the member's current code if `typed` is it. A wrong or expired code counts towards
 * the member's lock (in its own transaction: it must stick although the purchase fails) and
 * throws SPEND_CODE_INVALID with the attempts left. `read`: the member's code and lock as the
 * caller already read them (the purchase reads them with its snapshot, saving two round trips).
 */
export async function verifySpendCode(deps: DomainDeps, memberId: number, typed: string, read?: SpendCodeState): Promise<number> {
  const now = deps.clock.now();
  const state = read ?? {
    throttle: await deps.repos.lookupThrottle.get(spendThrottleKey(memberId)),
    current: await deps.repos.spendCodes.current(memberId, now),
  };
  assertNotLocked(state.throttle, now);
  const code = normalizeSpendCode(typed);
  const current = state.current;
  if (current && SPEND_CODE_PATTERN.test(code)) {
    const expected = Buffer.from(current.codeHash, 'hex');
    const given = Buffer.from(hashSpendCode(deps, memberId, code), 'hex');
    if (expected.length === given.length && timingSafeEqual(expected, given)) return current.id;
  }
  const key = spendThrottleKey(memberId);
  const after = await deps.uow.run(async (repos) => {
    const next = afterFailure(await repos.lookupThrottle.lock(key, now), now, SPEND_CODE_POLICY);
    await repos.lookupThrottle.save(key, next);
    await repos.audit.record({
      actor: { type: 'SYSTEM', id: 'spend-code' },
      action: next.blockedUntil ? 'spend_code.locked' : 'spend_code.wrong',
      subject: `member:${memberId}`,
      details: { failures: next.failures, until: next.blockedUntil?.toISOString() ?? null },
    });
    return next;
  });
  throw new DomainError('SPEND_CODE_INVALID', { field: 'spendCode', attemptsLeft: Math.max(0, SPEND_CODE_POLICY.maxFailures - after.failures) });
}
