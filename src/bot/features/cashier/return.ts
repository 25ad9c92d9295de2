import { InlineKeyboard } from 'grammy';
import { DomainError } from '../../../domain/errors.js';
import { minorDigits } from '../../../domain/ledger/earn-rules.js';
import { hasPoints } from '../../../domain/purchases/quote.js';
import { recordReturn } from '../../../domain/purchases/record-return.js';
import { normalizeReceipt } from '../../../domain/purchases/request.js';
import { actorOf, type Principal } from '../../../domain/staff/access.js';
import { purchaseToReturn } from '../../../domain/staff/till.js';
import { parseMoney } from '../../amount.js';
import { encodeCallback } from '../../callback-data.js';
import type { BotContext } from '../../context.js';
import { type Answer, newDialogId } from '../../dialogs.js';
import { ack, dropButtons, errorText } from '../../replies.js';
import type { CashierKit, Dialog } from './dialog.js';
import { confirmKeyboard } from './dialog.js';

/** The return dialog: receipt -> amount (or everything left) -> confirm. */
export function returnDialog(kit: CashierKit) {
  const { domain, program, menu, cancelButton } = kit;

  async function askReceipt(ctx: BotContext, dialog: Dialog): Promise<Dialog> {
    await ctx.reply(ctx.t('staff.return.receipt'), { parse_mode: 'HTML', reply_markup: cancelButton(ctx, dialog) });
    return { ...dialog, step: 'receipt' };
  }

  async function askAmount(ctx: BotContext, dialog: Dialog, receiptNo: string): Promise<Dialog> {
    const { purchase, leftMinor, member } = await purchaseToReturn(domain, dialog.storeId ?? 0, receiptNo);
    await ctx.reply(
      ctx.t('staff.return.purchase', {
        receipt: purchase.receiptNo,
        date: ctx.fmt.date(purchase.createdAt),
        name: member ? kit.firstName(member) : '—',
        amount: ctx.fmt.money(purchase.amountMinor),
        returned: ctx.fmt.money(purchase.returnedMinor),
        left: ctx.fmt.money(leftMinor),
      }),
      {
        parse_mode: 'HTML',
        reply_markup: new InlineKeyboard()
          .text(ctx.t('staff.return.full', { amount: ctx.fmt.money(leftMinor) }), encodeCallback('stf:rfull', dialog.id))
          .row()
          .text(ctx.t('common.cancel'), encodeCallback('stf:no', dialog.id)),
      },
    );
    return { ...dialog, step: 'amount', receiptNo: purchase.receiptNo, leftMinor, memberId: purchase.memberId };
  }

  async function confirm(ctx: BotContext, dialog: Dialog): Promise<Dialog> {
    const confirmId = newDialogId();
    const amount = dialog.amountMinor ?? dialog.leftMinor ?? 0;
    await ctx.reply(
      ctx.t(dialog.amountMinor === null ? 'staff.return.confirm_full' : 'staff.return.confirm', {
        receipt: dialog.receiptNo ?? '',
        amount: ctx.fmt.money(amount),
      }),
      {
        parse_mode: 'HTML',
        reply_markup: confirmKeyboard(ctx, confirmId, dialog.id),
      },
    );
    return { ...dialog, step: 'confirm', confirmId };
  }

  /** What the cashier types at a return step (a refusal is answered by the dialog, the step stays). */
  async function onText(ctx: BotContext, text: string, dialog: Dialog): Promise<Dialog> {
    switch (dialog.step) {
      case 'receipt':
        return askAmount(ctx, dialog, normalizeReceipt(text));
      case 'amount': {
        const amount = parseMoney(text, minorDigits(program.currency));
        if (amount === null) {
          await ctx.reply(ctx.t('staff.amount_invalid'), { parse_mode: 'HTML' });
          return dialog;
        }
        const left = dialog.leftMinor ?? 0;
        if (amount > left) throw new DomainError('RETURN_EXCEEDS_PURCHASE', { remaining: left });
        return confirm(ctx, { ...dialog, amountMinor: amount === left ? null : amount });
      }
      default:
        return dialog;
    }
  }

  /** "Everything left" under the returnable purchase; any other tap of this dialog is stale here. */
  async function onTap(ctx: BotContext, dialog: Dialog, answer: Answer): Promise<Dialog> {
    if (!('tap' in answer) || answer.tap.route !== 'stf:rfull' || dialog.step !== 'amount') {
      await ack(ctx, ctx.t('common.stale_button'));
      return dialog;
    }
    await ack(ctx);
    await dropButtons(ctx);
    return confirm(ctx, { ...dialog, amountMinor: null });
  }

  async function finish(ctx: BotContext, dialog: Dialog, principal: Principal, storeId: number, idempotencyKey: string): Promise<void> {
    const result = await recordReturn(domain, {
      storeId,
      receiptNo: dialog.receiptNo ?? '',
      amountMinor: dialog.amountMinor ?? null,
      idempotencyKey,
      actor: actorOf(principal),
    });
    await ack(ctx, ctx.t('staff.recorded'));
    await dropButtons(ctx);
    const { purchaseReturn } = result;
    const header = [ctx.t('staff.return.done', { amount: ctx.fmt.money(purchaseReturn.amountMinor), receipt: dialog.receiptNo ?? '' })];
    // The money to hand back: the returned share of what was paid in money (after the discount
    // and the points), unknown for purchases booked before it was recorded.
    if (purchaseReturn.refundMinor !== null) header.push(ctx.t('staff.return.refund_money', { refund: ctx.fmt.money(purchaseReturn.refundMinor) }));
    if (hasPoints(program))
      header.push(
        ctx.t('staff.return.done_points', {
          reversed: ctx.t('common.points', { count: purchaseReturn.pointsReversed }),
          refunded: ctx.t('common.points', { count: purchaseReturn.pointsRefunded }),
          balance: ctx.t('common.points', { count: result.balance }),
        }),
      );
    const lines = [header.join('\n')];
    if (purchaseReturn.shortfall > 0) lines.push(ctx.t('staff.return.shortfall', { points: ctx.t('common.points', { count: purchaseReturn.shortfall }) }));
    if (result.replayed) lines.push(ctx.t('staff.replayed'));
    await ctx.reply(lines.join('\n\n'), { parse_mode: 'HTML', reply_markup: menu(ctx) });
  }

  /** A refused return ends the dialog (nothing to fix at an earlier step). */
  async function rewind(ctx: BotContext, _dialog: Dialog, error: DomainError): Promise<null> {
    await ctx.reply(errorText(ctx, error), { parse_mode: 'HTML' });
    await ctx.reply(ctx.t('staff.cancelled'), { reply_markup: menu(ctx) });
    return null;
  }

  return { askReceipt, onText, onTap, finish, rewind };
}
