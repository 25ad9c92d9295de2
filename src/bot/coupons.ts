import { type InlineKeyboard, InputFile } from 'grammy';
import { formatCouponCode } from '../domain/codes.js';
import type { DomainError } from '../domain/errors.js';
import type { Localized, Program } from '../domain/program.js';
import type { CouponView } from '../domain/rewards/coupon.js';
import { tierByCode } from '../domain/tiers.js';
import type { BotContext } from './context.js';
import { qrPng } from './qr-image.js';
import { errorText } from './replies.js';

/**
 * What the customer's and the staff's coupon screens share: the coupon image (code, QR deep link
 * to the staff confirmation, expiry) and the wording of the errors around rewards and coupons,
 * with their dates and numbers formatted for the reader.
 */

/** `/start c_<code>`: the payload of a coupon's QR deep link. */
export const COUPON_START_PREFIX = 'c_';

/** The link a coupon's QR code encodes: it opens the bot on the staff confirmation. */
export const couponLink = (botUsername: string, code: string) => `https://t.me/${botUsername}?start=${COUPON_START_PREFIX}${code}`;

/**
 * Sends the coupon as a photo: a QR code of its deep link, with the code and expiry as caption.
 * An online coupon (`onlineShopUrl`) is a text instead: the code to enter at checkout on the web
 * shop, and no QR, since no till will scan it.
 */
export async function sendCoupon(
  ctx: BotContext,
  coupon: { code: string; title: Localized; expiresAt: Date; onlineShopUrl?: string | null },
  extraLines: string[] = [],
  replyMarkup?: InlineKeyboard,
): Promise<void> {
  if (coupon.onlineShopUrl) {
    const text = [
      ctx.t('coupons.online_caption', {
        title: coupon.title[ctx.locale],
        code: formatCouponCode(coupon.code),
        expires: ctx.fmt.dateTime(coupon.expiresAt),
        url: coupon.onlineShopUrl,
      }),
      ...extraLines,
    ].join('\n');
    await ctx.reply(text, { parse_mode: 'HTML', link_preview_options: { is_disabled: true }, ...(replyMarkup ? { reply_markup: replyMarkup } : {}) });
    return;
  }
  const png = await qrPng(couponLink(ctx.me.username, coupon.code));
  const caption = [
    ctx.t('coupons.caption', { title: coupon.title[ctx.locale], code: formatCouponCode(coupon.code), expires: ctx.fmt.dateTime(coupon.expiresAt) }),
    ...extraLines,
  ].join('\n');
  await ctx.replyWithPhoto(new InputFile(png, 'coupon.png'), { caption, parse_mode: 'HTML', ...(replyMarkup ? { reply_markup: replyMarkup } : {}) });
}

/** One of the member's own coupons: the image while it can be used, else what became of it. */
export async function showOwnCoupon(ctx: BotContext, coupon: CouponView): Promise<void> {
  if (coupon.status === 'ISSUED')
    return sendCoupon(ctx, { code: coupon.code, title: coupon.reward.title, expiresAt: coupon.expiresAt, onlineShopUrl: coupon.onlineShopUrl });
  await ctx.reply(ownCouponStatus(ctx, coupon), { parse_mode: 'HTML' });
}

function ownCouponStatus(ctx: BotContext, coupon: CouponView): string {
  const values = { title: coupon.reward.title[ctx.locale], code: coupon.displayCode };
  switch (coupon.status) {
    case 'REDEEMED': {
      const date = ctx.fmt.dateTime(coupon.redeemedAt ?? coupon.issuedAt);
      return coupon.redeemedStoreName
        ? ctx.t('coupons.status_used_at', { ...values, date, store: coupon.redeemedStoreName })
        : ctx.t('coupons.status_used', { ...values, date });
    }
    case 'CANCELLED':
      return ctx.t('coupons.status_cancelled', { ...values, date: ctx.fmt.dateTime(coupon.cancelledAt ?? coupon.issuedAt) });
    default:
      return ctx.t('coupons.status_expired', { ...values, date: ctx.fmt.dateTime(coupon.expiresAt) });
  }
}

/** Popups (answerCallbackQuery) are plain text of at most 200 characters. */
export function popupText(html: string): string {
  const text = html
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

/**
 * The text for a domain error around rewards and coupons, with dates in the reader's locale and
 * time zone, waits in minutes and tier names; other codes as the generic texts word them (for
 * staff, in staff wording where it differs).
 */
export function rewardErrorText(ctx: BotContext, error: DomainError, program: Program, audience: 'customer' | 'staff'): string {
  const details = error.details;
  const when = (value: unknown) => (typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? ctx.fmt.dateTime(new Date(value)) : null);
  const points = (count: number) => ctx.t('common.points', { count });
  switch (error.code) {
    case 'ALREADY_REDEEMED': {
      const date = when(details.redeemedAt);
      if (date && typeof details.storeName === 'string') return ctx.t('coupons.errors.redeemed_at_store', { date, store: details.storeName });
      if (date) return ctx.t('coupons.errors.redeemed_at', { date });
      break;
    }
    case 'COUPON_EXPIRED': {
      const date = when(details.expiresAt);
      if (date) return ctx.t('coupons.errors.expired_at', { date });
      break;
    }
    case 'COUPON_CANCELLED': {
      const date = when(details.cancelledAt);
      if (date) return ctx.t('coupons.errors.cancelled_at', { date });
      break;
    }
    case 'COUPON_NOT_FOUND':
      if (typeof details.attemptsLeft === 'number') return ctx.t('coupons.errors.not_found_attempts', { left: details.attemptsLeft });
      break;
    case 'TOO_MANY_ATTEMPTS': {
      const seconds = typeof details.retryAfterSeconds === 'number' ? details.retryAfterSeconds : 60;
      return ctx.t('coupons.errors.wait', { wait: ctx.t('coupons.minutes', { count: Math.max(1, Math.ceil(seconds / 60)) }) });
    }
    case 'FORBIDDEN':
      if (details.reason === 'own coupon') return ctx.t('coupons.errors.own');
      break;
    case 'INSUFFICIENT_POINTS':
      if (typeof details.missing === 'number') return ctx.t('rewards.need_more', { points: points(details.missing) });
      break;
    case 'LIMIT_REACHED':
      if (typeof details.count === 'number') {
        const times = ctx.t('rewards.times', { count: details.count });
        return typeof details.periodDays === 'number'
          ? ctx.t('rewards.limit', { times, days: ctx.t('rewards.days', { count: details.periodDays }) })
          : ctx.t('rewards.limit_ever', { times });
      }
      break;
    case 'TIER_TOO_LOW':
      if (typeof details.minTier === 'string') return ctx.t('rewards.tier', { tier: tierByCode(program, details.minTier).name[ctx.locale] });
      break;
    default:
      break;
  }
  if (audience === 'staff') return errorText(ctx, error);
  const key = `errors.${error.code}`;
  const text = ctx.t(key, { ...details });
  return text === key ? ctx.t('errors.generic') : text;
}
