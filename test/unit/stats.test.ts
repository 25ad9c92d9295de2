import { readFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { averageCheckChart, bucketLabel, type ChartText, cohortHeatmap, liftChart, liftPoints, membersChart, pointsChart } from '../../src/bot/stats/charts.js';
import { renderPngs, renderSvg } from '../../src/bot/stats/render.js';
import { cohortMatrix } from '../../src/domain/analytics/cohorts.js';
import { bucketStarts, granularityOf, type SeriesPoint, seriesFromFacts } from '../../src/domain/analytics/series.js';
import { cohortStart, parseStatsPeriod } from '../../src/domain/analytics/stats.js';

describe('/stats periods', () => {
  const today = '2026-12-05';
  it('reads the last N days (today included), a month and a range of days', () => {
    expect(parseStatsPeriod('', today)).toEqual({ from: '2026-11-06', to: '2026-12-06' });
    expect(parseStatsPeriod('7d', today)).toEqual({ from: '2026-11-29', to: '2026-12-06' });
    expect(parseStatsPeriod(' 90D ', today)).toEqual({ from: '2026-09-07', to: '2026-12-06' });
    expect(parseStatsPeriod('90д', today)).toEqual({ from: '2026-09-07', to: '2026-12-06' });
    expect(parseStatsPeriod('2026-11', today)).toEqual({ from: '2026-11-01', to: '2026-12-01' });
    expect(parseStatsPeriod('2026-12', today)).toEqual({ from: '2026-12-01', to: '2027-01-01' });
    expect(parseStatsPeriod('2026-01-01..2026-03-31', today)).toEqual({ from: '2026-01-01', to: '2026-04-01' });
    expect(parseStatsPeriod('2026-02-28..2026-02-28', today)).toEqual({ from: '2026-02-28', to: '2026-03-01' });
  });

  it('refuses anything else: words, impossible dates, reversed or too long ranges, zero days', () => {
    for (const input of [
      'week',
      '0d',
      '99999d',
      '2026-13',
      '2026-00',
      '2026-02-30..2026-03-01',
      '2026-03-31..2026-01-01',
      '2000-01-01..2026-01-01',
      '7',
      '2026-11; drop',
    ])
      expect(parseStatsPeriod(input, today), input).toBeNull();
  });

  it('shows cohorts of the six months up to the period end, or from the period start if that is earlier', () => {
    expect(cohortStart({ from: '2026-11-06', to: '2026-12-06' })).toBe('2026-07-01');
    expect(cohortStart({ from: '2026-01-01', to: '2026-02-01' })).toBe('2025-08-01');
    expect(cohortStart({ from: '2024-01-15', to: '2026-02-01' })).toBe('2024-01-15');
  });
});

describe('series buckets', () => {
  it('is daily up to 92 days, weekly up to 366, monthly beyond', () => {
    expect([granularityOf(1), granularityOf(92), granularityOf(93), granularityOf(366), granularityOf(367)]).toEqual(['day', 'day', 'week', 'week', 'month']);
  });

  it('starts buckets on the period start, then every day, 7 days or 1st of the month', () => {
    expect(bucketStarts('2026-02-27', '2026-03-02', 'day')).toEqual(['2026-02-27', '2026-02-28', '2026-03-01']);
    expect(bucketStarts('2026-01-01', '2026-01-20', 'week')).toEqual(['2026-01-01', '2026-01-08', '2026-01-15']);
    expect(bucketStarts('2025-11-15', '2026-02-01', 'month')).toEqual(['2025-11-15', '2025-12-01', '2026-01-01']);
  });

  it('keeps a running member total and averages per bucket, null where nothing was bought', () => {
    const empty = {
      registered: 0,
      erased: 0,
      activeMembers: 0,
      memberPurchases: 0,
      memberRevenueMinor: 0,
      receipts: 0,
      receiptRevenueMinor: 0,
      issued: 0,
      redeemed: 0,
      expired: 0,
    };
    const points = seriesFromFacts(
      ['2026-01-01', '2026-01-02'],
      {
        membersBefore: 10,
        buckets: [
          { ...empty, registered: 3, erased: 1, activeMembers: 2, memberPurchases: 3, memberRevenueMinor: 1000, receipts: 2, receiptRevenueMinor: 301 },
          { ...empty, registered: 1, issued: 50, redeemed: 20, expired: 5 },
        ],
      },
      false,
    );
    // 10 + 3 - 1 = 12, then + 1 = 13; 1000 / 3 = 333.3 -> 333; 301 / 2 = 150.5 -> 151.
    expect(points.map((p) => [p.members, p.newMembers, p.activeMembers, p.averageCheckMembersMinor, p.averageCheckNonMembersMinor])).toEqual([
      [12, 3, 2, 333, 151],
      [13, 1, 0, null, null],
    ]);
    expect(points[1]).toMatchObject({ pointsIssued: 50, pointsRedeemed: 20, pointsExpired: 5 });
    // One store: expiry has no store, so it is unknown rather than 0.
    expect(seriesFromFacts(['2026-01-01'], { membersBefore: 0, buckets: [empty] }, true)[0]?.pointsExpired).toBeNull();
  });
});

const locale = (name: 'en' | 'ru') => JSON.parse(readFileSync(new URL(`../../locales/${name}.json`, import.meta.url), 'utf8'));
const textFor = (name: 'en' | 'ru'): ChartText => {
  const tree = locale(name);
  return {
    t: (key) => {
      const value = key
        .split('.')
        .reduce((node: Record<string, unknown> | string | undefined, part) => (typeof node === 'object' ? (node[part] as never) : undefined), tree);
      if (typeof value !== 'string') throw new Error(`no text ${key} in ${name}`);
      return value;
    },
    major: (minor) => minor / 100,
  };
};

const sample: SeriesPoint[] = Array.from({ length: 30 }, (_, i) => ({
  start: `2026-11-${String(i + 1).padStart(2, '0')}`,
  members: 100 + i * 3,
  newMembers: 3,
  activeMembers: 20 + (i % 7),
  memberPurchases: 25,
  averageCheckMembersMinor: 150_000 + i * 1000,
  nonMemberReceipts: 10,
  averageCheckNonMembersMinor: i % 5 === 0 ? null : 120_000,
  pointsIssued: 1500,
  pointsRedeemed: 400 + i * 10,
  pointsExpired: i % 10 === 0 ? 300 : 0,
}));
const cohorts = cohortMatrix(
  [
    {
      cohort: '2026-06',
      size: 40,
      active: [
        { offset: 0, members: 30 },
        { offset: 2, members: 12 },
      ],
    },
    { cohort: '2026-09', size: 25, active: [{ offset: 1, members: 9 }] },
  ],
  '2026-06',
  '2026-11',
);

describe('charts', () => {
  it('names months and axes in the reader’s language', async () => {
    expect(bucketLabel('2026-03-05', 'day', textFor('ru'))).toBe('5 мар');
    expect(bucketLabel('2026-03-01', 'month', textFor('en'))).toBe('Mar 2026');
    const svg = await renderSvg(cohortHeatmap(cohorts, textFor('ru')), { width: 600, height: 400 });
    expect(svg).toContain('Удержание по месяцу регистрации');
    expect(svg).toContain('июн 2026 (40)');
    expect(svg).toContain('75 %'); // 30 of 40 in the month of registration
    const en = await renderSvg(membersChart(sample, 'day', textFor('en')), { width: 600, height: 400 });
    expect(en).toContain('Members and active members');
    expect(en).toContain('Nov');
  });

  for (const name of ['en', 'ru'] as const) {
    it(`renders every chart as a PNG of the asked size that is not blank (${name})`, async () => {
      const text = textFor(name);
      const options = [
        membersChart(sample, 'day', text),
        averageCheckChart(sample, 'day', text),
        cohortHeatmap(cohorts, text),
        pointsChart(sample, 'day', text),
        liftChart(
          liftPoints([
            { broadcastId: 1, title: 'Black Friday', metric: 'conversion', lift: 12, ciLow: 3, ciHigh: 21, pValue: 0.01 },
            { broadcastId: 2, title: 'Зимняя', metric: 'conversion', lift: -2, ciLow: null, ciHigh: null, pValue: null },
          ]),
          text,
        ),
      ];
      const images = await renderPngs(options, { width: 800, height: 450 });
      expect(images).toHaveLength(5);
      for (const image of images) {
        const png = PNG.sync.read(image);
        expect([png.width, png.height]).toEqual([800, 450]);
        // Not blank: the grey level of the pixels varies (a white canvas has variance 0).
        let sum = 0;
        let squares = 0;
        const pixels = png.width * png.height;
        for (let i = 0; i < png.data.length; i += 4) {
          const grey = ((png.data[i] ?? 0) + (png.data[i + 1] ?? 0) + (png.data[i + 2] ?? 0)) / 3;
          sum += grey;
          squares += grey * grey;
        }
        const mean = sum / pixels;
        expect(squares / pixels - mean * mean).toBeGreaterThan(50);
      }
    });
  }
});

describe('the campaign-lift chart', () => {
  it('takes recentCampaignLifts() in percentage points and plots them once as such, not x100 twice or /100 forgotten', () => {
    const points = liftPoints([
      { broadcastId: 7, title: 'Spring', metric: 'conversion', lift: 3.2, ciLow: -1, ciHigh: 7.4, pValue: 0.15 },
      { broadcastId: 8, title: 'Tiny', metric: 'conversion', lift: 5, ciLow: null, ciHigh: null, pValue: null },
    ]);
    expect(points[0]?.lift).toBeCloseTo(0.032, 10);
    expect(points[0]?.ciLow).toBeCloseTo(-0.01, 10);
    expect(points[0]?.ciHigh).toBeCloseTo(0.074, 10);
    expect(points[1]).toMatchObject({ ciLow: null, ciHigh: null });
    const option = liftChart(points, textFor('en')) as { series: { data: unknown[] }[] };
    // Candlestick [open, close, low, high] in %: the interval around the point; none -> collapsed on it.
    expect(option.series[0]?.data).toEqual([
      [3.2, 3.2, -1, 7.4],
      [5, 5, 5, 5],
    ]);
    expect(option.series[1]?.data).toEqual([3.2, 5]);
  });
});
