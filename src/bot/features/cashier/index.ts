import { Composer, InlineKeyboard, type NextFunction } from 'grammy';
import { isDomainError } from '../../../domain/errors.js';
import { findMemberForStaff } from '../../../domain/purchases/find-member.js';
import { findPrincipal, INVITE_PREFIX, type Principal } from '../../../domain/staff/access.js';
import { memberAtTill, openStore, openStores, storeName } from '../../../domain/staff/till.js';
import { type Buttons, inPrivateChats } from '../../buttons.js';
import { decodeCallback, encodeCallback } from '../../callback-data.js';
import type { BotContext, BotDeps } from '../../context.js';
import type { Dialogs } from '../../dialogs.js';
import { ack, dropButtons, guard } from '../../replies.js';
import { cashierKit, type Dialog, newDialogId, type Step } from './dialog.js';
import { acceptStaffInvite } from './invites.js';
import { purchaseDialog } from './purchase.js';
import { returnDialog } from './return.js';

/**
 * Staff in the chat: accepting an invite, the staff menu, and the purchase (purchase.ts) and
 * return (return.ts) dialogs. Every update re-checks the role on the server (`staffOnly`),
 * whatever button or text led here; every button is read through the callback codec and then
 * checked against the open dialog (its id and step), so a stale or forged tap acts on nothing.
 */

export interface CashierFeatures {
  /** Invites, QR deep links, the staff menu, commands, buttons and taps: before registration. */
  cashier: Composer<BotContext>;
  /** Dialog answers of staff who are also active customers: after the customer features. */
  cashierInput: Composer<BotContext>;
}

const OPEN_STEPS: Step[] = ['store', 'member', 'amount', 'receipt', 'points', 'proof', 'await', 'confirm'];

export function cashierFeatures(deps: BotDeps, buttons: Buttons, dialogs: Dialogs): CashierFeatures {
  const kit = cashierKit(deps);
  const { domain, staffOnly, menu, load, save, clear } = kit;
  const purchase = purchaseDialog(kit);
  const giveBack = returnDialog(kit);
  const composer = new Composer<BotContext>();
  const privateChats = composer.chatType('private');
  // One open dialog per person: a coupon code awaited (features/redeem) ends when a purchase begins.
  const endDialogs = dialogs.entry(async () => undefined);

  async function begin(ctx: BotContext, principal: Principal, kind: Dialog['kind'], memberQuery?: string) {
    // (Reached through `dialogs.entry`: a coupon code awaited has ended.)
    const dialog: Dialog = { kind, step: 'store', id: newDialogId(), storeId: principal.storeId, touchedAt: 0 };
    if (memberQuery !== undefined) dialog.memberId = (await findMemberForStaff(domain, memberQuery)).id;
    if (dialog.storeId === null) return askStore(ctx, dialog);
    return afterStore(ctx, dialog);
  }

  /** Staff without a store of their own (admins) choose one first. */
  async function askStore(ctx: BotContext, dialog: Dialog) {
    const keyboard = new InlineKeyboard();
    for (const store of await openStores(domain)) keyboard.text(`${store.name} · ${store.code}`, encodeCallback('stf:st', dialog.id, store.id)).row();
    keyboard.text(ctx.t('common.cancel'), encodeCallback('stf:no', dialog.id));
    await save(ctx, { ...dialog, step: 'store' });
    await ctx.reply(ctx.t('staff.choose_store'), { parse_mode: 'HTML', reply_markup: keyboard });
  }

  async function afterStore(ctx: BotContext, dialog: Dialog) {
    if (dialog.kind === 'return') return giveBack.askReceipt(ctx, dialog);
    if (dialog.memberId !== undefined) return purchase.askAmount(ctx, dialog, await memberAtTill(domain, dialog.memberId));
    return purchase.askMember(ctx, dialog);
  }

  // --- what the staff member types during a dialog ----------------------------------------------

  async function onText(ctx: BotContext, text: string, dialog: Dialog) {
    if (dialog.step === 'store') return afterStore(ctx, { ...dialog, storeId: (await openStore(domain, { code: text })).id });
    if (dialog.step === 'confirm') return ctx.reply(ctx.t('staff.tap_confirm'));
    if (dialog.step === 'done') return;
    await (dialog.kind === 'purchase' ? purchase : giveBack).onText(ctx, text, dialog);
  }

  /**
   * Text while a dialog is open is its answer. Anyone without an open dialog passes on
   * untouched (one keyed read), so customers are unaffected.
   */
  async function dialogText(ctx: BotContext, next: NextFunction) {
    const text = ctx.message?.text;
    if (text === undefined || text.startsWith('/')) return next();
    const dialog = await load(ctx);
    if (!dialog || dialog.step === 'done') {
      // Staff who are not customers would otherwise be told to register.
      if (ctx.member?.status !== 'ACTIVE' && ctx.member?.status !== 'REGISTERING' && (await findPrincipal(domain, ctx.from?.id as number))) {
        await ctx.reply(ctx.t('staff.hint'), { reply_markup: menu(ctx) });
        return;
      }
      return next();
    }
    await staffOnly(ctx);
    await onText(ctx, text, dialog);
  }

  // --- entry points ---------------------------------------------------------------------------

  privateChats.command(
    'start',
    guard(async (ctx, next) => {
      const payload = ctx.match.trim();
      // Anyone may open an invite; it never starts a customer registration.
      if (payload.startsWith(INVITE_PREFIX)) return acceptStaffInvite(ctx, kit, payload);
      if (/^m_/i.test(payload)) {
        // A member card's QR: for staff it opens a purchase; for anyone else /start goes on as before.
        const principal = await findPrincipal(domain, ctx.from.id);
        if (principal && (principal.role === 'STAFF' || principal.role === 'ADMIN')) {
          await endDialogs(ctx, next);
          return begin(ctx, principal, 'purchase', payload);
        }
      }
      return next();
    }),
  );

  const showMenu = guard(async (ctx: BotContext) => {
    const principal = await staffOnly(ctx);
    const store = await storeName(domain, principal.storeId);
    await ctx.reply(ctx.t('staff.menu.text', { store: store ?? ctx.t('staff.menu.no_store') }), { parse_mode: 'HTML', reply_markup: menu(ctx) });
  });
  privateChats.command('staff', showMenu);

  const startPurchase = guard(dialogs.entry(async (ctx) => begin(ctx, await staffOnly(ctx), 'purchase')));
  privateChats.command('purchase', startPurchase);
  buttons.on('staff.menu.purchase', inPrivateChats(startPurchase));

  const startReturn = guard(dialogs.entry(async (ctx) => begin(ctx, await staffOnly(ctx), 'return')));
  privateChats.command('return', startReturn);
  buttons.on('staff.menu.return', inPrivateChats(startReturn));

  privateChats.command(
    'cancel',
    guard(async (ctx, next) => {
      if (!(await findPrincipal(domain, ctx.from.id))) return next();
      await clear(ctx);
      await endDialogs(ctx, next);
      await ctx.reply(ctx.t('staff.cancelled'), { reply_markup: menu(ctx) });
    }),
  );

  // --- taps: the role first, then the codec, then the open dialog's id and step -----------------

  async function current(ctx: BotContext, id: string, steps: Step[]): Promise<Dialog | null> {
    const dialog = await load(ctx);
    if (dialog && dialog.id === id && steps.includes(dialog.step)) return dialog;
    await ack(ctx, ctx.t('common.stale_button'));
    return null;
  }

  async function onTap(ctx: BotContext) {
    const principal = await staffOnly(ctx);
    const tap = decodeCallback(ctx.callbackQuery?.data);
    switch (tap.route) {
      case 'stf:st': {
        const dialog = await current(ctx, tap.args[0], ['store']);
        if (!dialog) return;
        const store = await openStore(domain, { id: tap.args[1] });
        await ack(ctx, store.name);
        await dropButtons(ctx);
        return afterStore(ctx, { ...dialog, storeId: store.id });
      }
      case 'stf:pts': {
        const dialog = await current(ctx, tap.args[0], ['points', 'proof']);
        return dialog && purchase.onPoints(ctx, dialog, tap.args[1]);
      }
      case 'stf:req': {
        const dialog = await current(ctx, tap.args[0], ['proof']);
        return dialog && purchase.onRequest(ctx, dialog, principal);
      }
      case 'stf:chk': {
        const dialog = await load(ctx);
        if (dialog?.step !== 'await' || dialog.spendRequestId !== tap.args[0]) return ack(ctx, ctx.t('common.stale_button'));
        return purchase.onCheck(ctx, dialog);
      }
      case 'stf:rfull': {
        const dialog = await current(ctx, tap.args[0], ['amount']);
        if (!dialog) return;
        if (dialog.kind !== 'return') return ack(ctx, ctx.t('common.stale_button'));
        return giveBack.onFull(ctx, dialog);
      }
      case 'stf:no': {
        if (!(await current(ctx, tap.args[0], OPEN_STEPS))) return;
        await clear(ctx);
        await ack(ctx);
        await dropButtons(ctx);
        return ctx.reply(ctx.t('staff.cancelled'), { reply_markup: menu(ctx) });
      }
      case 'stf:ok':
        return onConfirm(ctx, principal, tap.args[0]);
      default:
        // Anything else under the staff prefix: still only for staff, and never acted upon.
        return ack(ctx, ctx.t('common.stale_button'));
    }
  }

  async function onConfirm(ctx: BotContext, principal: Principal, confirmId: string) {
    const dialog = await load(ctx);
    if (dialog?.step === 'done' && dialog.confirmId === confirmId) return ack(ctx, ctx.t('staff.already_done'));
    if (dialog?.step !== 'confirm' || dialog.confirmId !== confirmId) return ack(ctx, ctx.t('common.stale_button'));
    // The key comes from this confirmation screen: a double tap, or a tap served by another
    // instance at the same time, books once and reads the first result back.
    const idempotencyKey = `bot:${principal.telegramId}:${confirmId}`;
    const storeId = principal.storeId ?? dialog.storeId ?? 0;
    const flow = dialog.kind === 'purchase' ? purchase : giveBack;
    try {
      await flow.finish(ctx, dialog, principal, storeId, idempotencyKey);
    } catch (error) {
      if (!isDomainError(error)) throw error;
      ctx.log.info({ code: error.code }, 'confirmation refused');
      await ack(ctx);
      await dropButtons(ctx);
      if (dialog.kind === 'purchase') await purchase.rewind(ctx, dialog, error);
      else await giveBack.rewind(ctx, error);
    }
  }

  composer.filter((ctx) => ctx.callbackQuery?.data?.startsWith('stf:') === true, guard(onTap));

  // Dialog answers of people who are not active customers (active ones: cashierInput, after the
  // customer menu, so that customers' buttons never wait on the session store).
  privateChats.filter((ctx) => ctx.member?.status !== 'ACTIVE').on('message:text', guard(dialogText));

  const cashierInput = new Composer<BotContext>();
  cashierInput
    .chatType('private')
    .filter((ctx) => ctx.member?.status === 'ACTIVE')
    .on('message:text', guard(dialogText));

  return { cashier: composer, cashierInput };
}
