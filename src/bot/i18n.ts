import { readFileSync } from 'node:fs';
import i18next, { type i18n, type TFunction } from 'i18next';
import { DEFAULT_POINTS_NAME, LOCALES, type Locale, type PointsName } from '../domain/program.js';
import { compiledTranslate, type Fallback, type TextFormats } from './compiled-texts.js';

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

// Built once: constructing Intl.PluralRules costs more than the rest of a Balance reply's texts.
const pluralRules = Object.fromEntries(LOCALES.map((locale) => [locale, new Intl.PluralRules(locale)])) as Record<Locale, Intl.PluralRules>;

/**
 * The program's name for its points in the form for `count` in `locale`, picked by the
 * language's plural rules (ru: 1 звезда, 2 звезды, 5 звёзд, 21 звезда; en: 1 star, 2 stars).
 */
export function pointsNameFor(name: PointsName, locale: Locale, count: number): string {
  const form = pluralRules[locale].select(count);
  if (locale === 'ru') return form === 'one' ? name.ru.one : form === 'few' ? name.ru.few : form === 'many' ? name.ru.many : name.ru.few;
  return form === 'one' ? name.en.one : name.en.other;
}

const capitalize = (word: string): string => word.charAt(0).toLocaleUpperCase() + word.slice(1);

/**
 * The uncounted forms of the points name, as the `unit.*` texts that locales nest with
 * `$t(unit.plural)`: `plural` (ru nominative "баллы"; en "points"), `Plural` (capitalised),
 * `of` (ru genitive "баллов"), `by` (ru instrumental "баллами"), `one` ("балл", "point").
 */
function unitTexts(name: PointsName, locale: Locale): Record<string, string> {
  const forms =
    locale === 'ru'
      ? { one: name.ru.one, plural: name.ru.plural, of: name.ru.many, by: name.ru.instrumental }
      : { one: name.en.one, plural: name.en.other, of: name.en.other, by: name.en.other };
  return { ...forms, Plural: capitalize(forms.plural) };
}

/** The i18next instance with our texts and the points formatter, and each language's texts. */
export async function createI18next(defaultLocale: Locale, pointsName: PointsName): Promise<{ instance: i18n; texts: Record<Locale, object> }> {
  const texts = Object.fromEntries(LOCALES.map((locale) => [locale, { ...readLocale(locale), unit: unitTexts(pointsName, locale) }])) as Record<Locale, object>;
  const instance = i18next.createInstance();
  await instance.init({
    resources: Object.fromEntries(LOCALES.map((locale) => [locale, { translation: texts[locale] }])),
    lng: defaultLocale,
    fallbackLng: defaultLocale,
    supportedLngs: [...LOCALES],
    interpolation: { escapeValue: true, escape: escapeHtml },
    returnNull: false,
    showSupportNotice: false,
  } as Parameters<typeof instance.init>[0]);
  // `{{count, points}}`: the points name in the form for the count (pointsNameFor).
  instance.services.formatter?.add('points', (value, lng) => pointsNameFor(pointsName, lng === 'en' ? 'en' : 'ru', Number(value)));
  return { instance, texts };
}

/** What compiled texts fill their slots with in `locale`, as i18next (configured above) would. */
export const textFormats = (locale: Locale, pointsName: PointsName): TextFormats => ({
  number: new Intl.NumberFormat(locale),
  points: (count) => pointsNameFor(pointsName, locale, count),
  plural: pluralRules[locale],
  escape: escapeHtml,
});

export async function createI18n(defaultLocale: Locale, pointsName: PointsName = DEFAULT_POINTS_NAME): Promise<I18n> {
  const { instance, texts } = await createI18next(defaultLocale, pointsName);
  // Each language's `t`: texts compiled once (compiled-texts.ts), i18next for anything else.
  const fixed = new Map(
    LOCALES.map((locale) => [locale, compiledTranslate(texts[locale], textFormats(locale, pointsName), instance.getFixedT(locale) as Fallback) as Translate]),
  );
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
