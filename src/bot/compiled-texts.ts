/**
 * i18next answers every `t()` by copying its options several times, serialising them to cache a
 * number format, and walking the key path and its plural and fallback candidates: ~0.1 ms per
 * call, a dozen calls per reply. Our locale texts use a small part of its syntax, so each text
 * is compiled once into literal parts and slots, and a call only fills the slots. Whatever is
 * outside that part (a missing key or value, an unusual option, a value that i18next would
 * treat specially) is handed to i18next itself, so the result is always i18next's
 * (test/unit/compiled-texts.test.ts compares the two on every text of both languages).
 *
 * Compiled: plain `{{name}}` (escaped) and `{{- name}}` (not), `{{name, number}}`,
 * `{{name, points}}`, `$t(key)` nesting of option-free texts, plural forms chosen by `count`.
 */

export interface TextFormats {
  /** `{{x, number}}`: i18next's built-in number format for the language. */
  number: Intl.NumberFormat;
  /** `{{x, points}}`: the points name for a count. */
  points: (count: number) => string;
  plural: Intl.PluralRules;
  escape: (value: string) => string;
}

type Slot = { name: string; format: 'plain' | 'number' | 'points'; escape: boolean };
type Part = string | Slot;

// Option names i18next or Intl.NumberFormat read themselves (a format's options are the call's
// options): a text with a slot of such a name is left to i18next.
const RESERVED = new Set(
  (
    'lng lngs ns context defaultValue replace interpolation ordinal returnObjects returnDetails joinArrays postProcess ' +
    'skipInterpolation nest keyPrefix fallbackLng formatParams locale interpolationkey applyPostProcessor missingInterpolationHandler ' +
    'localeMatcher numberingSystem style currency currencyDisplay currencySign unit unitDisplay minimumIntegerDigits ' +
    'minimumFractionDigits maximumFractionDigits minimumSignificantDigits maximumSignificantDigits roundingPriority ' +
    'roundingIncrement roundingMode trailingZeroDisplay notation compactDisplay useGrouping signDisplay'
  ).split(' '),
);
const NESTING = /\$t\(([A-Za-z0-9_.]+)\)/g;

/** A value i18next would read differently from its plain text: template or nesting syntax inside it. */
const special = (text: string) => text.includes('{{') || text.includes('}}') || text.includes('$t');

function lookup(resources: object, key: string): unknown {
  let node: unknown = resources;
  for (const part of key.split('.')) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** Plural or context forms of `key` (`key_one`, ...): a nested key has the parent's options, count included. */
function hasVariants(resources: object, key: string): boolean {
  const dot = key.lastIndexOf('.');
  const parent = dot < 0 ? resources : lookup(resources, key.slice(0, dot));
  const last = key.slice(dot + 1);
  return typeof parent === 'object' && parent !== null && Object.keys(parent).some((name) => name.startsWith(`${last}_`));
}

/** Splits `text` on `pattern`'s matches: literal text and what each match makes of itself. */
function splitOn(text: string, pattern: RegExp, make: (inner: string) => Part | null): Part[] | null {
  const parts: Part[] = [];
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    const slot = make(match[1] as string);
    if (!slot) return null;
    parts.push(text.slice(last, match.index), slot);
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  return parts;
}

function slot(inner: string, escaped: boolean): Slot | null {
  const [name = '', ...formats] = inner.split(',');
  const key = name.trim();
  const format = formats.join(',').toLowerCase().trim();
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key) || RESERVED.has(key)) return null;
  if (format === '') return { name: key, format: 'plain', escape: escaped };
  return format === 'number' || format === 'points' ? { name: key, format, escape: escaped } : null;
}

/** The text's parts, or null when it is not of the compiled kind. */
function compile(resources: object, text: string): Part[] | null {
  // Nesting: i18next resolves it after the slots are filled; a nested text that has no slots
  // and no nesting of its own reads the same before (values with `$t` go to i18next).
  let nestingFailed = false;
  const flat = text.replace(NESTING, (_whole, key: string) => {
    const nested = lookup(resources, key);
    if (typeof nested !== 'string' || nested === '' || special(nested) || hasVariants(resources, key)) nestingFailed = true;
    return String(nested);
  });
  if (nestingFailed || flat.includes('$t')) return null;
  // As i18next: the unescaped `{{- x}}` first, then `{{x}}` in the rest.
  const unescaped = splitOn(flat, /{{-(.+?)}}/g, (inner) => slot(inner, false));
  if (!unescaped) return null;
  const parts: Part[] = [];
  for (const part of unescaped) {
    if (typeof part !== 'string') parts.push(part);
    else {
      const split = splitOn(part, /{{(.+?)}}/g, (inner) => slot(inner, true));
      if (!split) return null;
      parts.push(...split);
    }
  }
  return parts.filter((part) => part !== '');
}

export type Fallback = (key: string, options?: Record<string, unknown>) => string;

/** `t` for one language: compiled texts where they apply, `fallback` (i18next's own `t`) otherwise. */
export function compiledTranslate(resources: object, formats: TextFormats, fallback: Fallback): Fallback {
  const compiled = new Map<string, Part[] | null>();
  const partsOf = (key: string): Part[] | null | undefined => {
    let parts = compiled.get(key);
    if (parts === undefined) {
      const text = lookup(resources, key);
      if (typeof text !== 'string') return undefined;
      parts = compile(resources, text);
      compiled.set(key, parts);
    }
    return parts;
  };

  /** The key i18next would read for these options in this language; undefined: not here. */
  const resolve = (key: string, count: unknown): string | undefined => {
    if (count === undefined) return key;
    const candidates = [`${key}_${formats.plural.select(count as number)}`, key];
    if (count === 0) candidates.unshift(`${key}_zero`);
    return candidates.find((candidate) => typeof lookup(resources, candidate) !== 'undefined');
  };

  return (key, options) => {
    const count = options?.count;
    if (typeof key !== 'string' || key.includes(':') || (options !== undefined && (typeof options !== 'object' || options === null)))
      return fallback(key, options);
    if (count !== undefined && !(typeof count === 'number' && Number.isFinite(count))) return fallback(key, options);
    // Options i18next would act on (a language, a default, a context, ...) are left to it.
    if (options) for (const name of Object.keys(options)) if (RESERVED.has(name)) return fallback(key, options);
    const resolved = resolve(key, count);
    const parts = resolved === undefined ? undefined : partsOf(resolved);
    if (!parts) return fallback(key, options);
    let out = '';
    for (const part of parts) {
      if (typeof part === 'string') {
        out += part;
        continue;
      }
      const value = options?.[part.name];
      let text: string;
      if (part.format === 'plain') {
        if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean' && typeof value !== 'bigint') return fallback(key, options);
        text = String(value);
      } else {
        if (typeof value !== 'number') return fallback(key, options);
        text = part.format === 'number' ? formats.number.format(value) : formats.points(value);
      }
      if (special(text)) return fallback(key, options);
      out += part.escape ? formats.escape(text) : text;
    }
    return out;
  };
}
