import { InlineKeyboard } from 'grammy';
import { formatCode } from '../../../domain/codes.js';
import type { Member } from '../../../domain/members/member.js';
import { hasPoints } from '../../../domain/purchases/quote.js';
import { type Principal, requireRole } from '../../../domain/staff/access.js';
import { tierByCode } from '../../../domain/tiers.js';
import { type DecodedCallback, encodeCallback } from '../../callback-data.js';
import type { BotContext, BotDeps } from '../../context.js';
import { type Answer, stepDialog } from '../../dialogs.js';
import { staffMenu } from '../../keyboards.js';
import { answerStaffError } from '../../replies.js';

/**
 * The cashier's purchase and return as @grammyjs/conversations dialogs (on the bot's shared
 * dialogs, src/bot/dialogs.ts: one stored row, so a restart or another instance carries on and
 * erasing the member erases it). A dialog's state is the `Dialog` below, carried from answer to
 * answer (`stepDialog`: each answer in one `conversation.external`, after the role is asked of
 * the server again).
 */

const DIALOG_TTL_MS = 30 * 60_000;

export type Step = 'store' | 'member' | 'amount' | 'receipt' | 'points' | 'proof' | 'await' | 'confirm';

/** What the cashier has entered so far (JSON: the plugin stores it with the dialog). */
export interface Dialog {
  kind: 'purchase' | 'return';
  /** `proof`: points chosen, the customer's consent awaited (a spend code typed, or a request sent: `await`). */
  step: Step;
  id: string;
  storeId: number | null;
  memberId?: number;
  /** Purchase: the bill; return: the returned amount, null for everything that is left. */
  amountMinor?: number | null;
  /** Return: what was left to return when the receipt was looked up (for the screens). */
  leftMinor?: number;
  receiptNo?: string;
  pointsToSpend?: number;
  /** The customer's one-time spend code, typed by the cashier; used up when the purchase is recorded. */
  spendCode?: string;
  /** The confirmation request sent to the customer's chat. */
  spendRequestId?: string;
  /** One per confirmation screen: the idempotency key of what that screen confirms. */
  confirmId?: string;
  touchedAt: number;
}

/** What handling an answer leads to: the dialog at its next step, or null when it has ended. */
export type Flow = (ctx: BotContext, dialog: Dialog, answer: Answer, principal: Principal) => Promise<Dialog | null>;

/** Confirm (with the confirmation's own id, so a second tap is answered, not booked twice) or Cancel. */
export const confirmKeyboard = (ctx: BotContext, confirmId: string, dialogId: string) =>
  new InlineKeyboard().text(ctx.t('staff.confirm'), encodeCallback('stf:ok', confirmId)).text(ctx.t('common.cancel'), encodeCallback('stf:no', dialogId));

/** The idempotency key of what a confirmation screen books: a double tap books once. */
export const bookingKey = (principal: Principal, confirmId: string) => `bot:${principal.telegramId}:${confirmId}`;

/** Whether a tap is one of this dialog's current buttons; anything else is not its business. */
function belongs(tap: DecodedCallback, dialog: Dialog): boolean {
  switch (tap.route) {
    case 'stf:ok':
      return tap.args[0] === dialog.confirmId;
    case 'stf:chk':
      return tap.args[0] === dialog.spendRequestId;
    case 'stf:st':
    case 'stf:pts':
    case 'stf:req':
    case 'stf:rfull':
    case 'stf:no':
      return tap.args[0] === dialog.id;
    default:
      return false;
  }
}

const firstName = (member: Member) => member.name?.trim().split(/\s+/)[0] || '—';

/** What every cashier screen is built with. */
export function cashierKit(deps: BotDeps) {
  const { domain } = deps;
  const { program } = domain;
  const staffOnly = (ctx: BotContext) => requireRole(domain, ctx.from?.id as number, ['STAFF']);
  const now = () => domain.clock.now().getTime();

  /** A cashier dialog (purchase or return) whose answers `flow` handles (dialogs.ts `stepDialog`). */
  const conversation = (flow: Flow) => stepDialog<Dialog, Principal>({ belongs, role: staffOnly, flow, refused: answerStaffError, ttlMs: DIALOG_TTL_MS, now });

  return {
    deps,
    domain,
    program,
    firstName,
    now,
    conversation,
    /** The role is asked of the server on every update of a dialog: a revoked cashier stops at the next step. */
    staffOnly,
    menu: (ctx: BotContext) => staffMenu(ctx.t, ctx.member?.status === 'ACTIVE'),
    cancelButton: (ctx: BotContext, dialog: Dialog) => new InlineKeyboard().text(ctx.t('common.cancel'), encodeCallback('stf:no', dialog.id)),

    memberText(ctx: BotContext, member: Member): string {
      const tier = tierByCode(program, member.tier);
      // Discount-only programs: no balance line.
      return ctx.t(hasPoints(program) ? 'staff.member' : 'staff.member_plain', {
        name: firstName(member),
        code: formatCode(member.code),
        tier: tier.name[ctx.locale],
        discount: tier.discountPercent,
        balance: ctx.t('common.points', { count: member.balance }),
      });
    },
  };
}
export type CashierKit = ReturnType<typeof cashierKit>;
