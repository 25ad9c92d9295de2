import type { DomainDeps } from '../ports.js';
import type { NpsProgram } from '../program.js';
import { closeDueSurveys, SURVEY_MESSAGE_PREFIX, surveyMessageKey } from './surveys.js';
import type { Survey } from './types.js';

/**
 * NPS surveys after purchases: a member is asked about a purchase `delayMinutes` after it, at most
 * once per `minDaysBetweenSurveys`, only if they take such messages (reminders) and have not
 * blocked the bot. Each purchase has its own delayed job, due to the minute (`surveyPurchase`,
 * scheduled when the purchase's event is handled); the periodic job (`dispatchNpsSurveys`, every
 * few minutes) is the safety sweep for jobs Redis lost, and closes what is over. Idempotent: a
 * purchase has at most one survey (a unique key), each survey one message (its dedupe key), so a
 * rerun or both paths together send nothing new.
 */

/** A purchase older than this past its delay is not asked about any more (the job was down, or NPS just switched on). */
export const MAX_LATENESS_MS = 48 * 3_600_000;
const MINUTE = 60_000;
const DAY = 86_400_000;

export interface NpsDispatchRun {
  skipped: 'disabled' | null;
  /** Surveys created by this run. */
  created: number;
  /** Survey messages handed to the delivery queue (new ones, and any a crash left behind). */
  queued: number;
  /** Unanswered surveys closed after `answerWithinDays`. */
  unanswered: number;
  /** Answered surveys closed after the change window, of which `finished` had an unfinished follow-up. */
  closed: number;
  finished: number;
  alerts: number;
}

/** Purchases whose survey is due at `now` (and not too late), and the members' cool-down. */
function dueWindow(config: NpsProgram, now: Date) {
  const purchasedBefore = new Date(now.getTime() - config.delayMinutes * MINUTE);
  return {
    purchasedAfter: new Date(purchasedBefore.getTime() - MAX_LATENESS_MS),
    purchasedBefore,
    surveyedSince: new Date(now.getTime() - config.minDaysBetweenSurveys * DAY),
    sentAt: now,
  };
}

/** How long after `now` the survey about a purchase made at `purchasedAt` is due (0: now). */
export function surveyDelayMs(config: NpsProgram, purchasedAt: Date, now: Date): number {
  return Math.max(0, purchasedAt.getTime() + config.delayMinutes * MINUTE - now.getTime());
}

/**
 * The delayed job of one purchase: its survey, if the purchase still qualifies (not returned in
 * full, the member reachable and not surveyed lately, no survey yet). Nothing when it is not due
 * by the clock yet: the sweep asks then.
 */
export async function surveyPurchase(deps: DomainDeps, purchaseId: number): Promise<{ created: number }> {
  const config = deps.program.nps;
  if (!config.enabled) return { created: 0 };
  const created = await deps.repos.surveys.createForPurchases({ ...dueWindow(config, deps.clock.now()), purchaseId, limit: 1 });
  if (created.length === 0) return { created: 0 };
  const storeNames = new Map((await deps.repos.stores.list()).map((store) => [store.id, store.name]));
  for (const survey of created) await askSurvey(deps, survey, storeNames);
  return { created: created.length };
}

/** The survey's message, through the delivery queue. */
async function askSurvey(deps: DomainDeps, survey: Pick<Survey, 'id' | 'memberId' | 'storeId'>, storeNames: Map<number, string>): Promise<void> {
  const storeName = survey.storeId === null ? null : (storeNames.get(survey.storeId) ?? null);
  await deps.notifier.notify(
    survey.memberId,
    { kind: 'npsSurvey', surveyId: survey.id, storeName },
    // A reminder: members who turned such messages off are not asked, and quiet hours apply.
    { dedupeKey: surveyMessageKey(survey.id), class: 'reminder' },
  );
}

export async function dispatchNpsSurveys(deps: DomainDeps, options: { batchSize?: number } = {}): Promise<NpsDispatchRun> {
  const config = deps.program.nps;
  const now = deps.clock.now();
  const batchSize = options.batchSize ?? 500;
  const closing = await closeDueSurveys(deps, { batchSize });
  const run: NpsDispatchRun = { skipped: null, created: 0, queued: 0, ...closing };
  if (!config.enabled) return { ...run, skipped: 'disabled' };

  const query = { ...dueWindow(config, now), limit: batchSize };
  for (;;) {
    // Each batch leaves its members surveyed, so the next one finds others (or none).
    const created = await deps.repos.surveys.createForPurchases(query);
    run.created += created.length;
    if (created.length < batchSize) break;
  }

  // The messages: every open survey with no message in the outbox yet (the new ones, and any
  // whose message a crash kept from the outbox). The dedupe key makes a second request a no-op.
  const storeNames = new Map((await deps.repos.stores.list()).map((store) => [store.id, store.name]));
  let afterId = 0;
  for (;;) {
    const unsent = await deps.repos.surveys.withoutMessage({
      since: new Date(now.getTime() - config.answerWithinDays * DAY),
      dedupeKeyPrefix: SURVEY_MESSAGE_PREFIX,
      afterId,
      limit: batchSize,
    });
    for (const survey of unsent) {
      await askSurvey(deps, survey, storeNames);
      run.queued++;
    }
    const last = unsent.at(-1);
    if (last === undefined || unsent.length < batchSize) break;
    afterId = last.id;
  }
  return run;
}
