import { DomainError } from '../errors.js';
import type { DomainDeps } from '../ports.js';
import { authorize, type BroadcastAuthor } from './access.js';
import { type LiftReport, measureLift } from './lift.js';
import { assertSegment, audienceQuery, normalizeSegment } from './segment.js';
import type { AudienceSize, Broadcast, BroadcastCounts, ExperimentCounts, OfferCounts, Segment } from './types.js';

export interface BroadcastView {
  broadcast: Broadcast;
  counts: BroadcastCounts;
  /** From start to finish (or cancel, or now while it runs), in ms; null before it starts. */
  durationMs: number | null;
  /** A broadcast with a personal offer: copies sent with a coupon and without (paused or out of stock); null without an offer. */
  offer: OfferCounts | null;
  /** The control group and A/B split once it has started (null before). */
  experiment: (ExperimentCounts & { controlPercent: number; abTest: boolean }) | null;
  /** The lift report once the attribution window has passed; null until then (or without a control group or variant B). */
  lift: LiftReport | null;
}

async function view(deps: DomainDeps, broadcast: Broadcast, options: { lift: boolean }): Promise<BroadcastView> {
  const counts: BroadcastCounts =
    broadcast.status === 'SENDING' || broadcast.status === 'CANCELLED' ? await deps.repos.broadcasts.counts(broadcast.id) : { pending: 0, ...broadcast.final };
  const end = broadcast.finishedAt ?? broadcast.cancelledAt ?? deps.clock.now();
  const offer = broadcast.offerRewardCode && broadcast.startedAt ? await deps.repos.broadcasts.offerCounts(broadcast.id) : null;
  return {
    broadcast,
    counts,
    durationMs: broadcast.startedAt ? Math.max(0, end.getTime() - broadcast.startedAt.getTime()) : null,
    offer: broadcast.offerRewardCode ? (offer ?? { withCoupon: 0, withoutCoupon: 0 }) : null,
    experiment: broadcast.startedAt
      ? { ...(await deps.repos.broadcasts.experimentCounts(broadcast.id)), controlPercent: broadcast.controlPercent, abTest: broadcast.variantB !== null }
      : null,
    lift: options.lift ? await measureLift(deps, broadcast) : null,
  };
}

/** One broadcast with its progress (live while it runs). */
export async function getBroadcast(deps: DomainDeps, by: BroadcastAuthor, id: number): Promise<BroadcastView> {
  await authorize(deps, by);
  const broadcast = await deps.repos.broadcasts.findById(id);
  if (!broadcast) throw new DomainError('BROADCAST_NOT_FOUND', { broadcastId: id });
  return view(deps, broadcast, { lift: true });
}

/** The most recent broadcasts, newest first, with their progress (without the lift: see getBroadcast). */
export async function listBroadcasts(deps: DomainDeps, by: BroadcastAuthor, limit = 10): Promise<BroadcastView[]> {
  await authorize(deps, by);
  const broadcasts = await deps.repos.broadcasts.list(limit);
  return Promise.all(broadcasts.map((broadcast) => view(deps, broadcast, { lift: false })));
}

/** How many members a segment reaches now (and how many it leaves out, and why). */
export async function measureAudience(deps: DomainDeps, by: BroadcastAuthor, segment: Segment): Promise<AudienceSize> {
  await authorize(deps, by);
  assertSegment(segment, deps.program);
  return deps.repos.broadcasts.audienceSize(await audienceQuery(deps, normalizeSegment(segment), { strict: true }));
}
