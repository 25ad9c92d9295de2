import { randomBytes } from 'node:crypto';
import { Composer, InlineKeyboard } from 'grammy';
import { z } from 'zod';
import { formatCode } from '../../domain/codes.js';
import { isDomainError } from '../../domain/errors.js';
import { adjustPoints } from '../../domain/ledger/adjust-points.js';
import type { StaffRole } from '../../domain/ports.js';
import { findMemberForStaff } from '../../domain/purchases/find-member.js';
import { addStore, createInvite, listStaff, listStores, requireRole, revokeStaff } from '../../domain/staff/access.js';
import { createApiKey, findActiveApiKey, listApiKeys, revokeApiKey, rotateApiKey } from '../../domain/staff/api-keys.js';
import { callbackData } from '../callback-data.js';
import type { BotContext, BotDeps } from '../context.js';
import { describeOutcome } from '../job-outcome.js';
import { ack, guard } from '../replies.js';

/**
 * Administration in the chat, for the Telegram ids in ADMIN_TELEGRAM_IDS: invites, revoking,
 * stores, API keys and manual point adjustments. Each command checks the role on the server
 * first (the use cases check it again); wrong usage gets the usage line, never silence.
 */

const ADJUST_TTL_MS = 30 * 60_000;
const MAX_LIST = 50;

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

const ROLES: Record<string, StaffRole> = { staff: 'STAFF', marketer: 'MARKETER' };

export function adminFeature(deps: BotDeps): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  const { domain } = deps;
  const privateChats = composer.chatType('private');

  const adminOnly = (ctx: BotContext) => requireRole(domain, ctx.from?.id as number, ['ADMIN']);
  const words = (text: string) => text.trim().split(/\s+/).filter(Boolean);
  const usage = (ctx: BotContext, command: string) => ctx.reply(ctx.t(`admin.usage.${command}`), { parse_mode: 'HTML' });

  privateChats.command(
    'admin',
    guard(async (ctx) => {
      await adminOnly(ctx);
      await ctx.reply(ctx.t('admin.help'), { parse_mode: 'HTML' });
    }),
  );

  privateChats.command(
    'invite',
    guard(async (ctx) => {
      await adminOnly(ctx);
      const [roleWord, storeCode, ...rest] = words(ctx.match);
      const role = roleWord ? ROLES[roleWord.toLowerCase()] : undefined;
      if (!role || rest.length > 0 || (role === 'STAFF' && !storeCode)) return usage(ctx, 'invite');
      const invite = await createInvite(domain, ctx.from.id, { role, storeCode: storeCode ?? null });
      const link = `https://t.me/${ctx.me.username}?start=${invite.payload}`;
      const key = role === 'STAFF' ? 'admin.invite_staff' : invite.store ? 'admin.invite_marketer_store' : 'admin.invite_marketer';
      await ctx.reply(ctx.t(key, { link, store: invite.store?.name ?? '', expires: ctx.fmt.date(invite.expiresAt) }), {
        parse_mode: 'HTML',
        link_preview_options: { is_disabled: true },
      });
    }),
  );

  privateChats.command(
    'revoke',
    guard(async (ctx) => {
      await adminOnly(ctx);
      const [id, ...rest] = words(ctx.match);
      if (!id || rest.length > 0 || !/^\d{1,15}$/.test(id)) return usage(ctx, 'revoke');
      const telegramId = Number(id);
      try {
        // A wizard they left open stays, and its next step refuses them (every step checks the role).
        const staff = await revokeStaff(domain, ctx.from.id, telegramId);
        await ctx.reply(ctx.t('admin.revoked', { name: staff.name ?? id, id }), { parse_mode: 'HTML' });
      } catch (error) {
        if (!isDomainError(error, 'FORBIDDEN') || error.details.reason !== 'not staff') throw error;
        await ctx.reply(ctx.t('admin.revoke_unknown', { id }), { parse_mode: 'HTML' });
      }
    }),
  );

  privateChats.command(
    'staff_list',
    guard(async (ctx) => {
      const staff = await listStaff(domain, ctx.from.id);
      const lines = [ctx.t('admin.staff_title', { count: staff.length })];
      if (staff.length === 0) lines.push(ctx.t('admin.staff_empty'));
      for (const member of staff.slice(0, MAX_LIST)) {
        lines.push(
          ctx.t(member.revokedAt ? 'admin.staff_line_revoked' : 'admin.staff_line', {
            name: member.name ?? '—',
            id: member.telegramId,
            role: ctx.t(`admin.role.${member.role}`),
            store: member.storeName ?? '—',
          }),
        );
      }
      if (staff.length > MAX_LIST) lines.push(ctx.t('admin.more', { count: staff.length - MAX_LIST }));
      lines.push('', ctx.t('admin.admins', { ids: domain.adminTelegramIds.join(', ') }));
      await ctx.reply(lines.join('\n'), { parse_mode: 'HTML' });
    }),
  );

  privateChats.command(
    'stores',
    guard(async (ctx) => {
      const stores = await listStores(domain, ctx.from.id);
      const lines = [ctx.t('admin.stores_title', { count: stores.length })];
      for (const store of stores.slice(0, MAX_LIST)) {
        lines.push(ctx.t(store.active ? 'admin.store_line' : 'admin.store_line_inactive', { code: store.code, name: store.name }));
      }
      if (stores.length > MAX_LIST) lines.push(ctx.t('admin.more', { count: stores.length - MAX_LIST }));
      await ctx.reply(lines.join('\n'), { parse_mode: 'HTML' });
    }),
  );

  privateChats.command(
    'addstore',
    guard(async (ctx) => {
      await adminOnly(ctx);
      const match = /^(\S+)\s+(.+)$/s.exec(ctx.match.trim());
      if (!match) return usage(ctx, 'addstore');
      const store = await addStore(domain, ctx.from.id, match[1] as string, match[2] as string);
      await ctx.reply(ctx.t('admin.store_saved', { code: store.code, name: store.name }), { parse_mode: 'HTML' });
    }),
  );

  privateChats.command(
    'apikey',
    guard(async (ctx) => {
      await adminOnly(ctx);
      const [name, storeCode, ...rest] = words(ctx.match);
      if (!name || rest.length > 0 || name.length > 64) return usage(ctx, 'apikey');
      const { key } = await createApiKey(domain, ctx.from.id, { name, storeCode: storeCode ?? null });
      await ctx.reply(ctx.t('admin.apikey', { name, key, store: storeCode ?? ctx.t('admin.all_stores') }), { parse_mode: 'HTML' });
    }),
  );

  // --- API keys: listed, revoked and rotated after a confirmation --------------------------------

  privateChats.command(
    'apikeys',
    guard(async (ctx) => {
      await adminOnly(ctx);
      const keys = await listApiKeys(domain, ctx.from.id);
      const lines = [ctx.t('admin.apikeys_title', { count: keys.length })];
      if (keys.length === 0) lines.push(ctx.t('admin.apikeys_empty'));
      for (const key of keys.slice(0, MAX_LIST)) {
        lines.push(
          ctx.t(key.revokedAt ? 'admin.apikey_line_revoked' : 'admin.apikey_line', {
            id: key.id,
            name: key.name,
            prefix: key.prefix,
            store: key.storeCode ?? ctx.t('admin.all_stores'),
            created: ctx.fmt.date(key.createdAt),
            used: key.lastUsedAt ? ctx.fmt.dateTime(key.lastUsedAt) : ctx.t('admin.apikey_never_used'),
          }),
        );
      }
      if (keys.length > MAX_LIST) lines.push(ctx.t('admin.more', { count: keys.length - MAX_LIST }));
      await ctx.reply(lines.join('\n'), { parse_mode: 'HTML' });
    }),
  );

  /** Asks before revoking or rotating: the buttons carry the key id, and the tap checks everything again. */
  const askAboutKey = (action: 'revoke' | 'rotate') =>
    guard(async (ctx: BotContext) => {
      await adminOnly(ctx);
      const [id, ...rest] = words(String(ctx.match ?? ''));
      if (!id || rest.length > 0 || !/^\d{1,9}$/.test(id)) return usage(ctx, `apikey_${action}`);
      const key = await findActiveApiKey(domain, ctx.from?.id as number, Number(id));
      if (!key) {
        await ctx.reply(ctx.t('errors.API_KEY_NOT_FOUND'), { parse_mode: 'HTML' });
        return;
      }
      await ctx.reply(ctx.t(`admin.apikey_${action}_confirm`, { id: key.id, name: key.name, prefix: key.prefix }), {
        parse_mode: 'HTML',
        reply_markup: new InlineKeyboard()
          .text(ctx.t('staff.confirm'), callbackData('adm', action === 'revoke' ? 'krv' : 'krt', key.id))
          .text(ctx.t('common.cancel'), callbackData('adm', 'kno', key.id)),
      });
    });
  privateChats.command('apikey_revoke', askAboutKey('revoke'));
  privateChats.command('apikey_rotate', askAboutKey('rotate'));

  composer.callbackQuery(
    /^adm:krv:(\d{1,9})$/,
    guard(async (ctx) => {
      const admin = await adminOnly(ctx);
      const { record, revoked } = await revokeApiKey(domain, admin.telegramId, Number(ctx.match[1]));
      await ack(ctx, revoked ? ctx.t('staff.recorded') : ctx.t('staff.already_done'));
      await ctx.editMessageReplyMarkup().catch(() => undefined);
      if (revoked) await ctx.reply(ctx.t('admin.apikey_revoked', { id: record.id, name: record.name }), { parse_mode: 'HTML' });
    }),
  );

  composer.callbackQuery(
    /^adm:krt:(\d{1,9})$/,
    guard(async (ctx) => {
      const admin = await adminOnly(ctx);
      const { key, record, previous } = await rotateApiKey(domain, admin.telegramId, Number(ctx.match[1]));
      await ack(ctx, ctx.t('staff.recorded'));
      await ctx.editMessageReplyMarkup().catch(() => undefined);
      await ctx.reply(ctx.t('admin.apikey_rotated', { id: previous.id, newId: record.id, name: record.name, key }), { parse_mode: 'HTML' });
    }),
  );

  composer.callbackQuery(
    /^adm:kno:(\d{1,9})$/,
    guard(async (ctx) => {
      await adminOnly(ctx);
      await ack(ctx);
      await ctx.editMessageReplyMarkup().catch(() => undefined);
      await ctx.reply(ctx.t('admin.adjust_cancelled'));
    }),
  );

  // The operator view: queue depth, failures kept for inspection, last run of each job.
  privateChats.command(
    'queues',
    guard(async (ctx) => {
      await adminOnly(ctx);
      const status = await deps.operations.status();
      const lines = [ctx.t('admin.queues_title')];
      for (const q of status.queues) lines.push(ctx.t('admin.queue_line', { ...q }));
      lines.push('', ctx.t('admin.runs_title'));
      if (status.lastRuns.length === 0) lines.push(ctx.t('admin.runs_empty'));
      for (const run of status.lastRuns) {
        const when = ctx.fmt.dateTime(run.finishedAt ?? run.startedAt);
        if (run.error) lines.push(ctx.t('admin.run_failed', { name: run.name, when, error: run.error.slice(0, 200) }));
        else if (!run.finishedAt) lines.push(ctx.t('admin.run_running', { name: run.name, when }));
        else lines.push(ctx.t('admin.run_ok', { name: run.name, when, outcome: describeOutcome(ctx.t, ctx.fmt, run.outcome) }));
      }
      if (status.failed.length > 0) {
        lines.push('', ctx.t('admin.failed_title'));
        for (const job of status.failed) lines.push(ctx.t('admin.failed_line', { queue: job.queue, name: job.name, reason: job.reason }));
      }
      await ctx.reply(lines.join('\n'), { parse_mode: 'HTML' });
    }),
  );

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
