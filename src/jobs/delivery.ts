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
import type { Member } from '../domain/members/member.js';
import type { ChatRecipient, Delivery, Notification, NotificationClass, Notifier, NotifyOptions, Repositories } from '../domain/ports.js';
import type { Locale } from '../domain/program.js';
import type { RedisHandle } from '../redis.js';
import { SendRateLimiter } from './send-rate.js';

/**
 * The one outbound queue for messages that are not direct replies. A message is first written
 * to the Delivery outbox (unique dedupe key: a second request for the same message is a no-op),
 * then queued by its id. The worker honours the global rate (a GCRA in Redis, shared by all
 * workers of the queue, taken right before each call: ./send-rate.ts), one message per second per
 * chat, 429 `retry_after` (pauses the whole queue), and 403 (the member is marked unreachable; no
 * retry).
 */

export const DELIVERY_QUEUE = 'delivery';
/**
 * Deliveries of paid broadcasts (`allow_paid_broadcast`) have a queue of their own. Paid
 * broadcasts run at another rate (up to 1000/s) than the free traffic (about 30/s for the whole
 * bot), and a 429 on one must not pause the other: one queue each, each with its own rate budget
 * (GCRA key) and its own pause. Which queue a delivery goes to is fixed by its broadcast, so one
 * delivery is never queued on both.
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
 * BullMQ's limiter, as a coarse ceiling of twice the rate (in 100 ms windows). The pace itself is
 * the GCRA's (./send-rate.ts): BullMQ's limiter spaces job starts, not sends, and its windows
 * cannot express 1000/s closely (it tops out near 940/s). It stays for two reasons: BullMQ's
 * `worker.rateLimit` (our 429 pause) only takes effect on a queue with a limiter, and a ceiling
 * keeps jobs that end without a send (drops, chat-gate and pause deferrals) from spinning
 * through Redis as fast as they can. At twice the rate it never binds while messages flow.
 */
export function limiterFor(rate: number): { max: number; duration: number } {
  const duration = 100;
  return { max: Math.ceil((2 * rate * duration) / 1_000), duration };
}

/** A chat gets at most one message per this many ms (Telegram: about one per second, plus a margin for jitter). */
const CHAT_GATE_MS = 1_100;
/** The longest a job in hand waits for its send slot; beyond that it waits in the delayed set. */
const MAX_SLOT_WAIT_MS = 1_000;
/**
 * How long a worker holds a delivery it is about to send (a slot wait of at most a second, and
 * the call). A worker that dies holding one lets it go when this runs out: its job is retried by
 * BullMQ's stalled-job check, or the row is re-queued by the sweep.
 */
const CLAIM_MS = 30_000;
const CLAIM_RECHECK_MS = 2_000;

export function startDeliveryWorker(deps: DeliveryWorkerDeps): Worker<DeliveryJobData> {
  const chatGate = deps.redis.connect('producer');
  const log = deps.logger.child({ component: 'delivery' });
  const queueName = deps.queueName ?? DELIVERY_QUEUE;
  const pauseKey = `${deps.prefix}:${queueName}-paused-until`;
  // One rate budget per queue, shared by its workers in every process.
  const sendRate = new SendRateLimiter(chatGate, `${deps.prefix}:${queueName}:gcra`, deps.ratePerSecond, { maxWaitMs: MAX_SLOT_WAIT_MS });
  // When a 429 in this process paused the queue: jobs already waiting for their slot here see
  // it without asking Redis (those in other processes hold at most a second of slots).
  let pausedHereUntil = 0;
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
      // Each job in hand holds a send slot once its database work is done; half a second of
      // slots is plenty to keep the rate (a job's own work takes a few tens of ms) and keeps a
      // receipt that arrives during a broadcast at most that far behind it.
      concurrency: deps.concurrency ?? Math.min(50, Math.max(1, Math.ceil(deps.ratePerSecond / 2))),
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
    // At most one message per second per chat, across all workers (with a margin for jitter):
    // the gate is taken with the send slot below; this early look saves the work before it.
    const chatGateKey = `${deps.prefix}:chat-gate:${decision.chatId}`;
    const [pausedValue, chatGateValue] = await chatGate.mget(pauseKey, chatGateKey);
    // A 429 pauses everything, including jobs other workers already hold.
    const pausedUntil = Number(pausedValue ?? 0);
    if (pausedUntil > Date.now()) {
      await job.moveToDelayed(pausedUntil, token);
      throw new DelayedError();
    }
    // The gate holds when it opens, in µs on Redis's clock (close enough to ours for a shortcut).
    const chatGateOpensAt = Number(chatGateValue ?? 0) / 1_000;
    if (chatGateOpensAt > Date.now()) {
      await job.moveToDelayed(Math.ceil(chatGateOpensAt), token);
      throw new DelayedError();
    }
    // Held for this job until sent or let go: another job for the same row sends nothing.
    const now = Date.now();
    const claim = await deps.repos.deliveries.claim(delivery.id, new Date(now), new Date(now + CLAIM_MS));
    if (!claim.claimed) {
      if (!claim.heldUntil) return 'done elsewhere';
      // Another job has it in hand: look again soon (it is usually sent within a second), or
      // when the hold ends (a worker that died). Completing this job instead would leave its id
      // taken, and a later re-queue of the row would be a no-op.
      await job.moveToDelayed(Math.min(claim.heldUntil.getTime() + 100, now + CLAIM_RECHECK_MS), token);
      throw new DelayedError();
    }
    try {
      return await send(job, token, delivery, member, decision.chatId, chatGateKey);
    } catch (error) {
      // Not sent (delayed, paused or failed for now): the next job for it may take it at once.
      await deps.repos.deliveries.release(delivery.id).catch(() => undefined);
      throw error;
    }
  }

  /** From a claimed delivery to Telegram; returns the final status, or throws to be retried. */
  async function send(
    job: Job<DeliveryJobData>,
    token: string | undefined,
    delivery: Delivery,
    member: Member | null,
    chatId: number,
    chatGateKey: string,
  ): Promise<string> {
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
    // The global rate and the chat's gate, measured where messages leave: the slot is taken
    // after all database work, immediately before the call, and the gate closes from that slot.
    const slot = await sendRate.take({ key: chatGateKey, ms: CHAT_GATE_MS });
    if (!slot.go) {
      // `gated`: another message to this chat took its slot meanwhile. `busy`: more than a second
      // of slots is taken (e.g. by many workers): wait in the delayed set rather than in a
      // concurrency slot. (The attempt was counted anyway: it means "got this far".)
      const retryIn = slot.reason === 'gated' ? slot.waitMs : Math.max(slot.waitMs - MAX_SLOT_WAIT_MS, 100);
      await job.moveToDelayed(Date.now() + Math.ceil(retryIn), token);
      throw new DelayedError();
    }
    if (pausedHereUntil > Date.now()) {
      await job.moveToDelayed(pausedHereUntil, token);
      throw new DelayedError();
    }
    try {
      if (broadcast) {
        await sendBroadcastMessage(deps.api, chatId, broadcast, { paid: deps.paidBroadcast === true });
      } else {
        const message = deps.render(delivery.chat?.locale ?? (member as NonNullable<typeof member>).locale, delivery.notification);
        await deps.api.sendMessage(chatId, message.text, {
          parse_mode: 'HTML',
          link_preview_options: { is_disabled: true },
          ...(message.replyMarkup ? { reply_markup: message.replyMarkup } : {}),
        });
      }
    } catch (error) {
      if (error instanceof GrammyError && error.error_code === 429) {
        const seconds = error.parameters.retry_after ?? 1;
        log.warn({ retryAfter: seconds }, 'Telegram asked to slow down; pausing the queue');
        pausedHereUntil = Date.now() + seconds * 1_000;
        await chatGate.set(pauseKey, String(pausedHereUntil), 'PX', seconds * 1_000);
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
