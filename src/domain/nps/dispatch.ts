import type { DomainDeps } from '../ports.js';
import { closeDueSurveys, SURVEY_MESSAGE_PREFIX, surveyMessageKey } from './surveys.js';

/**
 * The NPS job (every few minutes): asks members about a purchase `delayMinutes` after it, at most
 * once per `minDaysBetweenSurveys`, only those who take such messages (reminders) and have not
 * blocked the bot; then closes what is over. Idempotent: a purchase has at most one survey (a
 * unique key), each survey one message (its dedupe key), so a rerun sends nothing new.
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

export async function dispatchNpsSurveys(deps: DomainDeps, options: { batchSize?: number } = {}): Promise<NpsDispatchRun> {
  const config = deps.program.nps;
  const now = deps.clock.now();
  const batchSize = options.batchSize ?? 500;
  const closing = await closeDueSurveys(deps, { batchSize });
  const run: NpsDispatchRun = { skipped: null, created: 0, queued: 0, ...closing };
  if (!config.enabled) return { ...run, skipped: 'disabled' };

  const purchasedBefore = new Date(now.getTime() - config.delayMinutes * MINUTE);
  const query = {
    purchasedAfter: new Date(purchasedBefore.getTime() - MAX_LATENESS_MS),
    purchasedBefore,
    surveyedSince: new Date(now.getTime() - config.minDaysBetweenSurveys * DAY),
    sentAt: now,
    limit: batchSize,
  };
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
      const storeName = survey.storeId === null ? null : (storeNames.get(survey.storeId) ?? null);
      await deps.notifier.notify(
        survey.memberId,
        { kind: 'npsSurvey', surveyId: survey.id, storeName },
        // A reminder: members who turned such messages off are not asked, and quiet hours apply.
        { dedupeKey: surveyMessageKey(survey.id), class: 'reminder' },
      );
      run.queued++;
    }
    const last = unsent.at(-1);
    if (last === undefined || unsent.length < batchSize) break;
    afterId = last.id;
  }
  return run;
}
