import { describe, expect, it } from 'vitest';
import { isDomainError } from '../../src/domain/errors.js';
import { normalizeName, normalizePhone, parseBirthday } from '../../src/domain/members/validation.js';

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    if (isDomainError(error)) return error.code;
    throw error;
  }
  return 'OK';
};

describe('phone numbers', () => {
  it.each([
    ['+7 912 345-67-89', '+79123456789'],
    ['8 (912) 345-67-89', '+79123456789'],
    ['79123456789', '+79123456789'],
    ['+44 20 7946 0958', '+442079460958'],
    ['+1 (212) 555-0123', '+12125550123'],
  ])('normalises %s to E.164', (input, expected) => {
    expect(normalizePhone(input, 'RU')).toBe(expected);
  });

  it.each(['12345', 'call me', '+7 000 000', '+999 1234567', ''])('refuses %j', (input) => {
    expect(codeOf(() => normalizePhone(input, 'RU'))).toBe('PHONE_INVALID');
  });
});

describe('names', () => {
  it('trims and collapses spaces, keeps letters of any script', () => {
    expect(normalizeName('  Анна   Мария ')).toBe('Анна Мария');
    expect(normalizeName("O'Brien-Smith")).toBe("O'Brien-Smith");
  });
  it.each(['', '   ', '<b>x</b>', '123', 'x'.repeat(65)])('refuses %j', (input) => {
    expect(codeOf(() => normalizeName(input))).toBe('NAME_INVALID');
  });
});

describe('birthdays', () => {
  const today = '2026-11-23';
  it('accepts real past dates in DD.MM.YYYY', () => {
    expect(parseBirthday('05.09.1990', today)).toBe('1990-09-05');
    expect(parseBirthday('5/9/1990', today)).toBe('1990-09-05');
    expect(parseBirthday('29.02.2000', today)).toBe('2000-02-29');
    expect(parseBirthday('23.11.2026', today)).toBe('2026-11-23');
  });
  it.each([
    ['1990-09-05', 'BIRTHDAY_FORMAT'],
    ['tomorrow', 'BIRTHDAY_FORMAT'],
    ['31.02.1990', 'BIRTHDAY_INVALID_DATE'],
    ['29.02.2001', 'BIRTHDAY_INVALID_DATE'],
    ['00.01.1990', 'BIRTHDAY_INVALID_DATE'],
    ['24.11.2026', 'BIRTHDAY_FUTURE'],
    ['01.01.2090', 'BIRTHDAY_FUTURE'],
    ['01.01.1890', 'BIRTHDAY_TOO_OLD'],
  ])('refuses %s with %s', (input, code) => {
    expect(codeOf(() => parseBirthday(input, today))).toBe(code);
  });
});
