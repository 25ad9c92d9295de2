import { describe, expect, it } from 'vitest';
import { CODE_ALPHABET, COUPON_CODE_LENGTH, formatCouponCode, generateCouponCode, isCouponCode, isMemberCode, normalizeCode } from '../../src/domain/codes.js';
import { afterFailure, COUPON_LOOKUP_POLICY, waitSeconds } from '../../src/domain/rewards/lookup-throttle.js';

describe('coupon codes', () => {
  it('are 12 characters of the unambiguous alphabet, with at least 50 bits of randomness', () => {
    const code = generateCouponCode();
    expect(code).toHaveLength(COUPON_CODE_LENGTH);
    expect(code).toMatch(/^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]+$/);
    expect(code).not.toMatch(/[01OIL]/);
    expect(isCouponCode(code)).toBe(true);
    expect((COUPON_CODE_LENGTH - 1) * Math.log2(CODE_ALPHABET.length)).toBeGreaterThanOrEqual(50);
    // Never mistaken for a member card code (9 characters).
    expect(isMemberCode(code)).toBe(false);
  });

  it('catch every single-character typo and every swap of two neighbours by the check character', () => {
    // Collected, then asserted once: an expect per case cost most of the file's time.
    const accepted: string[] = [];
    let swaps = 0;
    for (let n = 0; n < 200; n++) {
      const code = generateCouponCode();
      for (let i = 0; i < code.length; i++) {
        for (const typo of CODE_ALPHABET) {
          if (typo === code[i]) continue;
          if (isCouponCode(code.slice(0, i) + typo + code.slice(i + 1))) accepted.push(`${code}: ${typo} at ${i}`);
        }
        const next = code[i + 1];
        if (next !== undefined && next !== code[i]) {
          swaps++;
          if (isCouponCode(code.slice(0, i) + next + code[i] + code.slice(i + 2))) accepted.push(`${code}: swap at ${i}`);
        }
      }
    }
    expect(accepted).toEqual([]);
    expect(swaps).toBeGreaterThan(1000);
  });

  it('never repeat over 1,000,000 generated', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1_000_000; i++) seen.add(generateCouponCode());
    expect(seen.size).toBe(1_000_000);
  });

  it('display in groups of four and read back from what a person types', () => {
    const code = generateCouponCode();
    const shown = formatCouponCode(code);
    expect(shown).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    expect(normalizeCode(` ${shown.toLowerCase().replace('-', ' ')} `)).toBe(code);
    expect(isCouponCode(normalizeCode(shown))).toBe(true);
  });

  it('refuse lengths and characters outside the format', () => {
    const code = generateCouponCode();
    expect(isCouponCode(code.slice(0, -1))).toBe(false);
    expect(isCouponCode(`${code}A`)).toBe(false);
    expect(isCouponCode(`${code.slice(0, 5)}0${code.slice(6)}`)).toBe(false);
  });
});

describe('the coupon lookup guard', () => {
  const at = (minutes: number) => new Date(Date.UTC(2026, 10, 23, 9, minutes));

  it('blocks after 5 wrong codes in 10 minutes, for 10 minutes, then starts afresh', () => {
    let state = null as ReturnType<typeof afterFailure> | null;
    for (let i = 0; i < 4; i++) state = afterFailure(state, at(i));
    expect(state).toMatchObject({ failures: 4, blockedUntil: null });
    expect(waitSeconds(state, at(4))).toBe(0);
    state = afterFailure(state, at(5));
    expect(state.blockedUntil).toEqual(new Date(at(5).getTime() + COUPON_LOOKUP_POLICY.blockMs));
    expect(waitSeconds(state, at(6))).toBe(9 * 60);
    expect(waitSeconds(state, at(15))).toBe(0);
    expect(afterFailure(state, at(15))).toMatchObject({ failures: 1, blockedUntil: null });
  });

  it('forgets failures older than the window', () => {
    let state = null as ReturnType<typeof afterFailure> | null;
    for (let i = 0; i < 4; i++) state = afterFailure(state, at(i));
    expect(afterFailure(state, at(10))).toMatchObject({ failures: 1, windowStart: at(10), blockedUntil: null });
  });
});
