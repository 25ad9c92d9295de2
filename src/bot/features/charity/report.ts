import { causeName, charityCsv, charityReport } from '../../../domain/charity/report.js';
import type { DomainDeps, Notification } from '../../../domain/ports.js';
import type { Locale, Program } from '../../../domain/program.js';
import { formatterFor } from '../../format.js';
import type { Translate } from '../../i18n.js';
import type { OutgoingDocument } from '../../notifier.js';

type ReportData = Pick<Extract<Notification, { kind: 'charityReport' }>, 'month' | 'causes' | 'overall'>;

/** Telegram's limit for a caption (the monthly report is the caption of its CSV). */
const CAPTION_LIMIT = 1024;

/**
 * A month's charity totals for an admin (the monthly message and `/charity YYYY-MM`). As a
 * caption (`asCaption`: the monthly message, sent with its CSV) it says the sheet is attached,
 * and a report too long for a caption keeps its title and total only (the causes are in the file).
 */
export function renderCharityReport(t: Translate, program: Program, locale: Locale, report: ReportData, asCaption = true): string {
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
  const total = t('charity.report_total', {
    points: points(report.overall.points),
    money: money(report.overall.valueMinor),
    donors: donors(report.overall.donors),
  });
  lines.push('', total);
  if (!asCaption) return lines.join('\n');
  lines.push(t('charity.report_csv'));
  // The HTML is never shorter than what Telegram counts (the text after parsing).
  const text = lines.join('\n');
  return text.length <= CAPTION_LIMIT ? text : [t('charity.report_title', { month: report.month }), '', total, t('charity.report_csv')].join('\n');
}

/** The transfer sheet of a month as a file, built from the ledger's donations when it is sent. */
export async function charityCsvDocument(domain: DomainDeps, month: string): Promise<OutgoingDocument> {
  const report = await charityReport(domain, month);
  return { filename: `charity-${month}.csv`, bytes: Buffer.from(charityCsv(domain.program, report), 'utf8') };
}
