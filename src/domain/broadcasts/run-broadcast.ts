import { nextAllowedTime } from '../jobs/schedule-rules.js';
import type { DomainDeps } from '../ports.js';
import { reportLifts } from './lift.js';
import { audienceQuery } from './segment.js';
import type { Broadcast, BroadcastCounts } from './types.js';

/**
 * How a broadcast runs, crash-safe at every step:
 *
 * 1. Start: one statement turns it SENDING and writes its delivery list (one Delivery row per
 *    member, unique dedupe key `broadcast:<id>:<memberId>`). The audience is resolved once.
 * 2. Queue: PENDING rows go to the delivery queue in id order, in chunks (addBulk; job id
 *    `delivery-<id>`, so queueing one twice is a no-op), and `queuedThroughId` records how far.
 *    At most QUEUE_WINDOW are queued and not yet done at a time: as deliveries finish, the
 *    window is topped up (`pumpBroadcast`). Redis holds thousands of jobs, not the whole
 *    audience, starting is quick, and cancelling has few jobs to take back.
 * 3. Send: the delivery worker sends each row once (it acts only on PENDING rows and marks them
 *    SENT / BLOCKED / FAILED / SKIPPED).
 * 4. Finish: when no row is PENDING, it turns DONE with its counts and the creator gets a report.
 *
 * The pump runs after deliveries finish (coalesced, in every worker process), and from the
 * `broadcasts` job every minute and at start-up, which also queue the window again (in case Redis
 * lost it; job ids dedupe). So a crash at any point resumes where it stopped: nobody gets it
 * twice, nobody is lost. The one exception is a process killed between Telegram accepting a
 * message and the row being marked SENT (at most one message per worker slot): that message is
 * sent again rather than lost.
 */

const QUEUE_CHUNK = 1_000;
/** Deliveries of one broadcast queued and not yet done, at most (about 5 s at 1000/s). */
export const QUEUE_WINDOW = 5_000;
const DUE_PER_RUN = 20;

/** Hands up to `limit` PENDING deliveries after `afterId` to the queue, chunk by chunk; returns how many. */
export async function queuePending(deps: DomainDeps, broadcast: Pick<Broadcast, 'id' | 'paid'>, afterId: number, limit: number): Promise<number> {
  const dispatch = deps.broadcastDispatch;
  if (!dispatch) return 0;
  let after = afterId;
  let queued = 0;
  while (queued < limit) {
    const ids = await deps.repos.broadcasts.pendingDeliveries(broadcast.id, after, Math.min(QUEUE_CHUNK, limit - queued));
    if (ids.length === 0) break;
    await dispatch.enqueue(broadcast, ids);
    after = ids[ids.length - 1] as number;
    await deps.repos.broadcasts.markQueued(broadcast.id, after);
    queued += ids.length;
  }
  return queued;
}

/**
 * Keeps a running broadcast going: finishes it when nothing is pending, else tops its window up.
 * `requeue`: first queue the window's PENDING deliveries again (the scheduler's tick and start-up:
 * what a lost queue, or a crash mid-queueing, left out; job ids dedupe the rest).
 */
export async function pumpBroadcast(deps: DomainDeps, id: number, options: { requeue?: boolean } = {}): Promise<{ queued: number; finished: boolean }> {
  if (await finishBroadcastIfDone(deps, id)) return { queued: 0, finished: true };
  const broadcast = await deps.repos.broadcasts.findById(id);
  if (broadcast?.status !== 'SENDING') return { queued: 0, finished: false };
  // The lowest PENDING rows are the window: queued again, and filled up to its size.
  if (options.requeue) return { queued: await queuePending(deps, broadcast, 0, QUEUE_WINDOW), finished: false };
  const inFlight = await deps.repos.broadcasts.queuedPending(id, broadcast.queuedThroughId, QUEUE_WINDOW);
  if (inFlight >= QUEUE_WINDOW / 2) return { queued: 0, finished: false };
  return { queued: await queuePending(deps, broadcast, broadcast.queuedThroughId, QUEUE_WINDOW - inFlight), finished: false };
}

/**
 * Starts a SCHEDULED broadcast now: resolves its audience into the delivery list and queues the
 * first window. Idempotent: a broadcast already started (or cancelled) is returned as it is. No
 * role check: callers are the use cases that checked it (create) and the scheduler.
 */
export async function startBroadcast(deps: DomainDeps, id: number): Promise<Broadcast | null> {
  const broadcast = await deps.repos.broadcasts.findById(id);
  if (broadcast?.status !== 'SCHEDULED') return broadcast;
  const query = await audienceQuery(deps, broadcast.segment, { strict: false });
  const started = await deps.repos.broadcasts.start(id, query, deps.clock.now());
  if (!started) return deps.repos.broadcasts.findById(id);
  await queuePending(deps, started, 0, QUEUE_WINDOW);
  // An audience of nobody (or only opted-out members) is done at once.
  return (await finishBroadcastIfDone(deps, id)) ?? started;
}

/** DONE when nothing is pending any more; the creator gets the report (once: the update is conditional). */
export async function finishBroadcastIfDone(deps: DomainDeps, id: number): Promise<Broadcast | null> {
  const done = await deps.repos.broadcasts.finishIfDone(id, deps.clock.now());
  if (!done) return null;
  const counts: BroadcastCounts = { pending: 0, ...done.final };
  await deps.repos.audit.record({ actor: { type: 'SYSTEM' }, action: 'broadcast.finished', subject: `broadcast:${id}`, details: { ...counts } });
  await deps.broadcastDispatch?.report(done, counts);
  return done;
}

export interface BroadcastsRun {
  started: number;
  queued: number;
  finished: number;
  /** Lift reports sent to authors (their attribution window passed). */
  lifts: number;
  [key: string]: number;
}

/**
 * The scheduler's tick (every minute, and at start-up; idempotent): starts the broadcasts that
 * are due (not in the program's quiet hours), pumps the running ones (queueing again what a
 * crash or a lost queue left out, topping their windows up, finishing those that are done), and
 * sends the lift reports whose attribution window has passed (lift.ts).
 */
export async function runBroadcasts(deps: DomainDeps): Promise<BroadcastsRun> {
  const now = deps.clock.now();
  const run: BroadcastsRun = { started: 0, queued: 0, finished: 0, lifts: 0 };
  const { quietHours } = deps.program.notifications;
  if (nextAllowedTime(now, quietHours, deps.program.timezone).getTime() <= now.getTime()) {
    for (const id of await deps.repos.broadcasts.due(now, DUE_PER_RUN)) {
      const broadcast = await startBroadcast(deps, id);
      if (broadcast && broadcast.status !== 'SCHEDULED' && broadcast.status !== 'CANCELLED') run.started++;
    }
  }
  for (const broadcast of await deps.repos.broadcasts.sending()) {
    const pumped = await pumpBroadcast(deps, broadcast.id, { requeue: true });
    run.queued += pumped.queued;
    if (pumped.finished) run.finished++;
  }
  run.lifts = (await reportLifts(deps)).reported;
  return run;
}
