import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/domain/errors.js';

type Tree = { [key: string]: string | Tree };
const load = (locale: string): Tree => JSON.parse(readFileSync(new URL(`../../locales/${locale}.json`, import.meta.url), 'utf8'));

/** Every key path, with plural suffixes folded so that en's _one/_other meets ru's _one/_few/_many/_other. */
function keys(tree: Tree, prefix = ''): Set<string> {
  const found = new Set<string>();
  for (const [key, value] of Object.entries(tree)) {
    const path = `${prefix}${key.replace(/_(zero|one|two|few|many|other)$/, '')}`;
    if (typeof value === 'string') found.add(path);
    else for (const nested of keys(value, `${path}.`)) found.add(nested);
  }
  return found;
}

function pluralForms(tree: Tree, prefix = ''): Map<string, Set<string>> {
  const forms = new Map<string, Set<string>>();
  for (const [key, value] of Object.entries(tree)) {
    if (typeof value !== 'string') {
      for (const [path, set] of pluralForms(value, `${prefix}${key}.`)) forms.set(path, set);
      continue;
    }
    const match = /^(.*)_(zero|one|two|few|many|other)$/.exec(key);
    if (!match) continue;
    const path = `${prefix}${match[1]}`;
    forms.set(path, (forms.get(path) ?? new Set()).add(match[2] as string));
  }
  return forms;
}

it('has every text in both Russian and English', () => {
  const ru = keys(load('ru'));
  const en = keys(load('en'));
  expect([...en].filter((key) => !ru.has(key))).toEqual([]);
  expect([...ru].filter((key) => !en.has(key))).toEqual([]);
});

it('gives every Russian plural its one/few/many/other forms', () => {
  const incomplete = [...pluralForms(load('ru'))]
    .filter(([, forms]) => !['one', 'few', 'many', 'other'].every((form) => forms.has(form)))
    .map(([path]) => path);
  expect(incomplete).toEqual([]);
});

it('keeps the same interpolation values in both languages', () => {
  const values = (tree: Tree, prefix = '', out = new Map<string, string>()) => {
    for (const [key, value] of Object.entries(tree)) {
      const path = `${prefix}${key.replace(/_(zero|one|two|few|many|other)$/, '')}`;
      if (typeof value === 'string') {
        const names = [...value.matchAll(/\{\{\s*(\w+)/g)].map((m) => m[1]);
        out.set(path, [...new Set([...(out.get(path)?.split(',').filter(Boolean) ?? []), ...names])].sort().join(','));
      } else values(value, `${path}.`, out);
    }
    return out;
  };
  const ru = values(load('ru'));
  const en = values(load('en'));
  const differing = [...en]
    .filter(([path, names]) => ru.has(path) && ru.get(path) !== names)
    .map(([path, names]) => `${path}: en {${names}} ru {${ru.get(path)}}`);
  expect(differing).toEqual([]);
});

it('answers every domain error code in words (errors.<CODE>), in both languages', () => {
  for (const locale of ['ru', 'en']) {
    const errors = load(locale).errors as Tree;
    expect(
      ERROR_CODES.filter((code) => typeof errors[code] !== 'string'),
      locale,
    ).toEqual([]);
  }
});
