import type { CommandContext } from 'grammy';
import { acceptInvite } from '../../../domain/staff/access.js';
import { storeName } from '../../../domain/staff/till.js';
import type { BotContext } from '../../context.js';
import type { CashierKit } from './dialog.js';

/** `/start inv_…`: whoever opens a staff or marketer invite becomes one (never a customer registration). */
export async function acceptStaffInvite(ctx: CommandContext<BotContext>, kit: CashierKit, payload: string) {
  const name = [ctx.from?.first_name, ctx.from?.last_name].filter(Boolean).join(' ').trim() || null;
  const staff = await acceptInvite(kit.domain, payload, ctx.from?.id as number, name, ctx.locale);
  if (staff.role === 'STAFF') {
    const store = await storeName(kit.domain, staff.storeId);
    await ctx.reply(ctx.t('staff.invite_accepted', { store: store ?? '—' }), { parse_mode: 'HTML', reply_markup: kit.menu(ctx) });
  } else await ctx.reply(ctx.t('staff.invite_accepted_marketer'), { parse_mode: 'HTML' });
}
