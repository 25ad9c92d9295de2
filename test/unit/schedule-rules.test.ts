import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config.js';
import {
  addDays,
  birthdaysOn,
  daysBetween,
  inQuietHours,
  isBirthdayOn,
  isLeapYear,
  localHourReached,
  nextAllowedTime,
  reminderThreshold,
  startOfLocalDay,
  winBackPeriod,
} from '../../src/domain/jobs/schedule-rules.js';
import { zonedParts } from '../../src/domain/time.js';
import { exampleProgram } from '../support/program.js';

const at = (iso: string) => new Date(iso);
const quiet = { from: '22:00', to: '09:00' };

describe('birthdays', () => {
  it('knows leap years', () => {
    expect([2024, 2026, 2028, 1900, 2000, 2100].map(isLeapYear)).toEqual([true, false, true, false, true, false]);
  });

  it('celebrates 29 February on 28 February in years without it, and on the day itself in leap years', () => {
    expect(birthdaysOn('2026-02-28')).toEqual({ month: 2, days: [28, 29] });
    expect(birthdaysOn('2028-02-28')).toEqual({ month: 2, days: [28] });
    expect(birthdaysOn('2028-02-29')).toEqual({ month: 2, days: [29] });
    expect(birthdaysOn('2026-03-01')).toEqual({ month: 3, days: [1] });
    expect(isBirthdayOn('1992-02-29', '2026-02-28')).toBe(true);
    expect(isBirthdayOn('1992-02-29', '2026-03-01')).toBe(false);
    expect(isBirthdayOn('1992-02-29', '2028-02-28')).toBe(false);
    expect(isBirthdayOn('1992-02-29', '2028-02-29')).toBe(true);
    expect(isBirthdayOn('1990-02-28', '2026-02-28')).toBe(true);
    expect(isBirthdayOn('1990-11-24', '2026-11-24')).toBe(true);
    expect(isBirthdayOn('1990-11-24', '2026-11-23')).toBe(false);
  });
});

describe('calendar arithmetic', () => {
  it('counts days across month ends, leap days and years', () => {
    expect(daysBetween('2028-02-28', '2028-03-01')).toBe(2);
    expect(daysBetween('2026-02-28', '2026-03-01')).toBe(1);
    expect(daysBetween('2026-12-31', '2027-01-01')).toBe(1);
    expect(daysBetween('2026-11-23', '2026-11-20')).toBe(-3);
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(addDays('2028-03-01', -1)).toBe('2028-02-29');
    expect(addDays('2026-11-23', -60)).toBe('2026-09-24');
  });

  it('finds the first instant of a local day, also on DST change days', () => {
    // Berlin: CET (+1) until the last Sunday of March, CEST (+2) from 02:00 that day.
    expect(startOfLocalDay('2026-03-29', 'Europe/Berlin').toISOString()).toBe('2026-03-28T23:00:00.000Z');
    expect(startOfLocalDay('2026-03-30', 'Europe/Berlin').toISOString()).toBe('2026-03-29T22:00:00.000Z');
    expect(startOfLocalDay('2026-10-26', 'Europe/Berlin').toISOString()).toBe('2026-10-25T23:00:00.000Z');
    expect(startOfLocalDay('2026-11-24', 'Asia/Vladivostok').toISOString()).toBe('2026-11-23T14:00:00.000Z');
    expect(startOfLocalDay('2026-11-24', 'America/Los_Angeles').toISOString()).toBe('2026-11-24T08:00:00.000Z');
  });
});

describe('localHourReached', () => {
  it('reads the hour on the program clock, not UTC', () => {
    // 23:30 UTC on 23 Nov is 09:30 on 24 Nov in Vladivostok (UTC+10).
    expect(localHourReached(at('2026-11-23T23:30:00Z'), 10, 'Asia/Vladivostok')).toBe(false);
    expect(localHourReached(at('2026-11-24T00:00:00Z'), 10, 'Asia/Vladivostok')).toBe(true);
    // 18:00 UTC is 10:00 in Los Angeles (UTC-8 in November).
    expect(localHourReached(at('2026-11-24T17:59:00Z'), 10, 'America/Los_Angeles')).toBe(false);
    expect(localHourReached(at('2026-11-24T18:00:00Z'), 10, 'America/Los_Angeles')).toBe(true);
    expect(localHourReached(at('2026-11-24T18:00:00Z'), 0, 'America/Los_Angeles')).toBe(true);
  });

  it('follows a DST change: 10:00 in Berlin is 09:00 UTC in winter and 08:00 UTC in summer', () => {
    expect(localHourReached(at('2026-03-28T08:30:00Z'), 10, 'Europe/Berlin')).toBe(false);
    expect(localHourReached(at('2026-03-29T08:30:00Z'), 10, 'Europe/Berlin')).toBe(true);
    expect(localHourReached(at('2026-10-25T08:30:00Z'), 10, 'Europe/Berlin')).toBe(false);
  });
});

describe('reminderThreshold', () => {
  const days = [30, 7];
  it('picks the smallest threshold the days left fit in', () => {
    expect(reminderThreshold('2026-11-23', '2026-12-24', days)).toBeNull();
    expect(reminderThreshold('2026-11-23', '2026-12-23', days)).toBe(30);
    expect(reminderThreshold('2026-11-23', '2026-12-01', days)).toBe(30);
    expect(reminderThreshold('2026-11-23', '2026-11-30', days)).toBe(7);
    expect(reminderThreshold('2026-11-23', '2026-11-28', days)).toBe(7);
    expect(reminderThreshold('2026-11-23', '2026-11-23', days)).toBe(7);
    expect(reminderThreshold('2026-11-23', '2026-11-22', days)).toBeNull();
    expect(reminderThreshold('2026-11-23', '2026-11-30', [])).toBeNull();
    expect(reminderThreshold('2026-11-23', '2026-11-30', [7, 30, 1])).toBe(7);
  });
});

describe('winBackPeriod', () => {
  const rule = { inactiveDays: 60, everyDays: 30 };
  it('is null until the member has been away long enough, then counts periods', () => {
    expect(winBackPeriod('2026-09-25', '2026-11-23', rule)).toBeNull(); // 59 days
    expect(winBackPeriod('2026-09-24', '2026-11-23', rule)).toBe(0); // 60 days
    expect(winBackPeriod('2026-08-26', '2026-11-23', rule)).toBe(0); // 89 days
    expect(winBackPeriod('2026-08-25', '2026-11-23', rule)).toBe(1); // 90 days
    expect(winBackPeriod('2026-07-26', '2026-11-23', rule)).toBe(2); // 120 days
  });
});

describe('quiet hours', () => {
  it('spans midnight when `from` is later than `to`; none when they are equal', () => {
    expect(inQuietHours(22 * 60, quiet)).toBe(true);
    expect(inQuietHours(23 * 60 + 59, quiet)).toBe(true);
    expect(inQuietHours(0, quiet)).toBe(true);
    expect(inQuietHours(8 * 60 + 59, quiet)).toBe(true);
    expect(inQuietHours(9 * 60, quiet)).toBe(false);
    expect(inQuietHours(21 * 60 + 59, quiet)).toBe(false);
    expect(inQuietHours(13 * 60 + 30, { from: '13:00', to: '14:00' })).toBe(true);
    expect(inQuietHours(14 * 60, { from: '13:00', to: '14:00' })).toBe(false);
    expect(inQuietHours(3 * 60, { from: '00:00', to: '00:00' })).toBe(false);
  });

  it('lets a reminder out at once outside the quiet hours', () => {
    const now = at('2026-11-23T09:00:00Z'); // 12:00 in Moscow
    expect(nextAllowedTime(now, quiet, 'Europe/Moscow')).toEqual(now);
    expect(nextAllowedTime(at('2026-11-23T06:00:00Z'), quiet, 'Europe/Moscow')).toEqual(at('2026-11-23T06:00:00Z')); // 09:00 sharp
    expect(nextAllowedTime(now, { from: '10:00', to: '10:00' }, 'Europe/Moscow')).toEqual(now);
  });

  it('holds a reminder due in the evening until the next morning, and one due after midnight until that morning', () => {
    // 23:00 Moscow (UTC+3) -> 09:00 next day = 06:00 UTC.
    expect(nextAllowedTime(at('2026-11-23T20:00:00Z'), quiet, 'Europe/Moscow')).toEqual(at('2026-11-24T06:00:00Z'));
    // 03:00 Moscow -> 09:00 the same day.
    expect(nextAllowedTime(at('2026-11-23T00:00:00Z'), quiet, 'Europe/Moscow')).toEqual(at('2026-11-23T06:00:00Z'));
    // 08:59:30 -> 09:00:00.
    expect(nextAllowedTime(at('2026-11-23T05:59:30Z'), quiet, 'Europe/Moscow')).toEqual(at('2026-11-23T06:00:00Z'));
    // A window inside the day.
    expect(nextAllowedTime(at('2026-11-23T10:30:00Z'), { from: '13:00', to: '14:00' }, 'Europe/Moscow')).toEqual(at('2026-11-23T11:00:00Z'));
  });

  it('works far from UTC: Vladivostok (UTC+10) and Los Angeles (UTC-8/-7)', () => {
    // 22:30 on 23 Nov in Vladivostok (12:30 UTC) -> 09:00 on 24 Nov there, which is 23:00 UTC on 23 Nov.
    expect(nextAllowedTime(at('2026-11-23T12:30:00Z'), quiet, 'Asia/Vladivostok')).toEqual(at('2026-11-23T23:00:00Z'));
    // 22:00 on 23 Nov in Los Angeles (06:00 UTC on 24 Nov) -> 09:00 PST = 17:00 UTC on 24 Nov.
    expect(nextAllowedTime(at('2026-11-24T06:00:00Z'), quiet, 'America/Los_Angeles')).toEqual(at('2026-11-24T17:00:00Z'));
    // Across the spring change (8 March 2026): 22:00 PST on 7 March -> 09:00 PDT (UTC-7) = 16:00 UTC.
    expect(nextAllowedTime(at('2026-03-08T06:00:00Z'), quiet, 'America/Los_Angeles')).toEqual(at('2026-03-08T16:00:00Z'));
  });

  it('ends the quiet hours at the local `to` across the DST changes in Berlin', () => {
    // Night of 28 to 29 March 2026: 23:00 CET -> 09:00 CEST = 07:00 UTC (the night is an hour shorter).
    expect(nextAllowedTime(at('2026-03-28T22:00:00Z'), quiet, 'Europe/Berlin')).toEqual(at('2026-03-29T07:00:00Z'));
    // Night of 24 to 25 October 2026: 23:00 CEST -> 09:00 CET = 08:00 UTC (an hour longer).
    expect(nextAllowedTime(at('2026-10-24T21:00:00Z'), quiet, 'Europe/Berlin')).toEqual(at('2026-10-25T08:00:00Z'));
    // In the repeated hour (02:30 CEST, then 02:30 CET) both are quiet and end at 09:00 CET.
    expect(nextAllowedTime(at('2026-10-25T00:30:00Z'), quiet, 'Europe/Berlin')).toEqual(at('2026-10-25T08:00:00Z'));
    expect(nextAllowedTime(at('2026-10-25T01:30:00Z'), quiet, 'Europe/Berlin')).toEqual(at('2026-10-25T08:00:00Z'));
  });

  it('ends at the first instant after the gap when `to` falls into the hour skipped by DST', () => {
    // Quiet until 02:30, which does not exist in Berlin on 29 March 2026 (02:00 CET -> 03:00 CEST).
    const next = nextAllowedTime(at('2026-03-29T00:30:00Z'), { from: '01:00', to: '02:30' }, 'Europe/Berlin');
    expect(next.getTime()).toBeGreaterThan(at('2026-03-29T00:30:00Z').getTime());
    expect(next.getTime()).toBeLessThanOrEqual(at('2026-03-29T01:30:00Z').getTime());
    const local = zonedParts(next, 'Europe/Berlin');
    expect(local.hour * 60 + local.minute).toBeGreaterThanOrEqual(3 * 60);
  });
});

describe('the notifications section of the program file', () => {
  it('has defaults, so program files without it stay valid', () => {
    const program = exampleProgram((raw) => {
      delete raw.notifications;
    });
    expect(program.notifications).toEqual({
      quietHours: { from: '22:00', to: '09:00' },
      birthday: { enabled: true, hour: 10, points: 0, reward: null },
      expiringReminders: { daysBefore: [30, 7], hour: 12 },
      pointsExpiry: { cron: '15 3 * * *' },
      winBack: { enabled: true, inactiveDays: 60, everyDays: 30, hour: 12 },
    });
    const partial = exampleProgram((raw) => {
      raw.notifications = { birthday: { points: 150 } };
    });
    expect(partial.notifications.birthday).toEqual({ enabled: true, hour: 10, points: 150, reward: null });
    expect(partial.notifications.quietHours).toEqual({ from: '22:00', to: '09:00' });
  });

  it('reads the example file', () => {
    expect(exampleProgram().notifications.birthday.points).toBe(200);
  });

  it.each([
    ['a bad time', { quietHours: { from: '25:00', to: '09:00' } }, 'notifications.quietHours.from'],
    ['an unknown key', { birthday: { hour: 10, gift: 5 } }, 'notifications.birthday'],
    ['a repeated threshold', { expiringReminders: { daysBefore: [7, 7] } }, 'notifications.expiringReminders.daysBefore'],
    ['a bad hour', { winBack: { hour: 24 } }, 'notifications.winBack.hour'],
    ['a bad cron', { pointsExpiry: { cron: 'daily' } }, 'notifications.pointsExpiry.cron'],
  ])('refuses %s and names the key', (_, section, key) => {
    let error: unknown;
    try {
      exampleProgram((raw) => {
        raw.notifications = section;
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(String((error as Error).message)).toContain(key);
  });
});
