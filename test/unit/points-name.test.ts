import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createI18n, pointsNameFor } from '../../src/bot/i18n.js';
import type { PointsName } from '../../src/domain/program.js';
import { exampleProgram } from '../support/program.js';

const STARS: PointsName = {
  ru: { one: 'звезда', few: 'звезды', many: 'звёзд', plural: 'звёзды', instrumental: 'звёздами' },
  en: { one: 'star', other: 'stars' },
};

describe('the program names its points', () => {
  it('picks the plural form by the language rules', () => {
    expect([1, 2, 5, 21, 22, 25, 111, 0].map((n) => pointsNameFor(STARS, 'ru', n))).toEqual([
      'звезда',
      'звезды',
      'звёзд',
      'звезда',
      'звезды',
      'звёзд',
      'звёзд',
      'звёзд',
    ]);
    expect([1, 2, 5, 21, 0].map((n) => pointsNameFor(STARS, 'en', n))).toEqual(['star', 'stars', 'stars', 'stars', 'stars']);
  });

  it('counts, and the texts that talk about points, say "stars" / "звёзд"', async () => {
    const i18n = await createI18n('ru', STARS);
    const ru = i18n.t('ru');
    const en = i18n.t('en');
    expect([1, 2, 5, 21].map((count) => ru('common.points', { count }))).toEqual(['1 звезда', '2 звезды', '5 звёзд', '21 звезда']);
    expect([1, 2, 5, 21].map((count) => en('common.points', { count }))).toEqual(['1 star', '2 stars', '5 stars', '21 stars']);
    expect(ru('history.title', { page: 1, pages: 1 })).toContain('История звёзд');
    expect(en('history.title', { page: 1, pages: 1 })).toContain('Stars history');
    expect(ru('commands.rewards')).toBe('Обменять звёзды на награды');
    expect(ru('errors.SPEND_PROOF_REQUIRED')).toContain('Для оплаты звёздами');
    expect(en('staff.purchase.points', { balance: '1', max: '2', value: '3' })).toContain('(1 star = 3)');
    expect(i18n.all('commands.balance')).toEqual(['Мои звёзды и уровень', 'My stars and tier']);
  });

  it('no text says "points" or "баллы" itself: every mention goes through the name', async () => {
    const i18n = await createI18n('ru', STARS);
    for (const locale of ['ru', 'en'] as const) {
      const tree = JSON.parse(readFileSync(new URL(`../../locales/${locale}.json`, import.meta.url), 'utf8'));
      const texts: string[] = [];
      const walk = (node: Record<string, unknown>, prefix: string) => {
        for (const [key, value] of Object.entries(node)) {
          if (typeof value === 'string') texts.push(i18n.t(locale)(`${prefix}${key.replace(/_(one|few|many|other)$/, '')}`, { count: 5 }));
          else walk(value as Record<string, unknown>, `${prefix}${key}.`);
        }
      };
      walk(tree, '');
      expect(texts.filter((text) => /балл|\bpoints?\b/i.test(text.replace(/\{\{[^}]*\}\}/g, '')))).toEqual([]);
    }
  });

  it('defaults to балл/балла/баллов and point/points; the file refuses markup in a name', async () => {
    const t = (await createI18n('ru')).t('ru');
    expect([1, 3, 11].map((count) => t('common.points', { count }))).toEqual(['1 балл', '3 балла', '11 баллов']);
    expect(exampleProgram().points.name.en).toEqual({ one: 'point', other: 'points' });
    expect(() =>
      // biome-ignore lint/suspicious/noExplicitAny: the test pokes a wrong value into the raw document.
      exampleProgram((raw: Record<string, any>) => {
        raw.points.name = { ...STARS, en: { one: '<b>star</b>', other: 'stars' } };
      }),
    ).toThrow(/points\.name\.en\.one/);
  });
});
