import { createConversation } from '@grammyjs/conversations';
import { Composer, type Context, InlineKeyboard, type MiddlewareFn, type NextFunction } from 'grammy';
import { normalizeCode } from '../../../domain/codes.js';
import { isDomainError } from '../../../domain/errors.js';
import { listMyCoupons } from '../../../domain/rewards/my-coupons.js';
import { getCouponForRedemption, redeemCoupon } from '../../../domain/rewards/redeem-coupon.js';
import { findPrincipal, type Principal, requireRole } from '../../../domain/staff/access.js';
import { type Buttons, inPrivateChats } from '../../buttons.js';
import { decodeCallback, encodeCallback } from '../../callback-data.js';
import type { BotContext, BotDeps } from '../../context.js';
import { COUPON_START_PREFIX, rewardErrorText, showOwnCoupon } from '../../coupons.js';
import { type DialogContext, dialogPlugin } from '../../dialogs.js';
import { domainErrorGuard } from '../../guard.js';
import { ack, dropButtons } from '../../replies.js';
import { CODE_DIALOG, codeDialog } from './code-dialog.js';
import { answerError, menu, operator, showCoupon } from './coupon-screen.js';

/**
 * Staff confirm coupons: by a code typed after "Redeem coupon" (any case, spaces and dashes
 * tolerated; the code-dialog.ts conversation), by `/redeem CODE`, or by the coupon's QR deep link
 * (`/start c_<code>`). The coupon is shown first (reward, customer's first name, status, expiry)
 * with a Confirm button; Confirm redeems it under an idempotency key taken from that confirmation
 * message, so it needs no dialog state at all.
 *
 * Every step asks the domain as this staff member: the role is checked, wrong codes count
 * towards the brute-force guard, nobody confirms their own coupon. The Confirm button carries
 * the code only as a hint of what was shown; the domain checks it all again.
 *
 * The code dialog and the cashier's dialog (features/cashier) exclude each other: starting one
 * ends the other (`endCodeDialog`, and the cashier row is deleted when this one starts).
 */

/** Bumped when code-dialog.ts changes so that stored states can no longer be replayed. */
const DIALOG_VERSION = 1;

export interface RedeemFeatures {
  /** Commands, the deep link, taps, and typed codes of non-customers: before the cashier. */
  redeem: Composer<BotContext>;
  /** Typed codes of staff who are also active customers: after the customer features. */
  redeemInput: Composer<BotContext>;
}

/** Ends an open code dialog from outside it (a purchase or a return began, /cancel). */
export const endCodeDialog = (ctx: BotContext) => ctx.sessions.delete('redeem');

export function redeemFeatures(deps: BotDeps, buttons: Buttons): RedeemFeatures {
  const composer = new Composer<BotContext>();
  const { domain } = deps;
  const { program } = domain;
  const privateChats = composer.chatType('private');
  const staffOnly = (ctx: BotContext) => requireRole(domain, ctx.from?.id as number, ['STAFF']);
  const guarded = domainErrorGuard((ctx, error) => answerError(ctx, program, error));

  // The plugin reads the user's dialog row on every update that reaches it, so it is mounted only
  // where a code dialog can matter: its entries, and typed text (below). An update passes at most
  // one of these mounts (the filters exclude each other), as the plugin requires.
  const plugin = dialogPlugin('redeem', DIALOG_VERSION);
  const dialog = createConversation<BotContext, Context>(codeDialog(deps), CODE_DIALOG);
  const withDialogs = (handler: MiddlewareFn<DialogContext>) => {
    const chain = new Composer<DialogContext>(plugin, dialog, handler).middleware();
    // The plugin's middleware (first in the chain) adds `ctx.conversation` before the handler runs.
    return async (ctx: BotContext, next: NextFunction) => chain(ctx as DialogContext, next);
  };

  async function begin(ctx: DialogContext, typed: string) {
    const principal = await staffOnly(ctx);
    if (typed) {
      await showCoupon(ctx, domain, principal, typed);
      return;
    }
    // One open staff step per person: a purchase in progress ends here.
    await ctx.sessions.delete('staff');
    await ctx.conversation.exitAll();
    await ctx.reply(ctx.t('redeem.ask'), { parse_mode: 'HTML', reply_markup: new InlineKeyboard().text(ctx.t('common.cancel'), encodeCallback('rdm:no')) });
    await ctx.conversation.enter(CODE_DIALOG);
  }

  // --- entry points ------------------------------------------------------------------------------

  privateChats.command(
    'start',
    guarded(async (ctx, next) => {
      const payload = ctx.match.trim();
      if (!payload.toLowerCase().startsWith(COUPON_START_PREFIX)) return next();
      const code = payload.slice(COUPON_START_PREFIX.length);
      const principal = await findPrincipal(domain, ctx.from.id);
      if (principal && (principal.role === 'STAFF' || principal.role === 'ADMIN')) {
        try {
          return await showCoupon(ctx, domain, principal, code);
        } catch (error) {
          // Staff who scan their own coupon see it as its owner does.
          if (!isDomainError(error, 'FORBIDDEN') || error.details.reason !== 'own coupon') throw error;
        }
      }
      // A customer who scans their own coupon sees it; anyone else goes on to /start as usual.
      if (ctx.member?.status === 'ACTIVE') {
        const mine = await listMyCoupons(domain, ctx.member);
        const wanted = normalizeCode(code);
        const coupon = [...mine.active, ...mine.used, ...mine.expired, ...mine.cancelled].find((candidate) => candidate.code === wanted);
        if (coupon) return showOwnCoupon(ctx, coupon);
      }
      return next();
    }),
  );

  privateChats.command('redeem', guarded(withDialogs((ctx) => begin(ctx, typeof ctx.match === 'string' ? ctx.match.trim() : ''))));
  buttons.on('staff.menu.redeem', inPrivateChats(guarded(withDialogs((ctx) => begin(ctx, '')))));

  // --- taps: the role first, then the codec; Confirm needs no dialog state ------------------------

  async function onTap(ctx: BotContext) {
    const principal = await staffOnly(ctx);
    const tap = decodeCallback(ctx.callbackQuery?.data);
    if (tap.route === 'rdm:ok') return confirm(ctx, principal, tap.args[0]);
    if (tap.route !== 'rdm:no') return ack(ctx, ctx.t('common.stale_button'));
    await endCodeDialog(ctx);
    await ack(ctx);
    await dropButtons(ctx);
    await ctx.reply(ctx.t('redeem.cancelled'), { reply_markup: menu(ctx) });
  }

  async function confirm(ctx: BotContext, principal: Principal, code: string) {
    const messageId = ctx.callbackQuery?.message?.message_id;
    if (messageId === undefined) return ack(ctx, ctx.t('common.stale_button'));
    try {
      // A forged or old Confirm under a web-shop coupon redeems nothing: such coupons are used online.
      const { coupon } = await getCouponForRedemption(domain, { code, operator: operator(principal) });
      if (coupon.onlineShopUrl) {
        await ack(ctx);
        await dropButtons(ctx);
        return ctx.reply(ctx.t('redeem.online_only', { url: coupon.onlineShopUrl }), { parse_mode: 'HTML', reply_markup: menu(ctx) });
      }
      const result = await redeemCoupon(domain, { code, operator: operator(principal), idempotencyKey: `tg-confirm:${messageId}` });
      await dropButtons(ctx);
      if (result.replayed) return ack(ctx, ctx.t('redeem.replayed'), true);
      await ack(ctx, ctx.t('redeem.done_popup'));
      await ctx.reply(
        ctx.t('redeem.done', { title: result.coupon.reward.title[ctx.locale], code: result.coupon.displayCode, name: result.memberFirstName ?? '—' }),
        { parse_mode: 'HTML', reply_markup: menu(ctx) },
      );
    } catch (error) {
      if (!isDomainError(error) || error.code === 'FORBIDDEN' || error.code === 'TOO_MANY_ATTEMPTS') throw error;
      // Redeemed by someone else meanwhile, expired, cancelled: said in the chat, with when.
      await ack(ctx);
      await dropButtons(ctx);
      await ctx.reply(rewardErrorText(ctx, error, program, 'staff'), { parse_mode: 'HTML', reply_markup: menu(ctx) });
    }
  }

  composer.filter((ctx) => ctx.callbackQuery?.data?.startsWith('rdm:') === true, guarded(onTap));

  // Typed text reaches an open code dialog; without one it passes on untouched. Non-customers
  // here (so the cashier's hint does not answer a code first); active customers after the
  // customer features (redeemInput), so that customers' updates never wait on the dialog row.
  const typed = guarded(withDialogs((_ctx, next) => next()));
  privateChats.filter((ctx) => ctx.member?.status !== 'ACTIVE').on('message:text', typed);

  const redeemInput = new Composer<BotContext>();
  redeemInput
    .chatType('private')
    .filter((ctx) => ctx.member?.status === 'ACTIVE')
    .on('message:text', typed);

  return { redeem: composer, redeemInput };
}
