import { Composer, InputFile, InputMediaBuilder } from 'grammy';
import { computeStats, parseStatsPeriod, type StatsReport, statsToday } from '../../domain/analytics/stats.js';
import { marketer } from '../../domain/broadcasts/access.js';
import { recentCampaignLifts } from '../../domain/broadcasts/lift.js';
import { addDays } from '../../domain/jobs/schedule-rules.js';
import { minorDigits } from '../../domain/ledger/earn-rules.js';
import { boundStore, requireRole } from '../../domain/staff/access.js';
import type { BotContext, BotDeps } from '../context.js';
import { guard } from '../replies.js';
import { averageCheckChart, type ChartText, cohortHeatmap, type LiftPoint, liftChart, liftPoints, membersChart, pointsChart } from '../stats/charts.js';
import { type ChartOption, renderPngs } from '../stats/render.js';

/**
 * `/stats [period]` for marketers and admins (issue 16): the program's KPIs as a short text and
 * its charts as one media group. The role is checked on the server before anything is read;
 * the period is parsed in the domain and a wrong one gets examples, nothing else.
 */

const CHART_SIZE = { width: 1000, height: 560 };
const PERCENT_LOCALE = { ru: 'ru-RU', en: 'en-GB' } as const;

/** The latest campaigns on the lift chart (each is measured live: few), the text names the first three. */
const LIFT_CAMPAIGNS = 5;
const LIFT_LINES = 3;

export function statsFeature(deps: BotDeps): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  const { domain } = deps;

  composer.chatType('private').command(
    'stats',
    guard(async (ctx) => {
      const principal = await requireRole(domain, ctx.from.id, ['MARKETER']);
      const period = parseStatsPeriod(ctx.match, statsToday(domain));
      if (!period) return ctx.reply(ctx.t('stats.bad_period'), { parse_mode: 'HTML' });
      // A marketer bound to a store sees that store only (admins and chain marketers: the chain).
      const store = await boundStore(domain, principal);
      await ctx.replyWithChatAction('upload_photo');
      // Campaign lifts are chain-wide: never read for a marketer bound to a store.
      const [report, lifts] = await Promise.all([
        computeStats(domain, period, principal.storeId),
        principal.storeId === null
          ? recentCampaignLifts(domain, marketer(ctx.from.id, ctx.locale), LIFT_CAMPAIGNS).then(liftPoints)
          : Promise.resolve<LiftPoint[]>([]),
      ]);
      await ctx.reply(summary(ctx, report, principal.storeId === null ? lifts : null, store?.name ?? null), { parse_mode: 'HTML' });
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

/** `lifts` null: a store-bound reader, who gets no campaign lines. */
function summary(ctx: BotContext, report: StatsReport, lifts: LiftPoint[] | null, storeName: string | null): string {
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
    ctx.t('stats.cost', {
      amount: money(kpis.cost.totalMinor),
      points: money(kpis.cost.pointsMinor),
      discounts: money(kpis.cost.tierDiscountsMinor),
      coupons: money(kpis.cost.freeCouponsMinor),
    }),
    kpis.value.roi === null ? ctx.t('stats.roi_unknown') : ctx.t('stats.roi', { rate: percent(kpis.value.roi) }),
    kpis.nps === null || kpis.nps.nps === null ? ctx.t('stats.nps_none') : ctx.t('stats.nps', { nps: kpis.nps.nps, answered: number(kpis.nps.answered) }),
  ];
  if (lifts !== null) lines.push('', ...liftLines(ctx, lifts));
  return lines.join('\n');
}

/** "Spring sale: +3.2 pp (95 % CI −1 … +7.4 pp)": lift in percentage points of conversion. */
function liftLines(ctx: BotContext, lifts: LiftPoint[]): string[] {
  if (lifts.length === 0) return [ctx.t('stats.no_campaigns')];
  const pp = new Intl.NumberFormat(PERCENT_LOCALE[ctx.locale], { maximumFractionDigits: 1, signDisplay: 'exceptZero' });
  const points = (fraction: number) => pp.format(fraction * 100);
  return [
    ctx.t('stats.campaigns_title'),
    ...lifts
      .slice(0, LIFT_LINES)
      .map((lift) =>
        lift.ciLow === null || lift.ciHigh === null
          ? ctx.t('stats.campaign_no_ci', { title: lift.title, lift: points(lift.lift) })
          : ctx.t('stats.campaign', { title: lift.title, lift: points(lift.lift), low: points(lift.ciLow), high: points(lift.ciHigh) }),
      ),
  ];
}
