import { Composer } from 'grammy';
import type { Member } from '../../../domain/members/member.js';
import { type ChannelMembership, checkIn, claimTask, verifyChannel, visitStore } from '../../../domain/tasks/actions.js';
import { getTasksOverview } from '../../../domain/tasks/overview.js';
import { type Buttons, forActiveMembers } from '../../buttons.js';
import { telegramChannelMembership } from '../../channel-membership.js';
import type { BotContext, BotDeps } from '../../context.js';
import { mainMenu } from '../../keyboards.js';
import type { Screens } from '../../screens.js';
import { socialHandlers } from './social.js';
import { plain, tasksView } from './view.js';

export { progressBar } from './view.js';

/**
 * «Tasks»: the member's open tasks with progress bars and time left, the check-in streak and its
 * button, rewards to claim, badges, invite-a-friend and the opt-in leaderboard. Buttons carry
 * only a hint (`tsk:…`): every handler works on the member behind the update and re-checks state.
 */

export function tasksFeature(deps: BotDeps, screens: Screens, buttons: Buttons, options: { channel?: ChannelMembership } = {}): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  const view = tasksView(deps);
  const { domain, program, points, render, editTo, screen, refresh, outcomeLines, rewardText } = view;

  const active = composer.filter((ctx) => ctx.member?.status === 'ACTIVE');

  const showTasks = async (ctx: BotContext) => {
    const { text, keyboard } = await screen(ctx);
    await ctx.reply(text, { parse_mode: 'HTML', reply_markup: keyboard, link_preview_options: { is_disabled: true } });
  };
  screens.register('tasks', showTasks);
  active.command('tasks', showTasks);
  buttons.on('menu.tasks', forActiveMembers(showTasks));

  active.callbackQuery('tsk:home', async (ctx) => {
    await ctx.answerCallbackQuery();
    await refresh(ctx);
  });

  active.callbackQuery('tsk:in', async (ctx) => {
    const outcome = await checkIn(domain, ctx.from.id);
    if (outcome.duplicate) {
      await ctx.answerCallbackQuery({ text: ctx.t('tasks.already_checked_in') });
    } else {
      const overview = await getTasksOverview(domain, ctx.from.id);
      const streak = overview.checkIn?.current ?? 0;
      const earned = outcome.updates.reduce((sum, u) => sum + (u.reward?.points ?? 0), 0);
      const lines = [ctx.t('tasks.checked_in', { days: ctx.t('tasks.days', { count: streak }) })];
      if (earned > 0) lines.push(ctx.t('tasks.earned', { points: points(ctx, earned) }));
      lines.push(...outcomeLines(ctx, { ...outcome, updates: outcome.updates.filter((u) => u.task.kind !== 'checkIn') }));
      await ctx.answerCallbackQuery({ text: plain(lines.join('\n')).slice(0, 200), show_alert: outcome.milestones.length > 0 });
      const { text, keyboard } = render(ctx, overview);
      await editTo(ctx, text, keyboard);
      return;
    }
    await refresh(ctx);
  });

  active.callbackQuery(/^tsk:claim:([a-z][a-z0-9_-]{0,31}):([\w-]{1,10})$/, async (ctx) => {
    const reward = await claimTask(domain, ctx.from.id, ctx.match[1] as string, ctx.match[2] as string);
    await ctx.answerCallbackQuery({ text: plain(ctx.t('tasks.claimed', { reward: rewardText(ctx, reward) })).slice(0, 200), show_alert: true });
    await refresh(ctx, true);
  });

  active.callbackQuery('tsk:ch', async (ctx) => {
    const chat = program.tasks.channel?.chat;
    const membership = options.channel ?? (chat ? telegramChannelMembership(ctx.api, chat) : undefined);
    if (!membership) {
      await ctx.answerCallbackQuery({ text: ctx.t('errors.TASK_NOT_FOUND') });
      return;
    }
    const result = await verifyChannel(domain, ctx.from.id, membership);
    if (!result.joined) {
      await ctx.answerCallbackQuery({ text: ctx.t('tasks.channel_not_member'), show_alert: true });
      return;
    }
    const lines = [ctx.t('tasks.channel_ok'), ...(result.outcome ? outcomeLines(ctx, result.outcome) : [])];
    await ctx.answerCallbackQuery({ text: plain(lines.join('\n')).slice(0, 200), show_alert: true });
    await refresh(ctx, true);
  });
  socialHandlers(active, view);

  return composer;
}

/** `/start s_<store>` of an active member: the visit counts (once per store and day) and is answered. */
export async function replyToStoreVisit(deps: BotDeps, ctx: BotContext, member: Member, storeCode: string): Promise<void> {
  const result = await visitStore(deps.domain, member, storeCode, { notify: false });
  const lines = [ctx.t(result.counted ? 'tasks.visit_counted' : 'tasks.visit_already', { store: result.storeName })];
  for (const update of result.outcome.updates) {
    if (update.completed) lines.push(ctx.t('tasks.completed', { title: update.task.title[ctx.locale] }));
  }
  await ctx.reply(lines.join('\n'), { parse_mode: 'HTML', reply_markup: mainMenu(ctx.t, deps.domain.program) });
}
