import { minorDigits } from '../domain/ledger/earn-rules.js';
import type { Locale } from '../domain/program.js';

/** Locale-aware rendering of the numbers the domain returns. */
export interface Formatter {
  money(minor: number): string;
  date(date: Date): string;
  /** Date and time in the program's time zone. */
  dateTime(date: Date): string;
  /** A calendar date kept as YYYY-MM-DD. */
  calendarDate(isoDate: string): string;
  signed(points: number): string;
  /** A whole number with the locale's thousands separators (points, counts). */
  number(value: number): string;
}

const INTL_LOCALE: Record<Locale, string> = { ru: 'ru-RU', en: 'en-GB' };

/**
 * English dates spell the month ("4 Dec 2026"): 04/12/2026 reads as 12 April to an American.
 * Russian readers expect 04.12.2026, which nobody misreads.
 */
const DATE_PARTS: Record<Locale, Intl.DateTimeFormatOptions> = {
  ru: { day: '2-digit', month: '2-digit', year: 'numeric' },
  en: { day: 'numeric', month: 'short', year: 'numeric' },
};

const formatters = new Map<string, Formatter>();

/** Formatters are built once per (locale, currency, zone): Intl objects are costly to create. */
export function formatterFor(locale: Locale, currency: string, timeZone: string): Formatter {
  const key = `${locale}|${currency}|${timeZone}`;
  let formatter = formatters.get(key);
  if (!formatter) {
    formatter = createFormatter(locale, currency, timeZone);
    formatters.set(key, formatter);
  }
  return formatter;
}

function createFormatter(locale: Locale, currency: string, timeZone: string): Formatter {
  const tag = INTL_LOCALE[locale];
  const digits = minorDigits(currency);
  // Whole amounts read best without decimals ("1 500 ₽"); any fraction shows every minor digit
  // ("1 500,50 ₽", never "1 500,5 ₽").
  const whole = new Intl.NumberFormat(tag, { style: 'currency', currency, minimumFractionDigits: 0, maximumFractionDigits: 0 });
  const fractional = new Intl.NumberFormat(tag, { style: 'currency', currency, minimumFractionDigits: digits, maximumFractionDigits: digits });
  const scale = 10 ** digits;
  const parts = DATE_PARTS[locale];
  const date = new Intl.DateTimeFormat(tag, { timeZone, ...parts });
  const calendar = new Intl.DateTimeFormat(tag, { timeZone: 'UTC', ...parts });
  const dateTime = new Intl.DateTimeFormat(tag, { timeZone, ...parts, hour: '2-digit', minute: '2-digit' });
  const number = new Intl.NumberFormat(tag);
  return {
    money: (minor) => (minor % scale === 0 ? whole : fractional).format(minor / scale),
    date: (value) => date.format(value),
    dateTime: (value) => dateTime.format(value),
    calendarDate: (iso) => calendar.format(new Date(`${iso}T00:00:00Z`)),
    number: (value) => number.format(value),
    signed: (points) => (points > 0 ? `+${number.format(points)}` : points < 0 ? `−${number.format(-points)}` : '0'),
  };
}
