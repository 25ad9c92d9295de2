import { createHmac, randomInt } from 'node:crypto';
import { DomainError } from '../errors.js';
import type { DomainDeps } from '../ports.js';
import { type ThrottlePolicy, waitSeconds } from '../rewards/lookup-throttle.js';
import type { SpendCodeAttempt, SpendCodeCheck } from './types.js';

/**
 * One-time spend codes: six digits on the member's Card screen that a cashier or till types to
 * let the member pay with points. Short enough to read out, so they are guarded the other ways:
 *
 * - valid for SPEND_CODE_TTL_MS and used once (consumed in the purchase's own transaction);
 * - bound to one member: a code is only ever compared with that member's current code, so a
 *   stranger needs both the card and the code shown in the member's own chat right now;
 * - guessing is throttled per member (SPEND_CODE_POLICY, counted in the database in the same
 *   step as the compare, so every instance and every concurrent guess sees it): after a few
 *   wrong codes spending is locked for that member a while;
 * - stored as an HMAC under a server key: a million six-digit codes are trivial to hash through,
 *   so a plain SHA-256 in the database would be as good as the code itself. The HMAC is of the
 *   code alone, not of the member too (issue 12): the binding to the member is the compare, which
 *   only ever reads that member's row, and a till that names the member by card code can then
 *   have the code checked in the same statement that finds the member (the purchase snapshot).
 *   A member id in the hash added nothing an attacker without the key could use, and with the
 *   key a million codes are trivial to hash through either way.
 */
export const SPEND_CODE_TTL_MS = 2 * 60_000;
export const SPEND_CODE_POLICY: ThrottlePolicy = { maxFailures: 5, windowMs: 10 * 60_000, blockMs: 15 * 60_000 };
export const SPEND_CODE_PATTERN = /^\d{6}$/;

/** Used when the composition root gives no key (domain tests): then the hash is only a digest. */
const FALLBACK_KEY = 'loyalty-spend-code';

/** The member's guessing lock is the LookupThrottle row `spend:<member id>` (the database builds it from the prefix). */
export const SPEND_THROTTLE_PREFIX = 'spend:';
export const spendThrottleKey = (memberId: number) => `${SPEND_THROTTLE_PREFIX}${memberId}`;

export function hashSpendCode(deps: Pick<DomainDeps, 'spendCodeKey'>, code: string): string {
  return createHmac('sha256', deps.spendCodeKey ?? FALLBACK_KEY)
    .update(`spend-code:${code}`)
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
    await repos.spendCodes.replace(memberId, { codeHash: hashSpendCode(deps, code), createdAt: now, expiresAt });
  });
  return { code, expiresAt };
}

/** What the database needs to check `typed` at `now` against a member's current code (see SpendCodeCheck). */
export function spendCodeCheck(deps: Pick<DomainDeps, 'spendCodeKey'>, typed: string, now: Date): SpendCodeCheck {
  const code = normalizeSpendCode(typed);
  return {
    codeHash: SPEND_CODE_PATTERN.test(code) ? hashSpendCode(deps, code) : null,
    now,
    policy: SPEND_CODE_POLICY,
  };
}

/**
 * The id of the member's current code if `typed` is it. The compare and the count are one step
 * in the database, under the member's guessing lock (spend_code_attempt): concurrent guesses
 * take turns, so no more than SPEND_CODE_POLICY.maxFailures wrong codes are ever answered per
 * window, and while locked even the right code is refused (SPENDING_LOCKED) without a compare.
 * A wrong or expired code throws SPEND_CODE_INVALID with the attempts left. `checked`: the
 * decision when the caller had it made already (the purchase's snapshot makes it, saving a
 * round trip).
 */
export async function verifySpendCode(deps: DomainDeps, memberId: number, typed: string, checked?: SpendCodeAttempt): Promise<number> {
  const now = deps.clock.now();
  const attempt = checked ?? (await deps.repos.spendCodes.attempt(memberId, spendCodeCheck(deps, typed, now)));
  if (attempt.outcome === 'match') return attempt.codeId;
  if (attempt.outcome === 'locked') throw new DomainError('SPENDING_LOCKED', { retryAfterSeconds: waitSeconds(attempt, now) });
  const { throttle } = attempt;
  await deps.repos.audit.record({
    actor: { type: 'SYSTEM', id: 'spend-code' },
    action: throttle.blockedUntil ? 'spend_code.locked' : 'spend_code.wrong',
    subject: `member:${memberId}`,
    details: { failures: throttle.failures, until: throttle.blockedUntil?.toISOString() ?? null },
  });
  throw new DomainError('SPEND_CODE_INVALID', { field: 'spendCode', attemptsLeft: Math.max(0, SPEND_CODE_POLICY.maxFailures - throttle.failures) });
}
