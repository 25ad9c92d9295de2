import { randomUUID } from 'node:crypto';
import { DelayedError, type Job, Queue, Worker } from 'bullmq';
import { type Api, GrammyError } from 'grammy';
import type { Logger } from 'pino';
import type { RenderedMessage } from '../bot/notifier.js';
import type { Clock } from '../domain/clock.js';
import { decideDelivery } from '../domain/delivery/decide.js';
import type { Delivery, Notification, NotificationClass, Notifier, NotifyOptions, Repositories } from '../domain/ports.js';
import type { Locale } from '../domain/program.js';
import type { RedisHandle } from '../redis.js';

/**
 * The one outbound queue for messages that are not direct replies. A message is first written
 * to the Delivery outbox (unique dedupe key: a second request for the same message is a no-op),
 * then queued by its id. The worker honours the global rate (BullMQ limiter, shared by all
 * workers on this Redis), one message per second per chat, 429 `retry_after` (pauses the whole
 * queue), and 403 (the member is marked unreachable; no retry).
 */

export const DELIVERY_QUEUE = 'delivery';

/** Lower is sooner: a receipt never waits behind a broadcast. */
const PRIORITY: Record<NotificationClass, number> = { transactional: 1, reminder: 5 };

export interface DeliveryJobData {
  deliveryId: number;
}

export function createDeliveryQueue(redis: RedisHandle, prefix: string): Queue<DeliveryJobData> {
  return new Queue<DeliveryJobData>(DELIVERY_QUEUE, { connection: redis.connect('producer'), prefix });
}

export function enqueueDelivery(queue: Queue<DeliveryJobData>, delivery: Delivery) {
  return queue.add(
    'deliver',
    { deliveryId: delivery.id },
    {
      // The job id doubles as a dedupe: re-enqueueing a delivery already queued is a no-op.
      jobId: `delivery-${delivery.id}`,
      priority: PRIORITY[delivery.class],
      attempts: 8,
      backoff: { type: 'exponential', delay: 2_000 },
      removeOnComplete: { count: 10_000 },
      removeOnFail: { age: 14 * 86_400 },
    },
  );
}

export class QueuedNotifier implements Notifier {
  constructor(
    private readonly repos: Repositories,
    private readonly queue: Queue<DeliveryJobData>,
    private readonly logger: Logger,
  ) {}

  async notify(memberId: number, notification: Notification, options: NotifyOptions = {}): Promise<void> {
    const delivery = await this.repos.deliveries.create({
      dedupeKey: options.dedupeKey ?? `once:${randomUUID()}`,
      memberId,
      class: options.class ?? 'transactional',
      notification,
    });
    if (!delivery) return;
    try {
      await enqueueDelivery(this.queue, delivery);
    } catch (error) {
      // The outbox row stays PENDING; the delivery sweep queues it once Redis is back.
      this.logger.warn({ err: error, deliveryId: delivery.id }, 'could not queue a delivery; the sweep will retry');
    }
  }
}

/** Queues outbox rows that never reached the queue (e.g. Redis was down when they were written). */
export async function sweepPendingDeliveries(repos: Repositories, queue: Queue<DeliveryJobData>, now: Date): Promise<{ requeued: number }> {
  const stale = await repos.deliveries.pendingBefore(new Date(now.getTime() - 60_000), 1_000);
  for (const delivery of stale) await enqueueDelivery(queue, delivery);
  return { requeued: stale.length };
}

export interface DeliveryWorkerDeps {
  redis: RedisHandle;
  prefix: string;
  repos: Repositories;
  api: Api;
  clock: Clock;
  logger: Logger;
  ratePerSecond: number;
  render: (locale: Locale, notification: Notification) => RenderedMessage;
  /** When a reminder may go out (quiet hours); identity when there are none. */
  nextAllowed: (now: Date) => Date;
}

export function startDeliveryWorker(deps: DeliveryWorkerDeps): Worker<DeliveryJobData> {
  const chatGate = deps.redis.connect('producer');
  const log = deps.logger.child({ component: 'delivery' });
  const pauseKey = `${deps.prefix}:delivery-paused-until`;

  const worker: Worker<DeliveryJobData> = new Worker<DeliveryJobData>(
    DELIVERY_QUEUE,
    async (job: Job<DeliveryJobData>, token?: string) => {
      const delivery = await deps.repos.deliveries.findById(job.data.deliveryId);
      if (!delivery) return 'missing';
      const member = await deps.repos.members.findById(delivery.memberId);
      const decision = decideDelivery(delivery, member, deps.clock.now(), deps.nextAllowed);
      if (decision.action === 'drop') {
        await deps.repos.deliveries.finish(delivery.id, decision.status, decision.reason);
        return decision.status;
      }
      if (decision.action === 'wait') {
        await job.moveToDelayed(decision.until.getTime(), token);
        throw new DelayedError();
      }
      // A 429 pauses everything, including jobs other workers already hold.
      const pausedUntil = Number(await chatGate.get(pauseKey));
      if (pausedUntil > Date.now()) {
        await job.moveToDelayed(pausedUntil, token);
        throw new DelayedError();
      }
      // At most one message per second per chat, across all workers (with a margin for jitter).
      const gate = await chatGate.set(`${deps.prefix}:chat-gate:${decision.chatId}`, '1', 'PX', 1_100, 'NX');
      if (gate !== 'OK') {
        await job.moveToDelayed(Date.now() + 1_100, token);
        throw new DelayedError();
      }
      await deps.repos.deliveries.countAttempt(delivery.id);
      const message = deps.render((member as NonNullable<typeof member>).locale, delivery.notification);
      try {
        await deps.api.sendMessage(decision.chatId, message.text, {
          parse_mode: 'HTML',
          link_preview_options: { is_disabled: true },
          ...(message.replyMarkup ? { reply_markup: message.replyMarkup } : {}),
        });
      } catch (error) {
        if (error instanceof GrammyError && error.error_code === 429) {
          const seconds = error.parameters.retry_after ?? 1;
          log.warn({ retryAfter: seconds }, 'Telegram asked to slow down; pausing the queue');
          await chatGate.set(pauseKey, String(Date.now() + seconds * 1_000), 'PX', seconds * 1_000);
          await worker.rateLimit(seconds * 1_000);
          throw Worker.RateLimitError();
        }
        if (error instanceof GrammyError && error.error_code === 403) {
          await deps.repos.members.update(delivery.memberId, { reachable: false });
          await deps.repos.deliveries.finish(delivery.id, 'BLOCKED', error.description);
          return 'BLOCKED';
        }
        if (error instanceof GrammyError && error.error_code === 400) {
          // A malformed message does not get better by retrying.
          await deps.repos.deliveries.finish(delivery.id, 'FAILED', error.description);
          log.error({ err: error, deliveryId: delivery.id }, 'delivery refused by Telegram');
          return 'FAILED';
        }
        throw error;
      }
      await deps.repos.deliveries.finish(delivery.id, 'SENT');
      return 'SENT';
    },
    {
      connection: deps.redis.connect('worker'),
      prefix: deps.prefix,
      concurrency: Math.min(50, Math.max(1, deps.ratePerSecond)),
      // One job per 1/rate seconds rather than `rate` per second: a per-second window lets two
      // bursts meet at its edge (2x the rate within one second), which Telegram answers with 429.
      limiter: { max: 1, duration: Math.max(1, Math.floor(1_000 / deps.ratePerSecond)) },
    },
  );

  worker.on('failed', (job, error) => {
    if (!job || job.attemptsMade < (job.opts.attempts ?? 1)) return;
    log.error({ err: error, deliveryId: job.data.deliveryId }, 'delivery failed for good');
    void deps.repos.deliveries.finish(job.data.deliveryId, 'FAILED', error.message).catch(() => undefined);
  });
  worker.on('error', (error) => log.warn({ err: error }, 'delivery worker error'));
  return worker;
}
