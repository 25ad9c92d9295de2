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
    for (let i = 0; i < 200; i++) {
      const code = generateMemberCode();
      for (let position = 0; position < code.length; position++) {
        for (const replacement of CODE_ALPHABET) {
          if (replacement === code[position]) continue;
          const typo = code.slice(0, position) + replacement + code.slice(position + 1);
          expect(isMemberCode(typo), `${code} -> ${typo}`).toBe(false);
        }
      }
    }
  });

  it('catch every swap of two characters', () => {
    let swaps = 0;
    for (let i = 0; i < 300; i++) {
      const code = generateMemberCode();
      for (let a = 0; a < code.length; a++) {
        for (let b = a + 1; b < code.length; b++) {
          if (code[a] === code[b]) continue;
          const chars = [...code];
          [chars[a], chars[b]] = [chars[b] as string, chars[a] as string];
          swaps++;
          expect(isMemberCode(chars.join('')), `${code} -> ${chars.join('')}`).toBe(false);
        }
      }
    }
    expect(swaps).toBeGreaterThan(5000);
  });

  it('do not repeat over 200,000 draws', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200_000; i++) seen.add(generateMemberCode());
    expect(seen.size).toBe(200_000);
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
