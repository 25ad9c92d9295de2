import { Composer, InlineKeyboard } from 'grammy';
import { formatCouponCode } from '../../domain/codes.js';
import type { Member } from '../../domain/members/member.js';
import { type ChannelMembership, checkIn, claimTask, verifyChannel, visitStore } from '../../domain/tasks/actions.js';
import { getLeaderboard, setLeaderboardProfile } from '../../domain/tasks/leaderboard.js';
import { getTasksOverview, type TasksOverview, type TaskView } from '../../domain/tasks/overview.js';
import type { TaskEventOutcome } from '../../domain/tasks/process-event.js';
import { inviteLink, referralTokenOf, rotateReferralToken } from '../../domain/tasks/referrals.js';
import type { GrantedReward } from '../../domain/tasks/rewards.js';
import type { TaskReward } from '../../domain/tasks/types.js';
import { type Buttons, forActiveMembers } from '../buttons.js';
import { callbackData } from '../callback-data.js';
import { telegramChannelMembership } from '../channel-membership.js';
import type { BotContext, BotDeps } from '../context.js';
import { mainMenu } from '../keyboards.js';
import type { Screens } from '../screens.js';

/**
 * «Tasks»: the member's open tasks with progress bars and time left, the check-in streak and its
 * button, rewards to claim, badges, invite-a-friend and the opt-in leaderboard. Buttons carry
 * only a hint (`tsk:…`): every handler works on the member behind the update and re-checks state.
 */

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const MAX_TEXT = 4000;

/** ▰▰▰▱▱: one segment per unit up to 10, else tenths. */
export function progressBar(progress: number, goal: number): string {
  const segments = Math.min(goal, 10);
  const filled = Math.min(segments, Math.floor((Math.min(progress, goal) / goal) * segments));
  return '▰'.repeat(filled) + '▱'.repeat(segments - filled);
}

export function tasksFeature(deps: BotDeps, screens: Screens, buttons: Buttons, options: { channel?: ChannelMembership } = {}): Composer<BotContext> {
  const composer = new Composer<BotContext>();
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

  /** The invite screen: the link with the member's opaque token (never the card code), share and «New link». */
  async function showInvite(ctx: BotContext) {
    const overview = await getTasksOverview(domain, ctx.from?.id as number);
    const rules = program.tasks.referrals;
    const link = inviteLink(ctx.me.username, await referralTokenOf(domain, overview.member));
    const values = { referrer: points(ctx, rules.referrerPoints), friend: points(ctx, rules.friendPoints), min: ctx.fmt.money(rules.minPurchaseMinor) };
    const text = [
      ctx.t(rules.minPurchaseMinor > 0 ? 'tasks.invite_text_min' : 'tasks.invite_text', values),
      ctx.t('tasks.invite_link', { link }),
      ctx.t('tasks.invite_rules'),
      friendsLine(ctx, overview.referrals.joined, overview.referrals.bought),
    ].join('\n\n');
    const share = `https://t.me/share/url?url=${encodeURIComponent(link)}&text=${encodeURIComponent(plain(ctx.t('tasks.share_text', { program: program.name[ctx.locale] })))}`;
    await editTo(
      ctx,
      text,
      new InlineKeyboard()
        .url(ctx.t('tasks.btn_share'), share)
        .row()
        .text(ctx.t('tasks.btn_new_link'), callbackData('tsk', 'ref', 'new'))
        .row()
        .text(ctx.t('common.back'), callbackData('tsk', 'home')),
    );
  }

  /** Referral buttons do nothing once the program has switched referrals off. */
  async function referralsOff(ctx: BotContext): Promise<boolean> {
    if (program.tasks.referrals.enabled) return false;
    await ctx.answerCallbackQuery({ text: ctx.t('errors.TASK_NOT_FOUND') });
    return true;
  }

  active.callbackQuery('tsk:ref', async (ctx) => {
    if (await referralsOff(ctx)) return;
    await ctx.answerCallbackQuery();
    await showInvite(ctx);
  });

  // «New link» asks first: the old link, wherever it was shared, stops working.
  active.callbackQuery('tsk:ref:new', async (ctx) => {
    if (await referralsOff(ctx)) return;
    await ctx.answerCallbackQuery();
    await editTo(
      ctx,
      ctx.t('tasks.new_link_confirm'),
      new InlineKeyboard()
        .text(ctx.t('tasks.btn_new_link_yes'), callbackData('tsk', 'ref', 'new', 'yes'))
        .text(ctx.t('common.cancel'), callbackData('tsk', 'ref')),
    );
  });

  active.callbackQuery('tsk:ref:new:yes', async (ctx) => {
    if (await referralsOff(ctx)) return;
    await rotateReferralToken(domain, ctx.from.id);
    await ctx.answerCallbackQuery({ text: ctx.t('tasks.new_link_done'), show_alert: true });
    await showInvite(ctx);
  });

  async function showLeaderboard(ctx: BotContext) {
    const board = await getLeaderboard(domain, ctx.member as Member);
    const { t } = ctx;
    const score = (value: number) => (board.metric === 'points' ? points(ctx, value) : t('tasks.tasks_count', { count: value }));
    const month = new Intl.DateTimeFormat(ctx.locale === 'ru' ? 'ru-RU' : 'en-GB', { month: 'long', year: 'numeric', timeZone: 'UTC' }).format(
      new Date(`${board.month}-15T00:00:00Z`),
    );
    const lines = [t('tasks.lb_title', { month, metric: t(board.metric === 'points' ? 'tasks.lb_metric_points' : 'tasks.lb_metric_tasks') }), ''];
    if (board.top.length === 0) lines.push(t('tasks.lb_empty'));
    for (const line of board.top) {
      const text = t('tasks.lb_line', { rank: line.rank, name: line.name ?? t('tasks.lb_hidden'), score: score(line.score) });
      lines.push(line.own ? `👉 <b>${text}</b>` : text);
    }
    lines.push('');
    if (board.profile.leaderboard && board.own) {
      lines.push(`${t('tasks.lb_own', { rank: board.own.rank, count: board.participants })} · ${score(board.own.score)}`);
      lines.push(t('tasks.lb_shown_as', { style: t(`tasks.lb_style.${board.profile.nameStyle}`) }));
    } else lines.push(t('tasks.lb_not_joined'));

    const keyboard = new InlineKeyboard();
    keyboard.text(t(board.profile.leaderboard ? 'tasks.lb_leave' : 'tasks.lb_join'), callbackData('tsk', 'lb', board.profile.leaderboard ? 'off' : 'on')).row();
    for (const style of ['INITIALS', 'FIRST_NAME', 'HIDDEN'] as const) {
      const label = t(`tasks.lb_style.${style}`);
      keyboard.text(board.profile.nameStyle === style ? `• ${label}` : label, callbackData('tsk', 'lb', 'n', style));
    }
    keyboard.row().text(t('common.back'), callbackData('tsk', 'home'));
    await editTo(ctx, lines.join('\n'), keyboard);
  }

  active.callbackQuery('tsk:lb', async (ctx) => {
    await ctx.answerCallbackQuery();
    await showLeaderboard(ctx);
  });
  active.callbackQuery(/^tsk:lb:(on|off)$/, async (ctx) => {
    const on = ctx.match[1] === 'on';
    await setLeaderboardProfile(domain, ctx.from.id, { leaderboard: on });
    await ctx.answerCallbackQuery({ text: ctx.t(on ? 'tasks.lb_joined' : 'tasks.lb_left') });
    await showLeaderboard(ctx);
  });
  active.callbackQuery(/^tsk:lb:n:(INITIALS|FIRST_NAME|HIDDEN)$/, async (ctx) => {
    await setLeaderboardProfile(domain, ctx.from.id, { nameStyle: ctx.match[1] as 'INITIALS' | 'FIRST_NAME' | 'HIDDEN' });
    await ctx.answerCallbackQuery({ text: ctx.t('tasks.lb_style_set') });
    await showLeaderboard(ctx);
  });

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

const escapeHtml = (value: string) => value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** Popups and share texts are plain text: no tags, no entities. */
const plain = (value: string) =>
  value
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');
