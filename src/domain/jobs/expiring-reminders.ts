import type { DomainDeps, ExpiringPoints, MemberNotice } from '../ports.js';
import { localDate } from '../time.js';
import type { SkipReason } from './job-runs.js';
import { notifyAll } from './notify-all.js';
import { addDays, localHourReached, reminderThreshold, startOfLocalDay } from './schedule-rules.js';

export interface ExpiringRemindersRun {
  date: string;
  skipped: SkipReason | null;
  /** Reminders handed to the notifier (a rerun hands the same keys again; the outbox drops them). */
  reminders: number;
}

/** `expiring:<memberId>:<expiry date>:<threshold days>`. */
export const expiringKey = (memberId: number, date: string, threshold: number) => `expiring:${memberId}:${date}:${threshold}`;

/**
 * Warns members whose points expire soon: "120 points expire on 31.12". For each member, the
 * nearest local date on which points expire (and how many) is reminded under the smallest
 * threshold of `daysBefore` it fits in, keyed per (member, date, threshold): one reminder per
 * threshold, the 30-day one and later the 7-day one, and no burst of reminders for every date a
 * frequent shopper's points expire on. Later dates come up once the nearest one has passed.
 */
export async function sendExpiringReminders(deps: DomainDeps, options: { batchSize?: number } = {}): Promise<ExpiringRemindersRun> {
  const now = deps.clock.now();
  const { timezone } = deps.program;
  const config = deps.program.notifications.expiringReminders;
  const today = localDate(now, timezone);
  const run: ExpiringRemindersRun = { date: today, skipped: null, reminders: 0 };
  if (config.daysBefore.length === 0) return { ...run, skipped: 'disabled' };
  if (!localHourReached(now, config.hour, timezone)) return { ...run, skipped: 'beforeHour' };

  // Lots that expire after now and on or before the furthest threshold's local date.
  const before = startOfLocalDay(addDays(today, Math.max(...config.daysBefore) + 1), timezone);
  const batchSize = options.batchSize ?? 1000;
  let afterMemberId = 0;
  for (;;) {
    const groups = await deps.repos.jobs.expiringPoints({ after: now, before, timeZone: timezone, afterMemberId, limitMembers: batchSize });
    // Groups come in (member, date) order: the first group of a member is its nearest date.
    const nearest = new Map<number, ExpiringPoints>();
    for (const group of groups) if (!nearest.has(group.memberId)) nearest.set(group.memberId, group);
    const notices: MemberNotice[] = [];
    for (const group of nearest.values()) {
      const threshold = reminderThreshold(today, group.date, config.daysBefore);
      if (threshold === null) continue;
      notices.push({
        memberId: group.memberId,
        notification: { kind: 'pointsExpiring', points: group.points, at: group.date },
        dedupeKey: expiringKey(group.memberId, group.date, threshold),
        class: 'reminder',
      });
    }
    // The batch at once: one outbox statement and one queue call.
    await notifyAll(deps.notifier, notices);
    run.reminders += notices.length;
    const last = groups.at(-1);
    if (last === undefined || nearest.size < batchSize) break;
    afterMemberId = last.memberId;
  }
  return run;
}
