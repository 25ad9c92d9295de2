import { describe, expect, it } from 'vitest';
import { offerLine, PREVIEW_COUPON_CODE, withOffer } from '../../src/bot/broadcast-message.js';
import { formatterFor } from '../../src/bot/format.js';
import { createI18n } from '../../src/bot/i18n.js';
import { MAX_CAPTION, MAX_TEXT } from '../../src/domain/broadcasts/content.js';
import { OFFER_LINE_RESERVE } from '../../src/domain/broadcasts/offer.js';
import type { BroadcastContent } from '../../src/domain/broadcasts/types.js';
import { LOCALES } from '../../src/domain/program.js';

const coupon = { code: 'ABCDEFGHJKMN', expiresAt: new Date('2026-12-31T20:59:00Z') };
const content = (text: string, photo = false): BroadcastContent => ({
  text,
  entities: [{ type: 'bold', offset: 0, length: 3 }],
  photoFileId: photo ? 'AgAC1' : null,
  button: null,
});

describe('the coupon line of a personal offer', () => {
  it('fits the room a broadcast with an offer leaves, in every language', async () => {
    const i18n = await createI18n('ru');
    for (const locale of LOCALES) {
      const line = offerLine(i18n.t(locale), formatterFor(locale, 'RUB', 'Europe/Moscow'), coupon);
      expect(line).toContain('ABCD-EFGH-JKMN');
      expect(line).not.toMatch(/[<>&]/);
      expect(line.length + 2).toBeLessThanOrEqual(OFFER_LINE_RESERVE);
    }
  });

  it('is appended after a blank line with the code set as code; the marketer’s entities keep their offsets', () => {
    const sent = withOffer(content('Big sale'), '🎁 Your personal coupon: ABCD-EFGH-JKMN, valid until 31/12/2026, 23:59', coupon.code);
    expect(sent.text).toBe('Big sale\n\n🎁 Your personal coupon: ABCD-EFGH-JKMN, valid until 31/12/2026, 23:59');
    expect(sent.entities).toEqual([
      { type: 'bold', offset: 0, length: 3 },
      { type: 'code', offset: sent.text.indexOf('ABCD-EFGH-JKMN'), length: 14 },
    ]);
    // A photo without a caption: the line is the caption.
    expect(withOffer({ ...content('', true), entities: [] }, 'line ABCD-EFGH-JKMN', coupon.code).text).toBe('line ABCD-EFGH-JKMN');
    expect(PREVIEW_COUPON_CODE).toHaveLength(12);
  });

  it('stays within Telegram’s limits: a message at its limit without the reserve gets only the code', () => {
    const line = `🎁 Your personal coupon: ABCD-EFGH-JKMN, valid until 31/12/2026, 23:59`;
    expect(withOffer(content('x'.repeat(MAX_TEXT - OFFER_LINE_RESERVE)), line, coupon.code).text.length).toBeLessThanOrEqual(MAX_TEXT);
    const full = withOffer(content('x'.repeat(MAX_TEXT - 16)), line, coupon.code);
    expect(full.text.endsWith('\n\nABCD-EFGH-JKMN')).toBe(true);
    expect(full.text.length).toBeLessThanOrEqual(MAX_TEXT);
    const caption = withOffer(content('x'.repeat(MAX_CAPTION - OFFER_LINE_RESERVE), true), line, coupon.code);
    expect(caption.text.length).toBeLessThanOrEqual(MAX_CAPTION);
    expect(caption.text.endsWith(line)).toBe(true);
  });
});
