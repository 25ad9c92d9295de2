import { InlineKeyboard } from 'grammy';
import { createApiKey, findActiveApiKey, listApiKeys, revokeApiKey, rotateApiKey } from '../../../domain/staff/api-keys.js';
import { callbackData } from '../../callback-data.js';
import type { BotContext } from '../../context.js';
import { ack, guard } from '../../replies.js';
import { type AdminComposers, type AdminKit, MAX_LIST } from './kit.js';

/** API keys: created, listed, revoked and rotated after a confirmation. */
export function apiKeyCommands({ composer, privateChats }: AdminComposers, { domain, adminOnly, words, usage }: AdminKit): void {
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
}
