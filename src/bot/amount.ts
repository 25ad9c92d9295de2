/**
 * What a cashier types as money: "1234.56", "1 234,56", "1234", "1234 ₽". Converted to minor
 * units with integer arithmetic only (no float ever holds the amount); null when it is not a
 * positive amount with at most `digits` decimals.
 */
export function parseMoney(input: string, digits: number): number | null {
  const text = input
    .trim()
    .replace(/\s*(₽|руб\.?|р\.?|rub)$/iu, '')
    .replace(/[\s\u00a0\u202f']/gu, '');
  const match = /^(\d{1,13})(?:[.,](\d{1,4}))?$/.exec(text);
  if (!match) return null;
  const fraction = match[2] ?? '';
  if (fraction.length > digits) return null;
  const scale = 10n ** BigInt(digits);
  const minor = BigInt(match[1] as string) * scale + (fraction ? BigInt(fraction.padEnd(digits, '0')) : 0n);
  if (minor <= 0n || minor > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  return Number(minor);
}

/** A whole, non-negative number of points as typed ("150", " 150 "); null otherwise. */
export function parsePoints(input: string): number | null {
  const text = input.trim().replace(/[\s\u00a0\u202f]/gu, '');
  return /^\d{1,9}$/.test(text) ? Number(text) : null;
}
