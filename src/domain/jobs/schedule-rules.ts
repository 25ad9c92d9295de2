import type { LocalTime } from '../program.js';
import { localDate, zonedParts, zonedTimeToUtc } from '../time.js';

/**
 * The calendar rules of the scheduled jobs, pure: which birthdays fall on a day, whether a job's
 * local hour has come, which reminder threshold applies, which win-back period a member is in,
 * and when the quiet hours let a reminder out. Calendar dates are YYYY-MM-DD strings in the
 * program's time zone; instants are Dates.
 */

const DAY_MS = 86_400_000;

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function parseDate(iso: string): { year: number; month: number; day: number } {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  if (!match) throw new Error(`not a calendar date (YYYY-MM-DD): ${iso}`);
  return { year: Number(match[1]), month: Number(match[2]), day: Number(match[3]) };
}

/** Days since 1970-01-01 of a calendar date (no time zone involved). */
export function epochDay(iso: string): number {
  const { year, month, day } = parseDate(iso);
  return Date.UTC(year, month - 1, day) / DAY_MS;
}

/** `to - from` in calendar days (negative when `to` is earlier). */
export function daysBetween(from: string, to: string): number {
  return epochDay(to) - epochDay(from);
}

export function addDays(iso: string, days: number): string {
  return new Date((epochDay(iso) + days) * DAY_MS).toISOString().slice(0, 10);
}

/**
 * The birthdays celebrated on `today`, as one month and its days: normally just today's day;
 * on 28 February of a year without 29 February, also the 29th.
 */
export function birthdaysOn(today: string): { month: number; days: number[] } {
  const { year, month, day } = parseDate(today);
  if (month === 2 && day === 28 && !isLeapYear(year)) return { month, days: [28, 29] };
  return { month, days: [day] };
}

/** Whether a member born on `birthday` (YYYY-MM-DD) celebrates on `today`. */
export function isBirthdayOn(birthday: string, today: string): boolean {
  const born = parseDate(birthday);
  const { month, days } = birthdaysOn(today);
  return born.month === month && days.includes(born.day);
}

/** Whether the wall clock in `timeZone` has reached `hour` today (a daily job may run from then on). */
export function localHourReached(now: Date, hour: number, timeZone: string): boolean {
  return zonedParts(now, timeZone).hour >= hour;
}

/**
 * Which "N days before" reminder is due for points expiring on `expiryDate` (local), `today`
 * (local): the smallest threshold that the remaining days fit in, so that points first seen 5
 * days before expiry get the 7-day reminder only, never the 30-day one as well. Null when the
 * date is past or further away than every threshold.
 */
export function reminderThreshold(today: string, expiryDate: string, daysBefore: readonly number[]): number | null {
  const left = daysBetween(today, expiryDate);
  if (left < 0) return null;
  const fitting = daysBefore.filter((n) => n >= left);
  return fitting.length > 0 ? Math.min(...fitting) : null;
}

/**
 * The win-back period a member inactive since `lastActiveDay` is in on `today`: null while
 * they have been away for less than `inactiveDays`, then 0 for the first `everyDays`, 1 for the
 * next, and so on. Together with `lastActiveDay` it names the period, so that a member who comes
 * back and leaves again starts a new series instead of finding its keys used.
 */
export function winBackPeriod(lastActiveDay: string, today: string, rule: { inactiveDays: number; everyDays: number }): number | null {
  const away = daysBetween(lastActiveDay, today);
  if (away < rule.inactiveDays) return null;
  return Math.floor((away - rule.inactiveDays) / rule.everyDays);
}

function minutesOf(time: LocalTime): number {
  const match = /^(\d{2}):(\d{2})$/.exec(time);
  if (!match) throw new Error(`not a local time (HH:MM): ${time}`);
  return Number(match[1]) * 60 + Number(match[2]);
}

/** Whether a local time of day (minutes since midnight) falls in [from, to), which may span midnight. */
export function inQuietHours(minuteOfDay: number, quietHours: { from: LocalTime; to: LocalTime }): boolean {
  const from = minutesOf(quietHours.from);
  const to = minutesOf(quietHours.to);
  if (from === to) return false;
  return from < to ? minuteOfDay >= from && minuteOfDay < to : minuteOfDay >= from || minuteOfDay < to;
}

/**
 * The earliest instant at or after `now` at which a reminder may be sent: `now` itself outside
 * the quiet hours, else the moment they end (`to`, local time, today or tomorrow). Where `to`
 * does not exist on that day (skipped by a DST change), the first instant after the gap.
 */
export function nextAllowedTime(now: Date, quietHours: { from: LocalTime; to: LocalTime }, timeZone: string): Date {
  const local = zonedParts(now, timeZone);
  const minute = local.hour * 60 + local.minute;
  if (!inQuietHours(minute, quietHours)) return now;
  const to = minutesOf(quietHours.to);
  // Past `to` today (the window started this evening): it ends tomorrow morning.
  const day = minute >= to ? addDays(localDate(now, timeZone), 1) : localDate(now, timeZone);
  const { year, month, day: dayOfMonth } = parseDate(day);
  const end = zonedTimeToUtc({ year, month, day: dayOfMonth, hour: Math.floor(to / 60), minute: to % 60 }, timeZone);
  return end.getTime() > now.getTime() ? end : now;
}

/** The first instant of a local calendar date in `timeZone`. */
export function startOfLocalDay(iso: string, timeZone: string): Date {
  const { year, month, day } = parseDate(iso);
  return zonedTimeToUtc({ year, month, day, hour: 0, minute: 0 }, timeZone);
}
