import { expect } from 'vitest';
import { compiledTranslate, type Fallback } from '../../src/bot/compiled-texts.js';
import { createI18next, textFormats } from '../../src/bot/i18n.js';
import { LOCALES, type PointsName } from '../../src/domain/program.js';

// The check of test/unit/compiled-texts*.test.ts: compiled texts (src/bot/compiled-texts.ts) must
// say exactly what i18next says, for every text of both languages, with the values a reply may
// carry, those i18next treats specially, and options it acts on. One points name per file, so
// that the two long comparisons run side by side instead of one after the other.

const COUNTS = [0, 1, 2, 5, 11, 21, 22, 1_234_567, 1.5, -1];
const STRINGS = ['<b>"Tom" & Jerry\'s</b>', '', 'a {{b}} c', 'x $t(unit.plural) y', 'price $5 $& $1'];

/** Every key of a locale tree, plural forms folded into their base key. */
function keysOf(node: object, prefix = ''): string[] {
  return Object.entries(node).flatMap(([name, value]) =>
    typeof value === 'object' && value !== null ? keysOf(value, `${prefix}${name}.`) : [`${prefix}${name.replace(/_(zero|one|two|few|many|other)$/, '')}`],
  );
}

/** The names in a text's `{{...}}` slots (and in the texts of its plural forms). */
function slotsOf(texts: object, key: string): string[] {
  const forms = ['', '_zero', '_one', '_few', '_many', '_other'].map((suffix) =>
    `${key}${suffix}`.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], texts),
  );
  const names = forms.flatMap((text) => (typeof text === 'string' ? [...text.matchAll(/{{-?\s*([^,}]+)/g)].map((m) => (m[1] as string).trim()) : []));
  return [...new Set(names)];
}

/** Option sets for a text: every slot filled (numbers and strings), each one left out, extras, options i18next acts on. */
function optionSets(slots: string[]): (Record<string, unknown> | undefined)[] {
  const sets: (Record<string, unknown> | undefined)[] = [undefined, {}];
  for (const count of COUNTS) sets.push(Object.fromEntries([...slots.map((name) => [name, count]), ['count', count]]));
  for (const text of STRINGS) sets.push(Object.fromEntries([...slots.map((name) => [name, `${text}`]), ['count', 3]]));
  for (const left of slots) sets.push(Object.fromEntries(slots.filter((name) => name !== left).map((name) => [name, 7])));
  const full = Object.fromEntries(slots.map((name) => [name, 5]));
  sets.push(
    { ...full, extra: 'unused' },
    { ...full, count: '5' },
    { ...full, count: Number.NaN },
    { ...full, lng: LOCALES[0] === 'ru' ? 'en' : 'ru' },
    { ...full, defaultValue: 'dv' },
    { ...full, context: 'male' },
    { ...full, style: 'percent', count: 2 },
    { ...full, count: null },
    Object.fromEntries(slots.map((name) => [name, null])),
    Object.fromEntries(slots.map((name) => [name, new Date(0)])),
  );
  return sets;
}

export async function compareWithI18next(pointsName: PointsName) {
  const { instance, texts } = await createI18next('ru', pointsName);
  let fallbacks = 0;
  let calls = 0;
  const differences: string[] = [];
  for (const locale of LOCALES) {
    const reference = instance.getFixedT(locale) as Fallback;
    const counted: Fallback = (key, options) => {
      fallbacks++;
      return reference(key, options);
    };
    const t = compiledTranslate(texts[locale], textFormats(locale, pointsName), counted);
    // Every key of both languages: a key only the other language has falls back to the default one.
    const keys = [...new Set(LOCALES.flatMap((l) => keysOf(texts[l])))];
    for (const key of [...keys, 'no.such.key', 'unit']) {
      for (const options of optionSets(slotsOf(texts[locale], key))) {
        calls++;
        // A copy each: i18next writes into the options it is given.
        const expected = reference(key, options && { ...options });
        const actual = t(key, options && { ...options });
        if (actual !== expected)
          differences.push(`${locale} ${key} ${JSON.stringify(options)}: ${JSON.stringify(actual)} instead of ${JSON.stringify(expected)}`);
      }
    }
  }
  expect(differences.slice(0, 20)).toEqual([]);
  return { calls, fallbacks };
}
