import { InlineKeyboard } from 'grammy';
import { formatCode } from '../../../domain/codes.js';
import { DomainError, isDomainError } from '../../../domain/errors.js';
import { minorDigits } from '../../../domain/ledger/earn-rules.js';
import type { Member } from '../../../domain/members/member.js';
import { findMemberForStaff } from '../../../domain/purchases/find-member.js';
import { hasPoints, type PurchaseQuote } from '../../../domain/purchases/quote.js';
import { quoteAtTill } from '../../../domain/purchases/quote-at-till.js';
import { recordPurchase } from '../../../domain/purchases/record-purchase.js';
import { normalizeReceipt } from '../../../domain/purchases/request.js';
import { normalizeSpendCode, SPEND_CODE_PATTERN } from '../../../domain/spending/spend-codes.js';
import { createSpendRequest, SPEND_REQUEST_TTL_MS } from '../../../domain/spending/spend-requests.js';
import type { SpendProof } from '../../../domain/spending/types.js';
import { actorOf, type Principal } from '../../../domain/staff/access.js';
import { assertNotOwnCard } from '../../../domain/staff/own-card.js';
import { assertReceiptFree, memberAtTill, spendRequestStatus, storeName } from '../../../domain/staff/till.js';
import { tierByCode } from '../../../domain/tiers.js';
import { parseMoney, parsePoints } from '../../amount.js';
import { encodeCallback } from '../../callback-data.js';
import type { BotContext } from '../../context.js';
import { type Answer, newDialogId } from '../../dialogs.js';
import { ack, dropButtons, errorText } from '../../replies.js';
import type { CashierKit, Dialog } from './dialog.js';
import { confirmKeyboard } from './dialog.js';

/**
 * The purchase dialog: member -> amount -> receipt -> points -> the customer's consent -> confirm.
 * Each function asks its step's question and returns the dialog at that step (null: it ended).
 */
export function purchaseDialog(kit: CashierKit) {
  const { domain, program, menu, cancelButton } = kit;

  // Every figure the cashier sees is the till's quote (discount, points cap, money due, points
  // to earn): the numbers recordPurchase books, computed in one place (domain/purchases/quote.ts).
  const quote = (ctx: BotContext, member: Member, dialog: Dialog) =>
    quoteAtTill(domain, member, { amountMinor: dialog.amountMinor ?? 0, pointsToSpend: dialog.pointsToSpend ?? 0, operatorTelegramId: ctx.from?.id ?? null });
  const withoutProof = (dialog: Dialog): Dialog => ({ ...dialog, spendCode: undefined, spendRequestId: undefined });
  const maxPoints = async (ctx: BotContext, dialog: Dialog) =>
    quote(ctx, await memberAtTill(domain, dialog.memberId), { ...dialog, pointsToSpend: 0 }).maxPoints;

  async function askMember(ctx: BotContext, dialog: Dialog): Promise<Dialog> {
    await ctx.reply(ctx.t('staff.purchase.find'), { parse_mode: 'HTML', reply_markup: cancelButton(ctx, dialog) });
    return { ...dialog, step: 'member' };
  }

  async function askAmount(ctx: BotContext, dialog: Dialog, member: Member): Promise<Dialog> {
    // Refused at once, so that a cashier does not type a whole purchase for their own card
    // (recordPurchase refuses it again).
    assertNotOwnCard(member, ctx.from?.id ?? null);
    await ctx.reply(`${kit.memberText(ctx, member)}\n\n${ctx.t('staff.purchase.amount')}`, { parse_mode: 'HTML', reply_markup: cancelButton(ctx, dialog) });
    return { ...dialog, memberId: member.id, step: 'amount' };
  }

  async function askReceipt(ctx: BotContext, dialog: Dialog): Promise<Dialog> {
    await ctx.reply(ctx.t('staff.purchase.receipt'), { parse_mode: 'HTML', reply_markup: cancelButton(ctx, dialog) });
    return { ...dialog, step: 'receipt' };
  }

  async function askPoints(ctx: BotContext, given: Dialog): Promise<Dialog | null> {
    const dialog = withoutProof(given);
    const member = await memberAtTill(domain, dialog.memberId);
    // Discount-only programs have no points step at all.
    const max = hasPoints(program) ? quote(ctx, member, { ...dialog, pointsToSpend: 0 }).maxPoints : 0;
    if (max === 0) return confirm(ctx, { ...dialog, pointsToSpend: 0 });
    const keyboard = new InlineKeyboard()
      .text(ctx.t('staff.purchase.points_no'), encodeCallback('stf:pts', dialog.id, 0))
      .text(ctx.t('staff.purchase.points_max', { max }), encodeCallback('stf:pts', dialog.id, max))
      .row()
      .text(ctx.t('common.cancel'), encodeCallback('stf:no', dialog.id));
    await ctx.reply(
      ctx.t('staff.purchase.points', {
        balance: ctx.t('common.points', { count: member.balance }),
        max: ctx.t('common.points', { count: max }),
        value: ctx.fmt.money(program.points.pointValueMinor),
      }),
      { parse_mode: 'HTML', reply_markup: keyboard },
    );
    return { ...dialog, step: 'points' };
  }

  /** Points chosen: none go straight to the confirmation, any need the customer's consent first. */
  async function afterPoints(ctx: BotContext, dialog: Dialog, points: number): Promise<Dialog | null> {
    if (points === 0) return confirm(ctx, { ...withoutProof(dialog), pointsToSpend: 0 });
    return askProof(ctx, { ...withoutProof(dialog), pointsToSpend: points });
  }

  /**
   * Knowing the card is not proof (DESIGN principle 10): the customer either reads out the spend
   * code from their Card screen in the bot, or approves a request in their chat.
   */
  async function askProof(ctx: BotContext, dialog: Dialog): Promise<Dialog> {
    await ctx.reply(ctx.t('staff.spend.ask', { points: ctx.t('common.points', { count: dialog.pointsToSpend ?? 0 }) }), {
      parse_mode: 'HTML',
      reply_markup: new InlineKeyboard()
        .text(ctx.t('staff.spend.request_button'), encodeCallback('stf:req', dialog.id))
        .row()
        .text(ctx.t('staff.spend.no_points'), encodeCallback('stf:pts', dialog.id, 0))
        .text(ctx.t('common.cancel'), encodeCallback('stf:no', dialog.id)),
    });
    return { ...withoutProof(dialog), step: 'proof' };
  }

  async function confirm(ctx: BotContext, dialog: Dialog): Promise<Dialog | null> {
    const member = await memberAtTill(domain, dialog.memberId);
    let figures: PurchaseQuote;
    try {
      figures = quote(ctx, member, dialog);
    } catch (error) {
      // The balance fell since the points were chosen: choose again.
      if (isDomainError(error, 'POINTS_OVER_CAP') || isDomainError(error, 'INSUFFICIENT_POINTS')) return rewind(ctx, dialog, error);
      throw error;
    }
    const confirmId = newDialogId();
    const lines = [
      ctx.t('staff.purchase.confirm', {
        name: kit.firstName(member),
        code: formatCode(member.code),
        store: (await storeName(domain, dialog.storeId)) ?? '—',
        amount: ctx.fmt.money(dialog.amountMinor ?? 0),
        receipt: dialog.receiptNo ?? '',
      }),
      ...discountLines(ctx, figures),
    ];
    if (hasPoints(program)) lines.push(ctx.t('staff.purchase.paid_points', { points: ctx.t('common.points', { count: figures.pointsToSpend }) }));
    lines.push(dueLine(ctx, figures));
    if (hasPoints(program)) lines.push(ctx.t('staff.purchase.earn', { earn: ctx.t('common.points', { count: figures.pointsToEarn }) }));
    await ctx.reply(lines.join('\n'), {
      parse_mode: 'HTML',
      reply_markup: confirmKeyboard(ctx, confirmId, dialog.id),
    });
    return { ...dialog, step: 'confirm', confirmId };
  }

  /** What the cashier types at a purchase step (a refusal is answered by the dialog, the step stays). */
  async function onText(ctx: BotContext, text: string, dialog: Dialog): Promise<Dialog | null> {
    switch (dialog.step) {
      case 'member':
        return askAmount(ctx, dialog, await findMemberForStaff(domain, text));
      case 'amount': {
        const amount = parseMoney(text, minorDigits(program.currency));
        if (amount !== null) return askReceipt(ctx, { ...dialog, amountMinor: amount });
        await ctx.reply(ctx.t('staff.amount_invalid'), { parse_mode: 'HTML' });
        return dialog;
      }
      case 'receipt': {
        const receiptNo = normalizeReceipt(text);
        await assertReceiptFree(domain, dialog.storeId ?? 0, receiptNo);
        return askPoints(ctx, { ...dialog, receiptNo });
      }
      case 'points': {
        const points = parsePoints(text);
        const max = await maxPoints(ctx, dialog);
        if (points !== null && points <= max) return afterPoints(ctx, dialog, points);
        await ctx.reply(ctx.t('staff.purchase.points_invalid', { max }), { parse_mode: 'HTML' });
        return dialog;
      }
      case 'proof': {
        const code = normalizeSpendCode(text.trim());
        // Checked (and used up) when the purchase is confirmed, in the same transaction as the spend.
        if (SPEND_CODE_PATTERN.test(code)) return confirm(ctx, { ...dialog, spendCode: code, spendRequestId: undefined });
        await ctx.reply(ctx.t('staff.spend.code_format'), { parse_mode: 'HTML' });
        return dialog;
      }
      case 'await':
        await ctx.reply(ctx.t('staff.spend.waiting_hint'), { parse_mode: 'HTML' });
        return dialog;
      default:
        return dialog;
    }
  }

  /** A tap on one of the dialog's own buttons (index.ts has Cancel, the store and Confirm). */
  async function onTap(ctx: BotContext, dialog: Dialog, answer: Answer, principal: Principal): Promise<Dialog | null> {
    const tap = 'tap' in answer ? answer.tap : undefined;
    if (tap?.route === 'stf:pts' && (dialog.step === 'points' || dialog.step === 'proof')) return onPoints(ctx, dialog, tap.args[1]);
    if (tap?.route === 'stf:req' && dialog.step === 'proof') return onRequest(ctx, dialog, principal);
    if (tap?.route === 'stf:chk' && dialog.step === 'await') return onCheck(ctx, dialog);
    await ack(ctx, ctx.t('common.stale_button'));
    return dialog;
  }

  /** A tap on "no points" / "all points" (or "pay without points" on the consent screen). */
  async function onPoints(ctx: BotContext, dialog: Dialog, points: number): Promise<Dialog | null> {
    // On the consent screen the only choice is to pay without points.
    if (dialog.step === 'proof' && points !== 0) {
      await ack(ctx, ctx.t('common.stale_button'));
      return dialog;
    }
    const max = await maxPoints(ctx, dialog);
    if (points > max) throw new DomainError('POINTS_OVER_CAP', { max });
    await ack(ctx);
    await dropButtons(ctx);
    return afterPoints(ctx, dialog, points);
  }

  /** The cashier asks the customer to confirm in their chat; the screen waits for the answer. */
  async function onRequest(ctx: BotContext, dialog: Dialog, principal: Principal): Promise<Dialog> {
    const { request } = await createSpendRequest(domain, {
      memberId: dialog.memberId ?? 0,
      storeId: principal.storeId ?? dialog.storeId ?? 0,
      points: dialog.pointsToSpend ?? 0,
      actor: actorOf(principal),
      operatorTelegramId: principal.telegramId,
      notify: { chatId: ctx.chat?.id ?? principal.telegramId, locale: ctx.locale },
    });
    await ack(ctx);
    await dropButtons(ctx);
    await ctx.reply(ctx.t('staff.spend.waiting', { points: ctx.t('common.points', { count: request.points }), minutes: SPEND_REQUEST_TTL_MS / 60_000 }), {
      parse_mode: 'HTML',
      reply_markup: new InlineKeyboard()
        .text(ctx.t('staff.spend.check'), encodeCallback('stf:chk', request.id))
        .text(ctx.t('common.cancel'), encodeCallback('stf:no', dialog.id)),
    });
    return { ...dialog, step: 'await', spendRequestId: request.id, spendCode: undefined };
  }

  /** "Check" on the waiting screen, or "Continue" under the customer's answer (src/bot/notifier.ts). */
  async function onCheck(ctx: BotContext, dialog: Dialog): Promise<Dialog | null> {
    const state = await spendRequestStatus(domain, dialog.spendRequestId ?? '');
    if (state === 'pending') {
      await ack(ctx, ctx.t('staff.spend.still_waiting'));
      return dialog;
    }
    await ack(ctx);
    await dropButtons(ctx);
    if (state === 'approved') return confirm(ctx, dialog);
    await ctx.reply(ctx.t(state === 'declined' ? 'staff.spend.declined_back' : 'staff.spend.expired_back'), { parse_mode: 'HTML' });
    if (state === 'declined') return askPoints(ctx, dialog);
    return askProof(ctx, dialog);
  }

  const proofOf = (dialog: Dialog): SpendProof | null =>
    dialog.spendCode ? { kind: 'code', code: dialog.spendCode } : dialog.spendRequestId ? { kind: 'request', requestId: dialog.spendRequestId } : null;

  async function finish(ctx: BotContext, dialog: Dialog, principal: Principal, storeId: number, idempotencyKey: string): Promise<void> {
    const result = await recordPurchase(domain, {
      memberId: dialog.memberId ?? 0,
      storeId,
      receiptNo: dialog.receiptNo ?? '',
      amountMinor: dialog.amountMinor ?? 0,
      pointsToSpend: dialog.pointsToSpend ?? 0,
      idempotencyKey,
      actor: actorOf(principal),
      spendProof: proofOf(dialog),
    });
    await ack(ctx, ctx.t('staff.recorded'));
    await dropButtons(ctx);
    const header = [
      ctx.t('staff.purchase.done', { amount: ctx.fmt.money(result.purchase.amountMinor), receipt: result.purchase.receiptNo }),
      ...discountLines(ctx, { ...result, tierCode: result.purchase.tierCode ?? result.tier.code }),
      dueLine(ctx, result),
    ];
    if (hasPoints(program))
      header.push(
        ctx.t('staff.purchase.done_points', {
          spent: ctx.t('common.points', { count: result.pointsSpent }),
          earned: ctx.t('common.points', { count: result.pointsEarned }),
          balance: ctx.t('common.points', { count: result.balance }),
        }),
      );
    const lines = [header.join('\n')];
    if (result.upgradedTo)
      lines.push(ctx.t('staff.purchase.upgraded', { tier: result.upgradedTo.name[ctx.locale], discount: result.upgradedTo.discountPercent }));
    if (result.replayed) lines.push(ctx.t('staff.replayed'));
    await ctx.reply(lines.join('\n\n'), { parse_mode: 'HTML', reply_markup: menu(ctx) });
  }

  /** "Discount 6% (Basic): −RUB 60", when there is a discount. */
  function discountLines(ctx: BotContext, figures: Pick<PurchaseQuote, 'tierCode' | 'discountPercent' | 'discountMinor'>): string[] {
    if (figures.discountMinor <= 0) return [];
    const tier = tierByCode(program, figures.tierCode);
    return [
      ctx.t('staff.purchase.discount', { percent: figures.discountPercent, tier: tier.name[ctx.locale], discount: ctx.fmt.money(figures.discountMinor) }),
    ];
  }

  /** "To pay: X, saved Y", or just "To pay: X" without a saving. */
  const dueLine = (ctx: BotContext, figures: Pick<PurchaseQuote, 'amountDueMinor' | 'savingMinor'>) =>
    figures.savingMinor > 0
      ? ctx.t('staff.purchase.due_saved', { due: ctx.fmt.money(figures.amountDueMinor), saving: ctx.fmt.money(figures.savingMinor) })
      : ctx.t('staff.purchase.due', { due: ctx.fmt.money(figures.amountDueMinor) });

  /** A refused confirmation goes back to the step that can fix it, or ends the dialog. */
  async function rewind(ctx: BotContext, dialog: Dialog, error: DomainError): Promise<Dialog | null> {
    await ctx.reply(errorText(ctx, error), { parse_mode: 'HTML' });
    const back = { ...dialog, confirmId: undefined };
    if (error.code === 'RECEIPT_DUPLICATE' || error.code === 'RECEIPT_INVALID') return askReceipt(ctx, back);
    if (error.code === 'POINTS_OVER_CAP' || error.code === 'INSUFFICIENT_POINTS') return askPoints(ctx, back);
    // A wrong or used code, or a request no longer good: ask for the consent again; spending
    // locked after wrong codes: the purchase can still go through without points.
    if (['SPEND_CODE_INVALID', 'SPEND_REQUEST_INVALID', 'SPEND_REQUEST_NOT_FOUND', 'SPEND_PROOF_REQUIRED'].includes(error.code)) return askProof(ctx, back);
    if (error.code === 'SPENDING_LOCKED') return askPoints(ctx, back);
    await ctx.reply(ctx.t('staff.cancelled'), { reply_markup: menu(ctx) });
    return null;
  }

  return { askMember, askAmount, onText, onTap, finish, rewind };
}
