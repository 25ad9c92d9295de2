import { Composer, InputFile, InputMediaBuilder } from 'grammy';
import { computeStats, parseStatsPeriod, type StatsReport, statsToday } from '../../domain/analytics/stats.js';
import { addDays } from '../../domain/jobs/schedule-rules.js';
import { minorDigits } from '../../domain/ledger/earn-rules.js';
import { requireRole } from '../../domain/staff/access.js';
import type { BotContext, BotDeps } from '../context.js';
import { guard } from '../replies.js';
import { averageCheckChart, type CampaignLift, type ChartText, cohortHeatmap, liftChart, membersChart, pointsChart } from '../stats/charts.js';
import { type ChartOption, renderPngs } from '../stats/render.js';

/**
 * `/stats [period]` for marketers and admins (issue 16): the program's KPIs as a short text and
 * its charts as one media group. The role is checked on the server before anything is read;
 * the period is parsed in the domain and a wrong one gets examples, nothing else.
 */

const CHART_SIZE = { width: 1000, height: 560 };
const PERCENT_LOCALE = { ru: 'ru-RU', en: 'en-GB' } as const;

export interface StatsOptions {
  /** Campaign lifts for the lift chart; none until broadcasts measure them. */
  campaignLifts?: () => Promise<CampaignLift[]>;
}

export function statsFeature(deps: BotDeps, options: StatsOptions = {}): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  const { domain } = deps;

  composer.chatType('private').command(
    'stats',
    guard(async (ctx) => {
      const principal = await requireRole(domain, ctx.from.id, ['MARKETER']);
      const period = parseStatsPeriod(ctx.match, statsToday(domain));
      if (!period) return ctx.reply(ctx.t('stats.bad_period'), { parse_mode: 'HTML' });
      // A marketer bound to a store sees that store only (admins and chain marketers: the chain).
      const store = principal.storeId === null ? null : await domain.repos.stores.findById(principal.storeId);
      await ctx.replyWithChatAction('upload_photo');
      // Campaign lifts are chain-wide: not shown to a store's marketer.
      const [report, lifts] = await Promise.all([
        computeStats(domain, period, principal.storeId),
        principal.storeId === null && options.campaignLifts ? options.campaignLifts() : Promise.resolve([]),
      ]);
      await ctx.reply(summary(ctx, report, lifts.length > 0, store?.name ?? null), { parse_mode: 'HTML' });
      const text: ChartText = {
        t: (key, vars) => ctx.t(key, { ...vars, interpolation: { escapeValue: false } }),
        major: (minor) => minor / 10 ** minorDigits(domain.program.currency),
      };
      const charts: ChartOption[] = [
        membersChart(report.series.points, report.series.granularity, text),
        averageCheckChart(report.series.points, report.series.granularity, text),
        cohortHeatmap(report.cohorts.cohorts, text),
        pointsChart(report.series.points, report.series.granularity, text),
      ];
      if (lifts.length > 0) charts.push(liftChart(lifts, text));
      const images = await renderPngs(charts, CHART_SIZE);
      await ctx.replyWithMediaGroup(
        images.map((image, index) =>
          InputMediaBuilder.photo(new InputFile(image, `stats-${index + 1}.png`), index === 0 ? { caption: periodLine(ctx, report) } : {}),
        ),
      );
    }),
  );

  return composer;
}

const periodLine = (ctx: BotContext, report: StatsReport) =>
  ctx.t('stats.period', { from: ctx.fmt.calendarDate(report.period.from), to: ctx.fmt.calendarDate(addDays(report.period.to, -1)) });

function summary(ctx: BotContext, report: StatsReport, hasLifts: boolean, storeName: string | null): string {
  const { kpis } = report;
  const percentFormat = new Intl.NumberFormat(PERCENT_LOCALE[ctx.locale], { style: 'percent', maximumFractionDigits: 1 });
  const na = ctx.t('stats.na');
  const percent = (value: number | null) => (value === null ? na : percentFormat.format(value));
  const money = (minor: number | null) => (minor === null ? na : ctx.fmt.money(minor));
  const number = (value: number | null) => (value === null ? na : ctx.fmt.number(value));
  const lines = [
    `<b>${ctx.t('stats.title')}</b>`,
    periodLine(ctx, report),
    ...(storeName === null ? [] : [ctx.t('stats.store', { store: storeName })]),
    '',
    ctx.t('stats.members', {
      members: number(kpis.membership.members),
      new: number(kpis.membership.newMembers),
      active: number(kpis.membership.activeMembers),
      activeDays: kpis.activeDays,
      rate: percent(kpis.membership.activeRate),
    }),
    ctx.t('stats.average_check', { members: money(kpis.buying.averageCheckMembersMinor), others: money(kpis.buying.averageCheckNonMembersMinor) }),
    ctx.t('stats.repeat_rate', { rate: percent(kpis.buying.repeatPurchaseRate) }),
    ctx.t('stats.churn', { rate: percent(kpis.churn.rate), days: kpis.churnDays }),
    ctx.t('stats.points', { issued: number(kpis.points.issued), redeemed: number(kpis.points.redeemed), expired: number(kpis.points.expired) }),
    ctx.t('stats.liability', { amount: money(kpis.points.liabilityMinor) }),
    ctx.t('stats.cost', { amount: money(kpis.cost.totalMinor) }),
    kpis.value.roi === null ? ctx.t('stats.roi_unknown') : ctx.t('stats.roi', { rate: percent(kpis.value.roi) }),
    kpis.nps === null || kpis.nps.nps === null ? ctx.t('stats.nps_none') : ctx.t('stats.nps', { nps: kpis.nps.nps, answered: number(kpis.nps.answered) }),
  ];
  if (!hasLifts) lines.push('', ctx.t('stats.no_campaigns'));
  return lines.join('\n');
}
