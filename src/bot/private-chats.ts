import { Composer, InlineKeyboard, type Middleware } from 'grammy';
import type { BotContext } from './context.js';
import type { Screens } from './screens.js';

/**
 * Personal screens are shown only in the member's private chat (DESIGN principle 10): a balance,
 * a tier, a card QR and code, coupon codes, typed as a command in a group, would be posted for
 * everyone there. This is the one place that enforces it: the customer features run in private
 * chats only; in groups, supergroups and channels (and for updates without a chat) they never
 * run, their callbacks are ignored, and a customer command gets at most a button that opens the
 * private chat. Staff features sit before this (a manager group's NPS alerts and their buttons
 * keep working), and outbound messages do not pass through it at all.
 */
export function privateChatsOnly(commands: readonly string[], screens: Screens, ...customerFeatures: Middleware<BotContext>[]): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  composer.chatType('private').use(...customerFeatures);

  // Elsewhere: a customer command (bare, or `/balance@<this bot>`) is answered with the way to
  // the private chat and nothing else; everything else goes on to the features after this one.
  composer
    .drop((ctx) => ctx.chat?.type === 'private')
    .on(['message:text', 'message:caption'], async (ctx, next) => {
      const command = customerCommand(ctx, commands);
      if (!command) return next();
      // A deep link into the screen when there is one (`/start card`), else just the chat.
      const payload = screens.get(command) ? command : 'menu';
      await ctx.reply(ctx.t('private_only.text'), {
        reply_markup: new InlineKeyboard().url(ctx.t('private_only.button'), `https://t.me/${ctx.me.username}?start=${payload}`),
      });
    });
  return composer;
}

/** The customer command the message starts with, if it is addressed to this bot (or to no bot). */
function customerCommand(ctx: BotContext, commands: readonly string[]): string | null {
  const message = ctx.message;
  const text = message?.text ?? message?.caption ?? '';
  const entity = (message?.entities ?? message?.caption_entities ?? [])[0];
  if (entity?.type !== 'bot_command' || entity.offset !== 0) return null;
  const [name = '', target] = text.slice(1, entity.length).split('@');
  if (target !== undefined && target.toLowerCase() !== ctx.me.username.toLowerCase()) return null;
  const command = name.toLowerCase();
  return commands.includes(command) ? command : null;
}
