import { randomUUID } from 'node:crypto';
import { authorize, type BroadcastAuthor } from '../broadcasts/access.js';
import { assertSegment, audienceQuery, normalizeSegment } from '../broadcasts/segment.js';
import type { Segment } from '../broadcasts/types.js';
import { DomainError } from '../errors.js';
import type { DomainDeps } from '../ports.js';
import { surveyMessageKey } from './surveys.js';
import type { CampaignCounts } from './types.js';

/**
 * NPS surveys a marketer (or the CRM) sends to a segment: the broadcasts' segment and audience
 * query, one survey per member with the trigger `campaign:<key>` (unique per member and trigger,
 * so a rerun or a double tap creates nothing new), never more often than `minDaysBetweenSurveys`,
 * not to members who opted out of such messages or blocked the bot. The messages go the way the
 * dispatch job sends them (a `reminder` with the 0-10 keyboard, dedupe key `nps:<surveyId>`), so
 * a message a crash kept from the outbox is queued by the job's next run.
 */

const DAY = 86_400_000;
const KEY = /^[A-Za-z0-9:_-]{1,64}$/;
export const campaignTrigger = (key: string) => `campaign:${key}`;

export interface SurveyCampaignResult extends CampaignCounts {
  /** `disabled`: NPS is off in the program, nobody was asked. */
  skipped: 'disabled' | null;
  key: string;
}

interface CampaignInput {
  segment: Segment;
  /** Makes the campaign idempotent (e.g. the bot's wizard id, the CRM's Idempotency-Key); omitted: a new campaign. */
  key?: string;
}

async function resolve(deps: DomainDeps, by: BroadcastAuthor, input: CampaignInput) {
  await authorize(deps, by);
  const key = input.key ?? randomUUID();
  if (!KEY.test(key)) throw new DomainError('BROADCAST_INVALID', { field: 'key', message: 'letters, digits, :, _ and -, up to 64 characters' });
  assertSegment(input.segment, deps.program);
  const now = deps.clock.now();
  return {
    key,
    query: {
      audience: await audienceQuery(deps, normalizeSegment(input.segment), { strict: true }),
      trigger: campaignTrigger(key),
      surveyedSince: new Date(now.getTime() - deps.program.nps.minDaysBetweenSurveys * DAY),
      sentAt: now,
    },
  };
}

const none = { surveyed: 0, already: 0, optedOut: 0, unreachable: 0, recentlySurveyed: 0 };

/** Who a campaign to this segment would ask now, and who it would leave out (the confirmation screen). */
export async function previewSurveyCampaign(deps: DomainDeps, by: BroadcastAuthor, input: CampaignInput): Promise<SurveyCampaignResult> {
  const { key, query } = await resolve(deps, by, input);
  if (!deps.program.nps.enabled) return { skipped: 'disabled', key, ...none };
  const { created: _, ...counts } = await deps.repos.surveys.createForCampaign({ ...query, dryRun: true });
  return { skipped: null, key, ...counts };
}

/** Sends the survey to the segment: creates the surveys in one statement, then queues their messages. */
export async function sendSurveyCampaign(deps: DomainDeps, by: BroadcastAuthor, input: CampaignInput): Promise<SurveyCampaignResult> {
  const { key, query } = await resolve(deps, by, input);
  if (!deps.program.nps.enabled) return { skipped: 'disabled', key, ...none };
  const { created, ...counts } = await deps.repos.surveys.createForCampaign(query);
  for (const survey of created) {
    // A reminder, as the dispatch sends it: quiet hours apply, and the dedupe key makes a resend a no-op.
    await deps.notifier.notify(
      survey.memberId,
      { kind: 'npsSurvey', surveyId: survey.id, storeName: null },
      { dedupeKey: surveyMessageKey(survey.id), class: 'reminder' },
    );
  }
  return { skipped: null, key, ...counts };
}
