import { Composer, InlineKeyboard } from 'grammy';
import { z } from 'zod';
import { donatePoints, openCause, openCauses } from '../../../domain/charity/donate.js';
import { charityTotals } from '../../../domain/charity/report.js';
import type { CharityTotals } from '../../../domain/charity/types.js';
import { DomainError, isDomainError } from '../../../domain/errors.js';
import { currentBalance } from '../../../domain/members/lookup.js';
import type { CharityCause } from '../../../domain/program.js';
import { type Buttons, forActiveMembers } from '../../buttons.js';
import { callbackData } from '../../callback-data.js';
import { SESSION_FEATURES } from '../../chat-sessions.js';
import type { BotContext, BotDeps } from '../../context.js';
import { popupText } from '../../coupons.js';
import { addToMainMenu } from '../../keyboards.js';
import type { Screens } from '../../screens.js';

/**
 * Charity for members: the causes with running totals, a cause's screen with amounts (or a typed
 * number), a confirmation (a donation cannot be undone) and the result. Self-contained, so it can
 * move onto @grammyjs/conversations as it is.
 *
 * Callback data (`ch:…`) names a cause and an amount, never a member: the member is the sender,
 * and the confirmation re-checks everything on the server (the cause still open, the amount
 * still affordable and above the minimum) through `donatePoints`. The confirmation message's id
 * is the idempotency key: a double tap gives once, and the same message replayed with another
 * cause or amount is refused as a conflict.
 */

const CAUSE = '([a-z0-9][a-z0-9_-]{0,23})';
const POINTS = '(\\d{1,9})';
/** A typed amount is taken this long after the cause's screen was opened. */
const TYPING_TTL_MS = 15 * 60_000;
const typing = z.object({ cause: z.string(), at: z.number() });

export function charityFeature(deps: BotDeps, screens: Screens, buttons: Buttons): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  const { domain } = deps;
  const { program } = domain;
  if (!program.charity || program.charity.causes.length === 0) return composer;
  const minPoints = program.charity.minPoints;
  const active = composer.filter((ctx) => ctx.member?.status === 'ACTIVE');

  const points = (ctx: BotContext, count: number) => ctx.t('common.points', { count });
  const money = (ctx: BotContext, count: number) => ctx.fmt.money(count * program.points.pointValueMinor);
  const balanceOf = (ctx: BotContext) => currentBalance(domain, (ctx.member as { id: number }).id);
  const given = (totals: CharityTotals, code: string) => totals.causes.find((cause) => cause.causeCode === code);

  async function ack(ctx: BotContext, text?: string, alert = false) {
    if (ctx.callbackQuery) await ctx.answerCallbackQuery(text ? { text: popupText(text), show_alert: alert } : undefined).catch(() => undefined);
  }
  const dropButtons = (ctx: BotContext) => ctx.editMessageReplyMarkup().catch(() => undefined);

  async function listScreen(ctx: BotContext) {
    const [totals, balance] = await Promise.all([charityTotals(domain), balanceOf(ctx)]);
    const causes = openCauses(program);
    if (causes.length === 0) return { text: ctx.t('charity.none'), keyboard: undefined };
    const lines = [
      totals.overall.points > 0
        ? ctx.t('charity.title', { points: points(ctx, totals.overall.points), money: ctx.fmt.money(totals.overall.valueMinor) })
        : ctx.t('charity.title_none'),
      '',
    ];
    const keyboard = new InlineKeyboard();
    for (const cause of causes) {
      const total = given(totals, cause.code);
      lines.push(
        ctx.t('charity.cause_line', { name: cause.name[ctx.locale], points: points(ctx, total?.points ?? 0), money: ctx.fmt.money(total?.valueMinor ?? 0) }),
      );
      keyboard.text(`💝 ${cause.name[ctx.locale]}`, callbackData('ch', 'c', cause.code)).row();
    }
    lines.push('', ctx.t('charity.pick', { balance: points(ctx, balance), min: points(ctx, minPoints), value: ctx.fmt.money(program.points.pointValueMinor) }));
    return { text: lines.join('\n'), keyboard };
  }

  const showList = async (ctx: BotContext) => {
    const { text, keyboard } = await listScreen(ctx);
    await ctx.reply(text, { parse_mode: 'HTML', ...(keyboard ? { reply_markup: keyboard } : {}) });
  };
  screens.register('charity', showList);
  active.command('charity', showList);
  buttons.on('menu.charity', forActiveMembers(showList));
  if (openCauses(program).length > 0) addToMainMenu(deps.i18n, 'menu.charity');

  active.callbackQuery('ch:l', async (ctx) => {
    await ack(ctx);
    const { text, keyboard } = await listScreen(ctx);
    await ctx
      .editMessageText(text, { parse_mode: 'HTML', ...(keyboard ? { reply_markup: keyboard } : {}) })
      .catch(() => ctx.reply(text, { parse_mode: 'HTML' }));
  });

  /** The open cause named by a button, or a popup saying it is gone (closed, or removed from the program). */
  async function causeOf(ctx: BotContext, code: string): Promise<CharityCause | null> {
    try {
      return openCause(program, code);
    } catch (error) {
      if (!isDomainError(error, 'CAUSE_NOT_FOUND')) throw error;
      await ack(ctx, ctx.t('errors.CAUSE_NOT_FOUND'), true);
      return null;
    }
  }

  active.callbackQuery(new RegExp(`^ch:c:${CAUSE}$`), async (ctx) => {
    const cause = await causeOf(ctx, ctx.match[1] as string);
    if (!cause) return;
    const [totals, balance] = await Promise.all([charityTotals(domain), balanceOf(ctx)]);
    await ack(ctx);
    if (balance < minPoints) {
      await ctx.reply(ctx.t('charity.balance_low', { min: points(ctx, minPoints), balance: points(ctx, balance) }), { parse_mode: 'HTML' });
      return;
    }
    const total = given(totals, cause.code);
    const keyboard = new InlineKeyboard();
    const amounts = [...new Set([minPoints, minPoints * 2, minPoints * 5].filter((amount) => amount < balance))];
    for (const amount of amounts) keyboard.text(points(ctx, amount), callbackData('ch', 'a', cause.code, amount));
    keyboard
      .row()
      .text(ctx.t('charity.all', { points: points(ctx, balance), interpolation: { escapeValue: false } }), callbackData('ch', 'a', cause.code, balance));
    if (cause.url) keyboard.row().url(ctx.t('charity.link'), cause.url);
    keyboard.row().text(ctx.t('charity.back'), callbackData('ch', 'l'));
    await ctx.sessions.write('charity', { cause: cause.code, at: domain.clock.now().getTime() });
    await ctx.reply(
      ctx.t('charity.cause', {
        name: cause.name[ctx.locale],
        description: cause.description[ctx.locale],
        points: points(ctx, total?.points ?? 0),
        money: ctx.fmt.money(total?.valueMinor ?? 0),
        balance: points(ctx, balance),
        min: points(ctx, minPoints),
      }),
      { parse_mode: 'HTML', reply_markup: keyboard, link_preview_options: { is_disabled: true } },
    );
  });

  /** The confirmation screen: nothing is given until "Give" is tapped on it. */
  async function confirm(ctx: BotContext, cause: CharityCause, amount: number) {
    const balance = await balanceOf(ctx);
    if (amount < minPoints || amount > balance) {
      const text = ctx.t('charity.type_amount', { min: minPoints, max: balance });
      if (ctx.callbackQuery) await ack(ctx, text, true);
      else await ctx.reply(text);
      return;
    }
    await ack(ctx);
    await ctx.reply(
      ctx.t('charity.confirm', {
        points: points(ctx, amount),
        name: cause.name[ctx.locale],
        money: money(ctx, amount),
        balance: points(ctx, balance - amount),
      }),
      {
        parse_mode: 'HTML',
        reply_markup: new InlineKeyboard()
          .text(
            ctx.t('charity.confirm_yes', { points: points(ctx, amount), interpolation: { escapeValue: false } }),
            callbackData('ch', 'ok', cause.code, amount),
          )
          .text(ctx.t('common.cancel'), callbackData('ch', 'no')),
      },
    );
  }

  active.callbackQuery(new RegExp(`^ch:a:${CAUSE}:${POINTS}$`), async (ctx) => {
    const cause = await causeOf(ctx, ctx.match[1] as string);
    if (cause) await confirm(ctx, cause, Number(ctx.match[2]));
  });

  // A typed amount while a cause's screen is open (the last one opened, for a while).
  active.on('message:text', async (ctx, next) => {
    const text = ctx.message.text.trim();
    if (!/^\d{1,9}$/.test(text)) return next();
    const state = typing.safeParse(await ctx.sessions.read('charity'));
    if (!state.success || domain.clock.now().getTime() - state.data.at > TYPING_TTL_MS) return next();
    // Another wizard open meanwhile (a cashier's amount, a comment) takes its own input first.
    for (const feature of SESSION_FEATURES) if (feature !== 'charity' && (await ctx.sessions.read(feature)) !== undefined) return next();
    const cause = openCauses(program).find((candidate) => candidate.code === state.data.cause);
    if (!cause) {
      await ctx.sessions.delete('charity');
      return ctx.reply(ctx.t('errors.CAUSE_NOT_FOUND'));
    }
    await confirm(ctx, cause, Number(text));
  });

  active.callbackQuery(new RegExp(`^ch:ok:${CAUSE}:${POINTS}$`), async (ctx) => {
    const messageId = ctx.callbackQuery.message?.message_id;
    if (messageId === undefined) return ack(ctx, ctx.t('charity.stale'), true);
    const member = ctx.member as { id: number };
    try {
      // The sender is the donor; the cause, the amount and the balance are checked again here.
      const result = await donatePoints(domain, {
        memberId: member.id,
        causeCode: ctx.match[1] as string,
        points: Number(ctx.match[2]),
        idempotencyKey: `tg-confirm:${messageId}`,
      });
      await dropButtons(ctx);
      await ctx.sessions.delete('charity');
      if (result.replayed) return ack(ctx, ctx.t('charity.already'), true);
      await ack(ctx);
      await ctx.reply(
        ctx.t('charity.done', { points: points(ctx, result.donation.points), name: result.cause.name[ctx.locale], balance: points(ctx, result.balance) }),
        { parse_mode: 'HTML' },
      );
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      ctx.log.info({ code: error.code }, 'donation refused');
      const key = `errors.${error.code}`;
      const text = ctx.t(key, { ...error.details, support: '' });
      await ack(ctx, text === key ? ctx.t('errors.generic') : text, true);
    }
  });

  active.callbackQuery('ch:no', async (ctx) => {
    await ack(ctx, ctx.t('charity.cancelled'));
    await dropButtons(ctx);
    await ctx.sessions.delete('charity');
  });

  return composer;
}
