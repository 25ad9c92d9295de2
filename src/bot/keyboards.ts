import { InlineKeyboard, Keyboard } from 'grammy';
import { LOCALES } from '../domain/program.js';
import { callbackData } from './callback-data.js';
import type { I18n, Translate } from './i18n.js';

export function mainMenu(t: Translate): Keyboard {
  return new Keyboard()
    .text(t('menu.balance'))
    .text(t('menu.card'))
    .row()
    .text(t('menu.rewards'))
    .text(t('menu.tasks'))
    .row()
    .text(t('menu.history'))
    .text(t('menu.settings'))
    .row()
    .text(t('menu.help'))
    .resized()
    .persistent()
    .placeholder(t('menu.placeholder'));
}

/** Language buttons, each labelled in its own language. */
export function languageKeyboard(i18n: I18n, prefix: string): InlineKeyboard {
  const keyboard = new InlineKeyboard();
  for (const locale of LOCALES) keyboard.text(i18n.t(locale)('language.name'), callbackData(prefix, locale));
  return keyboard;
}
