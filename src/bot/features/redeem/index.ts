import { Composer, InlineKeyboard } from 'grammy';
import { normalizeCode } from '../../../domain/codes.js';
import { isDomainError } from '../../../domain/errors.js';
import { listMyCoupons } from '../../../domain/rewards/my-coupons.js';
import { getCouponForRedemption, redeemCoupon } from '../../../domain/rewards/redeem-coupon.js';
import { findPrincipal, type Principal, requireRole } from '../../../domain/staff/access.js';
import { type Buttons, inPrivateChats } from '../../buttons.js';
import { decodeCallback, encodeCallback } from '../../callback-data.js';
import type { BotContext, BotDeps } from '../../context.js';
import { COUPON_START_PREFIX, rewardErrorText, showOwnCoupon } from '../../coupons.js';
import type { DialogContext, Dialogs } from '../../dialogs.js';
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
 * The code dialog runs on the shared dialogs (dialogs.ts): typed codes reach it through the
 * bot's dialog-answer mounts (the `openAnswers` and `memberAnswers` stages, routing.ts), and
 * starting it ends any other open dialog (a purchase), as starting a purchase ends it.
 */
export function redeemFeatures(deps: BotDeps, buttons: Buttons, dialogs: Dialogs): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  const { domain } = deps;
  const { program } = domain;
  const privateChats = composer.chatType('private');
  const staffOnly = (ctx: BotContext) => requireRole(domain, ctx.from?.id as number, ['STAFF']);
  const guarded = domainErrorGuard((ctx, error) => answerError(ctx, program, error));

  dialogs.register(codeDialog(deps), CODE_DIALOG);

  /** "Type the coupon code", and the dialog that waits for it (any other open dialog ends here). */
  const ask = dialogs.entry(async (ctx: DialogContext) => {
    await staffOnly(ctx);
    await ctx.reply(ctx.t('redeem.ask'), { parse_mode: 'HTML', reply_markup: new InlineKeyboard().text(ctx.t('common.cancel'), encodeCallback('rdm:no')) });
    await ctx.conversation.enter(CODE_DIALOG);
  });

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

  privateChats.command(
    'redeem',
    guarded(async (ctx, next) => {
      const typed = ctx.match.trim();
      if (!typed) return ask(ctx, next);
      await showCoupon(ctx, domain, await staffOnly(ctx), typed);
    }),
  );
  buttons.on('staff.menu.redeem', inPrivateChats(guarded(ask)));

  // --- taps: the role first, then the codec; Confirm needs no dialog state ------------------------

  async function onTap(ctx: DialogContext) {
    const principal = await staffOnly(ctx);
    const tap = decodeCallback(ctx.callbackQuery?.data);
    if (tap.route === 'rdm:ok') return confirm(ctx, principal, tap.args[0]);
    if (tap.route !== 'rdm:no') return ack(ctx, ctx.t('common.stale_button'));
    await ctx.conversation.exit(CODE_DIALOG);
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

  composer.filter((ctx) => ctx.callbackQuery?.data?.startsWith('rdm:') === true, guarded(dialogs.around(onTap)));

  return composer;
}
