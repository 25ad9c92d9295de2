import { randomBytes } from 'node:crypto';
import { Composer, InlineKeyboard, type NextFunction } from 'grammy';
import { z } from 'zod';
import { formatCode } from '../../domain/codes.js';
import { DomainError, isDomainError } from '../../domain/errors.js';
import { maxPointsForBill, minorDigits, pointsForPurchase } from '../../domain/ledger/earn-rules.js';
import type { Member } from '../../domain/members/member.js';
import { findMemberForStaff } from '../../domain/purchases/find-member.js';
import { recordPurchase } from '../../domain/purchases/record-purchase.js';
import { recordReturn } from '../../domain/purchases/record-return.js';
import { normalizeReceipt } from '../../domain/purchases/request.js';
import { normalizeSpendCode, SPEND_CODE_PATTERN } from '../../domain/spending/spend-codes.js';
import { createSpendRequest, SPEND_REQUEST_TTL_MS, spendRequestState } from '../../domain/spending/spend-requests.js';
import type { SpendProof } from '../../domain/spending/types.js';
import { acceptInvite, actorOf, findPrincipal, INVITE_PREFIX, type Principal, requireRole } from '../../domain/staff/access.js';
import { assertNotOwnCard } from '../../domain/staff/own-card.js';
import { tierByCode } from '../../domain/tiers.js';
import { localDate } from '../../domain/time.js';
import { parseMoney, parsePoints } from '../amount.js';
import { type Buttons, inPrivateChats } from '../buttons.js';
import { callbackData } from '../callback-data.js';
import type { BotContext, BotDeps } from '../context.js';
import { domainErrorGuard } from '../guard.js';
import { staffMenu } from '../keyboards.js';

/**
 * Staff in the chat: accepting an invite, and the purchase and return wizards. Every update
 * re-checks the role on the server (`requireRole`), whatever button or text led here. Wizard
 * state lives in the session store (the database), so a restart or another instance carries on.
 */

const WIZARD_TTL_MS = 30 * 60_000;
const newId = () => randomBytes(6).toString('base64url');
const ID = '([A-Za-z0-9_-]{8})';

const wizardSchema = z.object({
  kind: z.enum(['purchase', 'return']),
  /** `proof`: points chosen, the customer's consent awaited (a spend code typed, or a request sent: `await`). */
  step: z.enum(['store', 'member', 'amount', 'receipt', 'points', 'proof', 'await', 'confirm', 'done']),
  id: z.string(),
  storeId: z.number().int().nullable(),
  memberId: z.number().int().optional(),
  /** Purchase: the bill; return: the returned amount, null for everything that is left. */
  amountMinor: z.number().int().nullable().optional(),
  /** Return: what was left to return when the receipt was looked up (for the screens). */
  leftMinor: z.number().int().optional(),
  receiptNo: z.string().optional(),
  pointsToSpend: z.number().int().optional(),
  /** The customer's one-time spend code, typed by the cashier; used up when the purchase is recorded. */
  spendCode: z.string().optional(),
  /** The confirmation request sent to the customer's chat. */
  spendRequestId: z.string().optional(),
  /** One per confirmation screen: the idempotency key of what that screen confirms. */
  confirmId: z.string().optional(),
  touchedAt: z.number(),
});
export type Wizard = z.infer<typeof wizardSchema>;

// Callback queries already answered in this update: a second answer would be refused by Telegram.
const answered = new WeakSet<BotContext>();

export async function ack(ctx: BotContext, text?: string, alert = false): Promise<void> {
  if (!ctx.callbackQuery || answered.has(ctx)) return;
  answered.add(ctx);
  await ctx.answerCallbackQuery(text ? { text, show_alert: alert } : undefined);
}

/** The text for a domain error, with staff wording where it differs from the customer's. */
export function errorText(ctx: BotContext, error: DomainError): string {
  const details: Record<string, unknown> = { ...error.details };
  if (typeof details.remaining === 'number') details.remaining = ctx.fmt.money(details.remaining);
  for (const key of [`staff.errors.${error.code}`, `errors.${error.code}`]) {
    const text = ctx.t(key, details);
    if (text !== key) return text;
  }
  return ctx.t('errors.generic');
}

/**
 * Domain errors of staff and admin handlers are answered here, in staff wording: a popup for
 * a button, a message for text. Nothing changed when a use case refused.
 */
export const guard = domainErrorGuard(async (ctx, error) => {
  const text = errorText(ctx, error);
  if (ctx.callbackQuery && !answered.has(ctx)) await ack(ctx, text, true);
  else await ctx.reply(text, { parse_mode: 'HTML' });
});

const firstName = (member: Member) => member.name?.trim().split(/\s+/)[0] || '—';

export interface StaffFeatures {
  /** Invites, QR deep links, the staff menu, commands and buttons: before registration. */
  staff: Composer<BotContext>;
  /** Wizard answers of staff who are also active customers: after the customer features. */
  staffInput: Composer<BotContext>;
}

export function staffFeatures(deps: BotDeps, buttons: Buttons): StaffFeatures {
  const composer = new Composer<BotContext>();
  const { domain } = deps;
  const { program } = domain;
  const privateChats = composer.chatType('private');

  const staffOnly = (ctx: BotContext) => requireRole(domain, ctx.from?.id as number, ['STAFF']);
  const menu = (ctx: BotContext) => staffMenu(ctx.t, ctx.member?.status === 'ACTIVE');
  const cancelButton = (ctx: BotContext, wizard: Wizard) => new InlineKeyboard().text(ctx.t('common.cancel'), callbackData('stf', 'no', wizard.id));

  async function load(ctx: BotContext): Promise<Wizard | null> {
    const parsed = wizardSchema.safeParse(await ctx.sessions.read('staff'));
    if (!parsed.success) return null;
    const wizard = parsed.data;
    // An abandoned wizard does not capture tomorrow's messages; a finished one answers double taps.
    if (wizard.step !== 'done' && domain.clock.now().getTime() - wizard.touchedAt > WIZARD_TTL_MS) return null;
    return wizard;
  }
  const save = (ctx: BotContext, wizard: Wizard) => ctx.sessions.write('staff', { ...wizard, touchedAt: domain.clock.now().getTime() } satisfies Wizard);
  const clear = (ctx: BotContext) => ctx.sessions.delete('staff');

  /** Buttons of an answered prompt go away, so that the chat shows what is still current. */
  const dropButtons = (ctx: BotContext) => ctx.editMessageReplyMarkup().catch(() => undefined);

  function memberText(ctx: BotContext, member: Member): string {
    const tier = tierByCode(program, member.tier);
    return ctx.t('staff.member', {
      name: firstName(member),
      code: formatCode(member.code),
      tier: tier.name[ctx.locale],
      discount: tier.discountPercent,
      balance: ctx.t('common.points', { count: member.balance }),
    });
  }

  async function activeMember(memberId: number | undefined): Promise<Member> {
    const member = memberId === undefined ? null : await domain.repos.members.findById(memberId);
    if (member?.status !== 'ACTIVE') throw new DomainError('MEMBER_NOT_FOUND');
    return member;
  }

  // --- the steps, each asking its question ---------------------------------------------------

  async function begin(ctx: BotContext, principal: Principal, kind: Wizard['kind'], memberQuery?: string) {
    const wizard: Wizard = { kind, step: 'store', id: newId(), storeId: principal.storeId, touchedAt: 0 };
    if (memberQuery !== undefined) wizard.memberId = (await findMemberForStaff(domain, memberQuery)).id;
    if (wizard.storeId === null) return askStore(ctx, wizard);
    return afterStore(ctx, wizard);
  }

  async function askStore(ctx: BotContext, wizard: Wizard) {
    const stores = (await domain.repos.stores.list()).filter((store) => store.active);
    if (stores.length === 0) throw new DomainError('STORE_NOT_FOUND', { store: '' });
    const keyboard = new InlineKeyboard();
    for (const store of stores.slice(0, 20)) keyboard.text(`${store.name} · ${store.code}`, callbackData('stf', 'st', wizard.id, store.id)).row();
    keyboard.text(ctx.t('common.cancel'), callbackData('stf', 'no', wizard.id));
    await save(ctx, { ...wizard, step: 'store' });
    await ctx.reply(ctx.t('staff.choose_store'), { parse_mode: 'HTML', reply_markup: keyboard });
  }

  async function afterStore(ctx: BotContext, wizard: Wizard) {
    if (wizard.kind === 'return') {
      await save(ctx, { ...wizard, step: 'receipt' });
      await ctx.reply(ctx.t('staff.return.receipt'), { parse_mode: 'HTML', reply_markup: cancelButton(ctx, wizard) });
      return;
    }
    if (wizard.memberId !== undefined) return askAmount(ctx, wizard, await activeMember(wizard.memberId));
    await save(ctx, { ...wizard, step: 'member' });
    await ctx.reply(ctx.t('staff.purchase.find'), { parse_mode: 'HTML', reply_markup: cancelButton(ctx, wizard) });
  }

  async function askAmount(ctx: BotContext, wizard: Wizard, member: Member) {
    // Refused at once, so that a cashier does not type a whole purchase for their own card
    // (recordPurchase refuses it again).
    assertNotOwnCard(member, ctx.from?.id ?? null);
    await save(ctx, { ...wizard, memberId: member.id, step: 'amount' });
    await ctx.reply(`${memberText(ctx, member)}\n\n${ctx.t('staff.purchase.amount')}`, { parse_mode: 'HTML', reply_markup: cancelButton(ctx, wizard) });
  }

  async function askReceipt(ctx: BotContext, wizard: Wizard) {
    await save(ctx, { ...wizard, step: 'receipt' });
    await ctx.reply(ctx.t('staff.purchase.receipt'), { parse_mode: 'HTML', reply_markup: cancelButton(ctx, wizard) });
  }

  /** The most points this bill may be paid with: the program's cap, and no more than the balance. */
  const pointsAllowed = (member: Member, amountMinor: number) => Math.max(0, Math.min(maxPointsForBill(program, amountMinor), member.balance));

  async function askPoints(ctx: BotContext, given: Wizard) {
    const wizard = withoutProof(given);
    const member = await activeMember(wizard.memberId);
    const max = pointsAllowed(member, wizard.amountMinor ?? 0);
    if (max === 0) return confirmPurchase(ctx, { ...wizard, pointsToSpend: 0 });
    await save(ctx, { ...wizard, step: 'points' });
    const keyboard = new InlineKeyboard()
      .text(ctx.t('staff.purchase.points_no'), callbackData('stf', 'pts', wizard.id, 0))
      .text(ctx.t('staff.purchase.points_max', { max }), callbackData('stf', 'pts', wizard.id, max))
      .row()
      .text(ctx.t('common.cancel'), callbackData('stf', 'no', wizard.id));
    await ctx.reply(
      ctx.t('staff.purchase.points', {
        balance: ctx.t('common.points', { count: member.balance }),
        max: ctx.t('common.points', { count: max }),
        value: ctx.fmt.money(program.points.pointValueMinor),
      }),
      { parse_mode: 'HTML', reply_markup: keyboard },
    );
  }

  const withoutProof = (wizard: Wizard): Wizard => ({ ...wizard, spendCode: undefined, spendRequestId: undefined });

  /** Points chosen: none go straight to the confirmation, any need the customer's consent first. */
  async function afterPoints(ctx: BotContext, wizard: Wizard, points: number) {
    if (points === 0) return confirmPurchase(ctx, { ...withoutProof(wizard), pointsToSpend: 0 });
    return askProof(ctx, { ...withoutProof(wizard), pointsToSpend: points });
  }

  /**
   * Knowing the card is not proof (DESIGN principle 10): the customer either reads out the spend
   * code from their Card screen in the bot, or approves a request in their chat.
   */
  async function askProof(ctx: BotContext, wizard: Wizard) {
    await save(ctx, { ...withoutProof(wizard), step: 'proof' });
    await ctx.reply(ctx.t('staff.spend.ask', { points: ctx.t('common.points', { count: wizard.pointsToSpend ?? 0 }) }), {
      parse_mode: 'HTML',
      reply_markup: new InlineKeyboard()
        .text(ctx.t('staff.spend.request_button'), callbackData('stf', 'req', wizard.id))
        .row()
        .text(ctx.t('staff.spend.no_points'), callbackData('stf', 'pts', wizard.id, 0))
        .text(ctx.t('common.cancel'), callbackData('stf', 'no', wizard.id)),
    });
  }

  async function confirmPurchase(ctx: BotContext, wizard: Wizard) {
    const member = await activeMember(wizard.memberId);
    const store = await domain.repos.stores.findById(wizard.storeId ?? 0);
    const amountMinor = wizard.amountMinor ?? 0;
    const points = wizard.pointsToSpend ?? 0;
    const paidMinor = amountMinor - points * program.points.pointValueMinor;
    const earn = pointsForPurchase(program, tierByCode(program, member.tier), {
      billMinor: amountMinor,
      paidMinor,
      localDay: localDate(domain.clock.now(), program.timezone),
    });
    const confirmId = newId();
    await save(ctx, { ...wizard, step: 'confirm', confirmId });
    await ctx.reply(
      ctx.t('staff.purchase.confirm', {
        name: firstName(member),
        code: formatCode(member.code),
        store: store?.name ?? '—',
        amount: ctx.fmt.money(amountMinor),
        receipt: wizard.receiptNo ?? '',
        points: ctx.t('common.points', { count: points }),
        cash: ctx.fmt.money(paidMinor),
        earn: ctx.t('common.points', { count: earn }),
      }),
      {
        parse_mode: 'HTML',
        reply_markup: new InlineKeyboard()
          .text(ctx.t('staff.confirm'), callbackData('stf', 'ok', confirmId))
          .text(ctx.t('common.cancel'), callbackData('stf', 'no', wizard.id)),
      },
    );
  }

  async function askReturnAmount(ctx: BotContext, wizard: Wizard, receiptNo: string) {
    const storeId = wizard.storeId ?? 0;
    const purchase = await domain.repos.purchases.findByReceipt(storeId, receiptNo);
    if (!purchase) throw new DomainError('PURCHASE_NOT_FOUND', { receiptNo });
    const left = purchase.amountMinor - purchase.returnedMinor;
    if (left <= 0) throw new DomainError('RETURN_EXCEEDS_PURCHASE', { remaining: 0 });
    const member = await domain.repos.members.findById(purchase.memberId);
    await save(ctx, { ...wizard, step: 'amount', receiptNo: purchase.receiptNo, leftMinor: left, memberId: purchase.memberId });
    await ctx.reply(
      ctx.t('staff.return.purchase', {
        receipt: purchase.receiptNo,
        date: ctx.fmt.date(purchase.createdAt),
        name: member ? firstName(member) : '—',
        amount: ctx.fmt.money(purchase.amountMinor),
        returned: ctx.fmt.money(purchase.returnedMinor),
        left: ctx.fmt.money(left),
      }),
      {
        parse_mode: 'HTML',
        reply_markup: new InlineKeyboard()
          .text(ctx.t('staff.return.full', { amount: ctx.fmt.money(left) }), callbackData('stf', 'rfull', wizard.id))
          .row()
          .text(ctx.t('common.cancel'), callbackData('stf', 'no', wizard.id)),
      },
    );
  }

  async function confirmReturn(ctx: BotContext, wizard: Wizard) {
    const confirmId = newId();
    await save(ctx, { ...wizard, step: 'confirm', confirmId });
    const amount = wizard.amountMinor ?? wizard.leftMinor ?? 0;
    await ctx.reply(
      ctx.t(wizard.amountMinor === null ? 'staff.return.confirm_full' : 'staff.return.confirm', {
        receipt: wizard.receiptNo ?? '',
        amount: ctx.fmt.money(amount),
      }),
      {
        parse_mode: 'HTML',
        reply_markup: new InlineKeyboard()
          .text(ctx.t('staff.confirm'), callbackData('stf', 'ok', confirmId))
          .text(ctx.t('common.cancel'), callbackData('stf', 'no', wizard.id)),
      },
    );
  }

  // --- what the staff member types during a wizard -------------------------------------------

  async function onText(ctx: BotContext, text: string, wizard: Wizard) {
    switch (wizard.step) {
      case 'store': {
        const store = await domain.repos.stores.findByCode(text.trim());
        if (!store?.active) throw new DomainError('STORE_NOT_FOUND', { store: text.trim() });
        return afterStore(ctx, { ...wizard, storeId: store.id });
      }
      case 'member':
        return askAmount(ctx, wizard, await findMemberForStaff(domain, text));
      case 'amount': {
        const amount = parseMoney(text, minorDigits(program.currency));
        if (amount === null) {
          await ctx.reply(ctx.t('staff.amount_invalid'), { parse_mode: 'HTML' });
          return;
        }
        if (wizard.kind === 'purchase') return askReceipt(ctx, { ...wizard, amountMinor: amount });
        const left = wizard.leftMinor ?? 0;
        if (amount > left) throw new DomainError('RETURN_EXCEEDS_PURCHASE', { remaining: left });
        return confirmReturn(ctx, { ...wizard, amountMinor: amount === left ? null : amount });
      }
      case 'receipt': {
        const receiptNo = normalizeReceipt(text);
        if (wizard.kind === 'return') return askReturnAmount(ctx, wizard, receiptNo);
        // Refused early, so the cashier can retype it; recordPurchase checks again.
        if (await domain.repos.purchases.findByReceipt(wizard.storeId ?? 0, receiptNo)) throw new DomainError('RECEIPT_DUPLICATE', { receiptNo });
        return askPoints(ctx, { ...wizard, receiptNo });
      }
      case 'points': {
        const points = parsePoints(text);
        const max = pointsAllowed(await activeMember(wizard.memberId), wizard.amountMinor ?? 0);
        if (points === null || points > max) {
          await ctx.reply(ctx.t('staff.purchase.points_invalid', { max }), { parse_mode: 'HTML' });
          return;
        }
        return afterPoints(ctx, wizard, points);
      }
      case 'proof': {
        const code = normalizeSpendCode(text.trim());
        if (!SPEND_CODE_PATTERN.test(code)) {
          await ctx.reply(ctx.t('staff.spend.code_format'), { parse_mode: 'HTML' });
          return;
        }
        // Checked (and used up) when the purchase is confirmed, in the same transaction as the spend.
        return confirmPurchase(ctx, { ...wizard, spendCode: code, spendRequestId: undefined });
      }
      case 'await':
        await ctx.reply(ctx.t('staff.spend.waiting_hint'), { parse_mode: 'HTML' });
        return;
      case 'confirm':
        await ctx.reply(ctx.t('staff.tap_confirm'));
        return;
      case 'done':
        return;
    }
  }

  /**
   * Text while a wizard is open is its answer. Anyone without an open wizard passes on
   * untouched (one keyed read), so customers are unaffected.
   */
  async function wizardText(ctx: BotContext, next: NextFunction) {
    const text = ctx.message?.text;
    if (text === undefined || text.startsWith('/')) return next();
    const wizard = await load(ctx);
    if (!wizard || wizard.step === 'done') {
      // Staff who are not customers would otherwise be told to register.
      if (ctx.member?.status !== 'ACTIVE' && ctx.member?.status !== 'REGISTERING' && (await findPrincipal(domain, ctx.from?.id as number))) {
        await ctx.reply(ctx.t('staff.hint'), { reply_markup: menu(ctx) });
        return;
      }
      return next();
    }
    await staffOnly(ctx);
    await onText(ctx, text, wizard);
  }

  // --- entry points --------------------------------------------------------------------------

  privateChats.command(
    'start',
    guard(async (ctx, next) => {
      const payload = ctx.match.trim();
      if (payload.startsWith(INVITE_PREFIX)) {
        // Anyone may open an invite; it never starts a customer registration.
        const name = [ctx.from.first_name, ctx.from.last_name].filter(Boolean).join(' ').trim() || null;
        const staff = await acceptInvite(domain, payload, ctx.from.id, name, ctx.locale);
        const store = staff.storeId === null ? null : await domain.repos.stores.findById(staff.storeId);
        if (staff.role === 'STAFF')
          await ctx.reply(ctx.t('staff.invite_accepted', { store: store?.name ?? '—' }), { parse_mode: 'HTML', reply_markup: menu(ctx) });
        else await ctx.reply(ctx.t('staff.invite_accepted_marketer'), { parse_mode: 'HTML' });
        return;
      }
      if (/^m_/i.test(payload)) {
        // A member card's QR: for staff it opens a purchase; for anyone else /start goes on as before.
        const principal = await findPrincipal(domain, ctx.from.id);
        if (principal && (principal.role === 'STAFF' || principal.role === 'ADMIN')) return begin(ctx, principal, 'purchase', payload);
      }
      return next();
    }),
  );

  const showMenu = guard(async (ctx: BotContext) => {
    const principal = await staffOnly(ctx);
    const store = principal.storeId === null ? null : await domain.repos.stores.findById(principal.storeId);
    await ctx.reply(ctx.t('staff.menu.text', { store: store?.name ?? ctx.t('staff.menu.no_store') }), { parse_mode: 'HTML', reply_markup: menu(ctx) });
  });
  privateChats.command('staff', showMenu);

  const startPurchase = guard(async (ctx: BotContext) => begin(ctx, await staffOnly(ctx), 'purchase'));
  privateChats.command('purchase', startPurchase);
  buttons.on('staff.menu.purchase', inPrivateChats(startPurchase));

  const startReturn = guard(async (ctx: BotContext) => begin(ctx, await staffOnly(ctx), 'return'));
  privateChats.command('return', startReturn);
  buttons.on('staff.menu.return', inPrivateChats(startReturn));

  privateChats.command(
    'cancel',
    guard(async (ctx, next) => {
      if (!(await findPrincipal(domain, ctx.from.id))) return next();
      await clear(ctx);
      await ctx.reply(ctx.t('staff.cancelled'), { reply_markup: menu(ctx) });
    }),
  );

  // --- buttons: each re-checks the role, then that it belongs to the open wizard -------------

  async function current(ctx: BotContext, id: string, steps: Wizard['step'][]): Promise<Wizard | null> {
    const wizard = await load(ctx);
    if (wizard && wizard.id === id && steps.includes(wizard.step)) return wizard;
    await ack(ctx, ctx.t('common.stale_button'));
    return null;
  }

  composer.callbackQuery(
    new RegExp(`^stf:st:${ID}:(\\d{1,9})$`),
    guard(async (ctx) => {
      await staffOnly(ctx);
      const wizard = await current(ctx, ctx.match[1] as string, ['store']);
      if (!wizard) return;
      const store = await domain.repos.stores.findById(Number(ctx.match[2]));
      if (!store?.active) throw new DomainError('STORE_NOT_FOUND', { store: '' });
      await ack(ctx, store.name);
      await dropButtons(ctx);
      await afterStore(ctx, { ...wizard, storeId: store.id });
    }),
  );

  composer.callbackQuery(
    new RegExp(`^stf:pts:${ID}:(\\d{1,9})$`),
    guard(async (ctx) => {
      await staffOnly(ctx);
      const wizard = await current(ctx, ctx.match[1] as string, ['points', 'proof']);
      if (!wizard) return;
      const points = Number(ctx.match[2]);
      // On the consent screen the only choice is to pay without points.
      if (wizard.step === 'proof' && points !== 0) return ack(ctx, ctx.t('common.stale_button'));
      const max = pointsAllowed(await activeMember(wizard.memberId), wizard.amountMinor ?? 0);
      if (points > max) throw new DomainError('POINTS_OVER_CAP', { max });
      await ack(ctx);
      await dropButtons(ctx);
      await afterPoints(ctx, wizard, points);
    }),
  );

  // The cashier asks the customer to confirm in their chat; the screen waits for the answer.
  composer.callbackQuery(
    new RegExp(`^stf:req:${ID}$`),
    guard(async (ctx) => {
      const principal = await staffOnly(ctx);
      const wizard = await current(ctx, ctx.match[1] as string, ['proof']);
      if (!wizard) return;
      const storeId = principal.storeId ?? wizard.storeId ?? 0;
      const { request } = await createSpendRequest(domain, {
        memberId: wizard.memberId ?? 0,
        storeId,
        points: wizard.pointsToSpend ?? 0,
        actor: actorOf(principal),
        operatorTelegramId: principal.telegramId,
        notify: { chatId: ctx.chat?.id ?? principal.telegramId, locale: ctx.locale },
      });
      await save(ctx, { ...wizard, step: 'await', spendRequestId: request.id, spendCode: undefined });
      await ack(ctx);
      await dropButtons(ctx);
      await ctx.reply(ctx.t('staff.spend.waiting', { points: ctx.t('common.points', { count: request.points }), minutes: SPEND_REQUEST_TTL_MS / 60_000 }), {
        parse_mode: 'HTML',
        reply_markup: new InlineKeyboard()
          .text(ctx.t('staff.spend.check'), callbackData('stf', 'chk', request.id))
          .text(ctx.t('common.cancel'), callbackData('stf', 'no', wizard.id)),
      });
    }),
  );

  // "Check" on the waiting screen, or "Continue" under the customer's answer (src/bot/notifier.ts).
  composer.callbackQuery(
    /^stf:chk:([A-Za-z0-9_-]{12})$/,
    guard(async (ctx) => {
      await staffOnly(ctx);
      const wizard = await load(ctx);
      if (wizard?.step !== 'await' || wizard.spendRequestId !== ctx.match[1]) return ack(ctx, ctx.t('common.stale_button'));
      const request = await domain.repos.spendRequests.findById(ctx.match[1] as string);
      const state = request ? spendRequestState(request, domain.clock.now()) : 'expired';
      if (state === 'pending') return ack(ctx, ctx.t('staff.spend.still_waiting'));
      await ack(ctx);
      await dropButtons(ctx);
      if (state === 'approved') return confirmPurchase(ctx, wizard);
      await ctx.reply(ctx.t(state === 'declined' ? 'staff.spend.declined_back' : 'staff.spend.expired_back'), { parse_mode: 'HTML' });
      if (state === 'declined') return askPoints(ctx, wizard);
      return askProof(ctx, wizard);
    }),
  );

  composer.callbackQuery(
    new RegExp(`^stf:rfull:${ID}$`),
    guard(async (ctx) => {
      await staffOnly(ctx);
      const wizard = await current(ctx, ctx.match[1] as string, ['amount']);
      if (!wizard) return;
      if (wizard.kind !== 'return') return ack(ctx, ctx.t('common.stale_button'));
      await ack(ctx);
      await dropButtons(ctx);
      await confirmReturn(ctx, { ...wizard, amountMinor: null });
    }),
  );

  composer.callbackQuery(
    new RegExp(`^stf:no:${ID}$`),
    guard(async (ctx) => {
      await staffOnly(ctx);
      const wizard = await current(ctx, ctx.match[1] as string, ['store', 'member', 'amount', 'receipt', 'points', 'proof', 'await', 'confirm']);
      if (!wizard) return;
      await clear(ctx);
      await ack(ctx);
      await dropButtons(ctx);
      await ctx.reply(ctx.t('staff.cancelled'), { reply_markup: menu(ctx) });
    }),
  );

  composer.callbackQuery(
    new RegExp(`^stf:ok:${ID}$`),
    guard(async (ctx) => {
      const principal = await staffOnly(ctx);
      const confirmId = ctx.match[1] as string;
      const wizard = await load(ctx);
      if (wizard?.step === 'done' && wizard.confirmId === confirmId) return ack(ctx, ctx.t('staff.already_done'));
      if (wizard?.step !== 'confirm' || wizard.confirmId !== confirmId) return ack(ctx, ctx.t('common.stale_button'));
      // The key comes from this confirmation screen: a double tap, or a tap served by another
      // instance at the same time, books once and reads the first result back.
      const idempotencyKey = `bot:${principal.telegramId}:${confirmId}`;
      const storeId = principal.storeId ?? wizard.storeId ?? 0;
      try {
        if (wizard.kind === 'purchase') await finishPurchase(ctx, wizard, principal, storeId, idempotencyKey);
        else await finishReturn(ctx, wizard, principal, storeId, idempotencyKey);
      } catch (error) {
        if (!isDomainError(error)) throw error;
        await rewind(ctx, wizard, error);
      }
    }),
  );

  const proofOf = (wizard: Wizard): SpendProof | null =>
    wizard.spendCode ? { kind: 'code', code: wizard.spendCode } : wizard.spendRequestId ? { kind: 'request', requestId: wizard.spendRequestId } : null;

  async function finishPurchase(ctx: BotContext, wizard: Wizard, principal: Principal, storeId: number, idempotencyKey: string) {
    const result = await recordPurchase(domain, {
      memberId: wizard.memberId ?? 0,
      storeId,
      receiptNo: wizard.receiptNo ?? '',
      amountMinor: wizard.amountMinor ?? 0,
      pointsToSpend: wizard.pointsToSpend ?? 0,
      idempotencyKey,
      actor: actorOf(principal),
      spendProof: proofOf(wizard),
    });
    await save(ctx, { ...wizard, step: 'done' });
    await ack(ctx, ctx.t('staff.recorded'));
    await dropButtons(ctx);
    const lines = [
      ctx.t('staff.purchase.done', {
        amount: ctx.fmt.money(result.purchase.amountMinor),
        receipt: result.purchase.receiptNo,
        spent: ctx.t('common.points', { count: result.pointsSpent }),
        earned: ctx.t('common.points', { count: result.pointsEarned }),
        balance: ctx.t('common.points', { count: result.balance }),
      }),
    ];
    if (result.upgradedTo)
      lines.push(ctx.t('staff.purchase.upgraded', { tier: result.upgradedTo.name[ctx.locale], discount: result.upgradedTo.discountPercent }));
    if (result.replayed) lines.push(ctx.t('staff.replayed'));
    await ctx.reply(lines.join('\n\n'), { parse_mode: 'HTML', reply_markup: menu(ctx) });
  }

  async function finishReturn(ctx: BotContext, wizard: Wizard, principal: Principal, storeId: number, idempotencyKey: string) {
    const result = await recordReturn(domain, {
      storeId,
      receiptNo: wizard.receiptNo ?? '',
      amountMinor: wizard.amountMinor ?? null,
      idempotencyKey,
      actor: actorOf(principal),
    });
    await save(ctx, { ...wizard, step: 'done' });
    await ack(ctx, ctx.t('staff.recorded'));
    await dropButtons(ctx);
    const { purchaseReturn } = result;
    const lines = [
      ctx.t('staff.return.done', {
        amount: ctx.fmt.money(purchaseReturn.amountMinor),
        receipt: wizard.receiptNo ?? '',
        reversed: ctx.t('common.points', { count: purchaseReturn.pointsReversed }),
        refunded: ctx.t('common.points', { count: purchaseReturn.pointsRefunded }),
        balance: ctx.t('common.points', { count: result.balance }),
      }),
    ];
    if (purchaseReturn.shortfall > 0) lines.push(ctx.t('staff.return.shortfall', { points: ctx.t('common.points', { count: purchaseReturn.shortfall }) }));
    if (result.replayed) lines.push(ctx.t('staff.replayed'));
    await ctx.reply(lines.join('\n\n'), { parse_mode: 'HTML', reply_markup: menu(ctx) });
  }

  /** A refused confirmation goes back to the step that can fix it, or ends the wizard. */
  async function rewind(ctx: BotContext, wizard: Wizard, error: DomainError) {
    ctx.log.info({ code: error.code }, 'confirmation refused');
    await ack(ctx);
    await dropButtons(ctx);
    await ctx.reply(errorText(ctx, error), { parse_mode: 'HTML' });
    const back = { ...wizard, confirmId: undefined };
    if (wizard.kind === 'purchase' && (error.code === 'RECEIPT_DUPLICATE' || error.code === 'RECEIPT_INVALID')) return askReceipt(ctx, back);
    if (wizard.kind === 'purchase' && (error.code === 'POINTS_OVER_CAP' || error.code === 'INSUFFICIENT_POINTS')) return askPoints(ctx, back);
    // A wrong or used code, or a request no longer good: ask for the consent again; spending
    // locked after wrong codes: the purchase can still go through without points.
    if (wizard.kind === 'purchase' && ['SPEND_CODE_INVALID', 'SPEND_REQUEST_INVALID', 'SPEND_REQUEST_NOT_FOUND', 'SPEND_PROOF_REQUIRED'].includes(error.code))
      return askProof(ctx, back);
    if (wizard.kind === 'purchase' && error.code === 'SPENDING_LOCKED') return askPoints(ctx, back);
    await clear(ctx);
    await ctx.reply(ctx.t('staff.cancelled'), { reply_markup: menu(ctx) });
  }

  // Anything else under the staff prefix: still only for staff, and never acted upon.
  composer.callbackQuery(
    /^stf:/,
    guard(async (ctx) => {
      await staffOnly(ctx);
      await ack(ctx, ctx.t('common.stale_button'));
    }),
  );

  // Wizard answers of people who are not active customers (active ones: staffInputFeature,
  // after the customer menu, so that customers' buttons never wait on the session store).
  privateChats.filter((ctx) => ctx.member?.status !== 'ACTIVE').on('message:text', guard(wizardText));

  const staffInput = new Composer<BotContext>();
  staffInput
    .chatType('private')
    .filter((ctx) => ctx.member?.status === 'ACTIVE')
    .on('message:text', guard(wizardText));

  return { staff: composer, staffInput };
}
