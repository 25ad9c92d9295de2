import { causeName } from '../../../domain/charity/report.js';
import type { Notification } from '../../../domain/ports.js';
import type { Locale, Program } from '../../../domain/program.js';
import { formatterFor } from '../../format.js';
import type { Translate } from '../../i18n.js';

type ReportData = Pick<Extract<Notification, { kind: 'charityReport' }>, 'month' | 'causes' | 'overall'>;

/** A month's charity totals for an admin (the monthly message and `/charity YYYY-MM`). */
export function renderCharityReport(t: Translate, program: Program, locale: Locale, report: ReportData, withCsvHint = true): string {
  const money = formatterFor(locale, program.currency, program.timezone).money;
  const points = (count: number) => t('common.points', { count });
  const donors = (count: number) => t('charity.donors', { count });
  if (report.causes.length === 0) return t('charity.report_empty', { month: report.month });
  const lines = [t('charity.report_title', { month: report.month }), ''];
  for (const cause of report.causes) {
    lines.push(
      t('charity.report_line', {
        name: causeName(program, cause.causeCode)[locale],
        code: cause.causeCode,
        points: points(cause.points),
        money: money(cause.valueMinor),
        donors: donors(cause.donors),
      }),
    );
  }
  lines.push(
    '',
    t('charity.report_total', { points: points(report.overall.points), money: money(report.overall.valueMinor), donors: donors(report.overall.donors) }),
  );
  if (withCsvHint) lines.push(t('charity.report_csv', { month: report.month }));
  return lines.join('\n');
}
