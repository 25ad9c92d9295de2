import { InlineKeyboard } from 'grammy';
import { formatCouponCode } from '../../../domain/codes.js';
import type { Member } from '../../../domain/members/member.js';
import { getTasksOverview, type TasksOverview, type TaskView } from '../../../domain/tasks/overview.js';
import type { TaskEventOutcome } from '../../../domain/tasks/process-event.js';
import type { GrantedReward } from '../../../domain/tasks/rewards.js';
import type { TaskReward } from '../../../domain/tasks/types.js';
import { callbackData } from '../../callback-data.js';
import type { BotContext, BotDeps } from '../../context.js';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const MAX_TEXT = 4000;

/** ▰▰▰▱▱: one segment per unit up to 10, else tenths. */
export function progressBar(progress: number, goal: number): string {
  const segments = Math.min(goal, 10);
  const filled = Math.min(segments, Math.floor((Math.min(progress, goal) / goal) * segments));
  return '▰'.repeat(filled) + '▱'.repeat(segments - filled);
}

/** The tasks screen and what the handlers (index.ts, social.ts) share. */
export type TasksView = ReturnType<typeof tasksView>;

export function tasksView(deps: BotDeps) {
  const { domain } = deps;
  const { program } = domain;

  const points = (ctx: BotContext, count: number) => ctx.t('common.points', { count });

  function rewardText(ctx: BotContext, reward: TaskReward | GrantedReward): string {
    const parts: string[] = [];
    if (reward.points > 0) parts.push(points(ctx, reward.points));
    const badge = typeof reward.badge === 'string' ? program.tasks.badges.find((b) => b.code === reward.badge) : reward.badge;
    if (badge) parts.push(`${badge.icon} ${badge.name[ctx.locale]}`);
    const couponCode = 'coupon' in reward ? reward.coupon : undefined;
    if (couponCode) {
      const title = program.rewards.catalogue.find((r) => r.code === couponCode)?.title[ctx.locale];
      if (title) parts.push(`🎟 ${title}`);
    }
    if ('couponCode' in reward && reward.couponCode) parts.push(`🎟 ${formatCouponCode(reward.couponCode)}`);
    return parts.join(', ');
  }

  function timeLeft(ctx: BotContext, endsAt: Date): string {
    const ms = endsAt.getTime() - domain.clock.now().getTime();
    if (ms >= DAY_MS) return ctx.t('tasks.left_days', { count: Math.floor(ms / DAY_MS) });
    return ctx.t('tasks.left_hours', { count: Math.max(1, Math.ceil(ms / HOUR_MS)) });
  }

  function progressText(ctx: BotContext, view: TaskView): string {
    const shown = Math.min(view.progress, view.goal);
    if (view.task.kind === 'spend') return `${ctx.fmt.money(shown)} / ${ctx.fmt.money(view.goal)}`;
    return `${shown}/${view.goal}`;
  }

  function taskBlock(ctx: BotContext, view: TaskView): string {
    const title = `<b>${escapeHtml(view.task.title[ctx.locale])}</b>`;
    if (view.rewarded) return `✅ ${title} — ${ctx.t('tasks.done')}`;
    if (view.claimable) return `🎁 ${title} — ${ctx.t('tasks.waiting')}${view.past ? ` (${ctx.t('tasks.earlier')})` : ''}`;
    const lines = [`▫️ ${title}`];
    if (view.task.description) lines.push(`<i>${escapeHtml(view.task.description[ctx.locale])}</i>`);
    lines.push(
      [`${progressBar(view.progress, view.goal)} ${progressText(ctx, view)}`, view.endsAt ? timeLeft(ctx, view.endsAt) : null].filter(Boolean).join(' · '),
    );
    lines.push(ctx.t('tasks.reward', { reward: rewardText(ctx, view.task.reward) }));
    return lines.join('\n');
  }

  /** Daily check-in tasks are the streak line; the list shows everything else. */
  const listed = (view: TaskView) => !(view.task.kind === 'checkIn' && view.task.period === 'day' && view.goal === 1 && !view.claimable);
  const order = (view: TaskView) => (view.claimable ? 0 : view.rewarded ? 2 : 1);

  function render(ctx: BotContext, overview: TasksOverview): { text: string; keyboard: InlineKeyboard } {
    const { t } = ctx;
    const blocks: string[] = [t('tasks.title')];
    if (overview.checkIn) {
      const { current, best, checkedInToday } = overview.checkIn;
      blocks.push(
        [
          t('tasks.streak', { days: t('tasks.days', { count: current }), best: t('tasks.days', { count: best }) }),
          t(checkedInToday ? 'tasks.checked_in_today' : 'tasks.check_in_prompt'),
        ].join('\n'),
      );
    }
    const views = overview.tasks.filter(listed).sort((a, b) => order(a) - order(b));
    for (const view of views) blocks.push(taskBlock(ctx, view));
    if (views.length === 0 && !overview.checkIn) blocks.push(t('tasks.empty'));
    if (overview.badges.length > 0) {
      blocks.push(t('tasks.badges', { badges: overview.badges.map((b) => `${b.icon} ${b.name[ctx.locale]}`).join(', ') }));
    }
    if (overview.referrals.enabled) blocks.push(friendsLine(ctx, overview.referrals.joined, overview.referrals.bought));

    let text = blocks.join('\n\n');
    if (text.length > MAX_TEXT) text = `${text.slice(0, MAX_TEXT - 1)}…`;

    const keyboard = new InlineKeyboard();
    if (overview.checkIn && !overview.checkIn.checkedInToday) keyboard.text(t('tasks.btn_check_in'), callbackData('tsk', 'in')).row();
    for (const view of overview.tasks.filter((v) => v.claimable).slice(0, 5)) {
      const title = view.task.title[ctx.locale];
      keyboard
        .text(
          t('tasks.btn_claim', { title: title.length > 30 ? `${title.slice(0, 29)}…` : title }),
          callbackData('tsk', 'claim', view.task.code, view.periodKey),
        )
        .row();
    }
    const channelOpen = overview.channel && overview.tasks.some((v) => v.task.kind === 'channel' && !v.completed);
    if (overview.channel && channelOpen) {
      keyboard.url(t('tasks.btn_channel_open'), overview.channel.url).text(t('tasks.btn_channel_check'), callbackData('tsk', 'ch')).row();
    }
    if (overview.referrals.enabled) keyboard.text(t('tasks.btn_invite'), callbackData('tsk', 'ref'));
    if (overview.leaderboard.enabled) keyboard.text(t('tasks.btn_leaderboard'), callbackData('tsk', 'lb'));
    return { text, keyboard };
  }

  const friendsLine = (ctx: BotContext, joined: number, bought: number) =>
    ctx.t('tasks.friends', { joined: ctx.t('tasks.friends_joined', { count: joined }), bought: ctx.t('tasks.friends_bought', { count: bought }) });

  async function editTo(ctx: BotContext, text: string, keyboard: InlineKeyboard) {
    await ctx.editMessageText(text, { parse_mode: 'HTML', reply_markup: keyboard, link_preview_options: { is_disabled: true } });
  }

  /**
   * The screen for the member loaded for this update, or, after this handler changed something
   * (a claim, a check-in), for the row as it is now: `fresh` reads it again.
   */
  const screen = async (ctx: BotContext, fresh = false) =>
    render(ctx, await getTasksOverview(domain, fresh ? (ctx.from?.id as number) : (ctx.member as Member)));

  async function refresh(ctx: BotContext, fresh = false) {
    const { text, keyboard } = await screen(ctx, fresh);
    await editTo(ctx, text, keyboard);
  }

  /** One short line per thing an event did: for popups and replies. */
  function outcomeLines(ctx: BotContext, outcome: TaskEventOutcome): string[] {
    const lines: string[] = [];
    for (const update of outcome.updates) {
      if (!update.completed) continue;
      if (update.reward) lines.push(`${ctx.t('tasks.completed', { title: update.task.title[ctx.locale] })} ${rewardText(ctx, update.reward)}`.trim());
      else if (update.claimable) lines.push(`${ctx.t('tasks.completed', { title: update.task.title[ctx.locale] })} ${ctx.t('tasks.waiting')}`);
    }
    for (const milestone of outcome.milestones) {
      lines.push(ctx.t('tasks.milestone', { days: ctx.t('tasks.days', { count: milestone.days }), points: rewardText(ctx, milestone.reward) }));
    }
    return lines;
  }

  return { domain, program, points, rewardText, render, friendsLine, editTo, screen, refresh, outcomeLines };
}

export const escapeHtml = (value: string) => value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** Popups and share texts are plain text: no tags, no entities. */
export const plain = (value: string) =>
  value
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');
