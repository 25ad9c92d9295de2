import { Composer, InputFile, type NextFunction } from 'grammy';
import { z } from 'zod';
import { csvCell } from '../../domain/csv.js';
import { markAlertHandled } from '../../domain/nps/handle-alert.js';
import { exportNpsAnswers, MAX_PERIOD_DAYS, type NpsReport, npsReportForMarketer } from '../../domain/nps/report.js';
import type { NpsSummary } from '../../domain/nps/score.js';
import { answerSurvey, completeSurvey, toggleSurveyReason } from '../../domain/nps/surveys.js';
import type { SurveyAnswerRow } from '../../domain/nps/types.js';
import { requireRole } from '../../domain/staff/access.js';
import { inviteLink } from '../../domain/tasks/referrals.js';
import { callbackData } from '../callback-data.js';
import type { BotContext, BotDeps } from '../context.js';
import { alertText, NPS_PREFIX, reasonKeyboard, scoreKeyboard } from '../nps-messages.js';
import { ack, guard } from '../replies.js';

/**
 * NPS in the chat. Customers: the 0-10 answer, the follow-up (quick-reply reasons, or a comment
 * typed: the session remembers which survey a comment is for), thanks and, for promoters, their
 * referral link. Staff: "Mark handled" under a detractor's alert. Marketers: `/nps [days]`, the
 * CSV export, and «Survey a segment» (the broadcast wizard's audience builder, `bc:nps`). Every
 * tap is re-checked by the domain; the callback data is only a request.
 */

const DEFAULT_DAYS = 30;
const MAX_REPORT_LINES = 20;
const TOP_REASONS = 5;

const sessionSchema = z.object({
  surveyId: z.number().int(),
  /** The follow-up message, whose buttons go away once it is answered. */
  messageId: z.number().int().nullable(),
  touchedAt: z.number(),
});
type CommentSession = z.infer<typeof sessionSchema>;

export interface NpsFeatures {
  /** Survey, alert and marketer buttons and the /nps command: before registration. */
  nps: Composer<BotContext>;
  /** A comment typed during the follow-up: after the customer menus (their buttons win). */
  npsInput: Composer<BotContext>;
}

/** The answers as CSV (UTF-8 with a BOM, so that spreadsheets read Cyrillic right); times in UTC, ISO 8601. */
export function answersCsv(rows: readonly SurveyAnswerRow[]): string {
  const header = ['survey_id', 'sent_at', 'answered_at', 'store', 'member_code', 'score', 'group', 'reasons', 'comment', 'handled_at'];
  const lines = [header.join(',')];
  for (const row of rows) {
    lines.push(
      [
        row.id,
        row.sentAt.toISOString(),
        row.answeredAt.toISOString(),
        row.storeCode,
        row.memberCode,
        row.score,
        row.group,
        row.reasons.join(' '),
        row.comment,
        row.handledAt?.toISOString() ?? null,
      ]
        .map(csvCell)
        .join(','),
    );
  }
  return `\uFEFF${lines.join('\r\n')}\r\n`;
}

export function npsFeatures(deps: BotDeps): NpsFeatures {
  const composer = new Composer<BotContext>();
  const { domain } = deps;
  const { program } = domain;
  const windowMs = () => program.nps.changeWindowMinutes * 60_000;

  async function loadSession(ctx: BotContext): Promise<CommentSession | null> {
    const parsed = sessionSchema.safeParse(await ctx.sessions.read('nps'));
    if (!parsed.success) return null;
    if (domain.clock.now().getTime() - parsed.data.touchedAt > windowMs()) return null;
    return parsed.data;
  }
  const saveSession = (ctx: BotContext, value: Omit<CommentSession, 'touchedAt'>) =>
    ctx.sessions.write('nps', { ...value, touchedAt: domain.clock.now().getTime() } satisfies CommentSession);
  const clearSession = (ctx: BotContext) => ctx.sessions.delete('nps');

  const dropButtons = (ctx: BotContext) => ctx.editMessageReplyMarkup().catch(() => undefined);

  async function thank(ctx: BotContext, result: { reward: number; referralToken: string | null }) {
    const lines = [result.reward > 0 ? ctx.t('nps.thanks_reward', { points: ctx.t('common.points', { count: result.reward }) }) : ctx.t('nps.thanks')];
    if (result.referralToken) lines.push(ctx.t('nps.referral', { link: inviteLink(ctx.me.username, result.referralToken) }));
    await ctx.reply(lines.join('\n\n'), { parse_mode: 'HTML', link_preview_options: { is_disabled: true } });
  }

  // --- customers: the score, the reasons, «Done» ---------------------------------------------

  composer.callbackQuery(/^nps:s:(\d{1,10}):(\d{1,3})$/, async (ctx) => {
    const surveyId = Number(ctx.match[1]);
    const score = Number(ctx.match[2]);
    const result = await answerSurvey(domain, { telegramId: ctx.from.id, surveyId, score });
    switch (result.outcome) {
      case 'unknown':
      case 'invalid':
        return ack(ctx, ctx.t('common.stale_button'));
      case 'closed':
        await ack(ctx, ctx.t('nps.closed'));
        return dropButtons(ctx);
      case 'same':
        return ack(ctx, ctx.t('nps.same', { score }));
      case 'answered':
      case 'changed': {
        await ack(ctx, ctx.t(result.outcome === 'answered' ? 'nps.saved' : 'nps.changed', { score }));
        await ctx.editMessageReplyMarkup({ reply_markup: scoreKeyboard(surveyId, score) }).catch(() => undefined);
        const { survey } = result;
        if (!result.followUp || survey.group === null) return;
        const followUp = await ctx.reply(`${ctx.t('nps.your_score', { score })}\n\n${ctx.t(`nps.follow.${survey.group}`)}`, {
          parse_mode: 'HTML',
          reply_markup: reasonKeyboard(ctx.t, program, ctx.locale, { id: survey.id, group: survey.group, reasons: survey.reasons }),
        });
        await saveSession(ctx, { surveyId: survey.id, messageId: followUp.message_id });
        return;
      }
    }
  });

  composer.callbackQuery(/^nps:r:(\d{1,10}):([a-z0-9_-]{1,16})$/, async (ctx) => {
    const surveyId = Number(ctx.match[1]);
    const result = await toggleSurveyReason(domain, { telegramId: ctx.from.id, surveyId, code: ctx.match[2] as string });
    if (result.outcome === 'closed') {
      await ack(ctx, ctx.t('nps.closed'));
      return dropButtons(ctx);
    }
    if (result.outcome !== 'toggled' || result.survey.group === null) return ack(ctx, ctx.t('common.stale_button'));
    await ack(ctx);
    const { survey } = result;
    await ctx
      .editMessageReplyMarkup({
        reply_markup: reasonKeyboard(ctx.t, program, ctx.locale, {
          id: survey.id,
          group: survey.group as NonNullable<typeof survey.group>,
          reasons: survey.reasons,
        }),
      })
      .catch(() => undefined);
    await saveSession(ctx, { surveyId: survey.id, messageId: ctx.callbackQuery.message?.message_id ?? null });
  });

  composer.callbackQuery(/^nps:d:(\d{1,10})$/, async (ctx) => {
    const result = await completeSurvey(domain, { telegramId: ctx.from.id, surveyId: Number(ctx.match[1]), comment: null });
    if (result.outcome === 'closed') {
      await ack(ctx, ctx.t('nps.closed'));
      return dropButtons(ctx);
    }
    if (result.outcome !== 'completed') return ack(ctx, ctx.t('common.stale_button'));
    await ack(ctx);
    await dropButtons(ctx);
    await clearSession(ctx);
    await thank(ctx, result);
  });

  // --- staff: a detractor's alert handled ----------------------------------------------------

  composer.callbackQuery(
    /^nps:h:(\d{1,10})$/,
    guard(async (ctx) => {
      const telegramId = ctx.from?.id as number;
      const result = await markAlertHandled(domain, telegramId, Number(ctx.match?.[1]));
      if (result.outcome === 'unknown') return ack(ctx, ctx.t('common.stale_button'));
      const name = result.handlerName ?? (result.handledBy === telegramId ? ctx.from?.first_name : null) ?? String(result.handledBy);
      await ack(ctx, result.outcome === 'handled' ? ctx.t('nps.alert.handled') : ctx.t('nps.alert.already', { name }));
      const text = `${alertText(ctx.t, program, ctx.locale, result.alert)}\n\n${ctx.t('nps.alert.handled_line', { name, date: ctx.fmt.dateTime(result.handledAt) })}`;
      await ctx.editMessageText(text, { parse_mode: 'HTML' }).catch(() => undefined);
    }),
  );

  // --- marketers: /nps [days] and the CSV ----------------------------------------------------

  const privateChats = composer.chatType('private');

  const npsValue = (ctx: BotContext, value: number | null) => (value === null ? ctx.t('nps.report.na') : ctx.fmt.signed(value));
  const rateValue = (ctx: BotContext, summary: NpsSummary) => (summary.responseRate === null ? ctx.t('nps.report.na') : `${summary.responseRate}%`);

  function reportText(ctx: BotContext, report: NpsReport): string {
    const dates = { from: ctx.fmt.calendarDate(report.period.from), to: ctx.fmt.calendarDate(report.period.to) };
    const lines = [report.store ? ctx.t('nps.report.title_store', { ...dates, store: report.store.name }) : ctx.t('nps.report.title', dates), ''];
    const { overall } = report;
    if (overall.sent === 0) {
      lines.push(ctx.t('nps.report.no_surveys'));
      return lines.join('\n');
    }
    lines.push(ctx.t('nps.report.overall', { nps: npsValue(ctx, overall.nps), answered: overall.answered, sent: overall.sent, rate: rateValue(ctx, overall) }));
    lines.push(ctx.t('nps.report.groups', { promoters: overall.promoters, passives: overall.passives, detractors: overall.detractors }));
    if (!report.store && report.stores.length > 0) {
      lines.push('', ctx.t('nps.report.stores_title'));
      for (const store of report.stores.slice(0, MAX_REPORT_LINES)) {
        lines.push(
          ctx.t('nps.report.store_line', {
            store: store.name ?? ctx.t('nps.report.no_store'),
            nps: npsValue(ctx, store.summary.nps),
            answered: store.summary.answered,
            sent: store.summary.sent,
          }),
        );
      }
    }
    lines.push('', ctx.t('nps.report.weeks_title'));
    for (const week of report.weeks.slice(-MAX_REPORT_LINES)) {
      lines.push(
        ctx.t('nps.report.week_line', { week: ctx.fmt.calendarDate(week.weekStart), nps: npsValue(ctx, week.summary.nps), answered: week.summary.answered }),
      );
    }
    if (report.reasons.length > 0) {
      lines.push('', ctx.t('nps.report.reasons_title'));
      for (const reason of report.reasons.slice(0, TOP_REASONS)) {
        lines.push(
          ctx.t('nps.report.reason_line', {
            reason: reason.title?.[ctx.locale] ?? reason.code,
            group: ctx.t(`nps.report.group.${reason.group}`),
            count: reason.count,
          }),
        );
      }
    }
    return lines.join('\n');
  }

  privateChats.command(
    'nps',
    guard(async (ctx) => {
      const arg = ctx.match.trim();
      const days = arg === '' ? DEFAULT_DAYS : /^\d{1,3}$/.test(arg) ? Number(arg) : Number.NaN;
      if (!(days >= 1 && days <= MAX_PERIOD_DAYS)) {
        // Still only for marketers: anyone else learns nothing about the command.
        await requireRole(domain, ctx.from.id, ['MARKETER']);
        await ctx.reply(ctx.t('nps.report.usage'), { parse_mode: 'HTML' });
        return;
      }
      const report = await npsReportForMarketer(domain, ctx.from.id, days);
      const rows = report.overall.answered > 0 ? [[{ text: ctx.t('nps.report.export'), callback_data: callbackData(NPS_PREFIX, 'x', days) }]] : [];
      // A survey to a segment: the broadcast wizard's audience builder (src/bot/features/broadcasts.ts).
      if (program.nps.enabled) rows.push([{ text: ctx.t('nps.report.survey_button'), callback_data: 'bc:nps' }]);
      const keyboard = rows.length > 0 ? { reply_markup: { inline_keyboard: rows } } : {};
      await ctx.reply(reportText(ctx, report), { parse_mode: 'HTML', ...keyboard });
    }),
  );

  composer.callbackQuery(
    /^nps:x:(\d{1,3})$/,
    guard(async (ctx) => {
      const { period, rows, truncated } = await exportNpsAnswers(domain, ctx.from?.id as number, Number(ctx.match?.[1]));
      if (rows.length === 0) return ack(ctx, ctx.t('nps.report.export_empty'));
      await ack(ctx);
      const caption = [
        ctx.t('nps.report.export_caption', { from: ctx.fmt.calendarDate(period.from), to: ctx.fmt.calendarDate(period.to), count: rows.length }),
      ];
      if (truncated) caption.push(ctx.t('nps.report.export_truncated', { count: rows.length }));
      await ctx.replyWithDocument(new InputFile(Buffer.from(answersCsv(rows), 'utf8'), `nps-${period.from}-${period.to}.csv`), { caption: caption.join('\n') });
    }),
  );

  // Anything else under the prefix (an old button, forged data): acknowledged, nothing done.
  composer.callbackQuery(/^nps:/, (ctx) => ack(ctx, ctx.t('common.stale_button')));

  // --- the comment ---------------------------------------------------------------------------

  async function commentText(ctx: BotContext, next: NextFunction) {
    const text = ctx.message?.text;
    const telegramId = ctx.from?.id;
    if (text === undefined || telegramId === undefined || text.startsWith('/')) return next();
    const session = await loadSession(ctx);
    if (!session) return next();
    const result = await completeSurvey(domain, { telegramId, surveyId: session.surveyId, comment: text });
    await clearSession(ctx);
    if (result.outcome === 'unknown' || result.outcome === 'invalid') return next();
    if (session.messageId !== null && ctx.chat) await ctx.api.editMessageReplyMarkup(ctx.chat.id, session.messageId).catch(() => undefined);
    if (result.outcome === 'closed') {
      await ctx.reply(ctx.t('nps.comment_closed'));
      return;
    }
    await thank(ctx, result);
  }

  const npsInput = new Composer<BotContext>();
  npsInput
    .chatType('private')
    .filter((ctx) => ctx.member?.status === 'ACTIVE')
    .on('message:text', commentText);

  return { nps: composer, npsInput };
}
