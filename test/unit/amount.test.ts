import { describe, expect, it } from 'vitest';
import { parseMoney, parsePoints } from '../../src/bot/amount.js';

describe('money typed by a cashier', () => {
  it('reads the usual ways of writing an amount, exactly, in minor units', () => {
    expect(parseMoney('1234.56', 2)).toBe(123456);
    expect(parseMoney('1 234,56', 2)).toBe(123456);
    expect(parseMoney('1\u00a0234,56 ₽', 2)).toBe(123456);
    expect(parseMoney('1234', 2)).toBe(123400);
    expect(parseMoney('0,1', 2)).toBe(10);
    expect(parseMoney('19.99', 2)).toBe(1999);
    expect(parseMoney('0.29', 2)).toBe(29);
    expect(parseMoney('1500', 0)).toBe(1500);
  });

  it('refuses what is not a positive amount with the currency’s decimals', () => {
    for (const text of ['', '0', '0.00', '-5', '12.345', '1,234.56', '1.2.3', 'twelve', '12.', '.5', '1e3']) expect(parseMoney(text, 2)).toBeNull();
    expect(parseMoney('12.5', 0)).toBeNull();
    expect(parseMoney('99999999999999', 2)).toBeNull();
  });

  it('reads whole points only', () => {
    expect(parsePoints(' 150 ')).toBe(150);
    expect(parsePoints('0')).toBe(0);
    for (const text of ['1.5', '-1', 'max', '']) expect(parsePoints(text)).toBeNull();
  });
});
