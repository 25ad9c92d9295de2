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
}

const INTL_LOCALE: Record<Locale, string> = { ru: 'ru-RU', en: 'en-GB' };

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
  const money = new Intl.NumberFormat(tag, { style: 'currency', currency, minimumFractionDigits: 0, maximumFractionDigits: digits });
  const date = new Intl.DateTimeFormat(tag, { timeZone, day: '2-digit', month: '2-digit', year: 'numeric' });
  const calendar = new Intl.DateTimeFormat(tag, { timeZone: 'UTC', day: '2-digit', month: '2-digit', year: 'numeric' });
  const dateTime = new Intl.DateTimeFormat(tag, { timeZone, day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit' });
  const number = new Intl.NumberFormat(tag);
  return {
    money: (minor) => money.format(minor / 10 ** digits),
    date: (value) => date.format(value),
    dateTime: (value) => dateTime.format(value),
    calendarDate: (iso) => calendar.format(new Date(`${iso}T00:00:00Z`)),
    signed: (points) => (points > 0 ? `+${number.format(points)}` : points < 0 ? `−${number.format(-points)}` : '0'),
  };
}
