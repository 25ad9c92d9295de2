import { type Composer, InlineKeyboard } from 'grammy';
import type { Member } from '../../../domain/members/member.js';
import { getLeaderboard, setLeaderboardProfile } from '../../../domain/tasks/leaderboard.js';
import { getTasksOverview } from '../../../domain/tasks/overview.js';
import { inviteLink, referralTokenOf, rotateReferralToken } from '../../../domain/tasks/referrals.js';
import { callbackData } from '../../callback-data.js';
import type { BotContext } from '../../context.js';
import { plain, type TasksView } from './view.js';

/** Invite-a-friend (the link, sharing it, a new link) and the opt-in leaderboard. */
export function socialHandlers(active: Composer<BotContext>, view: TasksView): void {
  const { domain, program, points, friendsLine, editTo } = view;

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
}
