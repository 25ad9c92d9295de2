import { readFileSync } from 'node:fs';
import i18next, { type TFunction } from 'i18next';
import { LOCALES, type Locale } from '../domain/program.js';

/**
 * Every word a person reads comes from locales/<lang>.json through i18next. Values interpolated
 * into messages are HTML-escaped here, once, because messages are sent with parse_mode HTML.
 */

export type Translate = TFunction;

const escapeHtml = (value: unknown): string => String(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function readLocale(locale: Locale): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`../../locales/${locale}.json`, import.meta.url), 'utf8'));
}

export interface I18n {
  t(locale: Locale): Translate;
  /** The same key in every locale: for matching reply-keyboard buttons whatever the language. */
  all(key: string): string[];
}

export async function createI18n(defaultLocale: Locale): Promise<I18n> {
  const instance = i18next.createInstance();
  await instance.init({
    resources: Object.fromEntries(LOCALES.map((locale) => [locale, { translation: readLocale(locale) }])),
    lng: defaultLocale,
    fallbackLng: defaultLocale,
    supportedLngs: [...LOCALES],
    interpolation: { escapeValue: true, escape: escapeHtml },
    returnNull: false,
    showSupportNotice: false,
  } as Parameters<typeof instance.init>[0]);
  const fixed = new Map(LOCALES.map((locale) => [locale, instance.getFixedT(locale)]));
  return {
    t: (locale) => fixed.get(locale) as Translate,
    all: (key) => LOCALES.map((locale) => (fixed.get(locale) as Translate)(key)),
  };
}

/** Telegram's language_code ("en-US", "ru") to one of ours, or null when we don't speak it. */
export function detectLocale(languageCode: string | undefined): Locale | null {
  const base = languageCode?.toLowerCase().split('-')[0];
  return LOCALES.find((locale) => locale === base) ?? null;
}
