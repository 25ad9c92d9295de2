import { Composer } from 'grammy';
import { editReward, listRewards, pauseReward, resumeReward } from '../../domain/rewards/admin.js';
import type { Reward } from '../../domain/rewards/types.js';
import { findPrincipal, requireRole } from '../../domain/staff/access.js';
import type { BotContext, BotDeps } from '../context.js';
import { guard } from '../replies.js';

/**
 * The catalogue in an admin's hands: `/rewards` lists every reward with its status and stock,
 * `/reward_pause`, `/reward_resume` and `/reward_stock` change one. The use cases check the
 * role again and leave an audit entry. `/rewards` from anyone else is the customer catalogue.
 */

const MAX_LIST = 50;

export function rewardsAdminFeature(deps: BotDeps): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  const { domain } = deps;
  const privateChats = composer.chatType('private');

  const adminOnly = (ctx: BotContext) => requireRole(domain, ctx.from?.id as number, ['ADMIN']);
  const words = (text: string) => text.trim().split(/\s+/).filter(Boolean);
  const usage = (ctx: BotContext, command: string) => ctx.reply(ctx.t(`reward_admin.usage.${command}`), { parse_mode: 'HTML' });
  const stockText = (ctx: BotContext, reward: Reward) => (reward.stock === null ? ctx.t('reward_admin.unlimited') : String(reward.stock));

  privateChats.command(
    'rewards',
    guard(async (ctx, next) => {
      if ((await findPrincipal(domain, ctx.from.id))?.role !== 'ADMIN') return next();
      const rewards = await listRewards(domain, ctx.from.id);
      const lines = [ctx.t('reward_admin.title', { count: rewards.length })];
      if (rewards.length === 0) lines.push(ctx.t('reward_admin.empty'));
      for (const reward of rewards.slice(0, MAX_LIST)) {
        lines.push(
          ctx.t('reward_admin.line', {
            code: reward.code,
            title: reward.title[ctx.locale],
            cost: ctx.t('common.points', { count: reward.cost }),
            stock: stockText(ctx, reward),
            status: ctx.t(reward.active ? 'reward_admin.active' : 'reward_admin.paused'),
          }),
        );
      }
      if (rewards.length > MAX_LIST) lines.push(ctx.t('admin.more', { count: rewards.length - MAX_LIST }));
      lines.push('', ctx.t('reward_admin.commands'));
      await ctx.reply(lines.join('\n'), { parse_mode: 'HTML' });
    }),
  );

  for (const [command, change, done] of [
    ['pause', pauseReward, 'reward_admin.paused_done'],
    ['resume', resumeReward, 'reward_admin.resumed_done'],
  ] as const) {
    privateChats.command(
      `reward_${command}`,
      guard(async (ctx) => {
        await adminOnly(ctx);
        const [code, ...rest] = words(ctx.match);
        if (!code || rest.length > 0) return usage(ctx, command);
        const reward = await change(domain, ctx.from.id, code.toLowerCase());
        await ctx.reply(ctx.t(done, { code: reward.code }), { parse_mode: 'HTML' });
      }),
    );
  }

  privateChats.command(
    'reward_stock',
    guard(async (ctx) => {
      await adminOnly(ctx);
      const [code, amount, ...rest] = words(ctx.match);
      const unlimited = amount !== undefined && /^(unlimited|none|∞|-)$/i.test(amount);
      if (!code || amount === undefined || rest.length > 0 || (!unlimited && !/^\d{1,8}$/.test(amount))) return usage(ctx, 'stock');
      const reward = await editReward(domain, ctx.from.id, code.toLowerCase(), { stock: unlimited ? null : Number(amount) });
      await ctx.reply(ctx.t('reward_admin.stock_done', { code: reward.code, stock: stockText(ctx, reward) }), { parse_mode: 'HTML' });
    }),
  );

  return composer;
}
