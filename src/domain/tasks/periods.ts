import { localDate, zonedTimeToUtc } from '../time.js';
import type { TaskDefinition, TaskPeriod } from './types.js';

/** Calendar arithmetic of task periods, in the program's time zone. */

const DAY_MS = 86_400_000;

interface CalendarDate {
  year: number;
  month: number;
  day: number;
}

function parseDate(iso: string): CalendarDate {
  const [year, month, day] = iso.split('-').map(Number);
  return { year: year ?? 1970, month: month ?? 1, day: day ?? 1 };
}

const pad = (n: number) => String(n).padStart(2, '0');
const formatDate = (d: CalendarDate) => `${d.year}-${pad(d.month)}-${pad(d.day)}`;

/** Days since 1970-01-01 of a calendar date (no time zone involved). */
export function dayNumber(iso: string): number {
  const d = parseDate(iso);
  return Math.round(Date.UTC(d.year, d.month - 1, d.day) / DAY_MS);
}

/** `iso` plus `days` calendar days. */
export function addDays(iso: string, days: number): string {
  const date = new Date((dayNumber(iso) + days) * DAY_MS);
  return formatDate({ year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() });
}

/** Calendar days from `from` to `to` (negative when `to` is earlier). */
export const daysBetween = (from: string, to: string): number => dayNumber(to) - dayNumber(from);

/** The Monday of the ISO week of a date. */
function mondayOf(iso: string): string {
  const weekday = (new Date(dayNumber(iso) * DAY_MS).getUTCDay() + 6) % 7; // Monday 0
  return addDays(iso, -weekday);
}

/** ISO 8601 week: "2026-W48" (weeks start on Monday; week 1 holds the year's first Thursday). */
export function isoWeekKey(iso: string): string {
  const thursday = addDays(mondayOf(iso), 3);
  const year = Number(thursday.slice(0, 4));
  const week = Math.floor(daysBetween(`${year}-01-01`, thursday) / 7) + 1;
  return `${year}-W${pad(week)}`;
}

/**
 * The key of the period an instant falls in: 2026-11-23 (day), 2026-W48 (week), 2026-11
 * (month), `all` (none), `range` (a date range: one instance).
 */
export function periodKeyFor(period: TaskPeriod, at: Date, timeZone: string): string {
  const today = localDate(at, timeZone);
  if (typeof period === 'object') return 'range';
  switch (period) {
    case 'day':
      return today;
    case 'week':
      return isoWeekKey(today);
    case 'month':
      return today.slice(0, 7);
    case 'none':
      return 'all';
  }
}

const midnight = (iso: string, timeZone: string) => {
  const d = parseDate(iso);
  return zonedTimeToUtc({ year: d.year, month: d.month, day: d.day, hour: 0, minute: 0 }, timeZone);
};

/** The first instant after the period that `at` falls in; null for `none`. */
export function periodEnd(period: TaskPeriod, at: Date, timeZone: string): Date | null {
  const today = localDate(at, timeZone);
  if (typeof period === 'object') return midnight(addDays(period.to, 1), timeZone);
  switch (period) {
    case 'day':
      return midnight(addDays(today, 1), timeZone);
    case 'week':
      return midnight(addDays(mondayOf(today), 7), timeZone);
    case 'month': {
      const d = parseDate(today);
      return midnight(formatDate(d.month === 12 ? { year: d.year + 1, month: 1, day: 1 } : { year: d.year, month: d.month + 1, day: 1 }), timeZone);
    }
    case 'none':
      return null;
  }
}

/** The calendar month `at` falls in, as instants [from, to). */
export function monthBounds(at: Date, timeZone: string): { key: string; from: Date; to: Date } {
  const key = localDate(at, timeZone).slice(0, 7);
  return { key, from: midnight(`${key}-01`, timeZone), to: periodEnd('month', at, timeZone) as Date };
}

/** Whether the task is open at `at`: within its availability dates and its date-range period. */
export function isAvailable(task: TaskDefinition, at: Date, timeZone: string): boolean {
  const today = localDate(at, timeZone);
  const from = [task.from, typeof task.period === 'object' ? task.period.from : undefined]
    .filter((d): d is string => d !== undefined)
    .sort()
    .at(-1);
  const to = [task.to, typeof task.period === 'object' ? task.period.to : undefined].filter((d): d is string => d !== undefined).sort()[0];
  return (from === undefined || today >= from) && (to === undefined || today <= to);
}

/** When the current instance stops counting: the end of its period or of the task's availability. */
export function instanceDeadline(task: TaskDefinition, at: Date, timeZone: string): Date | null {
  const ends = [periodEnd(task.period, at, timeZone), task.to ? midnight(addDays(task.to, 1), timeZone) : null].filter((d): d is Date => d !== null);
  if (ends.length === 0) return null;
  return new Date(Math.min(...ends.map((d) => d.getTime())));
}
