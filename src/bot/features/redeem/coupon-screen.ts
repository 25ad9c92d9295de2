import { InlineKeyboard } from 'grammy';
import type { DomainError } from '../../../domain/errors.js';
import type { DomainDeps } from '../../../domain/ports.js';
import type { Program } from '../../../domain/program.js';
import type { CouponForRedemption, CouponOperator } from '../../../domain/rewards/redeem-coupon.js';
import { getCouponForRedemption } from '../../../domain/rewards/redeem-coupon.js';
import type { Principal } from '../../../domain/staff/access.js';
import { encodeCallback } from '../../callback-data.js';
import type { BotContext } from '../../context.js';
import { popupText, rewardErrorText } from '../../coupons.js';
import { staffMenu } from '../../keyboards.js';
import { ack } from '../../replies.js';

export const operator = (principal: Principal): CouponOperator => ({ kind: 'staff', principal });
export const menu = (ctx: BotContext) => staffMenu(ctx.t, ctx.member?.status === 'ACTIVE');

/** A domain refusal in staff wording, dates and waits formatted: a popup for a tap, else a message. */
export async function answerError(ctx: BotContext, program: Program, error: DomainError) {
  ctx.log.info({ code: error.code }, 'domain error answered');
  const text = rewardErrorText(ctx, error, program, 'staff');
  if (ctx.callbackQuery) await ack(ctx, popupText(text), true);
  else await ctx.reply(text, { parse_mode: 'HTML' });
}

function statusText(ctx: BotContext, found: CouponForRedemption): string {
  const { coupon } = found;
  switch (coupon.status) {
    case 'ISSUED':
      return ctx.t('redeem.status_valid', { date: ctx.fmt.dateTime(coupon.expiresAt) });
    case 'REDEEMED': {
      const date = ctx.fmt.dateTime(coupon.redeemedAt ?? coupon.issuedAt);
      return coupon.redeemedStoreName
        ? ctx.t('redeem.status_redeemed_at', { date, store: coupon.redeemedStoreName })
        : ctx.t('redeem.status_redeemed', { date });
    }
    case 'CANCELLED':
      return ctx.t('redeem.status_cancelled', { date: ctx.fmt.dateTime(coupon.cancelledAt ?? coupon.issuedAt) });
    case 'EXPIRED':
      return ctx.t('redeem.status_expired', { date: ctx.fmt.dateTime(coupon.expiresAt) });
  }
}

function couponText(ctx: BotContext, found: CouponForRedemption): string {
  const { coupon } = found;
  const value = coupon.kind === 'FIXED_COUPON' && coupon.value !== null ? ctx.fmt.money(coupon.value) : coupon.value;
  return ctx.t('redeem.coupon', {
    title: coupon.reward.title[ctx.locale],
    what: ctx.t(`redeem.what.${coupon.kind}`, { value }),
    code: coupon.displayCode,
    name: found.memberFirstName ?? '—',
    status: statusText(ctx, found),
  });
}

/**
 * The coupon behind a code, with Confirm when it can be redeemed. The lookup counts towards the
 * brute-force guard and refuses what this staff member may not see (a domain error).
 */
export async function showCoupon(ctx: BotContext, domain: DomainDeps, principal: Principal, code: string) {
  const found = await getCouponForRedemption(domain, { code, operator: operator(principal) });
  const text = couponText(ctx, found);
  const { onlineShopUrl } = found.coupon;
  if (found.canRedeem && onlineShopUrl) {
    // A web-shop coupon is used at checkout online, never at a till: no Confirm.
    await ctx.reply(`${text}\n\n${ctx.t('redeem.online_only', { url: onlineShopUrl })}`, { parse_mode: 'HTML', reply_markup: menu(ctx) });
    return;
  }
  if (!found.canRedeem) {
    await ctx.reply(text, { parse_mode: 'HTML', reply_markup: menu(ctx) });
    return;
  }
  await ctx.reply(`${text}\n\n${ctx.t('redeem.tap_confirm')}`, {
    parse_mode: 'HTML',
    reply_markup: new InlineKeyboard()
      .text(ctx.t('staff.confirm'), encodeCallback('rdm:ok', found.coupon.code))
      .text(ctx.t('common.cancel'), encodeCallback('rdm:no')),
  });
}
