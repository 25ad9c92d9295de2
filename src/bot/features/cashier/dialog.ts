import { randomBytes } from 'node:crypto';
import { InlineKeyboard } from 'grammy';
import { z } from 'zod';
import { formatCode } from '../../../domain/codes.js';
import type { Member } from '../../../domain/members/member.js';
import { hasPoints } from '../../../domain/purchases/quote.js';
import { requireRole } from '../../../domain/staff/access.js';
import { tierByCode } from '../../../domain/tiers.js';
import { encodeCallback } from '../../callback-data.js';
import type { BotContext, BotDeps } from '../../context.js';
import { staffMenu } from '../../keyboards.js';

/**
 * The cashier's open dialog (a purchase or a return), kept in the session store (the database,
 * ChatSession `staff:<telegramId>`), so a restart or another instance carries on and erasing the
 * member erases it. One open staff step per person: starting this ends a coupon code dialog
 * (features/redeem), and starting that deletes this row.
 */

const DIALOG_TTL_MS = 30 * 60_000;
/** A dialog's or a confirmation screen's id: 8 url-safe characters (callback-data.ts `dialog`). */
export const newDialogId = () => randomBytes(6).toString('base64url');

const dialogSchema = z.object({
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
export type Dialog = z.infer<typeof dialogSchema>;

/** Confirm (with the confirmation's own id, so a second tap is answered, not booked twice) or Cancel. */
export const confirmKeyboard = (ctx: BotContext, confirmId: string, dialogId: string) =>
  new InlineKeyboard().text(ctx.t('staff.confirm'), encodeCallback('stf:ok', confirmId)).text(ctx.t('common.cancel'), encodeCallback('stf:no', dialogId));
export type Step = Dialog['step'];

const firstName = (member: Member) => member.name?.trim().split(/\s+/)[0] || '—';

/** What every cashier screen is built with. */
export function cashierKit(deps: BotDeps) {
  const { domain } = deps;
  const { program } = domain;

  return {
    deps,
    domain,
    program,
    firstName,
    /** The role is asked of the server on every update of a dialog: a revoked cashier stops at the next step. */
    staffOnly: (ctx: BotContext) => requireRole(domain, ctx.from?.id as number, ['STAFF']),
    menu: (ctx: BotContext) => staffMenu(ctx.t, ctx.member?.status === 'ACTIVE'),
    cancelButton: (ctx: BotContext, dialog: Dialog) => new InlineKeyboard().text(ctx.t('common.cancel'), encodeCallback('stf:no', dialog.id)),

    async load(ctx: BotContext): Promise<Dialog | null> {
      const parsed = dialogSchema.safeParse(await ctx.sessions.read('staff'));
      if (!parsed.success) return null;
      const dialog = parsed.data;
      // An abandoned dialog does not capture tomorrow's messages; a finished one answers double taps.
      if (dialog.step !== 'done' && domain.clock.now().getTime() - dialog.touchedAt > DIALOG_TTL_MS) return null;
      return dialog;
    },
    save: (ctx: BotContext, dialog: Dialog) => ctx.sessions.write('staff', { ...dialog, touchedAt: domain.clock.now().getTime() } satisfies Dialog),
    clear: (ctx: BotContext) => ctx.sessions.delete('staff'),

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
