import { Composer, InlineKeyboard, type NextFunction } from 'grammy';
import { z } from 'zod';
import { normalizeCode } from '../../../domain/codes.js';
import { type DomainError, isDomainError } from '../../../domain/errors.js';
import { listMyCoupons } from '../../../domain/rewards/my-coupons.js';
import type { CouponForRedemption, CouponOperator } from '../../../domain/rewards/redeem-coupon.js';
import { getCouponForRedemption, redeemCoupon } from '../../../domain/rewards/redeem-coupon.js';
import { findPrincipal, type Principal, requireRole } from '../../../domain/staff/access.js';
import { type Buttons, inPrivateChats } from '../../buttons.js';
import { decodeCallback, encodeCallback } from '../../callback-data.js';
import type { BotContext, BotDeps } from '../../context.js';
import { COUPON_START_PREFIX, popupText, rewardErrorText, showOwnCoupon } from '../../coupons.js';
import { domainErrorGuard } from '../../guard.js';
import { staffMenu } from '../../keyboards.js';
import { ack, dropButtons } from '../../replies.js';

/**
 * Staff confirm coupons: by a code typed after "Redeem coupon" (any case, spaces and dashes
 * tolerated), by `/redeem CODE`, or by the coupon's QR deep link (`/start c_<code>`). The coupon
 * is shown first (reward, customer's first name, status, expiry) with a Confirm button; Confirm
 * redeems it under an idempotency key taken from that confirmation message.
 *
 * Every step asks the domain as this staff member: the role is checked, wrong codes count
 * towards the brute-force guard, nobody confirms their own coupon. The Confirm button carries
 * the code only as a hint of what was shown; the domain checks it all again.
 *
 * The "type a code" step shares the staff session (one open staff step per person): starting a
 * purchase ends it, and starting it ends a purchase in progress (features/cashier/dialog.ts).
 */

const STEP_TTL_MS = 30 * 60_000;
const stepSchema = z.object({ kind: z.literal('redeem'), step: z.literal('code'), touchedAt: z.number() });
/** What a typed code may look like before the domain checks it: Latin letters and digits, grouped at will. */
const CODE_LIKE = /^[A-Z0-9]{4,24}$/;

export interface RedeemFeatures {
  /** Commands, the staff menu button, the deep link, buttons, and typed codes of non-customers: before staff.ts. */
  redeem: Composer<BotContext>;
  /** Typed codes of staff who are also active customers: after the customer features. */
  redeemInput: Composer<BotContext>;
}

export function redeemFeatures(deps: BotDeps, buttons: Buttons): RedeemFeatures {
  const composer = new Composer<BotContext>();
  const { domain } = deps;
  const { program } = domain;
  const privateChats = composer.chatType('private');

  const staffOnly = (ctx: BotContext) => requireRole(domain, ctx.from?.id as number, ['STAFF']);
  const operator = (principal: Principal): CouponOperator => ({ kind: 'staff', principal });
  const menu = (ctx: BotContext) => staffMenu(ctx.t, ctx.member?.status === 'ACTIVE');

  async function awaitingCode(ctx: BotContext): Promise<boolean> {
    const parsed = stepSchema.safeParse(await ctx.sessions.read('staff'));
    return parsed.success && domain.clock.now().getTime() - parsed.data.touchedAt <= STEP_TTL_MS;
  }
  async function endStep(ctx: BotContext) {
    if (stepSchema.safeParse(await ctx.sessions.read('staff')).success) await ctx.sessions.delete('staff');
  }

  async function answerError(ctx: BotContext, error: DomainError) {
    ctx.log.info({ code: error.code }, 'domain error answered');
    const text = rewardErrorText(ctx, error, program, 'staff');
    if (ctx.callbackQuery) await ack(ctx, popupText(text), true);
    else await ctx.reply(text, { parse_mode: 'HTML' });
  }

  /** Domain refusals answered in staff wording, dates and waits formatted; like staff.ts `guard`. */
  const guarded = domainErrorGuard(answerError);

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

  /** The coupon behind a code, with Confirm when it can be redeemed. */
  async function show(ctx: BotContext, principal: Principal, code: string) {
    const found = await getCouponForRedemption(domain, { code, operator: operator(principal) });
    await endStep(ctx);
    const text = couponText(ctx, found);
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

  async function askCode(ctx: BotContext) {
    await ctx.sessions.write('staff', { kind: 'redeem', step: 'code', touchedAt: domain.clock.now().getTime() } satisfies z.infer<typeof stepSchema>);
    await ctx.reply(ctx.t('redeem.ask'), { parse_mode: 'HTML', reply_markup: new InlineKeyboard().text(ctx.t('common.cancel'), encodeCallback('rdm:no')) });
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
          return await show(ctx, principal, code);
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

  const begin = async (ctx: BotContext, typed: string) => {
    const principal = await staffOnly(ctx);
    if (typed) return show(ctx, principal, typed);
    await askCode(ctx);
  };
  privateChats.command(
    'redeem',
    guarded((ctx) => begin(ctx, ctx.match.trim())),
  );
  buttons.on('staff.menu.redeem', inPrivateChats(guarded((ctx) => begin(ctx, ''))));

  /** A typed code while the step is open; anything else (menu buttons, commands) passes on. */
  async function typedCode(ctx: BotContext, next: NextFunction) {
    const text = ctx.message?.text;
    if (text === undefined || text.startsWith('/') || !CODE_LIKE.test(normalizeCode(text.trim()))) return next();
    if (!(await awaitingCode(ctx))) return next();
    const principal = await staffOnly(ctx);
    await show(ctx, principal, text);
  }

  // --- buttons: each re-checks the role; the code is only what was shown ---------------------------

  // One entry for every `rdm:` tap: the role first, then the codec; anything undeclared acts on nothing.
  async function onTap(ctx: BotContext) {
    const principal = await staffOnly(ctx);
    const tap = decodeCallback(ctx.callbackQuery?.data);
    if (tap.route === 'rdm:ok') return confirm(ctx, principal, tap.args[0]);
    if (tap.route !== 'rdm:no') return ack(ctx, ctx.t('common.stale_button'));
    await endStep(ctx);
    await ack(ctx);
    await dropButtons(ctx);
    await ctx.reply(ctx.t('redeem.cancelled'), { reply_markup: menu(ctx) });
  }

  async function confirm(ctx: BotContext, principal: Principal, code: string) {
    const messageId = ctx.callbackQuery?.message?.message_id;
    if (messageId === undefined) return ack(ctx, ctx.t('common.stale_button'));
    try {
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

  // Typed codes of people who are not active customers (active ones: redeemInput, after the
  // customer features, so that customers' buttons never wait on the session store).
  privateChats.filter((ctx) => ctx.member?.status !== 'ACTIVE').on('message:text', guarded(typedCode));

  const redeemInput = new Composer<BotContext>();
  redeemInput
    .chatType('private')
    .filter((ctx) => ctx.member?.status === 'ACTIVE')
    .on('message:text', guarded(typedCode));

  return { redeem: composer, redeemInput };
}
