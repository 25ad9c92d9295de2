import { InlineKeyboard } from 'grammy';
import { formatCode } from '../../../domain/codes.js';
import { adjustmentBooked, adjustPoints } from '../../../domain/ledger/adjust-points.js';
import { findMemberForStaff } from '../../../domain/purchases/find-member.js';
import type { Principal } from '../../../domain/staff/access.js';
import { memberAtTill } from '../../../domain/staff/till.js';
import { decodeCallback, encodeCallback, isCallback } from '../../callback-data.js';
import type { BotContext } from '../../context.js';
import { type DialogContext, type Dialogs, newDialogId, stepDialog } from '../../dialogs.js';
import { ack, answerStaffError, dropButtons, guard } from '../../replies.js';
import type { AdminComposers, AdminKit } from './kit.js';

/**
 * /adjust as a dialog (dialogs.ts `stepDialog`): member, amount, reason, confirmation. Whatever
 * the command line already carries (`/adjust <card> <±N> <reason>`) is taken, and only what is
 * missing is asked. Booked only after Confirm, under an idempotency key taken from the dialog,
 * so a double tap books once. The admin role is asked of the server at every answer.
 */

const ADJUST_DIALOG = 'adjust';
const ADJUST_TTL_MS = 30 * 60_000;
const SIGNED = /^[+\-−]\d{1,9}$/;

interface Adjustment {
  id: string;
  step: 'member' | 'amount' | 'reason' | 'confirm';
  memberId?: number;
  amount?: number;
  reason?: string;
  /** The customer's name as the confirmation showed it. */
  name?: string;
  touchedAt: number;
}

const signed = (text: string) => Number(text.replace('−', '-'));
const reasonFits = (reason: string) => reason.length >= 3 && reason.length <= 200;
const bookingKey = (admin: Principal, id: string) => `bot:adjust:${admin.telegramId}:${id}`;

export function adjustCommand({ composer, privateChats }: AdminComposers, kit: AdminKit, dialogs: Dialogs): void {
  const { domain, adminOnly, usage } = kit;
  const now = () => domain.clock.now().getTime();

  /** Asks for what is still missing, in order; with everything there, the confirmation screen. */
  async function ask(ctx: BotContext, adjustment: Adjustment): Promise<Adjustment | null> {
    if (adjustment.memberId === undefined) {
      // A bare /adjust: the usage line, and the dialog asks for each part in turn.
      await ctx.reply(`${ctx.t('admin.usage.adjust')}\n\n${ctx.t('admin.adjust_ask_member')}`, { parse_mode: 'HTML' });
      return { ...adjustment, step: 'member' };
    }
    const member = await memberAtTill(domain, adjustment.memberId);
    const about = {
      name: member.name ?? '—',
      code: formatCode(member.code),
      balance: ctx.t('common.points', { count: member.balance }),
    };
    if (adjustment.amount === undefined) {
      await ctx.reply(ctx.t('admin.adjust_ask_amount', about), { parse_mode: 'HTML' });
      return { ...adjustment, step: 'amount' };
    }
    // Refused before the confirmation, not after it: the ledger would refuse it anyway.
    if (-adjustment.amount > member.balance) {
      await ctx.reply(ctx.t('admin.adjust_too_large', { balance: about.balance, amount: ctx.fmt.signed(adjustment.amount) }));
      return null;
    }
    if (adjustment.reason === undefined) {
      await ctx.reply(`${ctx.t('errors.REASON_REQUIRED')}\n${ctx.t('admin.usage.adjust')}`, { parse_mode: 'HTML' });
      return { ...adjustment, step: 'reason' };
    }
    await ctx.reply(ctx.t('admin.adjust_confirm', { ...about, amount: ctx.fmt.signed(adjustment.amount), reason: adjustment.reason }), {
      parse_mode: 'HTML',
      reply_markup: new InlineKeyboard()
        .text(ctx.t('staff.confirm'), encodeCallback('adm:adj', adjustment.id))
        .text(ctx.t('common.cancel'), encodeCallback('adm:no', adjustment.id)),
    });
    return { ...adjustment, step: 'confirm', name: about.name };
  }

  async function book(ctx: BotContext, adjustment: Adjustment, admin: Principal): Promise<null> {
    const result = await adjustPoints(domain, {
      adminTelegramId: admin.telegramId,
      memberId: adjustment.memberId ?? 0,
      amount: adjustment.amount ?? 0,
      reason: adjustment.reason ?? '',
      idempotencyKey: bookingKey(admin, adjustment.id),
    });
    await ack(ctx, ctx.t('staff.recorded'));
    await dropButtons(ctx);
    await ctx.reply(
      ctx.t('admin.adjusted', {
        name: adjustment.name ?? '—',
        amount: ctx.fmt.signed(adjustment.amount ?? 0),
        balance: ctx.t('common.points', { count: result.entry.balanceAfter }),
      }),
      { parse_mode: 'HTML' },
    );
    return null;
  }

  dialogs.register(
    stepDialog<Adjustment, Principal>({
      belongs: (tap, adjustment) => (tap.route === 'adm:adj' || tap.route === 'adm:no') && tap.args[0] === adjustment.id,
      role: adminOnly,
      refused: answerStaffError,
      ttlMs: ADJUST_TTL_MS,
      now,
      async flow(ctx, adjustment, answer, admin) {
        if ('tap' in answer) {
          if (answer.tap.route === 'adm:adj' && adjustment.step === 'confirm') return book(ctx, adjustment, admin);
          await ack(ctx);
          await dropButtons(ctx);
          await ctx.reply(ctx.t('admin.adjust_cancelled'));
          return null;
        }
        const text = answer.text.trim();
        switch (adjustment.step) {
          case 'member':
            return ask(ctx, { ...adjustment, memberId: (await findMemberForStaff(domain, text)).id });
          case 'amount':
            if (SIGNED.test(text) && signed(text) !== 0) return ask(ctx, { ...adjustment, amount: signed(text) });
            await ctx.reply(ctx.t('admin.adjust_amount_invalid'), { parse_mode: 'HTML' });
            return adjustment;
          case 'reason':
            if (reasonFits(text)) return ask(ctx, { ...adjustment, reason: text });
            await ctx.reply(ctx.t('errors.REASON_REQUIRED'));
            return adjustment;
          case 'confirm':
            await ctx.reply(ctx.t('staff.tap_confirm'));
            return adjustment;
        }
      },
    }),
    ADJUST_DIALOG,
  );

  privateChats.command(
    'adjust',
    guard(
      dialogs.entry(async (ctx) => {
        await adminOnly(ctx);
        const args = (ctx.message?.text ?? '').replace(/^\/\S+\s*/, '').trim();
        const start: Adjustment = { id: newDialogId(), step: 'member', touchedAt: now() };
        if (!args) return enter(ctx, await ask(ctx, start));
        // The card code may be typed with spaces, so it is whatever precedes the signed number.
        const match = /^(.+?)\s+([+\-−]\d{1,9})(?:\s+([\s\S]*))?$/.exec(args);
        const amount = match ? signed(match[2] as string) : 0;
        const reason = (match?.[3] ?? '').trim();
        if (!match || amount === 0) return usage(ctx, 'adjust');
        const member = await findMemberForStaff(domain, match[1] as string);
        // A reason missing or out of bounds is asked for (with the usage line).
        return enter(ctx, await ask(ctx, { ...start, memberId: member.id, amount, ...(reasonFits(reason) ? { reason } : {}) }));
      }),
    ),
  );

  async function enter(ctx: DialogContext, adjustment: Adjustment | null) {
    if (adjustment) await ctx.conversation.enter(ADJUST_DIALOG, adjustment);
  }

  // Taps the dialog did not take: a second Confirm after booking is told so; the rest is stale.
  composer.filter(
    isCallback('adm:adj', 'adm:no'),
    guard(
      dialogs.around(async (ctx) => {
        const admin = await adminOnly(ctx);
        const tap = decodeCallback(ctx.callbackQuery?.data);
        if (tap.route === 'adm:adj' && (await adjustmentBooked(domain, bookingKey(admin, tap.args[0])))) return ack(ctx, ctx.t('staff.already_done'));
        await ack(ctx, ctx.t('common.stale_button'));
      }),
    ),
  );
}
