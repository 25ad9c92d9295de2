import { isDomainError } from '../errors.js';
import { expiryFor } from '../ledger/expiry.js';
import type { DomainDeps, MemberNotice, Repositories } from '../ports.js';
import type { Localized } from '../program.js';
import { issueGiftCoupon } from '../rewards/issue-gift.js';
import { localDate } from '../time.js';
import { JOB_NAMES, jobActor, type SkipReason } from './job-runs.js';
import { notifyAll } from './notify-all.js';
import { birthdaysOn, localHourReached } from './schedule-rules.js';

export interface BirthdayRun {
  /** The local date (program time zone) the run greeted for. */
  date: string;
  skipped: SkipReason | null;
  /** Members whose birthday it is (greeted, or found greeted already). */
  members: number;
  /** Gifts posted by this run, and their points; a rerun posts none. */
  gifts: number;
  points: number;
  /** Birthday coupons issued by this run (a rerun issues none). */
  coupons: number;
}

/** `birthday:<memberId>:<year>`: the gift's ledger key and the greeting's dedupe key. */
export const birthdayKey = (memberId: number, localYear: number | string) => `birthday:${memberId}:${localYear}`;

/**
 * Greets ACTIVE members on their birthday (local date in the program's time zone; 29 February
 * birthdays on 28 February in other years), from the configured local hour on, and gifts the
 * configured points through the ledger. The gift's key is per member and calendar year, so a
 * rerun, or a birthday moved to a later date in the same year, never pays twice. A batch's
 * greetings go out after its gifts commit, together (one outbox statement, one queue call), with
 * the gift's key as dedupe key: a rerun after a crash replays the gifts and sends what is
 * missing, nothing twice.
 */
export async function sendBirthdayGreetings(deps: DomainDeps, options: { batchSize?: number } = {}): Promise<BirthdayRun> {
  const now = deps.clock.now();
  const { timezone } = deps.program;
  const config = deps.program.notifications.birthday;
  const today = localDate(now, timezone);
  const run: BirthdayRun = { date: today, skipped: null, members: 0, gifts: 0, points: 0, coupons: 0 };
  if (!config.enabled) return { ...run, skipped: 'disabled' };
  if (!localHourReached(now, config.hour, timezone)) return { ...run, skipped: 'beforeHour' };

  const year = today.slice(0, 4);
  const on = birthdaysOn(today);
  const batchSize = options.batchSize ?? 500;
  const expiresAt = expiryFor(deps.program.points.expiry, now, timezone);
  let afterId = 0;
  for (;;) {
    const ids = await deps.repos.jobs.birthdayMembers(on, afterId, batchSize);
    const greetings: MemberNotice[] = [];
    for (const memberId of ids) {
      run.members++;
      const key = birthdayKey(memberId, year);
      let points = 0;
      if (config.points > 0) {
        try {
          const posted = await deps.repos.ledger.post({
            kind: 'credit',
            type: 'BONUS',
            memberId,
            amount: config.points,
            idempotencyKey: key,
            actor: jobActor(JOB_NAMES.birthdayGreetings),
            reason: 'birthday',
            expiresAt,
          });
          points = posted.entry.amount;
          if (!posted.replayed) {
            run.gifts++;
            run.points += points;
          }
        } catch (error) {
          // Gifted this year already, under a since changed amount: greeted then too.
          if (isDomainError(error, 'IDEMPOTENCY_CONFLICT')) continue;
          throw error;
        }
      }
      // The coupon's key is per member and year as well: a rerun finds the first coupon.
      const coupon = config.reward === null ? null : await deps.uow.run((repos) => birthdayCoupon(repos, config.reward as string, memberId, key, now));
      if (coupon?.issued) run.coupons++;
      greetings.push({
        memberId,
        // No coupon key when the program gives none: the greeting stays what it was.
        notification:
          config.reward === null
            ? { kind: 'birthdayGreeting', points }
            : { kind: 'birthdayGreeting', points, coupon: coupon ? { code: coupon.code, title: coupon.title } : null },
        dedupeKey: key,
        class: 'reminder',
      });
    }
    await notifyAll(deps.notifier, greetings);
    const last = ids.at(-1);
    if (last === undefined || ids.length < batchSize) break;
    afterId = last;
  }
  return run;
}

/**
 * The birthday coupon (`birthday:<member>:<year>:coupon`): null when the reward is paused or out
 * of stock (the greeting still goes out, with the points if any).
 */
async function birthdayCoupon(
  repos: Repositories,
  rewardCode: string,
  memberId: number,
  key: string,
  now: Date,
): Promise<{ code: string; title: Localized; issued: boolean } | null> {
  const idempotencyKey = `${key}:coupon`;
  const earlier = await repos.coupons.findByKey(idempotencyKey);
  const coupon = earlier ?? (await issueGiftCoupon(repos, { memberId, rewardCode, idempotencyKey, now }));
  if (!coupon) return null;
  const reward = await repos.rewards.findByCode(rewardCode);
  return { code: coupon.code, title: reward?.title ?? { ru: rewardCode, en: rewardCode }, issued: !earlier };
}
