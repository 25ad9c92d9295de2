import type { Locale, Program } from '../domain/program.js';
import type { Translate } from './i18n.js';

/**
 * Where a member gets help, from the program file's `support` (a Telegram @username, a URL, or
 * a sentence, optionally per language). Plain text: Telegram links @usernames and URLs by
 * itself. Null when the program names no contact.
 */
export function supportContact(program: Program, locale: Locale): string | null {
  const { support } = program;
  if (support === undefined) return null;
  return typeof support === 'string' ? support : support[locale];
}

/**
 * The end of a sentence telling a member where to ask ("…, write to our support: @club_help").
 * Never a dead end: without a configured contact it sends them to the staff at the till.
 */
export function askSupport(t: Translate, program: Program, locale: Locale): string {
  const contact = supportContact(program, locale);
  return contact ? t('support.ask', { contact }) : t('support.ask_till');
}
