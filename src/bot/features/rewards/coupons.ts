import { InlineKeyboard } from 'grammy';
import type { CouponView } from '../../../domain/rewards/coupon.js';
import { cancelCoupon, listMyCoupons } from '../../../domain/rewards/my-coupons.js';
import { callbackData } from '../../callback-data.js';
import type { BotContext } from '../../context.js';
import { showOwnCoupon } from '../../coupons.js';
import { ack } from '../../replies.js';
import { type ActiveComposer, type CouponsInPlace, type RewardsKit, TEXT_MAX } from './kit.js';

const MAX_ACTIVE_SHOWN = 10;
const MAX_PAST_SHOWN = 5;
const COUPON_ID = '(\\d{1,9})';

/** "My coupons": the list, showing one again, cancelling after a confirmation. */
export function couponHandlers(active: ActiveComposer, kit: RewardsKit): CouponsInPlace {
  const { domain, telegramId, loaded, points, title, dropButtons, answering, editOrReply } = kit;

  function couponsScreen(ctx: BotContext, mine: Awaited<ReturnType<typeof listMyCoupons>>) {
    const keyboard = new InlineKeyboard();
    if (mine.active.length + mine.used.length + mine.expired.length === 0) {
      keyboard.text(ctx.t('coupons.rewards'), callbackData('rw', 'p', 0));
      return { text: ctx.t('coupons.empty'), keyboard };
    }
    const lines = [ctx.t('coupons.title')];
    const section = (heading: string, coupons: CouponView[], limit: number, line: (coupon: CouponView) => string) => {
      if (coupons.length === 0) return;
      lines.push('', ctx.t(heading), ...coupons.slice(0, limit).map(line));
      if (coupons.length > limit) lines.push(ctx.t('coupons.more', { count: coupons.length - limit }));
    };
    section('coupons.active', mine.active, MAX_ACTIVE_SHOWN, (coupon) =>
      ctx.t('coupons.line_active', { title: title(ctx, coupon.reward.title), code: coupon.displayCode, expires: ctx.fmt.dateTime(coupon.expiresAt) }),
    );
    section('coupons.used', mine.used, MAX_PAST_SHOWN, (coupon) => {
      const values = {
        title: title(ctx, coupon.reward.title),
        date: ctx.fmt.dateTime(coupon.redeemedAt ?? coupon.issuedAt),
        store: coupon.redeemedStoreName ?? '',
      };
      return ctx.t(coupon.redeemedStoreName ? 'coupons.line_used_at' : 'coupons.line_used', values);
    });
    section('coupons.expired', mine.expired, MAX_PAST_SHOWN, (coupon) =>
      ctx.t('coupons.line_expired', { title: title(ctx, coupon.reward.title), date: ctx.fmt.date(coupon.expiresAt) }),
    );
    for (const coupon of mine.active.slice(0, MAX_ACTIVE_SHOWN)) {
      const name = title(ctx, coupon.reward.title);
      keyboard
        .text(ctx.t('coupons.show', { title: name, interpolation: { escapeValue: false } }), callbackData('cp', 's', coupon.id))
        .text(ctx.t('coupons.cancel'), callbackData('cp', 'c', coupon.id))
        .row();
    }
    keyboard.text(ctx.t('coupons.rewards'), callbackData('rw', 'p', 0));
    return { text: lines.join('\n').slice(0, TEXT_MAX), keyboard };
  }

  const showCoupons = answering(async (ctx: BotContext) => {
    const { text, keyboard } = couponsScreen(ctx, await listMyCoupons(domain, loaded(ctx)));
    await ctx.reply(text, { parse_mode: 'HTML', reply_markup: keyboard });
  });
  active.command('coupons', showCoupons);

  const showInPlace: CouponsInPlace = async (ctx) => {
    const { text, keyboard } = couponsScreen(ctx, await listMyCoupons(domain, loaded(ctx)));
    await ack(ctx);
    await editOrReply(ctx, text, keyboard);
  };
  // From catalogue messages sent before the catalogue was a menu.
  active.callbackQuery('cp:list', answering(showInPlace));

  /** One of this member's coupons by id: looked up among their own, never by the id alone. */
  async function ownCoupon(ctx: BotContext, id: number): Promise<CouponView | null> {
    const mine = await listMyCoupons(domain, loaded(ctx));
    return [...mine.active, ...mine.used, ...mine.expired, ...mine.cancelled].find((coupon) => coupon.id === id) ?? null;
  }

  active.callbackQuery(
    new RegExp(`^cp:s:${COUPON_ID}$`),
    answering(async (ctx) => {
      const coupon = await ownCoupon(ctx, Number(ctx.match[1]));
      if (!coupon) return ack(ctx, ctx.t('coupons.not_found'), true);
      await ack(ctx);
      await showOwnCoupon(ctx, coupon);
    }),
  );

  active.callbackQuery(
    new RegExp(`^cp:c:${COUPON_ID}$`),
    answering(async (ctx) => {
      const coupon = await ownCoupon(ctx, Number(ctx.match[1]));
      if (!coupon) return ack(ctx, ctx.t('coupons.not_found'), true);
      if (coupon.status !== 'ISSUED') {
        await ack(ctx);
        return showOwnCoupon(ctx, coupon);
      }
      const values = { title: title(ctx, coupon.reward.title), code: coupon.displayCode, points: points(ctx, coupon.cost) };
      await ack(ctx);
      await ctx.reply(ctx.t(coupon.cost > 0 ? 'coupons.cancel_confirm' : 'coupons.cancel_confirm_free', values), {
        parse_mode: 'HTML',
        reply_markup: new InlineKeyboard()
          .text(ctx.t('coupons.cancel_yes'), callbackData('cp', 'cy', coupon.id))
          .text(ctx.t('coupons.keep'), callbackData('cp', 'k')),
      });
    }),
  );

  active.callbackQuery(
    new RegExp(`^cp:cy:${COUPON_ID}$`),
    answering(async (ctx) => {
      // cancelCoupon refuses a coupon that is not this member's (FORBIDDEN).
      const result = await cancelCoupon(domain, { telegramId: telegramId(ctx), couponId: Number(ctx.match[1]) });
      await dropButtons(ctx);
      if (result.replayed) return ack(ctx, ctx.t('coupons.already_cancelled'), true);
      await ack(ctx);
      const coupon = await ownCoupon(ctx, result.coupon.id);
      const name = coupon ? title(ctx, coupon.reward.title) : '';
      await ctx.reply(
        result.pointsRefunded > 0
          ? ctx.t('coupons.cancelled', { title: name, points: points(ctx, result.pointsRefunded), balance: points(ctx, result.balance) })
          : ctx.t('coupons.cancelled_free', { title: name }),
        { parse_mode: 'HTML' },
      );
    }),
  );

  active.callbackQuery('cp:k', async (ctx) => {
    await ack(ctx, ctx.t('coupons.kept'));
    await dropButtons(ctx);
  });

  return showInPlace;
}
