import { randomUUID } from 'node:crypto';
import { DelayedError, type Job, Queue, Worker } from 'bullmq';
import { type Api, GrammyError } from 'grammy';
import type { Logger } from 'pino';
import { type OfferCoupon, sendBroadcastMessage, withOffer } from '../bot/broadcast-message.js';
import type { RenderedMessage } from '../bot/notifier.js';
import { NO_OFFER_REASON } from '../domain/broadcasts/offer.js';
import type { BroadcastContent, BroadcastMessage } from '../domain/broadcasts/types.js';
import type { Clock } from '../domain/clock.js';
import { decideDelivery } from '../domain/delivery/decide.js';
import type { ChatRecipient, Delivery, Notification, NotificationClass, Notifier, NotifyOptions, Repositories } from '../domain/ports.js';
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
/**
 * Deliveries of paid broadcasts (`allow_paid_broadcast`) have a queue of their own. BullMQ's rate
 * limiter belongs to a queue, and paid broadcasts run at another rate (up to 1000/s) than the
 * free traffic (about 30/s for the whole bot): one queue each, each worker with its own limiter,
 * keeps both honest without a limiter of our own. Which queue a delivery goes to is fixed by its
 * broadcast, so one delivery is never queued on both.
 */
export const DELIVERY_PAID_QUEUE = 'delivery-paid';

/** Lower is sooner: a receipt never waits behind a broadcast. */
const PRIORITY: Record<NotificationClass, number> = { transactional: 1, reminder: 5, broadcast: 10 };

export interface DeliveryJobData {
  deliveryId: number;
  /** Set for a broadcast's delivery: its progress is followed as the deliveries finish. */
  broadcastId?: number;
}

export function createDeliveryQueue(redis: RedisHandle, prefix: string, name: string = DELIVERY_QUEUE): Queue<DeliveryJobData> {
  return new Queue<DeliveryJobData>(name, { connection: redis.connect('producer'), prefix });
}

const deliveryJobId = (deliveryId: number) => `delivery-${deliveryId}`;

const jobOptions = (deliveryId: number, notificationClass: NotificationClass) => ({
  // The job id doubles as a dedupe: re-enqueueing a delivery already queued is a no-op.
  jobId: deliveryJobId(deliveryId),
  priority: PRIORITY[notificationClass],
  attempts: 8,
  backoff: { type: 'exponential', delay: 2_000 },
  removeOnComplete: { count: 10_000 },
  removeOnFail: { age: 14 * 86_400 },
});

export function enqueueDelivery(queue: Queue<DeliveryJobData>, delivery: Delivery) {
  return queue.add('deliver', { deliveryId: delivery.id }, jobOptions(delivery.id, delivery.class));
}

/** Queues a broadcast's deliveries in one round trip (addBulk), at the broadcast priority. */
export async function enqueueBroadcastDeliveries(queue: Queue<DeliveryJobData>, broadcastId: number, deliveryIds: readonly number[]): Promise<void> {
  await queue.addBulk(deliveryIds.map((deliveryId) => ({ name: 'deliver', data: { deliveryId, broadcastId }, opts: jobOptions(deliveryId, 'broadcast') })));
}

/** Takes deliveries out of the queue (a cancelled broadcast); jobs a worker holds stay (the worker drops them). */
export async function removeDeliveries(queue: Queue<DeliveryJobData>, deliveryIds: readonly number[]): Promise<number> {
  let removed = 0;
  const chunk = 500;
  for (let i = 0; i < deliveryIds.length; i += chunk) {
    const results = await Promise.all(deliveryIds.slice(i, i + chunk).map((id) => queue.remove(deliveryJobId(id)).catch(() => 0)));
    removed += results.reduce((sum: number, result) => sum + result, 0);
  }
  return removed;
}

export class QueuedNotifier implements Notifier {
  constructor(
    private readonly repos: Repositories,
    private readonly queue: Queue<DeliveryJobData>,
    private readonly logger: Logger,
  ) {}

  notify(memberId: number, notification: Notification, options: NotifyOptions = {}): Promise<void> {
    return this.queueOne({ memberId }, notification, options);
  }

  /** A message to a chat that is not a member's (staff alerts), in `recipient.locale`. */
  notifyChat(recipient: ChatRecipient, notification: Notification, options: NotifyOptions = {}): Promise<void> {
    return this.queueOne({ memberId: null, chat: recipient }, notification, options);
  }

  private async queueOne(to: { memberId: number | null; chat?: ChatRecipient }, notification: Notification, options: NotifyOptions): Promise<void> {
    const delivery = await this.repos.deliveries.create({
      dedupeKey: options.dedupeKey ?? `once:${randomUUID()}`,
      ...to,
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

/**
 * How old a PENDING row must be before the sweep queues it. The notifier queues a row right
 * after writing it, so a younger row is most likely being queued at this moment; queueing it
 * twice would be harmless (the job id dedupes) but wasted. Short, so that what Redis lost is
 * back in the queue within the sweep's minute plus this.
 */
export const SWEEP_GRACE_MS = 10_000;

/** Queues outbox rows that never reached the queue (Redis was down when they were written, or lost them). */
export async function sweepPendingDeliveries(repos: Repositories, queue: Queue<DeliveryJobData>, now: Date): Promise<{ requeued: number }> {
  const stale = await repos.deliveries.pendingBefore(new Date(now.getTime() - SWEEP_GRACE_MS), 1_000);
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
  /** The queue to work (default: the delivery queue); its 429 pause is its own. */
  queueName?: string;
  /** Send with `allow_paid_broadcast` (the paid broadcast queue). */
  paidBroadcast?: boolean;
  /** Jobs in hand at once; default min(50, rate). */
  concurrency?: number;
  /** The message of a broadcast (for its deliveries); null when there is no such broadcast. */
  broadcastMessage?: (broadcastId: number) => Promise<BroadcastMessage | null>;
  /**
   * The member's coupon of a broadcast's personal offer, issued once (src/domain/broadcasts/offer.ts);
   * null when the reward is paused or out of stock. Without it, offers are sent without coupons.
   */
  broadcastOffer?: (broadcast: { id: number; offerRewardCode: string }, memberId: number) => Promise<OfferCoupon | null>;
  /** The coupon line of a personal offer in the member's language. */
  renderOffer?: (locale: Locale, coupon: OfferCoupon) => string;
  /** Called when a broadcast's delivery reached its final status (to notice the broadcast is done). */
  onBroadcastDelivery?: (broadcastId: number) => void;
}

/**
 * BullMQ's limiter for `rate` messages per second. Up to 100/s: one job per 1/rate seconds rather
 * than `rate` per second: a per-second window lets two bursts meet at its edge (2x the rate within
 * one second), which Telegram answers with 429. Above that (paid broadcasts, up to 1000/s) one job
 * per millisecond or two is more than BullMQ's limiter can pace (it reaches about 200 jobs/s that
 * way), so the window is 50 ms with `max` jobs in it, `max` chosen so that even the 21 windows a
 * sliding second can touch stay within the rate.
 */
export function limiterFor(rate: number): { max: number; duration: number } {
  // Rounded up: the rate is a ceiling (30/s is one per 34 ms, not 33: 30.3/s).
  if (rate <= 100) return { max: 1, duration: Math.ceil(1_000 / rate) };
  const duration = 50;
  return { max: Math.max(1, Math.floor((rate * duration) / (1_000 + duration))), duration };
}

export function startDeliveryWorker(deps: DeliveryWorkerDeps): Worker<DeliveryJobData> {
  const chatGate = deps.redis.connect('producer');
  const log = deps.logger.child({ component: 'delivery' });
  const queueName = deps.queueName ?? DELIVERY_QUEUE;
  const pauseKey = `${deps.prefix}:${queueName}-paused-until`;
  const finished = (job: Job<DeliveryJobData>, outcome: string) => {
    if (job.data.broadcastId !== undefined) deps.onBroadcastDelivery?.(job.data.broadcastId);
    return outcome;
  };

  const worker: Worker<DeliveryJobData> = new Worker<DeliveryJobData>(
    queueName,
    async (job: Job<DeliveryJobData>, token?: string) => finished(job, await deliver(job, token)),
    {
      connection: deps.redis.connect('worker'),
      prefix: deps.prefix,
      concurrency: deps.concurrency ?? Math.min(50, Math.max(1, deps.ratePerSecond)),
      limiter: limiterFor(deps.ratePerSecond),
    },
  );

  async function deliver(job: Job<DeliveryJobData>, token?: string): Promise<string> {
    const delivery = await deps.repos.deliveries.findById(job.data.deliveryId);
    if (!delivery) return 'missing';
    const member = delivery.memberId === null ? null : await deps.repos.members.findById(delivery.memberId);
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
    let broadcast: BroadcastContent | null = null;
    let withoutOffer = false;
    if (delivery.notification.kind === 'broadcast') {
      const broadcastId = delivery.notification.broadcastId;
      const message = (await deps.broadcastMessage?.(broadcastId)) ?? null;
      if (!message) {
        await deps.repos.deliveries.finish(delivery.id, 'FAILED', 'no such broadcast');
        return 'FAILED';
      }
      broadcast = message.content;
      if (message.offerRewardCode && delivery.memberId !== null && member) {
        // Issued before sending, once per member (the coupon's key is the delivery's): a retry
        // after a 429 or a crash sends the same coupon again, never a second one.
        const coupon = (await deps.broadcastOffer?.({ id: broadcastId, offerRewardCode: message.offerRewardCode }, delivery.memberId)) ?? null;
        if (coupon && deps.renderOffer) broadcast = withOffer(broadcast, deps.renderOffer(member.locale, coupon), coupon.code);
        else {
          withoutOffer = true;
          log.warn(
            { broadcastId, deliveryId: delivery.id, reward: message.offerRewardCode },
            'personal offer unavailable (paused or out of stock): sent without a coupon',
          );
        }
      }
    }
    try {
      if (broadcast) {
        await sendBroadcastMessage(deps.api, decision.chatId, broadcast, { paid: deps.paidBroadcast === true });
      } else {
        const message = deps.render(delivery.chat?.locale ?? (member as NonNullable<typeof member>).locale, delivery.notification);
        await deps.api.sendMessage(decision.chatId, message.text, {
          parse_mode: 'HTML',
          link_preview_options: { is_disabled: true },
          ...(message.replyMarkup ? { reply_markup: message.replyMarkup } : {}),
        });
      }
    } catch (error) {
      if (error instanceof GrammyError && error.error_code === 429) {
        const seconds = error.parameters.retry_after ?? 1;
        log.warn({ retryAfter: seconds }, 'Telegram asked to slow down; pausing the queue');
        await chatGate.set(pauseKey, String(Date.now() + seconds * 1_000), 'PX', seconds * 1_000);
        await worker.rateLimit(seconds * 1_000);
        throw Worker.RateLimitError();
      }
      if (error instanceof GrammyError && error.error_code === 403) {
        // A chat that is not a member's (a staff alert) has no member to mark.
        if (delivery.memberId !== null) await deps.repos.members.update(delivery.memberId, { reachable: false });
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
    await deps.repos.deliveries.finish(delivery.id, 'SENT', withoutOffer ? NO_OFFER_REASON : null);
    return 'SENT';
  }

  worker.on('failed', (job, error) => {
    if (!job || job.attemptsMade < (job.opts.attempts ?? 1)) return;
    log.error({ err: error, deliveryId: job.data.deliveryId }, 'delivery failed for good');
    void deps.repos.deliveries
      .finish(job.data.deliveryId, 'FAILED', error.message)
      .then(() => finished(job, 'FAILED'))
      .catch(() => undefined);
  });
  worker.on('error', (error) => log.warn({ err: error }, 'delivery worker error'));
  return worker;
}
