import { Composer, InlineKeyboard } from 'grammy';
import { isDomainError } from '../../../domain/errors.js';
import { findMemberForStaff } from '../../../domain/purchases/find-member.js';
import { findPrincipal, INVITE_PREFIX, type Principal } from '../../../domain/staff/access.js';
import { bookedAtTill, memberAtTill, openStore, openStores, storeName } from '../../../domain/staff/till.js';
import { type Buttons, inPrivateChats } from '../../buttons.js';
import { decodeCallback, encodeCallback } from '../../callback-data.js';
import type { BotContext, BotDeps } from '../../context.js';
import { type DialogContext, type Dialogs, newDialogId } from '../../dialogs.js';
import { ack, dropButtons, guard } from '../../replies.js';
import { bookingKey, cashierKit, type Dialog, type Flow } from './dialog.js';
import { acceptStaffInvite } from './invites.js';
import { purchaseDialog } from './purchase.js';
import { returnDialog } from './return.js';

/**
 * Staff in the chat: accepting an invite, the staff menu, and the purchase (purchase.ts) and
 * return (return.ts) dialogs, @grammyjs/conversations dialogs on the bot's shared dialogs
 * (dialog.ts). Every answer re-checks the role on the server, whatever button or text led
 * there; every button is read through the callback codec and taken by a dialog only when it is
 * one of that dialog's current buttons, so a stale or forged tap acts on nothing.
 */
/** The feature's parts, by the stage that routes them (routing.ts). */
export interface CashierFeatures {
  /** Invites, the staff menu and commands, the dialogs' taps (`commands`). */
  cashier: Composer<BotContext>;
  /** "Use the menu" for text from staff who are not customers, when nothing open took it (`hints`). */
  staffHint: Composer<BotContext>;
}

export function cashierFeatures(deps: BotDeps, buttons: Buttons, dialogs: Dialogs): CashierFeatures {
  const kit = cashierKit(deps);
  const { domain, staffOnly, menu } = kit;
  const purchase = purchaseDialog(kit);
  const giveBack = returnDialog(kit);
  const composer = new Composer<BotContext>();
  const privateChats = composer.chatType('private');

  /** The first question of a new dialog, and the dialog that waits for the answers (entered through `dialogs.entry`). */
  async function begin(ctx: DialogContext, principal: Principal, kind: Dialog['kind'], memberQuery?: string) {
    const fresh: Dialog = { kind, step: 'store', id: newDialogId(), storeId: principal.storeId, touchedAt: kit.now() };
    if (memberQuery !== undefined) fresh.memberId = (await findMemberForStaff(domain, memberQuery)).id;
    const dialog = fresh.storeId === null ? await askStore(ctx, fresh) : await afterStore(ctx, fresh);
    if (dialog) await ctx.conversation.enter(kind, dialog);
  }

  /** Staff without a store of their own (admins) choose one first. */
  async function askStore(ctx: BotContext, dialog: Dialog): Promise<Dialog> {
    const keyboard = new InlineKeyboard();
    for (const store of await openStores(domain)) keyboard.text(`${store.name} · ${store.code}`, encodeCallback('stf:st', dialog.id, store.id)).row();
    keyboard.text(ctx.t('common.cancel'), encodeCallback('stf:no', dialog.id));
    await ctx.reply(ctx.t('staff.choose_store'), { parse_mode: 'HTML', reply_markup: keyboard });
    return { ...dialog, step: 'store' };
  }

  async function afterStore(ctx: BotContext, dialog: Dialog): Promise<Dialog | null> {
    if (dialog.kind === 'return') return giveBack.askReceipt(ctx, dialog);
    if (dialog.memberId !== undefined) return purchase.askAmount(ctx, dialog, await memberAtTill(domain, dialog.memberId));
    return purchase.askMember(ctx, dialog);
  }

  /** The steps both dialogs share (the store, Cancel, Confirm); the rest is the purchase's or the return's. */
  const flow =
    (kind: Dialog['kind']): Flow =>
    async (ctx, dialog, answer, principal) => {
      const tap = 'tap' in answer ? answer.tap : undefined;
      if (tap?.route === 'stf:no') {
        await ack(ctx);
        await dropButtons(ctx);
        await ctx.reply(ctx.t('staff.cancelled'), { reply_markup: menu(ctx) });
        return null;
      }
      if (tap?.route === 'stf:ok' && dialog.step === 'confirm') return confirmed(ctx, dialog, principal);
      if (dialog.step === 'store' && tap?.route === 'stf:st') {
        const store = await openStore(domain, { id: tap.args[1] });
        await ack(ctx, store.name);
        await dropButtons(ctx);
        return afterStore(ctx, { ...dialog, storeId: store.id });
      }
      if ('text' in answer) {
        if (dialog.step === 'store') return afterStore(ctx, { ...dialog, storeId: (await openStore(domain, { code: answer.text })).id });
        if (dialog.step === 'confirm') {
          await ctx.reply(ctx.t('staff.tap_confirm'));
          return dialog;
        }
        return kind === 'purchase' ? purchase.onText(ctx, answer.text, dialog) : giveBack.onText(ctx, answer.text, dialog);
      }
      return kind === 'purchase' ? purchase.onTap(ctx, dialog, answer, principal) : giveBack.onTap(ctx, dialog, answer);
    };

  /** Confirm on the current confirmation screen: booked under that screen's key, or back to the step that can fix it. */
  async function confirmed(ctx: BotContext, dialog: Dialog, principal: Principal): Promise<Dialog | null> {
    const storeId = principal.storeId ?? dialog.storeId ?? 0;
    const own = dialog.kind === 'purchase' ? purchase : giveBack;
    try {
      // A double tap, or a tap served by another instance at the same time, books once and reads the first result back.
      await own.finish(ctx, dialog, principal, storeId, bookingKey(principal, dialog.confirmId ?? ''));
      return null;
    } catch (error) {
      if (!isDomainError(error)) throw error;
      ctx.log.info({ code: error.code }, 'confirmation refused');
      await ack(ctx);
      await dropButtons(ctx);
      return own.rewind(ctx, dialog, error);
    }
  }

  dialogs.register(kit.conversation(flow('purchase')), 'purchase');
  dialogs.register(kit.conversation(flow('return')), 'return');
  // One open dialog per person: starting one (`dialogs.entry`) ends any other (a coupon code awaited, features/redeem).
  const endDialogs = dialogs.entry(async () => undefined);

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
        if (principal && (principal.role === 'STAFF' || principal.role === 'ADMIN'))
          return dialogs.entry((dialogCtx) => begin(dialogCtx, principal, 'purchase', payload))(ctx, next);
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
      await endDialogs(ctx, next);
      await ctx.reply(ctx.t('staff.cancelled'), { reply_markup: menu(ctx) });
    }),
  );

  // --- taps no dialog took: the role first, then the codec --------------------------------------

  async function onTap(ctx: BotContext) {
    const principal = await staffOnly(ctx);
    const tap = decodeCallback(ctx.callbackQuery?.data);
    // A second tap on a confirmation that was booked (its dialog has ended): told, never booked twice.
    if (tap.route === 'stf:ok' && (await bookedAtTill(domain, bookingKey(principal, tap.args[0])))) return ack(ctx, ctx.t('staff.already_done'));
    // Anything else under the staff prefix: stale, forged or another dialog's; never acted upon.
    return ack(ctx, ctx.t('common.stale_button'));
  }

  // Open dialogs see the tap first (dialog.ts); what they pass on is answered here.
  composer.filter((ctx) => ctx.callbackQuery?.data?.startsWith('stf:') === true, guard(dialogs.around(onTap)));

  // Text no dialog took (routed after the open dialogs' answers) from staff who are not
  // customers: they would otherwise be told to register.
  const staffHint = new Composer<BotContext>();
  staffHint
    .chatType('private')
    .filter((ctx) => ctx.member?.status !== 'ACTIVE' && ctx.member?.status !== 'REGISTERING')
    .on(
      'message:text',
      guard(async (ctx, next) => {
        if (ctx.message.text.startsWith('/') || !(await findPrincipal(domain, ctx.from.id))) return next();
        await ctx.reply(ctx.t('staff.hint'), { reply_markup: menu(ctx) });
      }),
    );

  return { cashier: composer, staffHint };
}
