import type { Comparison } from '../domain/analytics/significance.js';
import type { LiftComparison, LiftReport } from '../domain/broadcasts/lift.js';
import type { Broadcast, BroadcastCounts } from '../domain/broadcasts/types.js';
import type { Locale, Program } from '../domain/program.js';
import { formatterFor } from './format.js';
import type { I18n, Translate } from './i18n.js';

/** "45 s", "3 min 12 s", "2 h 5 min". */
export function formatDuration(t: Translate, ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return t('broadcast.duration.hours', { h, m });
  if (m > 0) return t('broadcast.duration.minutes', { m, s });
  return t('broadcast.duration.seconds', { s });
}

/** Delivered / blocked / failed / skipped of a running or finished broadcast. */
export function progressLine(t: Translate, broadcast: Broadcast, counts: BroadcastCounts): string {
  return t('broadcast.progress', {
    sent: counts.sent,
    audience: broadcast.audience,
    blocked: counts.blocked,
    failed: counts.failed,
    skipped: counts.skipped,
    pending: counts.pending,
  });
}

/** The final report the marketer gets when their broadcast is done. */
export function renderBroadcastReport(i18n: I18n, locale: Locale, broadcast: Broadcast, counts: BroadcastCounts): string {
  const t = i18n.t(locale);
  const start = broadcast.startedAt ?? broadcast.scheduledAt;
  const end = broadcast.finishedAt ?? new Date();
  const report = t('broadcast.report', {
    id: broadcast.id,
    duration: formatDuration(t, end.getTime() - start.getTime()),
    sent: counts.sent,
    blocked: counts.blocked,
    failed: counts.failed,
    skipped: counts.skipped,
  });
  // An experiment: say that its results come later (renderLiftReport), so nobody reads the lift off the counts.
  if (broadcast.controlPercent > 0) return `${report}\n${t('broadcast.lift.pending_control', { percent: broadcast.controlPercent })}`;
  if (broadcast.variantB) return `${report}\n${t('broadcast.lift.pending_ab')}`;
  return report;
}

const INTL: Record<Locale, string> = { ru: 'ru-RU', en: 'en-GB' };

/** Plain numbers for the lift report: percents with one decimal, signed points, p-values. */
function liftFormat(locale: Locale, currency: string, timeZone: string) {
  const one = new Intl.NumberFormat(INTL[locale], { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const signedOne = new Intl.NumberFormat(INTL[locale], { minimumFractionDigits: 1, maximumFractionDigits: 1, signDisplay: 'exceptZero' });
  const p = new Intl.NumberFormat(INTL[locale], { maximumSignificantDigits: 2 });
  const { money, number } = formatterFor(locale, currency, timeZone);
  return {
    number,
    percent: (fraction: number) => `${one.format(fraction * 100)} %`,
    points: (fraction: number) => signedOne.format(fraction * 100),
    money: (minor: number) => money(Math.round(minor)),
    signedMoney: (minor: number) => `${minor > 0 ? '+' : minor < 0 ? '−' : ''}${money(Math.abs(Math.round(minor)))}`,
    p: (value: number) => (value < 0.001 ? `p < ${p.format(0.001)}` : `p = ${p.format(value)}`),
  };
}

type Metric = 'conversion' | 'revenue' | 'redemption';

/**
 * The lift report the author gets when the attribution window has passed: each metric as a
 * marketer reads it ("Conversion 12.4 % vs 9.8 % in the control group: +2.6 pp (95 % CI
 * +0.4…+4.8), p = 0.02 — the campaign worked"), then the A/B test and its winner, if any.
 */
export function renderLiftReport(t: Translate, program: Program, locale: Locale, report: LiftReport): string {
  const f = liftFormat(locale, program.currency, program.timezone);
  const line = (metric: Metric, comparison: Comparison, against: 'control' | 'variant_b', verdicts: { better: string; worse: string }) => {
    const rate = metric !== 'revenue';
    const value = rate ? f.percent : f.money;
    const lift = rate ? (x: number) => t('broadcast.lift.pp', { value: f.points(x) }) : f.signedMoney;
    // The interval's ends without the unit for rates: "+2.6 pp (95 % CI +0.4…+4.8)".
    const end = rate ? f.points : f.signedMoney;
    const values = {
      label: t(`broadcast.lift.metric.${metric}`),
      treated: value(comparison.treated),
      control: value(comparison.control),
      against: t(`broadcast.lift.against.${against}`),
      lift: lift(comparison.absolute),
    };
    if (comparison.tooSmall || comparison.pValue === null || comparison.ciLow === null || comparison.ciHigh === null) {
      return t('broadcast.lift.line_small', values);
    }
    const verdict = !comparison.significant ? t('broadcast.lift.verdict.unclear') : comparison.absolute > 0 ? verdicts.better : verdicts.worse;
    return t('broadcast.lift.line', { ...values, low: end(comparison.ciLow), high: end(comparison.ciHigh), p: f.p(comparison.pValue), verdict });
  };
  const metrics = (comparison: LiftComparison, against: 'control' | 'variant_b', verdicts: { better: string; worse: string }) => [
    line('conversion', comparison.conversion, against, verdicts),
    line('revenue', comparison.revenuePerMember, against, verdicts),
    line('redemption', comparison.redemption, against, verdicts),
  ];
  const lines = [t('broadcast.lift.title', { id: report.broadcastId, days: report.attributionDays })];
  if (report.sentVsControl) {
    const c = report.sentVsControl;
    lines.push(t('broadcast.lift.groups', { treated: f.number(c.treatedMembers), control: f.number(c.controlMembers) }));
    lines.push(...metrics(c, 'control', { better: t('broadcast.lift.verdict.worked'), worse: t('broadcast.lift.verdict.worse') }));
  } else {
    lines.push(t('broadcast.lift.no_control'));
  }
  if (report.ab) {
    const ab = report.ab;
    lines.push('', t('broadcast.lift.ab_title', { a: f.number(ab.treatedMembers), b: f.number(ab.controlMembers) }));
    lines.push(...metrics(ab, 'variant_b', { better: t('broadcast.lift.verdict.a_better'), worse: t('broadcast.lift.verdict.b_better') }));
    lines.push(ab.winner ? t('broadcast.lift.winner', { variant: ab.winner }) : t('broadcast.lift.no_winner'));
  }
  return lines.join('\n');
}
