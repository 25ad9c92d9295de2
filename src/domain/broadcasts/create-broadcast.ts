import { DomainError } from '../errors.js';
import { nextAllowedTime } from '../jobs/schedule-rules.js';
import type { DomainDeps } from '../ports.js';
import { authorize, type BroadcastAuthor } from './access.js';
import { assertContent } from './content.js';
import { assertExperiment } from './experiment.js';
import { assertOfferReward, OFFER_LINE_RESERVE } from './offer.js';
import { startBroadcast } from './run-broadcast.js';
import { assertSegment, audienceQuery, normalizeSegment } from './segment.js';
import type { Broadcast, BroadcastContent, Segment } from './types.js';

export interface CreateBroadcastInput {
  content: BroadcastContent;
  segment: Segment;
  /** When to send it; null: now. */
  scheduledAt: Date | null;
  /** The API's Idempotency-Key (scoped to the key): a retry returns the first broadcast. */
  idempotencyKey?: string | null;
  /** A personal offer: each recipient gets a free coupon of this (active) catalogue reward; see offer.ts. */
  offerRewardCode?: string | null;
  /** Percent of the recipients held back as the control group, 0-50; omitted: the program's `broadcasts.controlPercent` (10 by default). */
  controlPercent?: number;
  /** A second message for half of the treated members (A/B test); omitted or null: none. */
  variantB?: BroadcastContent | null;
}

export interface CreateBroadcastResult {
  broadcast: Broadcast;
  /** It was due (sent now, or at a time already reached) and has started. */
  started: boolean;
  /** The requested time fell in the program's quiet hours: it starts when they end (`broadcast.scheduledAt`). */
  movedByQuietHours: boolean;
  /** True when the idempotency key had been used before and nothing was created now. */
  replayed: boolean;
}

/** A scheduled time may lie a little in the past (the form took a minute), not more; at most a year ahead. */
const PAST_SLACK_MS = 60_000;
const MAX_AHEAD_MS = 366 * 86_400_000;

/**
 * A marketer (or the CRM) sends a message to a segment, now or at a time. The message and the
 * segment are checked, the start is moved out of the program's quiet hours (offers respect them),
 * and a broadcast due now starts at once (see run-broadcast.ts); a later one starts from the
 * scheduler. Whether the program pays for fast delivery (`broadcasts.paid`) is fixed here.
 */
export async function createBroadcast(deps: DomainDeps, by: BroadcastAuthor, input: CreateBroadcastInput): Promise<CreateBroadcastResult> {
  const actor = await authorize(deps, by);
  const key = input.idempotencyKey ?? null;
  if (key) {
    const earlier = await deps.repos.broadcasts.findByKey(key);
    if (earlier) return replay(earlier, input);
  }
  const offerRewardCode = input.offerRewardCode ?? null;
  // With an offer, the coupon line goes at the end of the text: room is left for it.
  assertContent(input.content, offerRewardCode ? { reserve: OFFER_LINE_RESERVE } : {});
  const controlPercent = input.controlPercent ?? deps.program.broadcasts.controlPercent;
  const variantB = input.variantB ?? null;
  assertExperiment(controlPercent, variantB, offerRewardCode ? { reserve: OFFER_LINE_RESERVE } : {});
  if (offerRewardCode) await assertOfferReward(deps, offerRewardCode);
  assertSegment(input.segment, deps.program);
  const segment = normalizeSegment(input.segment);
  // Store codes must exist now (a typo is refused, not silently matched by nobody).
  await audienceQuery(deps, segment, { strict: true });

  const now = deps.clock.now();
  const requested = input.scheduledAt ?? now;
  if (requested.getTime() < now.getTime() - PAST_SLACK_MS || requested.getTime() > now.getTime() + MAX_AHEAD_MS) {
    throw new DomainError('SCHEDULE_INVALID', { field: 'scheduledAt', message: 'must be in the future, at most a year ahead' });
  }
  const { notifications, timezone } = deps.program;
  const startsAt = nextAllowedTime(requested.getTime() < now.getTime() ? now : requested, notifications.quietHours, timezone);

  const created = await deps.repos.broadcasts.create({
    content: { ...input.content, button: input.content.button ? { text: input.content.button.text.trim(), url: input.content.button.url } : null },
    segment,
    paid: deps.program.broadcasts.paid,
    scheduledAt: startsAt,
    createdBy: actor,
    reportTo: by.kind === 'staff' ? { chatId: by.telegramId, locale: by.locale } : null,
    idempotencyKey: key,
    offerRewardCode,
    controlPercent,
    variantB: variantB ? { ...variantB, button: variantB.button ? { text: variantB.button.text.trim(), url: variantB.button.url } : null } : null,
  });
  if (!created) {
    // A concurrent twin with the same key won.
    const twin = key ? await deps.repos.broadcasts.findByKey(key) : null;
    if (!twin) throw new Error('broadcast not created and no twin found');
    return replay(twin, input);
  }
  await deps.repos.audit.record({
    actor,
    action: 'broadcast.created',
    subject: `broadcast:${created.id}`,
    details: { scheduledAt: startsAt.toISOString(), segment: { ...segment }, paid: created.paid, offerRewardCode, controlPercent, variantB: variantB !== null },
  });
  const due = startsAt.getTime() <= now.getTime();
  const broadcast = due ? ((await startBroadcast(deps, created.id)) ?? created) : created;
  return { broadcast, started: due, movedByQuietHours: startsAt.getTime() !== Math.max(requested.getTime(), now.getTime()), replayed: false };
}

function replay(broadcast: Broadcast, input: CreateBroadcastInput): CreateBroadcastResult {
  if (
    broadcast.content.text !== input.content.text ||
    broadcast.offerRewardCode !== (input.offerRewardCode ?? null) ||
    (input.controlPercent !== undefined && broadcast.controlPercent !== input.controlPercent) ||
    (broadcast.variantB?.text ?? null) !== (input.variantB?.text ?? null)
  )
    throw new DomainError('IDEMPOTENCY_CONFLICT', { broadcastId: broadcast.id });
  return { broadcast, started: broadcast.status !== 'SCHEDULED', movedByQuietHours: false, replayed: true };
}
