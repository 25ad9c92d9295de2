import { isDomainError } from '../../../domain/errors.js';
import type { StaffRole } from '../../../domain/ports.js';
import { addStore, createInvite, listStaff, listStores, revokeStaff } from '../../../domain/staff/access.js';
import { guard } from '../../replies.js';
import { type AdminComposers, type AdminKit, MAX_LIST } from './kit.js';

const ROLES: Record<string, StaffRole> = { staff: 'STAFF', marketer: 'MARKETER' };

/** /admin, invites, revoking, the staff list and the stores. */
export function accessCommands({ privateChats }: AdminComposers, { domain, adminOnly, words, usage }: AdminKit): void {
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
}
