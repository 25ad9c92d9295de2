import type { DomainDeps, MemberNotice } from '../ports.js';
import { localDate } from '../time.js';
import type { SkipReason } from './job-runs.js';
import { notifyAll } from './notify-all.js';
import { addDays, daysBetween, localHourReached, startOfLocalDay, winBackPeriod } from './schedule-rules.js';

export interface WinBackRun {
  date: string;
  skipped: SkipReason | null;
  /** Reminders handed to the notifier (a rerun in the same period hands the same keys again). */
  reminders: number;
}

/**
 * `winback:<memberId>:<last active date>:<period index>`: the period is counted from the day the
 * member was last active, so one who comes back and leaves again starts a fresh series.
 */
export const winBackKey = (memberId: number, lastActiveDate: string, period: number) => `winback:${memberId}:${lastActiveDate}:${period}`;

/**
 * Reminds ACTIVE members who have not bought anything (nor registered) for `inactiveDays`,
 * at most once per `everyDays` period while they stay away.
 */
export async function sendWinBackReminders(deps: DomainDeps, options: { batchSize?: number } = {}): Promise<WinBackRun> {
  const now = deps.clock.now();
  const { timezone } = deps.program;
  const config = deps.program.notifications.winBack;
  const today = localDate(now, timezone);
  const run: WinBackRun = { date: today, skipped: null, reminders: 0 };
  if (!config.enabled) return { ...run, skipped: 'disabled' };
  if (!localHourReached(now, config.hour, timezone)) return { ...run, skipped: 'beforeHour' };

  // Last active on or before the local date `inactiveDays` ago.
  const activeBefore = startOfLocalDay(addDays(today, 1 - config.inactiveDays), timezone);
  const batchSize = options.batchSize ?? 1000;
  let afterId = 0;
  for (;;) {
    const members = await deps.repos.jobs.inactiveMembers({ activeBefore, afterId, limit: batchSize });
    const notices: MemberNotice[] = [];
    for (const member of members) {
      const lastActive = localDate(member.lastActiveAt, timezone);
      const period = winBackPeriod(lastActive, today, config);
      if (period === null) continue;
      notices.push({
        memberId: member.id,
        notification: { kind: 'winBack', balance: member.balance, inactiveDays: daysBetween(lastActive, today) },
        dedupeKey: winBackKey(member.id, lastActive, period),
        class: 'reminder',
      });
    }
    // The batch at once: one outbox statement and one queue call.
    await notifyAll(deps.notifier, notices);
    run.reminders += notices.length;
    const last = members.at(-1);
    if (last === undefined || members.length < batchSize) break;
    afterId = last.id;
  }
  return run;
}
