import type { Composer, InlineKeyboard } from 'grammy';
import { isDomainError } from '../../../domain/errors.js';
import type { Member } from '../../../domain/members/member.js';
import type { Localized } from '../../../domain/program.js';
import type { BotContext, BotDeps } from '../../context.js';
import { popupText, rewardErrorText } from '../../coupons.js';
import { ack } from '../../replies.js';

/** What the catalogue (catalogue.ts) and "My coupons" (coupons.ts) screens share. */

export const TEXT_MAX = 4096;

/** The handlers' side of a rewards screen: `active` only lets ACTIVE members' updates through. */
export type ActiveComposer = Composer<BotContext>;

export type RewardsKit = ReturnType<typeof rewardsKit>;

/** "My coupons" in place of the tapped screen (the catalogue's button opens it). */
export type CouponsInPlace = (ctx: BotContext) => Promise<void>;

export function rewardsKit(deps: BotDeps) {
  const { domain } = deps;
  const { program } = domain;

  const telegramId = (ctx: BotContext) => ctx.from?.id as number;
  /** Screens read the member loaded for this update (`active` guarantees one); writes pass the id. */
  const loaded = (ctx: BotContext) => ctx.member as Member;
  const points = (ctx: BotContext, count: number) => ctx.t('common.points', { count });
  const title = (ctx: BotContext, localized: Localized) => localized[ctx.locale];
  const dropButtons = (ctx: BotContext) => ctx.editMessageReplyMarkup().catch(() => undefined);

  /** Domain refusals become a popup (button) or a message (text), worded for customers. */
  function answering<C extends BotContext>(handler: (ctx: C) => Promise<unknown>) {
    return async (ctx: C) => {
      try {
        await handler(ctx);
      } catch (error) {
        if (!isDomainError(error)) throw error;
        ctx.log.info({ code: error.code }, 'domain error answered');
        // Someone else's coupon, or none: the same answer, so nothing is learnt about others.
        const text =
          error.code === 'FORBIDDEN' || error.code === 'COUPON_NOT_FOUND' ? ctx.t('coupons.not_found') : rewardErrorText(ctx, error, program, 'customer');
        if (ctx.callbackQuery) await ack(ctx, popupText(text), true);
        else await ctx.reply(text, { parse_mode: 'HTML' });
      }
    };
  }

  async function editOrReply(ctx: BotContext, text: string, keyboard: InlineKeyboard) {
    const message = ctx.callbackQuery?.message;
    if (!message || 'photo' in message) {
      await ctx.reply(text, { parse_mode: 'HTML', reply_markup: keyboard });
      return;
    }
    await ctx.editMessageText(text, { parse_mode: 'HTML', reply_markup: keyboard });
  }

  return { domain, program, telegramId, loaded, points, title, dropButtons, answering, editOrReply };
}
