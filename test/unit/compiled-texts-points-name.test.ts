import { describe, it } from 'vitest';
import { compareWithI18next } from '../support/compiled-texts-check.js';

// As test/unit/compiled-texts.test.ts, with a program's own points name (its own file, so that it
// runs beside the default name's comparison).

describe('compiled texts', () => {
  it("say what i18next says with the program's own points name", async () => {
    await compareWithI18next({
      ru: { one: 'звезда', few: 'звезды', many: 'звёзд', plural: 'звёзды', instrumental: 'звёздами' },
      en: { one: 'star', other: 'stars' },
    });
  });
});
