import { describe, expect, it } from 'vitest';
import { compiledTranslate } from '../../src/bot/compiled-texts.js';
import { createI18next, textFormats } from '../../src/bot/i18n.js';
import { DEFAULT_POINTS_NAME, LOCALES } from '../../src/domain/program.js';
import { compareWithI18next } from '../support/compiled-texts-check.js';

// Compiled texts (src/bot/compiled-texts.ts) must say exactly what i18next says (the check is in
// test/support/compiled-texts-check.ts; the program's own points name in compiled-texts-points-name.test.ts).
// And they must really be compiled where they can be (else nothing was gained).

describe('compiled texts', () => {
  it('say what i18next says for every text, value and option, in both languages', async () => {
    const { calls, fallbacks } = await compareWithI18next(DEFAULT_POINTS_NAME);
    expect(calls).toBeGreaterThan(5_000);
    // Most calls (every slot filled with a plain value) are answered without i18next.
    expect(fallbacks / calls).toBeLessThan(0.5);
  });

  it('answer a Balance reply without i18next', async () => {
    const { instance, texts } = await createI18next('ru', DEFAULT_POINTS_NAME);
    for (const locale of LOCALES) {
      const t = compiledTranslate(texts[locale], textFormats(locale, DEFAULT_POINTS_NAME), () => {
        throw new Error('fell back to i18next');
      });
      const points = t('common.points', { count: 1234 });
      const reference = instance.getFixedT(locale);
      expect(points).toBe(reference('common.points', { count: 1234 }));
      expect(t('balance.text', { points, tier: 'Gold & <Co>', discount: 6 })).toBe(reference('balance.text', { points, tier: 'Gold & <Co>', discount: 6 }));
      expect(t('balance.expiry', { points, date: '4 Jan' })).toBe(reference('balance.expiry', { points, date: '4 Jan' }));
      expect(t('menu.balance')).toBe(reference('menu.balance'));
      expect(t('help.support_till')).toBe(reference('help.support_till'));
    }
  });
});
