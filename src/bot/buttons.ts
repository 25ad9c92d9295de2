import type { NextFunction } from 'grammy';
import type { BotContext } from './context.js';
import type { I18n } from './i18n.js';

export type ButtonHandler = (ctx: BotContext, next: NextFunction) => unknown;

/**
 * Reply-keyboard buttons: a tap arrives as a text message carrying the button's label. Most
 * updates are such taps, and each feature used to test them with its own `hears` filters, so a
 * tap ran through dozens of filters before reaching its handler. Here every label, in every
 * language, maps to its handler, and one Map lookup placed ahead of the features decides. A
 * handler may still pass the update on with `next` (e.g. a customer button tapped by someone
 * who is not an active member).
 */
export class Buttons {
  private readonly byText = new Map<string, ButtonHandler>();

  constructor(private readonly i18n: I18n) {}

  /** The button labelled with `key`'s text in any language runs `handler`. */
  on(key: string, handler: ButtonHandler): void {
    for (const text of new Set(this.i18n.all(key))) {
      // Two buttons with one label would make the second unreachable: a wording mistake.
      if (this.byText.has(text)) throw new Error(`two reply-keyboard buttons are labelled ${JSON.stringify(text)}`);
      this.byText.set(text, handler);
    }
  }

  middleware() {
    return (ctx: BotContext, next: NextFunction) => {
      const text = ctx.message?.text;
      const handler = text === undefined ? undefined : this.byText.get(text);
      return handler ? handler(ctx, next) : next();
    };
  }
}

/**
 * Customers' buttons are for active members in their private chat; anyone else's tap goes on
 * (registration, fallback), and a menu word typed in a group reveals nothing (private-chats.ts).
 */
export const forActiveMembers =
  (handler: (ctx: BotContext) => unknown): ButtonHandler =>
  (ctx, next) =>
    ctx.member?.status === 'ACTIVE' && ctx.chat?.type === 'private' ? handler(ctx) : next();

/** Staff buttons live in private chats only, as their menus do. */
export const inPrivateChats =
  (handler: ButtonHandler): ButtonHandler =>
  (ctx, next) =>
    ctx.chat?.type === 'private' ? handler(ctx, next) : next();
