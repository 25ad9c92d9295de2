import { type Job, Queue, Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { EventHandler } from '../domain/events.js';
import { pendingDomainEvents, processDomainEvent } from '../domain/outbox.js';
import type { DomainDeps, OutboxRelay, OutboxWrites } from '../domain/ports.js';
import { autoRewardSubscriber } from '../domain/rewards/auto-rewards.js';
import { taskSubscriber } from '../domain/tasks/subscriber.js';
import type { RedisHandle } from '../redis.js';
import { type DeliveryJobData, enqueueDeliveries } from './delivery.js';
import { npsScheduler } from './nps.js';

/**
 * The domain events' queue. Use cases write events to the DomainEvent outbox in their own
 * transaction; after the commit the relay queues each by its id (best effort), the worker hands
 * it to every handler and marks it processed, and the sweep (src/jobs/registry.ts) queues again
 * what is still pending a minute later. The job id is the event's id, so queueing twice is a no-op.
 */

export const EVENTS_QUEUE = 'events';

export interface EventJobData {
  eventId: string;
}

/** Everyone who follows domain events. Each must be idempotent by event id. */
export const eventHandlers = (domain: DomainDeps, queues: { jobsQueue: Queue }): EventHandler[] => [
  taskSubscriber(domain),
  autoRewardSubscriber(domain),
  npsScheduler(domain, queues.jobsQueue),
];

export function createEventsQueue(redis: RedisHandle, prefix: string): Queue<EventJobData> {
  return new Queue<EventJobData>(EVENTS_QUEUE, { connection: redis.connect('producer'), prefix });
}

// BullMQ ids may not contain ':' (event ids do: `purchase:42`); '|' never occurs in them.
const eventJobId = (eventId: string) => `event|${eventId.replaceAll(':', '|')}`;

const jobOptions = (eventId: string) => ({
  jobId: eventJobId(eventId),
  attempts: 5,
  backoff: { type: 'exponential', delay: 1_000 },
  // Gone once finished: the DomainEvent row is the record (status, attempts, error), and a
  // removed job id lets the sweep queue a failed event again.
  removeOnComplete: true,
  removeOnFail: true,
});

export async function enqueueEvents(queue: Queue<EventJobData>, eventIds: readonly string[]): Promise<void> {
  if (eventIds.length === 0) return;
  await queue.addBulk(eventIds.map((eventId) => ({ name: 'event', data: { eventId }, opts: jobOptions(eventId) })));
}

/**
 * Events still pending after `olderThanMs` (null: all of them, at start-up after a crash) back
 * into the queue; those still queued are deduped by job id.
 */
export async function sweepPendingEvents(
  domain: Pick<DomainDeps, 'repos' | 'clock'>,
  queue: Queue<EventJobData>,
  olderThanMs: number | null,
): Promise<{ requeued: number }> {
  const ids = await pendingDomainEvents(domain, olderThanMs);
  await enqueueEvents(queue, ids);
  return { requeued: ids.length };
}

/**
 * Rows the relay holds for Redis at most (queueRelay): tens of seconds of the till API at its
 * measured peak (two rows a purchase), and several of the expiry's 5,000-row notice batches, so
 * that only a Redis that hangs reaches it; some 25 MB of rows.
 */
export const RELAY_BACKLOG_LIMIT = 50_000;

/**
 * Queues what a unit of work committed to the outboxes. Never throws: a commit is never
 * reported as failed because Redis was away (the rows stay PENDING and the sweeps queue them).
 *
 * The queueing runs behind the caller (issue 12): the commit is what a request answers for, and
 * the rows are already safe in the database, so a till or a member does not wait for Redis
 * round trips that the sweeps would make good anyway. One queueing is in flight at a time: what
 * commits meanwhile waits for it and goes to Redis together with everything else that gathered
 * (one addBulk per queue), and with none in flight what commits within one turn of the event
 * loop goes together. So the batches grow with the load, by themselves: each BullMQ pipeline
 * (ioredis builds one per addBulk, copying every script BullMQ defines onto it) and each round
 * trip carries many rows instead of one or two, and nothing waits longer when the app is quiet.
 * `drain` waits for what is still in flight, so a graceful stop loses nothing to the sweeps' delay.
 *
 * What gathers is bounded (`backlogLimit` rows, or one commit's when that is larger): a Redis
 * that hangs rather than fails (a stalled server, a network that drops packets without a reset)
 * keeps one queueing in flight for as long as it hangs, and every commit meanwhile would
 * otherwise be held in memory. Past the limit, a commit's rows are not held; they are PENDING in
 * the database, and the sweeps queue them once Redis answers again.
 */
export function queueRelay(
  queues: { deliveryQueue: Queue<DeliveryJobData>; eventsQueue: Queue<EventJobData> },
  logger: Logger,
  options: { backlogLimit?: number } = {},
): OutboxRelay & { drain(): Promise<void>; readonly backlog: number } {
  const backlogLimit = options.backlogLimit ?? RELAY_BACKLOG_LIMIT;
  let inFlight: Promise<void> | null = null;
  let pending: OutboxWrites | null = null;
  let pendingRows = 0;
  /** Rows not held since the backlog filled up (told once when it starts, once when it ends). */
  let leftToSweeps = 0;
  const queueNow = async (writes: OutboxWrites) => {
    try {
      await Promise.all([
        enqueueDeliveries(queues.deliveryQueue, writes.deliveries),
        enqueueEvents(
          queues.eventsQueue,
          writes.events.map((event) => event.id),
        ),
      ]);
      if (leftToSweeps > 0) {
        logger.warn({ rows: leftToSweeps }, 'Redis answers again; outbox rows committed while it was behind are left to the sweeps');
        leftToSweeps = 0;
      }
    } catch (error) {
      logger.warn({ err: error, events: writes.events.length, deliveries: writes.deliveries.length }, 'could not queue outbox rows; the sweeps will');
    }
  };
  const flush = () => {
    // With one in flight, its end flushes what gathered meanwhile.
    if (inFlight || !pending) return;
    const writes = pending;
    pending = null;
    pendingRows = 0;
    inFlight = queueNow(writes).finally(() => {
      inFlight = null;
      flush();
    });
  };
  return {
    async relay(writes: OutboxWrites) {
      const rows = writes.events.length + writes.deliveries.length;
      // One commit is always held when nothing else is (even one larger than the limit): the
      // limit bounds what piles up behind a queueing in flight, not the size of a commit.
      if (pendingRows > 0 && pendingRows + rows > backlogLimit) {
        if (leftToSweeps === 0) logger.warn({ backlogLimit }, 'Redis is behind: outbox rows past the backlog limit are left to the sweeps');
        leftToSweeps += rows;
        return;
      }
      if (!pending) {
        pending = { events: [], deliveries: [] };
        if (!inFlight) setImmediate(flush);
      }
      pending.events.push(...writes.events);
      pending.deliveries.push(...writes.deliveries);
      pendingRows += rows;
    },
    /** Rows gathered for the next queueing. */
    get backlog() {
      return pendingRows;
    },
    async drain() {
      flush();
      // Each queueing's end starts the next one with what gathered meanwhile.
      while (inFlight) await inFlight;
    },
  };
}

export interface EventsWorkerOptions {
  /** Events in hand at once: each takes its member's lock, so a few are enough. */
  concurrency?: number;
  /** How long a job stays claimed without a heartbeat: a killed worker's jobs run again about this much later. */
  lockDurationMs?: number;
}

export function startEventsWorker(
  redis: RedisHandle,
  prefix: string,
  domain: DomainDeps,
  handlers: readonly EventHandler[],
  logger: Logger,
  options: EventsWorkerOptions = {},
): Worker<EventJobData> {
  const log = logger.child({ component: 'events' });
  const lockDuration = options.lockDurationMs ?? 15_000;
  const worker = new Worker<EventJobData>(EVENTS_QUEUE, (job: Job<EventJobData>) => processDomainEvent(domain, handlers, job.data.eventId), {
    connection: redis.connect('worker'),
    prefix,
    concurrency: options.concurrency ?? 4,
    lockDuration,
    // Handlers are idempotent: a job a dead worker held may simply run again.
    stalledInterval: Math.max(1_000, Math.floor(lockDuration / 3)),
    maxStalledCount: 3,
  });
  worker.on('failed', (job, error) => log.warn({ err: error, eventId: job?.data.eventId, attempt: job?.attemptsMade }, 'an event handler failed'));
  worker.on('error', (error) => log.warn({ err: error }, 'events worker error'));
  return worker;
}
