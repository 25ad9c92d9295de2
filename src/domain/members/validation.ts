import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { DomainError } from '../errors.js';

/** A phone number as typed or shared, normalised to E.164; refused unless it is a valid number. */
export function normalizePhone(input: string, defaultCountry: string): string {
  const cleaned = input.trim();
  if (!/^[+\d\s().-]{5,25}$/.test(cleaned)) throw new DomainError('PHONE_INVALID');
  // Telegram shares contacts without the leading '+'.
  const candidate = /^\d{11,15}$/.test(cleaned) ? `+${cleaned}` : cleaned;
  const phone = parsePhoneNumberFromString(candidate, defaultCountry as CountryCode);
  if (!phone?.isValid()) throw new DomainError('PHONE_INVALID');
  return phone.number;
}

/** A display name: 1-64 characters of letters, spaces and the usual punctuation of names. */
export function normalizeName(input: string): string {
  const name = input.trim().replace(/\s+/g, ' ');
  if (name.length < 1 || name.length > 64 || !/^[\p{L}\p{M}][\p{L}\p{M}\s.'’-]*$/u.test(name)) {
    throw new DomainError('NAME_INVALID', { max: 64 });
  }
  return name;
}

/**
 * A name to offer as a one-tap answer, made from the Telegram profile name: what
 * `normalizeName` refuses (digits, emoji, symbols) is dropped, so that tapping the suggestion
 * is never answered with "please type a name". Null when nothing usable is left.
 */
export function suggestedName(raw: string | null | undefined): string | null {
  if (!raw) return null;
  const cleaned = raw
    .replace(/[^\p{L}\p{M}\s.'’-]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    // A name starts with a letter ("- Anna" → "Anna").
    .replace(/^[^\p{L}]+/u, '');
  // Cut at 64 characters, then at the last whole word, rather than mid-letter.
  const short = cleaned.length <= 64 ? cleaned : cleaned.slice(0, 64).replace(/\s+\S*$/, '');
  try {
    return normalizeName(short);
  } catch {
    return null;
  }
}

/**
 * A birthday typed as DD.MM.YYYY (also with / or -), returned as YYYY-MM-DD. It must be a real
 * date, not after `today` (a YYYY-MM-DD in the program's zone) and not more than 120 years back.
 */
export function parseBirthday(input: string, today: string): string {
  const match = /^(\d{1,2})[./-](\d{1,2})[./-](\d{4})$/.exec(input.trim());
  if (!match) throw new DomainError('BIRTHDAY_FORMAT');
  const [day, month, year] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
    throw new DomainError('BIRTHDAY_INVALID_DATE');
  }
  const iso = `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
  if (iso > today) throw new DomainError('BIRTHDAY_FUTURE');
  if (year < Number(today.slice(0, 4)) - 120) throw new DomainError('BIRTHDAY_TOO_OLD');
  return iso;
}
