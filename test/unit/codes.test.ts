import { describe, expect, it } from 'vitest';
import {
  CODE_ALPHABET,
  checkCharacter,
  formatCode,
  generateMemberCode,
  isMemberCode,
  MEMBER_CODE_LENGTH,
  normalizeCode,
  secureRandomBelow,
} from '../../src/domain/codes.js';

describe('member codes', () => {
  it('are short, use only unambiguous characters and carry a valid check character', () => {
    for (let i = 0; i < 1000; i++) {
      const code = generateMemberCode();
      expect(code).toHaveLength(MEMBER_CODE_LENGTH);
      expect(code).toMatch(/^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]+$/);
      expect(isMemberCode(code)).toBe(true);
    }
    for (const confusable of ['0', 'O', '1', 'I', 'L']) expect(CODE_ALPHABET).not.toContain(confusable);
  });

  it('catch every single-character typo', () => {
    // Collected, then asserted once: an expect per case cost most of the file's time.
    const accepted: string[] = [];
    for (let i = 0; i < 200; i++) {
      const code = generateMemberCode();
      for (let position = 0; position < code.length; position++) {
        for (const replacement of CODE_ALPHABET) {
          if (replacement === code[position]) continue;
          const typo = code.slice(0, position) + replacement + code.slice(position + 1);
          if (isMemberCode(typo)) accepted.push(`${code} -> ${typo}`);
        }
      }
    }
    expect(accepted).toEqual([]);
  });

  it('catch every swap of two characters', () => {
    let swaps = 0;
    const accepted: string[] = [];
    for (let i = 0; i < 300; i++) {
      const code = generateMemberCode();
      for (let a = 0; a < code.length; a++) {
        for (let b = a + 1; b < code.length; b++) {
          if (code[a] === code[b]) continue;
          const chars = [...code];
          [chars[a], chars[b]] = [chars[b] as string, chars[a] as string];
          swaps++;
          if (isMemberCode(chars.join(''))) accepted.push(`${code} -> ${chars.join('')}`);
        }
      }
    }
    expect(accepted).toEqual([]);
    expect(swaps).toBeGreaterThan(5000);
  });

  it('repeat no more often over 200,000 draws than the birthday problem allows for 31^8 codes', () => {
    // Random codes do collide now and then (registration draws again on a taken code): 200,000
    // draws from 31^8 repeat about 0.023 times on average, so "never" would fail about 2 % of
    // runs. Repeats are Poisson(λ) with λ = n(n-1)/2N; more than `allowed` of them has a
    // probability below 1e-9 for a uniform generator, while a biased or short one repeats far more.
    const n = 200_000;
    const space = 31 ** 8;
    const lambda = (n * (n - 1)) / 2 / space;
    let allowed = 0;
    let term = Math.exp(-lambda);
    let tail = 1 - term;
    while (tail > 1e-9) {
      allowed += 1;
      term *= lambda / allowed;
      tail -= term;
    }
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) seen.add(generateMemberCode());
    expect(allowed).toBeLessThanOrEqual(4);
    expect(n - seen.size).toBeLessThanOrEqual(allowed);
  });

  it('tolerate case, spaces and dashes as typed at a till', () => {
    const code = generateMemberCode();
    const typed = ` ${formatCode(code).toLowerCase().replace('-', ' - ')} `;
    expect(normalizeCode(typed)).toBe(code);
    expect(formatCode('ABCDEFGHJ')).toBe('ABC-DEF-GHJ');
  });

  it('refuse characters outside the alphabet when computing a check character', () => {
    expect(() => checkCharacter('ABC0')).toThrow(/outside the code alphabet/);
  });
});

describe('the random source of codes', () => {
  it('draws every value below the bound, none at or above it, about equally often', () => {
    // 31 (the code alphabet) and 62 (referral tokens) leave a remainder in 256: the bytes above
    // the last whole multiple are drawn again, else the first values would come up more often.
    for (const max of [31, 62]) {
      const counts = new Array<number>(max).fill(0);
      const draws = max * 10_000;
      for (let i = 0; i < draws; i++) {
        const value = secureRandomBelow(max);
        if (!(value >= 0 && value < max && Number.isInteger(value))) throw new Error(`drew ${value} for max ${max}`);
        counts[value] = (counts[value] ?? 0) + 1;
      }
      // Each count is ~10,000 with a standard deviation of ~100: the bounds are 6 of them away.
      // A byte taken modulo max without rejection gives the first 8 values 9/8 (for 31) or 5/4
      // (for 62) of their share: ~10,900 or ~12,100.
      expect(Math.min(...counts)).toBeGreaterThan(9_400);
      expect(Math.max(...counts)).toBeLessThan(10_600);
    }
  });

  it('refuses a bound it cannot draw uniformly', () => {
    for (const max of [0, -1, 1.5, 257]) expect(() => secureRandomBelow(max)).toThrow(RangeError);
    expect(secureRandomBelow(1)).toBe(0);
  });
});
