import { randomBytes } from 'node:crypto';
import { Composer, InlineKeyboard } from 'grammy';
import { z } from 'zod';
import { formatCode } from '../../domain/codes.js';
import { adjustPoints } from '../../domain/ledger/adjust-points.js';
import { findMemberForStaff } from '../../domain/purchases/find-member.js';
import { callbackData } from '../callback-data.js';
import type { BotContext, BotDeps } from '../context.js';
import { ack, guard } from '../replies.js';
import { accessCommands } from './admin/access.js';
import { apiKeyCommands } from './admin/api-keys.js';
import { adminKit } from './admin/kit.js';
import { queuesCommand } from './admin/queues.js';

/**
 * Administration in the chat, for the Telegram ids in ADMIN_TELEGRAM_IDS: invites, revoking,
 * stores, API keys and manual point adjustments. Each command checks the role on the server
 * first (the use cases check it again); wrong usage gets the usage line, never silence.
 * Here: /adjust; access, API keys and /queues are in admin/.
 */

const ADJUST_TTL_MS = 30 * 60_000;

const adjustSchema = z.object({
  id: z.string(),
  memberId: z.number().int(),
  name: z.string(),
  amount: z.number().int(),
  reason: z.string(),
  done: z.boolean(),
  touchedAt: z.number(),
});
type PendingAdjustment = z.infer<typeof adjustSchema>;

export function adminFeature(deps: BotDeps): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  const { domain } = deps;
  const privateChats = composer.chatType('private');

  const kit = adminKit(deps);
  const { adminOnly, usage } = kit;
  const parts = { composer, privateChats };
  accessCommands(parts, kit);
  apiKeyCommands(parts, kit);
  queuesCommand(parts, kit, deps);

  // --- /adjust: parsed and shown, booked only after Confirm -----------------------------------

  async function pending(ctx: BotContext, id: string): Promise<PendingAdjustment | null> {
    const parsed = adjustSchema.safeParse(await ctx.sessions.read('adjust'));
    if (!parsed.success || parsed.data.id !== id) return null;
    if (!parsed.data.done && domain.clock.now().getTime() - parsed.data.touchedAt > ADJUST_TTL_MS) return null;
    return parsed.data;
  }

  privateChats.command(
    'adjust',
    guard(async (ctx) => {
      await adminOnly(ctx);
      // The card code may be typed with spaces, so it is whatever precedes the signed number.
      const match = /^(.+?)\s+([+\-−]\d{1,9})(?:\s+([\s\S]*))?$/.exec(ctx.match.trim());
      if (!match) return usage(ctx, 'adjust');
      const amount = Number((match[2] as string).replace('−', '-'));
      const reason = (match[3] ?? '').trim();
      if (amount === 0) return usage(ctx, 'adjust');
      if (reason.length < 3 || reason.length > 200) {
        await ctx.reply(`${ctx.t('errors.REASON_REQUIRED')}\n${ctx.t('admin.usage.adjust')}`, { parse_mode: 'HTML' });
        return;
      }
      const member = await findMemberForStaff(domain, match[1] as string);
      // Refused before the confirmation, not after it: the ledger would refuse it anyway.
      if (-amount > member.balance)
        return ctx.reply(ctx.t('admin.adjust_too_large', { balance: ctx.t('common.points', { count: member.balance }), amount: ctx.fmt.signed(amount) }));
      const adjustment: PendingAdjustment = {
        id: randomBytes(6).toString('base64url'),
        memberId: member.id,
        name: member.name ?? '—',
        amount,
        reason,
        done: false,
        touchedAt: domain.clock.now().getTime(),
      };
      await ctx.sessions.write('adjust', adjustment);
      await ctx.reply(
        ctx.t('admin.adjust_confirm', {
          name: adjustment.name,
          code: formatCode(member.code),
          balance: ctx.t('common.points', { count: member.balance }),
          amount: ctx.fmt.signed(amount),
          reason,
        }),
        {
          parse_mode: 'HTML',
          reply_markup: new InlineKeyboard()
            .text(ctx.t('staff.confirm'), callbackData('adm', 'adj', adjustment.id))
            .text(ctx.t('common.cancel'), callbackData('adm', 'no', adjustment.id)),
        },
      );
    }),
  );

  composer.callbackQuery(
    /^adm:adj:([A-Za-z0-9_-]{8})$/,
    guard(async (ctx) => {
      const admin = await adminOnly(ctx);
      const adjustment = await pending(ctx, ctx.match[1] as string);
      if (!adjustment) return ack(ctx, ctx.t('common.stale_button'));
      if (adjustment.done) return ack(ctx, ctx.t('staff.already_done'));
      const result = await adjustPoints(domain, {
        adminTelegramId: admin.telegramId,
        memberId: adjustment.memberId,
        amount: adjustment.amount,
        reason: adjustment.reason,
        idempotencyKey: `bot:adjust:${admin.telegramId}:${adjustment.id}`,
      });
      await ctx.sessions.write('adjust', { ...adjustment, done: true });
      await ack(ctx, ctx.t('staff.recorded'));
      await ctx.editMessageReplyMarkup().catch(() => undefined);
      await ctx.reply(
        ctx.t('admin.adjusted', {
          name: adjustment.name,
          amount: ctx.fmt.signed(adjustment.amount),
          balance: ctx.t('common.points', { count: result.entry.balanceAfter }),
        }),
        { parse_mode: 'HTML' },
      );
    }),
  );

  composer.callbackQuery(
    /^adm:no:([A-Za-z0-9_-]{8})$/,
    guard(async (ctx) => {
      await adminOnly(ctx);
      const adjustment = await pending(ctx, ctx.match[1] as string);
      if (!adjustment || adjustment.done) return ack(ctx, ctx.t('common.stale_button'));
      await ctx.sessions.delete('adjust');
      await ack(ctx);
      await ctx.editMessageReplyMarkup().catch(() => undefined);
      await ctx.reply(ctx.t('admin.adjust_cancelled'));
    }),
  );

  // Anything else under the admin prefix: refused to non-admins, stale for admins.
  composer.callbackQuery(
    /^adm:/,
    guard(async (ctx) => {
      await adminOnly(ctx);
      await ack(ctx, ctx.t('common.stale_button'));
    }),
  );

  return composer;
}
