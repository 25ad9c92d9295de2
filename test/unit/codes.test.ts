import { describe, expect, it } from 'vitest';
import { CODE_ALPHABET, checkCharacter, formatCode, generateMemberCode, isMemberCode, MEMBER_CODE_LENGTH, normalizeCode } from '../../src/domain/codes.js';

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
