import type { CohortRow } from '../../domain/analytics/cohorts.js';
import type { Granularity, SeriesPoint } from '../../domain/analytics/series.js';
import type { CampaignLift } from '../../domain/broadcasts/lift.js';
import type { ChartOption } from './render.js';

/**
 * The /stats charts as ECharts options, pure (render.ts turns them into PNG). Every word comes
 * from the caller's `text` (locale keys under `stats.chart`), month names included; money on
 * the axes is in major units.
 */

export interface ChartText {
  t: (key: string, vars?: Record<string, unknown>) => string;
  /** Minor units -> major units (12345 kopecks -> 123.45). */
  major: (minor: number) => number;
}

/** A campaign's lift for the chart, as fractions (0.032 = 3.2 percentage points); no interval when the sample is too small. */
export interface LiftPoint {
  broadcastId: number;
  title: string;
  lift: number;
  ciLow: number | null;
  ciHigh: number | null;
  pValue: number | null;
}

/** The one place where recentCampaignLifts()'s percentage points become the chart's fractions. */
export const liftPoints = (lifts: CampaignLift[]): LiftPoint[] =>
  lifts.map((lift) => ({
    broadcastId: lift.broadcastId,
    title: lift.title,
    lift: lift.lift / 100,
    ciLow: lift.ciLow === null ? null : lift.ciLow / 100,
    ciHigh: lift.ciHigh === null ? null : lift.ciHigh / 100,
    pValue: lift.pValue,
  }));

const COLORS = ['#2f6fdf', '#e0692b', '#2a9d6f', '#8a5cd1', '#c0392b'];

const monthName = (text: ChartText, month: number) => text.t(`stats.months.${month}`);

/** The x-axis label of a bucket: "5 Dec" for days and weeks, "Dec 2026" for months. */
export function bucketLabel(start: string, granularity: Granularity, text: ChartText): string {
  const month = monthName(text, Number(start.slice(5, 7)));
  return granularity === 'month' ? `${month} ${start.slice(0, 4)}` : `${Number(start.slice(8, 10))} ${month}`;
}

/** "2026-03" -> "Mar 2026". */
export const cohortLabel = (cohort: string, text: ChartText) => `${monthName(text, Number(cohort.slice(5, 7)))} ${cohort.slice(0, 4)}`;

const base = (title: string, subtitle?: string): ChartOption => ({
  color: COLORS,
  title: { text: title, subtext: subtitle ?? '', left: 16, top: 10, textStyle: { fontSize: 20 } },
  grid: { left: 80, right: 32, top: 90, bottom: 84 },
  legend: { bottom: 8 },
});

const categoryAxis = (labels: string[], name: string) => ({
  type: 'category',
  data: labels,
  name,
  nameLocation: 'middle',
  nameGap: 30,
  axisLabel: { hideOverlap: true },
});
const valueAxis = (name: string) => ({ type: 'value', name, nameTextStyle: { align: 'left' } });

export function membersChart(points: SeriesPoint[], granularity: Granularity, text: ChartText): ChartOption {
  const labels = points.map((point) => bucketLabel(point.start, granularity, text));
  return {
    ...base(text.t('stats.chart.members_title'), text.t(`stats.chart.per_${granularity}`)),
    xAxis: categoryAxis(labels, text.t('stats.chart.axis_date')),
    yAxis: valueAxis(text.t('stats.chart.axis_members')),
    series: [
      { type: 'line', name: text.t('stats.chart.members'), data: points.map((point) => point.members), showSymbol: points.length <= 31 },
      { type: 'bar', name: text.t('stats.chart.active'), data: points.map((point) => point.activeMembers) },
      { type: 'bar', name: text.t('stats.chart.new'), data: points.map((point) => point.newMembers) },
    ],
  };
}

export function averageCheckChart(points: SeriesPoint[], granularity: Granularity, text: ChartText): ChartOption {
  const labels = points.map((point) => bucketLabel(point.start, granularity, text));
  const money = (value: number | null) => (value === null ? null : text.major(value));
  return {
    ...base(text.t('stats.chart.check_title'), text.t(`stats.chart.per_${granularity}`)),
    xAxis: categoryAxis(labels, text.t('stats.chart.axis_date')),
    yAxis: valueAxis(text.t('stats.chart.axis_money')),
    series: [
      { type: 'line', name: text.t('stats.chart.check_members'), data: points.map((point) => money(point.averageCheckMembersMinor)), connectNulls: true },
      {
        type: 'line',
        name: text.t('stats.chart.check_non_members'),
        data: points.map((point) => money(point.averageCheckNonMembersMinor)),
        connectNulls: true,
      },
    ],
  };
}

export function pointsChart(points: SeriesPoint[], granularity: Granularity, text: ChartText): ChartOption {
  const labels = points.map((point) => bucketLabel(point.start, granularity, text));
  const series: Record<string, unknown>[] = [
    { type: 'bar', name: text.t('stats.chart.issued'), data: points.map((point) => point.pointsIssued) },
    { type: 'bar', name: text.t('stats.chart.redeemed'), data: points.map((point) => point.pointsRedeemed) },
  ];
  if (points.every((point) => point.pointsExpired !== null)) {
    series.push({ type: 'bar', name: text.t('stats.chart.expired'), data: points.map((point) => point.pointsExpired) });
  }
  return {
    ...base(text.t('stats.chart.points_title'), text.t(`stats.chart.per_${granularity}`)),
    xAxis: categoryAxis(labels, text.t('stats.chart.axis_date')),
    yAxis: valueAxis(text.t('stats.chart.axis_points')),
    series,
  };
}

/** Retention by registration month: rows = cohorts (oldest on top), columns = months since registration, cells in %. */
export function cohortHeatmap(rows: CohortRow[], text: ChartText): ChartOption {
  const width = Math.max(1, ...rows.map((row) => row.retention.length));
  const columns = Array.from({ length: width }, (_, k) => `${k}`);
  const cohorts = rows.map((row) => `${cohortLabel(row.cohort, text)} (${row.size})`);
  const cells: [number, number, number][] = [];
  rows.forEach((row, y) => {
    row.retention.forEach((share, x) => {
      if (share !== null) cells.push([x, rows.length - 1 - y, Math.round(share * 100)]);
    });
  });
  return {
    ...base(text.t('stats.chart.cohorts_title'), text.t('stats.chart.cohorts_subtitle')),
    grid: { left: 150, right: 32, top: 90, bottom: 60 },
    xAxis: { type: 'category', data: columns, name: text.t('stats.chart.axis_months_since'), nameLocation: 'middle', nameGap: 30, splitArea: { show: true } },
    yAxis: { type: 'category', data: [...cohorts].reverse(), splitArea: { show: true } },
    // The cells carry their percentages: the colour scale needs no legend of its own.
    visualMap: { show: false, min: 0, max: 100, inRange: { color: ['#f4f8ff', '#2f6fdf'] } },
    legend: { show: false },
    series: [{ type: 'heatmap', name: text.t('stats.chart.retention'), data: cells, label: { show: true, formatter: '{@[2]} %' } }],
  };
}

/** Each campaign's lift (fractions, liftPoints()) as a point with its 95 % interval as a whisker (a candlestick whose body is the point). */
export function liftChart(lifts: LiftPoint[], text: ChartText): ChartOption {
  const percent = (value: number) => Math.round(value * 1000) / 10;
  return {
    ...base(text.t('stats.chart.lift_title'), text.t('stats.chart.lift_subtitle')),
    legend: { show: false },
    xAxis: categoryAxis(
      lifts.map((lift) => lift.title),
      text.t('stats.chart.axis_campaign'),
    ),
    yAxis: valueAxis(text.t('stats.chart.axis_lift')),
    series: [
      {
        type: 'candlestick',
        name: text.t('stats.chart.lift'),
        barWidth: 14,
        // Without an interval the whisker collapses onto the point.
        data: lifts.map((lift) => [percent(lift.lift), percent(lift.lift), percent(lift.ciLow ?? lift.lift), percent(lift.ciHigh ?? lift.lift)]),
        itemStyle: { color: COLORS[0], color0: COLORS[0], borderColor: COLORS[0], borderColor0: COLORS[0] },
        markLine: { symbol: 'none', silent: true, data: [{ yAxis: 0 }], lineStyle: { color: '#888', type: 'dashed' } },
      },
      {
        type: 'scatter',
        name: text.t('stats.chart.lift'),
        symbolSize: 12,
        data: lifts.map((lift) => percent(lift.lift)),
        label: { show: true, position: 'right', formatter: '{c} %' },
      },
    ],
  };
}
