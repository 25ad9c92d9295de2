import type { Queue, Worker } from 'bullmq';
import type { Api } from 'grammy';
import type { Logger } from 'pino';
import { type OfferCoupon, offerLine } from '../bot/broadcast-message.js';
import { formatterFor } from '../bot/format.js';
import type { I18n } from '../bot/i18n.js';
import { renderDelivery } from '../bot/notifier.js';
import { issueBroadcastOffer } from '../domain/broadcasts/offer.js';
import { runBroadcasts } from '../domain/broadcasts/run-broadcast.js';
import type { BroadcastDispatch } from '../domain/broadcasts/types.js';
import { nextAllowedTime } from '../domain/jobs/schedule-rules.js';
import type { DomainDeps, Notification } from '../domain/ports.js';
import type { Locale, Program } from '../domain/program.js';
import type { Metrics } from '../metrics.js';
import type { RedisHandle } from '../redis.js';
import { broadcastCompletionWatcher, broadcastContentCache, createBroadcastDispatch } from './broadcasts.js';
import { chunkSizeFor, createDeliveryQueue, DELIVERY_PAID_QUEUE, type DeliveryJobData, type SendOutcome, startDeliveryWorker } from './delivery.js';
import { createEventsQueue, type EventJobData, eventHandlers, startEventsWorker, sweepPendingEvents } from './events.js';
import { startReconciler } from './reconcile.js';
import { JOBS } from './registry.js';
import { createJobsQueue, missingSchedules, registerSchedules, startJobsWorker } from './scheduler.js';

export interface QueueRuntime {
  deliveryQueue: Queue<DeliveryJobData>;
  /** Deliveries of paid broadcasts (allow_paid_broadcast), at their own rate. */
  paidDeliveryQueue: Queue<DeliveryJobData>;
  jobsQueue: Queue;
  /** Domain events (ids of DomainEvent outbox rows) for their handlers. */
  eventsQueue: Queue<EventJobData>;
  /** Broadcasts onto the delivery queues, and their reports (the domain's BroadcastDispatch). */
  broadcastDispatch: BroadcastDispatch;
  /** Every queue of the app, for the operator view and the dashboard. */
  all(): Queue[];
  /**
   * Starts the delivery, events and jobs workers in this process, registers the schedules, and
   * keeps them registered (see reconcile.ts).
   */
  startWorkers(domain: DomainDeps): Promise<void>;
  /** The program's schedules that Redis does not hold (readiness). */
  missingSchedules(program: Program): Promise<string[]>;
  close(): Promise<void>;
}

export interface QueueRuntimeOptions {
  redis: RedisHandle;
  prefix: string;
  api: Api;
  i18n: I18n;
  logger: Logger;
  /** The free queue's rate (Infinity: none). */
  ratePerSecond: number;
  /** The paid broadcasts' queue's rate (the program's). */
  paidRatePerSecond: number;
  /** How often the worker process checks that the schedules are still in Redis. */
  reconcileIntervalMs: number;
  /** The events worker's lock (see EventsWorkerOptions); absent: its default. */
  eventsLockMs?: number;
  /** A chat's gap between messages (DeliveryWorkerDeps.chatGateMs); absent: Telegram's. */
  chatGateMs?: number;
  /** Where delivery outcomes are counted; absent: not counted. */
  metrics?: Pick<Metrics, 'deliveries'>;
}

/** The queues (producers) for any process, and the workers for the processes that run them. */
export function createQueueRuntime(options: QueueRuntimeOptions): QueueRuntime {
  const deliveryQueue = createDeliveryQueue(options.redis, options.prefix);
  const paidDeliveryQueue = createDeliveryQueue(options.redis, options.prefix, DELIVERY_PAID_QUEUE);
  const jobsConnection = options.redis.connect('producer');
  const jobsQueue = createJobsQueue(jobsConnection, options.prefix);
  const eventsQueue = createEventsQueue(options.redis, options.prefix);
  const broadcastDispatch = createBroadcastDispatch({
    deliveryQueue,
    paidQueue: paidDeliveryQueue,
    api: options.api,
    i18n: options.i18n,
    logger: options.logger,
    chunkSize: chunkSizeFor(options.ratePerSecond),
    paidChunkSize: chunkSizeFor(options.paidRatePerSecond),
  });
  const workers: Worker[] = [];
  const stops: (() => void | Promise<void>)[] = [];
  return {
    deliveryQueue,
    paidDeliveryQueue,
    jobsQueue,
    eventsQueue,
    broadcastDispatch,
    all: () => [deliveryQueue, paidDeliveryQueue, jobsQueue, eventsQueue],
    async startWorkers(domain) {
      const { program } = domain;
      const watcher = broadcastCompletionWatcher(domain, options.logger);
      stops.push(watcher.close);
      const broadcasts = {
        broadcastMessage: broadcastContentCache(domain.repos.broadcasts),
        broadcastOffer: (broadcast: { id: number; offerRewardCode: string }, memberId: number) => issueBroadcastOffer(domain, broadcast, memberId),
        renderOffer: (locale: Locale, coupon: OfferCoupon) =>
          offerLine(options.i18n.t(locale), formatterFor(locale, program.currency, program.timezone), coupon),
        onBroadcastDelivery: watcher.notify,
      };
      // What both delivery workers share; the paid one differs in queue, rate and flag.
      const common = {
        redis: options.redis,
        prefix: options.prefix,
        repos: domain.repos,
        api: options.api,
        clock: domain.clock,
        logger: options.logger,
        render: (locale: Locale, notification: Notification) => renderDelivery(options.i18n, domain, locale, notification),
        nextAllowed: (now: Date) => nextAllowedTime(now, program.notifications.quietHours, program.timezone),
        ...(options.chatGateMs !== undefined ? { chatGateMs: options.chatGateMs } : {}),
        ...broadcasts,
        ...(options.metrics ? { onSendOutcome: (queue: string, outcome: SendOutcome) => options.metrics?.deliveries.inc({ queue, outcome }) } : {}),
      };
      // With paid broadcasts on, both queues spend one budget at the paid rate beside their own:
      // Telegram's 1000/s is the bot's, and the free queue's receipts during a paid broadcast
      // count too (two budgets of 1000/s and 25/s would add up to more than the bot may send).
      const bot = program.broadcasts.paid ? { botRatePerSecond: program.broadcasts.paidRatePerSecond } : {};
      workers.push(startDeliveryWorker({ ...common, ...bot, ratePerSecond: options.ratePerSecond }));
      // Paid broadcasts: the same worker on their own queue, at the program's paid rate.
      workers.push(
        startDeliveryWorker({
          ...common,
          ...bot,
          ratePerSecond: program.broadcasts.paidRatePerSecond,
          queueName: DELIVERY_PAID_QUEUE,
          paidBroadcast: true,
        }),
      );
      workers.push(
        startEventsWorker(options.redis, options.prefix, domain, eventHandlers(domain, { jobsQueue }), options.logger, {
          ...(options.eventsLockMs ? { lockDurationMs: options.eventsLockMs } : {}),
        }),
      );
      workers.push(startJobsWorker(options.redis, options.prefix, JOBS, { domain, deliveryQueue, eventsQueue }, options.logger));
      await registerSchedules(jobsQueue, JOBS, program);
      // Events a crash left unqueued (committed, killed before the relay): all pending ones, not
      // only those a minute old; those still queued are deduped by job id.
      sweepPendingEvents(domain, eventsQueue, null).catch((error: unknown) => options.logger.warn({ err: error }, 'could not queue pending events'));
      // Broadcasts a crash interrupted: their windows back into the queue (job ids dedupe).
      runBroadcasts(domain).catch((error: unknown) => options.logger.warn({ err: error }, 'could not resume broadcasts'));
      // A reconnect is when an emptied Redis is most likely; the timer catches the rest.
      const reconciler = startReconciler(
        { jobsQueue, deliveryQueue, eventsQueue, jobs: JOBS, domain, logger: options.logger },
        { intervalMs: options.reconcileIntervalMs, connection: jobsConnection },
      );
      stops.push(reconciler.close);
    },
    missingSchedules: (program) => missingSchedules(jobsQueue, JOBS, program),
    async close() {
      for (const stop of stops) await stop();
      // Workers first: they finish the job in hand, then the producers go.
      await Promise.all(workers.map((worker) => worker.close()));
      await Promise.all([deliveryQueue.close(), paidDeliveryQueue.close(), jobsQueue.close(), eventsQueue.close()]);
    },
  };
}
