import { Keyboard } from 'grammy';
import type { ReplyKeyboardMarkup } from 'grammy/types';
import { LOCALES, type Program } from '../domain/program.js';
import { hasPoints } from '../domain/purchases/quote.js';
import type { I18n, Translate } from './i18n.js';

/**
 * Reply keyboards never change for a language, and most replies carry one: each is built once per
 * language (`t` is that language's fixed function, see i18n.ts) and the same frozen markup is sent
 * every time, instead of a dozen i18next calls and a fresh builder per reply.
 */
const built = new WeakMap<Translate, Map<string, ReplyKeyboardMarkup>>();

function once(t: Translate, name: string, build: () => Keyboard): ReplyKeyboardMarkup {
  let byName = built.get(t);
  if (!byName) {
    byName = new Map();
    built.set(t, byName);
  }
  let markup = byName.get(name);
  if (!markup) {
    const keyboard = build();
    markup = Object.freeze({
      keyboard: keyboard.build(),
      ...(keyboard.resize_keyboard ? { resize_keyboard: true } : {}),
      ...(keyboard.is_persistent ? { is_persistent: true } : {}),
      ...(keyboard.input_field_placeholder ? { input_field_placeholder: keyboard.input_field_placeholder } : {}),
    });
    byName.set(name, markup);
  }
  return markup;
}

/** The customers' menu; a discount-only program (`points: none`) has no Rewards or History to show. */
export const mainMenu = (t: Translate, program?: Program): ReplyKeyboardMarkup => {
  const points = !program || hasPoints(program);
  return once(t, points ? 'main' : 'main-no-points', () => (points ? buildMainMenu(t) : buildDiscountMenu(t)));
};

function buildDiscountMenu(t: Translate): Keyboard {
  return new Keyboard()
    .text(t('menu.balance'))
    .text(t('menu.card'))
    .row()
    .text(t('menu.tasks'))
    .text(t('menu.settings'))
    .row()
    .text(t('menu.help'))
    .resized()
    .persistent()
    .placeholder(t('menu.placeholder'));
}

/**
 * Buttons a feature adds to the customers' menu when the program switches it on (charity), per
 * bot: keyed by the bot's language functions, so two bots in one process keep their own menus.
 */
const mainMenuExtras = new WeakMap<Translate, string[]>();

/** Adds the button labelled with `key` next to Help, in every language of this bot's `i18n`. */
export function addToMainMenu(i18n: I18n, key: string): void {
  for (const locale of LOCALES) {
    const t = i18n.t(locale);
    const keys = mainMenuExtras.get(t) ?? [];
    if (!keys.includes(key)) mainMenuExtras.set(t, [...keys, key]);
    built.get(t)?.delete('main');
  }
}

/** The staff menu; staff who are also active customers get Balance and Card under it. */
export const staffMenu = (t: Translate, customerToo = false): ReplyKeyboardMarkup =>
  once(t, customerToo ? 'staff+customer' : 'staff', () => {
    const keyboard = new Keyboard().text(t('staff.menu.purchase')).text(t('staff.menu.return')).row().text(t('staff.menu.redeem'));
    if (customerToo) keyboard.row().text(t('menu.balance')).text(t('menu.card'));
    return keyboard.resized().persistent().placeholder(t('staff.menu.placeholder'));
  });

function buildMainMenu(t: Translate): Keyboard {
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
    .add(...(mainMenuExtras.get(t) ?? []).map((key) => Keyboard.text(t(key))))
    .resized()
    .persistent()
    .placeholder(t('menu.placeholder'));
}
