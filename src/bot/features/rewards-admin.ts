import { Menu } from '@grammyjs/menu';
import { Composer } from 'grammy';
import { editReward, listRewards, pauseReward, resumeReward } from '../../domain/rewards/admin.js';
import type { Reward } from '../../domain/rewards/types.js';
import { findPrincipal, requireRole } from '../../domain/staff/access.js';
import type { BotContext, BotDeps } from '../context.js';
import { popupText } from '../coupons.js';
import { ack, guard } from '../replies.js';

/**
 * The catalogue in an admin's hands: `/rewards` lists every reward with its status and stock,
 * with a pause/resume toggle for each (the first ones); `/reward_pause`, `/reward_resume` and
 * `/reward_stock` change any. The use cases check the role again and leave an audit entry.
 * `/rewards` from anyone else is the customer catalogue.
 */

const MAX_LIST = 50;
/** The toggles menu's id (`rwa/<row>/<column>//h<hash>`), and how many rewards get a toggle. */
const TOGGLES = 'rwa';
const MAX_TOGGLES = 24;
const TOGGLES_PER_ROW = 3;

export function rewardsAdminFeature(deps: BotDeps): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  const { domain } = deps;
  const privateChats = composer.chatType('private');

  const adminOnly = (ctx: BotContext) => requireRole(domain, ctx.from?.id as number, ['ADMIN']);
  const words = (text: string) => text.trim().split(/\s+/).filter(Boolean);
  const usage = (ctx: BotContext, command: string) => ctx.reply(ctx.t(`reward_admin.usage.${command}`), { parse_mode: 'HTML' });
  const stockText = (ctx: BotContext, reward: Reward) => (reward.stock === null ? ctx.t('reward_admin.unlimited') : String(reward.stock));

  /** The list as an admin reads it; its keyboard is the toggles menu, rendered from the same read. */
  function listText(ctx: BotContext, rewards: Reward[]): string {
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
    return lines.join('\n');
  }

  /**
   * Pause/resume toggles under the list, a @grammyjs/menu: a button carries only its place, and
   * its label (⏸ pauses, ▶️ resumes) is rendered again at the tap from the rewards as they are now,
   * for the tapper, and only for an admin. A button whose reward changed meanwhile (paused by a
   * command, by another admin) is outdated: answered as such, nothing toggled back. The use cases
   * check the role again and leave the audit entry.
   */
  const shown = new WeakMap<BotContext, Reward[]>();
  async function rewardsFor(ctx: BotContext): Promise<Reward[]> {
    const known = shown.get(ctx);
    if (known) return known;
    const telegramId = ctx.from?.id;
    const rewards = telegramId !== undefined && (await findPrincipal(domain, telegramId))?.role === 'ADMIN' ? await listRewards(domain, telegramId) : [];
    shown.set(ctx, rewards);
    return rewards;
  }
  const toggles = new Menu<BotContext>(TOGGLES, {
    autoAnswer: false,
    onMenuOutdated: guard(async (ctx) => {
      await adminOnly(ctx);
      await ack(ctx, ctx.t('common.stale_button'));
    }),
  });
  toggles.dynamic(async (ctx, range) => {
    const rewards = (await rewardsFor(ctx)).slice(0, MAX_TOGGLES);
    rewards.forEach((reward, i) => {
      range.text(
        `${reward.active ? '⏸' : '▶️'} ${reward.code}`,
        guard((tap) => toggle(tap, reward)),
      );
      if (i % TOGGLES_PER_ROW === TOGGLES_PER_ROW - 1) range.row();
    });
  });
  privateChats.use(toggles);

  async function toggle(ctx: BotContext, reward: Reward) {
    await adminOnly(ctx);
    const admin = ctx.from?.id as number;
    const changed = reward.active ? await pauseReward(domain, admin, reward.code) : await resumeReward(domain, admin, reward.code);
    await ack(ctx, popupText(ctx.t(changed.active ? 'reward_admin.resumed_done' : 'reward_admin.paused_done', { code: changed.code })));
    // The list and its toggles again, as they are after the change.
    const rewards = await listRewards(domain, admin);
    shown.set(ctx, rewards);
    await ctx.editMessageText(listText(ctx, rewards), { parse_mode: 'HTML' });
  }

  privateChats.command(
    'rewards',
    guard(async (ctx, next) => {
      if ((await findPrincipal(domain, ctx.from.id))?.role !== 'ADMIN') return next();
      const rewards = await rewardsFor(ctx);
      await ctx.reply(listText(ctx, rewards), { parse_mode: 'HTML', ...(rewards.length > 0 ? { reply_markup: toggles } : {}) });
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
