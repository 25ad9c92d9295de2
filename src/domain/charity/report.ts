import { csvCell } from '../csv.js';
import { DomainError } from '../errors.js';
import { JOB_NAMES } from '../jobs/job-runs.js';
import { moneyOf } from '../members/settings.js';
import type { ChatRecipient, DomainDeps } from '../ports.js';
import type { Localized, Program } from '../program.js';
import { localDate, zonedTimeToUtc } from '../time.js';
import type { CharityTotals, TimeRange } from './types.js';

/** A calendar month, YYYY-MM. */
const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;

export const isMonth = (value: string) => MONTH.test(value) && Number(value.slice(0, 4)) >= 2000;

/** [first instant of the month, first instant of the next) in the program's time zone. */
export function monthRange(month: string, timeZone: string): TimeRange {
  const match = MONTH.exec(month);
  if (!match || !isMonth(month)) throw new DomainError('MONTH_INVALID', { month: month.slice(0, 16) });
  const year = Number(match[1]);
  const index = Number(match[2]);
  const next = index === 12 ? { year: year + 1, month: 1 } : { year, month: index + 1 };
  return {
    from: zonedTimeToUtc({ year, month: index, day: 1, hour: 0, minute: 0 }, timeZone),
    to: zonedTimeToUtc({ ...next, day: 1, hour: 0, minute: 0 }, timeZone),
  };
}

/** The month before the one `now` falls in, in the program's time zone. */
export function previousMonth(now: Date, timeZone: string): string {
  const [year, month] = localDate(now, timeZone).split('-').map(Number) as [number, number];
  return month === 1 ? `${year - 1}-12` : `${year}-${String(month - 1).padStart(2, '0')}`;
}

/** What was given in one month, per cause and overall (money = points x pointValueMinor when given). */
export interface CharityReport extends CharityTotals {
  month: string;
  currency: string;
}

export async function charityReport(deps: DomainDeps, month: string): Promise<CharityReport> {
  const range = monthRange(month, deps.program.timezone);
  const totals = await deps.repos.donations.totals(range);
  return { month, currency: deps.program.currency, ...totals };
}

/** Running totals since the start, per cause and overall ("together we have given ..."). */
export function charityTotals(deps: DomainDeps): Promise<CharityTotals> {
  return deps.repos.donations.totals(null);
}

/** A cause's name as the program has it now; a cause removed from the file is named by its code. */
export function causeName(program: Program, code: string): Localized {
  return program.charity?.causes.find((cause) => cause.code === code)?.name ?? { ru: code, en: code };
}

/**
 * The transfer sheet of a month: one row per cause that was given to (amount in the program's
 * currency, as a plain decimal), for the accountant who sends the money. English headers.
 */
export function charityCsv(program: Program, report: CharityReport): string {
  const money = moneyOf(report.currency);
  const rows: (string | number)[][] = [['month', 'cause_code', 'cause_name', 'url', 'points', 'amount', 'currency', 'donors', 'donations']];
  for (const cause of report.causes) {
    const url = program.charity?.causes.find((candidate) => candidate.code === cause.causeCode)?.url ?? '';
    rows.push([
      report.month,
      cause.causeCode,
      causeName(program, cause.causeCode).en,
      url,
      cause.points,
      money(cause.valueMinor),
      report.currency,
      cause.donors,
      cause.donations,
    ]);
  }
  return `${rows.map((row) => row.map(csvCell).join(',')).join('\r\n')}\r\n`;
}

/** Admins by configuration, in the language they use the bot in (else the program's alert language). */
async function adminRecipients(deps: DomainDeps): Promise<ChatRecipient[]> {
  const recipients: ChatRecipient[] = [];
  for (const telegramId of deps.adminTelegramIds) {
    const staff = await deps.repos.staff.findByTelegramId(telegramId);
    const member = staff?.locale ? null : await deps.repos.members.findByTelegramId(telegramId);
    recipients.push({ chatId: telegramId, locale: staff?.locale ?? member?.locale ?? deps.program.nps.alertLocale });
  }
  return recipients;
}

export interface CharityReportRun {
  month: string;
  skipped: 'disabled' | null;
  admins: number;
  points: number;
}

/** `charity-report:<YYYY-MM>:<chatId>`: one report per month and admin, whatever the reruns. */
export const charityReportKey = (month: string, chatId: number) => `${JOB_NAMES.charityReport}:${month}:${chatId}`;

/**
 * The monthly job (the 1st, program time zone): last month's totals per cause to every admin,
 * through the delivery queue. The dedupe key per month and admin makes a rerun (a retry, a second
 * instance, a late run on the 2nd) send nothing twice. The message carries the month's transfer CSV
 * as a document, built when it is sent (src/bot/notifier.ts renderDelivery), not stored in the row.
 */
export async function sendCharityReport(deps: DomainDeps): Promise<CharityReportRun> {
  const month = previousMonth(deps.clock.now(), deps.program.timezone);
  if (!deps.program.charity) return { month, skipped: 'disabled', admins: 0, points: 0 };
  const notifyChat = deps.notifier.notifyChat?.bind(deps.notifier);
  if (!notifyChat) throw new Error('the notifier cannot send to chats: the charity report needs notifyChat');
  const report = await charityReport(deps, month);
  const recipients = await adminRecipients(deps);
  for (const recipient of recipients) {
    await notifyChat(
      recipient,
      {
        kind: 'charityReport',
        month,
        causes: report.causes.map(({ causeCode, points, valueMinor, donors }) => ({ causeCode, points, valueMinor, donors })),
        overall: { points: report.overall.points, valueMinor: report.overall.valueMinor, donors: report.overall.donors },
      },
      { dedupeKey: charityReportKey(month, recipient.chatId), class: 'transactional' },
    );
  }
  return { month, skipped: null, admins: recipients.length, points: report.overall.points };
}
