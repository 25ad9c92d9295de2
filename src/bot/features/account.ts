import { Composer, GrammyError, InlineKeyboard, InputFile } from 'grammy';
import { causeName } from '../../domain/charity/report.js';
import { formatCode } from '../../domain/codes.js';
import type { LedgerEntry } from '../../domain/ledger/types.js';
import type { Member } from '../../domain/members/member.js';
import { getHistory, getOverview } from '../../domain/members/overview.js';
import { rememberCardFile } from '../../domain/members/settings.js';
import { hasPoints } from '../../domain/purchases/quote.js';
import { issueSpendCode, SPEND_CODE_TTL_MS } from '../../domain/spending/spend-codes.js';
import { type Buttons, forActiveMembers } from '../buttons.js';
import { callbackData } from '../callback-data.js';
import type { BotContext, BotDeps } from '../context.js';
import type { I18n } from '../i18n.js';
import { mainMenu } from '../keyboards.js';
import { qrPng } from '../qr-image.js';
import type { Screens } from '../screens.js';
import { supportContact } from '../support.js';

/** Deep link that opens the bot on a member's card (staff scan it to find the member). */
export const memberCardLink = (botUsername: string, code: string) => `https://t.me/${botUsername}?start=m_${code}`;

/**
 * Updates that open the Balance screen (its button in any language, /balance) in a private chat:
 * the member is read with their standing in one query for them (middleware.ts).
 */
export function asksForBalance(i18n: I18n): (ctx: BotContext) => boolean {
  const labels = new Set(i18n.all('menu.balance'));
  return (ctx) => {
    const text = ctx.message?.text;
    return text !== undefined && ctx.chat?.type === 'private' && (labels.has(text) || /^\/balance(?:@\w+)?(?:\s|$)/.test(text));
  };
}

/** Balance, member card, history and help: what an active member reads about their account. */
export function accountFeature(deps: BotDeps, screens: Screens, buttons: Buttons): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  const { domain } = deps;

  async function showBalance(ctx: BotContext) {
    const overview = await getOverview(domain, ctx.member as Member, ctx.standing);
    const { t, fmt } = ctx;
    const tierValues = { tier: overview.tier.name[ctx.locale], discount: overview.tier.discountPercent };
    // A discount-only program shows no "0 points".
    const lines = [
      hasPoints(domain.program)
        ? t('balance.text', { points: t('common.points', { count: overview.balance }), ...tierValues })
        : t('balance.text_plain', tierValues),
    ];
    if (!overview.next) lines.push(t('balance.top'));
    else if (overview.next.metric === 'spend')
      lines.push(t('balance.next_spend', { amount: fmt.money(overview.next.missing), tier: overview.next.tier.name[ctx.locale] }));
    else lines.push(t('balance.next_points', { points: t('common.points', { count: overview.next.missing }), tier: overview.next.tier.name[ctx.locale] }));
    if (overview.nearestExpiry) {
      lines.push(t('balance.expiry', { points: t('common.points', { count: overview.nearestExpiry.points }), date: fmt.date(overview.nearestExpiry.at) }));
    }
    // The running total kept on the member row: no query beyond the overview's.
    const saved = (ctx.member as Member).savedMinor;
    if (saved > 0) lines.push(t('balance.saved', { amount: fmt.money(saved) }));
    await ctx.reply(lines.join('\n'), { parse_mode: 'HTML', reply_markup: mainMenu(t, deps.domain.program) });
  }

  /** A fresh one-time spend code, and its text: the card lets the cashier find the member, this lets them pay with points. */
  async function spendCodeText(ctx: BotContext, memberId: number) {
    const { code, expiresAt } = await issueSpendCode(domain, memberId);
    return ctx.t('card.spend_code', {
      code: `${code.slice(0, 3)} ${code.slice(3)}`,
      minutes: SPEND_CODE_TTL_MS / 60_000,
      until: ctx.fmt.dateTime(expiresAt),
    });
  }
  const refreshButton = (ctx: BotContext) => new InlineKeyboard().text(ctx.t('card.spend_code_refresh'), 'card:code');

  async function showCard(ctx: BotContext) {
    await showCardImage(ctx);
    const member = ctx.member;
    // The spend code is shown only in the member's private chat (DESIGN principle 10), and a
    // new one each time the card is opened: the previous code stops working.
    if (!member || ctx.chat?.type !== 'private') return;
    await ctx.reply(await spendCodeText(ctx, member.id), { parse_mode: 'HTML', reply_markup: refreshButton(ctx) });
  }

  async function showCardImage(ctx: BotContext) {
    const member = ctx.member;
    if (!member) return;
    const caption = ctx.t('card.caption', { code: formatCode(member.code) });
    // Drawing the QR code costs more CPU than everything else in an update: upload it once and
    // send Telegram's file id afterwards (it stays valid for this bot).
    if (member.cardFileId) {
      try {
        await ctx.replyWithPhoto(member.cardFileId, { caption, parse_mode: 'HTML' });
        return;
      } catch (error) {
        if (!(error instanceof GrammyError && error.error_code === 400)) throw error;
      }
    }
    const png = await qrPng(memberCardLink(ctx.me.username, member.code));
    const sent = await ctx.replyWithPhoto(new InputFile(png, 'card.png'), { caption, parse_mode: 'HTML' });
    const fileId = sent.photo.at(-1)?.file_id;
    if (fileId) await rememberCardFile(domain, member.id, fileId);
  }

  function describe(ctx: BotContext, entry: LedgerEntry): string {
    // An admin's adjustment carries the admin's own words, not a code: the member reads why.
    if (entry.type === 'ADJUST' && entry.reason) return ctx.t('history.adjusted', { reason: entry.reason });
    // A donation names its cause (`charity:<code>`), as the program names it now.
    if (entry.type === 'DONATION' && entry.reason?.startsWith('charity:')) {
      return ctx.t('history.donated', { cause: causeName(domain.program, entry.reason.slice('charity:'.length))[ctx.locale] });
    }
    const reasonKey = `history.reason.${entry.reason}`;
    const reason = entry.reason ? ctx.t(reasonKey) : reasonKey;
    const what = reason !== reasonKey ? reason : ctx.t(`history.type.${entry.type}`);
    return entry.storeName ? ctx.t('history.at_store', { what, store: entry.storeName }) : what;
  }

  async function renderHistory(ctx: BotContext, page: number) {
    const history = await getHistory(domain, ctx.member as Member, page);
    if (history.entries.length === 0 && history.page === 0) return { text: ctx.t('history.empty'), keyboard: undefined };
    const lines = history.entries.map((entry) =>
      entry.savingMinor
        ? ctx.t('history.line_saved', {
            date: ctx.fmt.date(entry.createdAt),
            amount: ctx.fmt.signed(entry.amount),
            what: describe(ctx, entry),
            saving: ctx.fmt.money(entry.savingMinor),
          })
        : ctx.t('history.line', { date: ctx.fmt.date(entry.createdAt), amount: ctx.fmt.signed(entry.amount), what: describe(ctx, entry) }),
    );
    const keyboard = new InlineKeyboard();
    if (history.page > 0) keyboard.text(ctx.t('history.newer'), callbackData('hist', history.page - 1));
    if (history.page + 1 < history.pages) keyboard.text(ctx.t('history.older'), callbackData('hist', history.page + 1));
    return {
      text: [ctx.t('history.title', { page: history.page + 1, pages: history.pages }), '', ...lines].join('\n'),
      keyboard: keyboard.inline_keyboard.flat().length ? keyboard : undefined,
    };
  }

  async function showHelp(ctx: BotContext) {
    const { program } = domain;
    const lines = [ctx.t('help.text', { program: program.name[ctx.locale] }), ''];
    if (program.rulesUrl) lines.push(ctx.t('help.rules', { url: program.rulesUrl }));
    // Never a dead end: without a configured contact, Help says to ask at the till.
    const contact = supportContact(program, ctx.locale);
    lines.push(contact ? ctx.t('help.support', { contact }) : ctx.t('help.support_till'));
    await ctx.reply(lines.join('\n'), { parse_mode: 'HTML', reply_markup: mainMenu(ctx.t, deps.domain.program), link_preview_options: { is_disabled: true } });
  }

  const active = composer.filter((ctx) => ctx.member?.status === 'ACTIVE');
  screens.register('balance', showBalance);
  screens.register('card', showCard);
  active.command('balance', showBalance);
  buttons.on('menu.balance', forActiveMembers(showBalance));
  active.command('card', showCard);
  buttons.on('menu.card', forActiveMembers(showCard));
  active.command('help', showHelp);
  buttons.on('menu.help', forActiveMembers(showHelp));

  const showHistory = async (ctx: BotContext) => {
    const { text, keyboard } = await renderHistory(ctx, 0);
    await ctx.reply(text, { parse_mode: 'HTML', ...(keyboard ? { reply_markup: keyboard } : {}) });
  };
  active.command('history', showHistory);
  buttons.on('menu.history', forActiveMembers(showHistory));

  active.callbackQuery('card:code', async (ctx) => {
    const member = ctx.member;
    if (!member || ctx.chat?.type !== 'private') return ctx.answerCallbackQuery();
    const text = await spendCodeText(ctx, member.id);
    await ctx.answerCallbackQuery();
    await ctx.editMessageText(text, { parse_mode: 'HTML', reply_markup: refreshButton(ctx) });
  });

  active.callbackQuery(/^hist:(\d{1,6})$/, async (ctx) => {
    // The page number is only a request: getHistory reads this member's own entries.
    const { text, keyboard } = await renderHistory(ctx, Number(ctx.match[1]));
    await ctx.answerCallbackQuery();
    await ctx.editMessageText(text, { parse_mode: 'HTML', ...(keyboard ? { reply_markup: keyboard } : {}) });
  });

  return composer;
}
