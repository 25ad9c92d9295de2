import { randomUUID } from 'node:crypto';
import { DelayedError, type Job, Queue, Worker } from 'bullmq';
import { type Api, GrammyError, InputFile } from 'grammy';
import type { Logger } from 'pino';
import { type OfferCoupon, sendBroadcastMessage, withOffer } from '../bot/broadcast-message.js';
import type { RenderedMessage } from '../bot/notifier.js';
import { NO_OFFER_REASON } from '../domain/broadcasts/offer.js';
import type { BroadcastContent, BroadcastMessage } from '../domain/broadcasts/types.js';
import type { Clock } from '../domain/clock.js';
import { decideDelivery } from '../domain/delivery/decide.js';
import type {
  ChatRecipient,
  Delivery,
  DeliveryOutcome,
  DeliverySelector,
  DeliveryToSend,
  MemberNotice,
  Notification,
  NotificationClass,
  Notifier,
  NotifyOptions,
  Repositories,
} from '../domain/ports.js';
import type { Locale } from '../domain/program.js';
import type { RedisHandle } from '../redis.js';
import { SendRateLimiter, type SlotReservation } from './send-rate.js';

/**
 * The one outbound queue for messages that are not direct replies. A message is first written
 * to the Delivery outbox (unique dedupe key: a second request for the same message is a no-op),
 * then queued. A job carries one delivery (transactional messages) or a chunk of them (a range
 * of a broadcast's rows), or a whole batch of bulk notices (one job per batch however large,
 * sent a chunk per turn: see `deliver`): the worker reads the chunk's rows with their
 * members in one query, claims them in one statement, reserves a slot for each under the global
 * rate (a GCRA in Redis, shared by all workers of the queue: ./send-rate.ts) and one message per
 * second per chat, all in one Redis call after the chunk's database work, sends each at its slot,
 * and settles them in one statement. A 429
 * `retry_after` pauses the whole queue; 403 marks the member unreachable (no retry); 400 is final.
 *
 * A chunk job completes only when none of its rows is PENDING any more: what it could not send
 * now (a 429, a closed chat gate, quiet hours, a row another job holds) it tries again later, as
 * the same job. So a chunk's job id, once completed, never stands for rows that still wait, and
 * queueing a chunk again (the sweep, a broadcast's pump) is a no-op while its job lives.
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
  /** One delivery (a transactional message, or a row the sweep found). */
  deliveryId?: number;
  /** Set for a broadcast's chunk: its progress is followed as the chunks finish. */
  broadcastId?: number;
  /** With `broadcastId`: the chunk is the broadcast's PENDING rows with ids in [fromId, toId]. */
  fromId?: number;
  toId?: number;
  /** The PENDING rows of one bulk batch (DeliveryRepository.createMany), a chunk per turn. */
  batchKey?: string;
}

/**
 * Rows per chunk job: a quarter of a second of sending at the queue's rate, 5 to 50. The rows a
 * worker holds (chunks in hand, see `startDeliveryWorker`) are what a cancel or a stop cannot
 * take back any more, so they stay within about half a second of sending; and a transactional
 * message waits at most for a chunk to finish. 50 rows make a broadcast's database work (3
 * statements per chunk) and its queue and rate work (a few Redis calls per chunk) small beside
 * the sends themselves.
 */
export function chunkSizeFor(ratePerSecond: number): number {
  return Math.max(5, Math.min(50, Math.round(ratePerSecond / 4)));
}

/** Chunk jobs in hand at once: about half a second of messages at the rate, at least 2 (a free slot for a transactional job soon), at most 25. */
export function chunkConcurrencyFor(ratePerSecond: number): number {
  return Math.max(2, Math.min(25, Math.floor((ratePerSecond * 0.5) / chunkSizeFor(ratePerSecond))));
}

export function createDeliveryQueue(redis: RedisHandle, prefix: string, name: string = DELIVERY_QUEUE): Queue<DeliveryJobData> {
  return new Queue<DeliveryJobData>(name, { connection: redis.connect('producer'), prefix });
}

const deliveryJobId = (deliveryId: number) => `delivery-${deliveryId}`;
/** A broadcast's chunks are fixed ranges of ids: the same rows always make the same job id. */
const broadcastChunkJobId = (broadcastId: number, chunk: number) => `broadcast-${broadcastId}-${chunk}`;
const batchJobId = (batchKey: string) => `batch-${batchKey}`;

const jobOptions = (jobId: string, notificationClass: NotificationClass) => ({
  // The job id doubles as a dedupe: re-enqueueing a delivery (or a chunk) already queued is a no-op.
  jobId,
  priority: PRIORITY[notificationClass],
  attempts: 8,
  backoff: { type: 'exponential', delay: 2_000 },
  removeOnComplete: { count: 10_000 },
  removeOnFail: { age: 14 * 86_400 },
});

export function enqueueDelivery(queue: Queue<DeliveryJobData>, delivery: Delivery) {
  if (delivery.batchKey) return enqueueBatches(queue, [delivery.batchKey], delivery.class);
  return queue.add('deliver', { deliveryId: delivery.id }, jobOptions(deliveryJobId(delivery.id), delivery.class));
}

/**
 * Queues many deliveries' jobs in one round trip (addBulk), each with the job enqueueDelivery
 * would add: the rows of one batch as one job (a batch of thousands is one add, not thousands
 * of adds of the same job id).
 */
export async function enqueueDeliveries(queue: Queue<DeliveryJobData>, deliveries: readonly Delivery[]): Promise<void> {
  if (deliveries.length === 0) return;
  const batches = new Set<string>();
  const jobs = [];
  for (const delivery of deliveries) {
    if (!delivery.batchKey) {
      jobs.push({ name: 'deliver', data: { deliveryId: delivery.id }, opts: jobOptions(deliveryJobId(delivery.id), delivery.class) });
    } else if (!batches.has(delivery.batchKey)) {
      batches.add(delivery.batchKey);
      jobs.push({ name: 'deliver', data: { batchKey: delivery.batchKey }, opts: jobOptions(batchJobId(delivery.batchKey), delivery.class) });
    }
  }
  await queue.addBulk(jobs);
}

/** Queues the jobs of bulk batches in one round trip (addBulk). */
export function enqueueBatches(queue: Queue<DeliveryJobData>, batchKeys: readonly string[], notificationClass: NotificationClass) {
  return queue.addBulk(batchKeys.map((batchKey) => ({ name: 'deliver', data: { batchKey }, opts: jobOptions(batchJobId(batchKey), notificationClass) })));
}

/** The chunks (fixed id ranges of `chunkSize`) that the ids fall in. */
const chunksOf = (ids: readonly number[], chunkSize: number) => [...new Set(ids.map((id) => Math.floor(id / chunkSize)))];

/**
 * Queues a broadcast's deliveries in one round trip (addBulk), one job per range of `chunkSize`
 * ids, at the broadcast priority. A range job sends every PENDING row of the broadcast in its
 * range, so a range cut by the caller's page is whole all the same (and queueing it again from
 * the next page is deduped by its job id).
 */
export async function enqueueBroadcastDeliveries(
  queue: Queue<DeliveryJobData>,
  broadcastId: number,
  deliveryIds: readonly number[],
  chunkSize: number,
): Promise<void> {
  await queue.addBulk(
    chunksOf(deliveryIds, chunkSize).map((chunk) => ({
      name: 'deliver',
      data: { broadcastId, fromId: chunk * chunkSize, toId: (chunk + 1) * chunkSize - 1 },
      opts: jobOptions(broadcastChunkJobId(broadcastId, chunk), 'broadcast'),
    })),
  );
}

/** Takes a broadcast's chunks out of the queue (it was cancelled); jobs a worker holds stay (their rows are no longer PENDING: nothing is sent). */
export async function removeDeliveries(queue: Queue<DeliveryJobData>, broadcastId: number, deliveryIds: readonly number[], chunkSize: number): Promise<number> {
  const results = await Promise.all(chunksOf(deliveryIds, chunkSize).map((chunk) => queue.remove(broadcastChunkJobId(broadcastId, chunk)).catch(() => 0)));
  return results.reduce((sum: number, result) => sum + result, 0);
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

  /**
   * One INSERT for all the notices (keys used before are skipped) and one job for them: they
   * share a batch key, which is the job's id. The job sends them a chunk per turn, so a batch of
   * thousands is one queue add, not one per chunk (a Redis script each: issue 12 measured them as
   * the largest part of a million-lot expiry).
   */
  async notifyMany(notices: readonly MemberNotice[]): Promise<number> {
    if (notices.length === 0) return 0;
    const batchKey = randomUUID();
    const created = await this.repos.deliveries.createMany(
      notices.map((notice) => ({
        dedupeKey: notice.dedupeKey,
        memberId: notice.memberId,
        class: notice.class,
        notification: notice.notification,
        batchKey,
      })),
    );
    if (created.length === 0) return 0;
    // One class per call in practice (a job's notices); the most urgent one is the chunk's priority.
    const notificationClass = notices.some((n) => n.class === 'transactional')
      ? 'transactional'
      : notices.some((n) => n.class === 'reminder')
        ? 'reminder'
        : 'broadcast';
    try {
      await enqueueBatches(this.queue, [batchKey], notificationClass);
    } catch (error) {
      // The outbox rows stay PENDING; the delivery sweep queues them once Redis is back.
      this.logger.warn({ err: error, rows: created.length }, 'could not queue bulk notices; the sweep will retry');
    }
    return created.length;
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
  // A row of a bulk batch goes back as its batch's job (the same id: a no-op while that job
  // lives, e.g. waiting out quiet hours), a row alone as its own job.
  const batches = new Map<string, NotificationClass>();
  for (const delivery of stale) {
    if (delivery.batchKey) batches.set(delivery.batchKey, delivery.class);
    else await enqueueDelivery(queue, delivery);
  }
  for (const [batchKey, notificationClass] of batches) await enqueueBatches(queue, [batchKey], notificationClass);
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
  /** A notification's message; async when it carries a document built at send time. */
  render: (locale: Locale, notification: Notification) => RenderedMessage | Promise<RenderedMessage>;
  /** When a reminder may go out (quiet hours); identity when there are none. */
  nextAllowed: (now: Date) => Date;
  /** The queue to work (default: the delivery queue); its 429 pause is its own. */
  queueName?: string;
  /** Send with `allow_paid_broadcast` (the paid broadcast queue). */
  paidBroadcast?: boolean;
  /**
   * The bot's overall send limit (messages/s), spent by every delivery queue of the bot: Telegram
   * counts the bot's messages, so a queue's own rate is not enough when two queues send at once
   * (the free queue's receipts during a paid broadcast at 1000/s). Absent: only the queue's rate.
   */
  botRatePerSecond?: number;
  /** Chunk jobs in hand at once; default chunkConcurrencyFor(rate). */
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
  /** Told what each send to Telegram came to (metrics). */
  onSendOutcome?: (queue: string, outcome: SendOutcome) => void;
  /**
   * A chat's gap between two messages (default CHAT_GATE_MS, Telegram's per-chat limit). Only
   * for a Bot API that enforces no such limit (the tests' fake): never shorter against Telegram.
   */
  chatGateMs?: number;
}

/** What one send to Telegram came to: sent, refused with 429 (tried again later), 403 (blocked), or failed. */
export type SendOutcome = 'sent' | 'rate_limited' | 'blocked' | 'failed';

/**
 * BullMQ's limiter, as a coarse ceiling of twice the rate (in 100 ms windows). The pace itself is
 * the GCRA's (./send-rate.ts): BullMQ's limiter spaces job starts, not sends, and its windows
 * cannot express 1000/s closely (it tops out near 940/s). It stays for two reasons: BullMQ's
 * `worker.rateLimit` (our 429 pause) only takes effect on a queue with a limiter, and a ceiling
 * keeps jobs that end without a send (drops, chat-gate and pause deferrals) from spinning
 * through Redis as fast as they can. At twice the rate it never binds while messages flow (a
 * chunk job is one start for up to 50 messages).
 */
export function limiterFor(rate: number): { max: number; duration: number } {
  const duration = 100;
  // No rate (a self-hosted Bot API, the engine benchmark): a limiter only for `rateLimit`.
  if (!Number.isFinite(rate)) return { max: 10_000, duration };
  return { max: Math.ceil((2 * rate * duration) / 1_000), duration };
}

/** The budget of the bot's overall send limit, shared by its delivery queues (DeliveryWorkerDeps.botRatePerSecond). */
export const botSendsKey = (prefix: string) => `${prefix}:bot-sends:gcra`;

/** A chat gets at most one message per this many ms (Telegram: about one per second, plus a margin for jitter). */
export const CHAT_GATE_MS = 1_100;
/** The longest a send waits for its slot once reserved (beyond that it asks again, see `slotFor`). */
const MAX_SLOT_WAIT_MS = 1_000;
/**
 * How long a worker holds the deliveries it is about to send: the chunk's sends (SEND_WITHIN_MS)
 * and the settling after them. A worker that dies holding them lets them go when this runs out:
 * its job is retried by BullMQ's stalled-job check, or the rows are re-queued by the sweep or the
 * broadcast's pump.
 */
const CLAIM_MS = 30_000;
/** A chunk's rows not sent by then (slots taken by others) go back, and the job tries again later. */
const SEND_WITHIN_MS = 15_000;
const CLAIM_RECHECK_MS = 2_000;
/** A batch turn that sent some rows and failed others tries the others again this much later. */
const BATCH_ERROR_RETRY_MS = 2_000;
/** Sends of one chunk in flight at once: enough to keep a chunk's share of the rate (each send is a round trip to Telegram). */
const SEND_POOL = 10;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function selectorOf(data: DeliveryJobData): DeliverySelector {
  if (data.batchKey !== undefined) return { batchKey: data.batchKey };
  if (data.broadcastId !== undefined && data.fromId !== undefined && data.toId !== undefined) {
    return { broadcastId: data.broadcastId, fromId: data.fromId, toId: data.toId };
  }
  if (data.deliveryId !== undefined) return { id: data.deliveryId };
  throw new Error(`a delivery job without deliveries: ${JSON.stringify(data)}`);
}

/** What sending a chunk came to, beside each row's outcome. */
interface ChunkSends {
  outcomes: DeliveryOutcome[];
  /** Members whose chat answered 403. */
  blockedMembers: number[];
  /** A 429 asked to pause this long (ms): the rest of the chunk waits for it. */
  pauseMs: number | null;
  /** A row failed for now (network, 5xx): the job is retried with backoff. */
  error: unknown;
  /** The earliest time a row left for later (gate, slots, a pause) may be tried again; Infinity: none. */
  retryAt: number;
}

export function startDeliveryWorker(deps: DeliveryWorkerDeps): Worker<DeliveryJobData> {
  const redis = deps.redis.connect('producer');
  const log = deps.logger.child({ component: 'delivery' });
  const queueName = deps.queueName ?? DELIVERY_QUEUE;
  const chatGateMs = deps.chatGateMs ?? CHAT_GATE_MS;
  const pauseKey = `${deps.prefix}:${queueName}-paused-until`;
  // Rows of a bulk batch sent per turn of its job: a chunk, as a broadcast's range jobs carry.
  const batchChunk = chunkSizeFor(deps.ratePerSecond);
  // One rate budget per queue, shared by its workers in every process.
  const sendRate = new SendRateLimiter(redis, `${deps.prefix}:${queueName}:gcra`, deps.ratePerSecond, {
    maxWaitMs: MAX_SLOT_WAIT_MS,
    ...(deps.botRatePerSecond !== undefined ? { shared: { key: botSendsKey(deps.prefix), ratePerSecond: deps.botRatePerSecond } } : {}),
  });
  // When a 429 in this process paused the queue: sends waiting for their slot here see it
  // without asking Redis (those in other processes hold at most a second of slots).
  let pausedHereUntil = 0;

  const worker: Worker<DeliveryJobData> = new Worker<DeliveryJobData>(queueName, async (job: Job<DeliveryJobData>, token?: string) => deliver(job, token), {
    connection: deps.redis.connect('worker'),
    prefix: deps.prefix,
    // Each chunk in hand sends SEND_POOL at a time: 25 chunks (250 sends in flight) reach
    // several thousand per second where there is no rate.
    concurrency: deps.concurrency ?? chunkConcurrencyFor(deps.ratePerSecond),
    limiter: limiterFor(deps.ratePerSecond),
    // After a 429 (worker.rateLimit + RateLimitError) the job is back in the wait list, but the
    // worker next blocks for a new job for up to drainDelay before it looks there again: with
    // BullMQ's 5 s, a retry_after of 1 s paused the queue for 5 s. 1 s: an idle worker asks
    // Redis once a second.
    drainDelay: 1,
  });

  async function deliver(job: Job<DeliveryJobData>, token?: string): Promise<string> {
    // A 429 pauses everything, including jobs other workers already hold.
    const pausedUntil = Math.max(pausedHereUntil, Number((await redis.get(pauseKey)) ?? 0));
    if (pausedUntil > Date.now()) {
      await job.moveToDelayed(pausedUntil, token);
      throw new DelayedError();
    }
    // A bulk batch's job takes its next chunk (lowest ids first) each turn, and comes back for
    // the rest after it, behind the jobs waiting meanwhile: a receipt never waits for a batch.
    const selector = selectorOf(job.data);
    const limit = 'batchKey' in selector ? batchChunk : undefined;
    const rows = await deps.repos.deliveries.pendingFor(selector, limit);
    if (rows.length === 0) return 'nothing pending';
    const more = limit !== undefined && rows.length === limit;

    const settled: DeliveryOutcome[] = [];
    const toSend: { row: DeliveryToSend; chatId: number }[] = [];
    let retryAt = Number.POSITIVE_INFINITY;
    const now = deps.clock.now();
    for (const row of rows) {
      const decision = decideDelivery(row.delivery, row.member, now, deps.nextAllowed);
      if (decision.action === 'drop') settled.push({ id: row.delivery.id, status: decision.status, error: decision.reason });
      else if (decision.action === 'wait') retryAt = Math.min(retryAt, decision.until.getTime());
      else toSend.push({ row, chatId: decision.chatId });
    }

    // Held for this job until sent or let go: another job for the same rows sends nothing.
    // Leases, delays and pauses here are transport timing between workers and Redis, in wall-clock
    // time like BullMQ's own locks; no rule reads them, so they do not come from deps.clock.
    const claimedAt = Date.now();
    const claimed = new Set(
      await deps.repos.deliveries.claimMany(
        toSend.map((item) => item.row.delivery.id),
        new Date(claimedAt),
        new Date(claimedAt + CLAIM_MS),
      ),
    );
    // Another job has some in hand: look again soon (they are usually sent within seconds), so
    // that this job does not complete while its rows may still need sending.
    if (claimed.size < toSend.length) retryAt = Math.min(retryAt, claimedAt + CLAIM_RECHECK_MS);
    const sending = toSend.filter((item) => claimed.has(item.row.delivery.id));

    let sends: ChunkSends;
    try {
      sends = await sendChunk(sending, claimedAt + SEND_WITHIN_MS);
    } catch (error) {
      // Not expected (sendChunk catches per row), but never keep rows held by a job that failed.
      await deps.repos.deliveries
        .settle([...settled, ...sending.map((item) => ({ id: item.row.delivery.id, status: 'PENDING' as const }))])
        .catch(() => undefined);
      throw error;
    }
    // Unreachable first: whoever sees a row BLOCKED also sees its member marked (and a crash in
    // between leaves the row to be sent again, which answers 403 again).
    for (const memberId of sends.blockedMembers) await deps.repos.members.update(memberId, { reachable: false });
    // In id order, the order a cancel's UPDATE of the broadcast's rows takes their locks in: the
    // two never wait for each other crosswise (a deadlock aborted a cancel under load).
    await deps.repos.deliveries.settle([...settled, ...sends.outcomes].sort((a, b) => a.id - b.id));
    if (job.data.broadcastId !== undefined) deps.onBroadcastDelivery?.(job.data.broadcastId);

    if (sends.pauseMs !== null) {
      await worker.rateLimit(sends.pauseMs);
      throw Worker.RateLimitError();
    }
    const sent = sends.outcomes.filter((o) => o.status === 'SENT').length;
    // A batch's job lives for many turns: a turn that still sent something is progress, not a
    // failed attempt (the failed rows wait a moment), else a few blips over hours would fail it.
    if (sends.error && !(more && sent > 0)) throw sends.error;
    retryAt = Math.min(retryAt, sends.retryAt);
    // The next chunk at once when this one settled rows; a chunk left waiting whole (quiet
    // hours, gates) waits with it. Wall-clock ms, as BullMQ's delays are: when the job runs
    // again is transport timing; whether a row may be sent is decided on deps.clock when it does.
    if (more && [...settled, ...sends.outcomes].some((o) => o.status !== 'PENDING')) retryAt = Math.min(retryAt, Date.now());
    if (sends.error) retryAt = Math.max(retryAt, Date.now() + BATCH_ERROR_RETRY_MS);
    if (Number.isFinite(retryAt)) {
      await job.moveToDelayed(Math.max(Math.ceil(retryAt), Date.now() + 1), token);
      throw new DelayedError();
    }
    return `${sent} sent`;
  }

  /** A claimed row with what it sends: a broadcast's content (with its coupon), or null for a notification. */
  interface Prepared {
    row: DeliveryToSend;
    chatId: number;
    /** A broadcast's content (with its coupon), or else the rendered notification. */
    broadcast: BroadcastContent | null;
    message: RenderedMessage | null;
    withoutOffer: boolean;
  }

  const chatGateKey = (chatId: number) => `${deps.prefix}:chat-gate:${chatId}`;

  /** Runs `task` over `items`, SEND_POOL at a time, in order. */
  async function inPool<T>(items: readonly T[], task: (item: T, index: number) => Promise<void>): Promise<void> {
    const next = items.entries();
    const lane = async () => {
      for (let item = next.next(); !item.done; item = next.next()) await task(item.value[1], item.value[0]);
    };
    await Promise.all(Array.from({ length: Math.min(SEND_POOL, items.length) }, lane));
  }

  /**
   * Sends claimed rows; never throws for a row. First each row's database work (the broadcast's
   * content, a personal coupon), then one slot per row under the rate and its chat's gate in one
   * Redis call for the whole chunk (./send-rate.ts reserveMany), then the sends at their slots.
   * A row whose slot was too far ahead, or that woke too late for it, takes
   * a slot of its own as before (slotFor).
   */
  async function sendChunk(items: { row: DeliveryToSend; chatId: number }[], sendBy: number): Promise<ChunkSends> {
    const result: ChunkSends = { outcomes: [], blockedMembers: [], pauseMs: null, error: null, retryAt: Number.POSITIVE_INFINITY };
    // A row left for later, and when its job should run again: wall-clock ms for BullMQ's delay
    // (transport timing, as the leases above), never a rule's time.
    const later = (id: number, at: number) => {
      result.outcomes.push({ id, status: 'PENDING' });
      result.retryAt = Math.min(result.retryAt, at);
    };
    const slotted: (Prepared | null)[] = new Array(items.length).fill(null);
    await inPool(items, async ({ row, chatId }, index) => {
      slotted[index] = await prepare(row, chatId, result, later);
    });
    const ready = slotted.filter((item): item is Prepared => item !== null);
    if (ready.length === 0) return result;
    let slots: SlotReservation[];
    try {
      slots = await sendRate.reserveMany(
        ready.map((item) => chatGateKey(item.chatId)),
        chatGateMs,
      );
    } catch (error) {
      result.error ??= error;
      for (const item of ready) later(item.row.delivery.id, Date.now());
      return result;
    }
    const send = async (item: Prepared, index: number) => {
      const id = item.row.delivery.id;
      // After a 429, or a row that failed, the rest waits for the job's retry.
      if (pausedHereUntil > Date.now()) return later(id, pausedHereUntil);
      if (result.error) return later(id, Date.now());
      const slot = slots[index] as SlotReservation;
      let go: 'go' | number;
      try {
        if (!slot.reserved) go = slot.reason === 'gated' ? Date.now() + Math.ceil(slot.waitMs) : await slotFor(chatGateKey(item.chatId), sendBy);
        else if (await sendRate.waitFor(slot)) go = 'go';
        else {
          // Woken too late for a contended slot: let its gate go and take a slot of its own.
          await redis.del(chatGateKey(item.chatId));
          go = await slotFor(chatGateKey(item.chatId), sendBy);
        }
      } catch (error) {
        log.warn({ err: error, deliveryId: id }, 'delivery failed for now; retried');
        result.error ??= error;
        return later(id, Date.now());
      }
      if (go !== 'go') return later(id, go);
      if (pausedHereUntil > Date.now()) return later(id, pausedHereUntil);
      await transmit(item, result, later);
    };
    // Paced: each send waits for its own slot at once, so that none wakes late behind another's
    // round trip (a late slot is given up: wasted); the slots space them. Unpaced: SEND_POOL at
    // a time, so that a chunk does not open 50 connections at once.
    if (sendRate.paced) await Promise.all(ready.map(send));
    else await inPool(ready, send);
    return result;
  }

  /** A row's message (a broadcast's content and coupon): null when the row is settled or left for later here. */
  async function prepare(row: DeliveryToSend, chatId: number, result: ChunkSends, later: (id: number, at: number) => void): Promise<Prepared | null> {
    const { delivery, member } = row;
    try {
      if (delivery.notification.kind !== 'broadcast') {
        // Rendered before the slot: a document's bytes may come from the database.
        const message = await deps.render(delivery.chat?.locale ?? (member as NonNullable<typeof member>).locale, delivery.notification);
        return { row, chatId, broadcast: null, message, withoutOffer: false };
      }
      const broadcastId = delivery.notification.broadcastId;
      const message = (await deps.broadcastMessage?.(broadcastId)) ?? null;
      if (!message) {
        result.outcomes.push({ id: delivery.id, status: 'FAILED', error: 'no such broadcast' });
        return null;
      }
      // An A/B broadcast: the row's payload names the member's variant (fixed at the start).
      let broadcast = delivery.notification.variant === 'B' && message.variantB ? message.variantB : message.content;
      let withoutOffer = false;
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
      return { row, chatId, broadcast, message: null, withoutOffer };
    } catch (error) {
      log.warn({ err: error, deliveryId: delivery.id }, 'delivery failed for now; retried');
      result.error ??= error;
      later(delivery.id, Date.now());
      return null;
    }
  }

  /** The call to Telegram, at its slot, and what it came to. */
  async function transmit(item: Prepared, result: ChunkSends, later: (id: number, at: number) => void): Promise<void> {
    const { row, chatId, broadcast, message, withoutOffer } = item;
    const { delivery } = row;
    try {
      if (broadcast) {
        await sendBroadcastMessage(deps.api, chatId, broadcast, { paid: deps.paidBroadcast === true });
      } else if (message?.document) {
        // One call, so a document is sent (or refused) exactly like a text: the text is its caption.
        await deps.api.sendDocument(chatId, new InputFile(message.document.bytes, message.document.filename), {
          caption: message.text,
          parse_mode: 'HTML',
          ...(message.replyMarkup ? { reply_markup: message.replyMarkup } : {}),
        });
      } else if (message) {
        await deps.api.sendMessage(chatId, message.text, {
          parse_mode: 'HTML',
          link_preview_options: { is_disabled: true },
          ...(message.replyMarkup ? { reply_markup: message.replyMarkup } : {}),
        });
      }
      result.outcomes.push({ id: delivery.id, status: 'SENT', error: withoutOffer ? NO_OFFER_REASON : null });
      deps.onSendOutcome?.(queueName, 'sent');
    } catch (error) {
      deps.onSendOutcome?.(
        queueName,
        error instanceof GrammyError && error.error_code === 429
          ? 'rate_limited'
          : error instanceof GrammyError && error.error_code === 403
            ? 'blocked'
            : 'failed',
      );
      if (error instanceof GrammyError && error.error_code === 429) {
        const seconds = error.parameters.retry_after ?? 1;
        const until = Date.now() + seconds * 1_000;
        if (until > pausedHereUntil) {
          log.warn({ retryAfter: seconds }, 'Telegram asked to slow down; pausing the queue');
          pausedHereUntil = until;
          await redis.set(pauseKey, String(until), 'PX', seconds * 1_000).catch(() => undefined);
        }
        result.pauseMs = Math.max(result.pauseMs ?? 0, seconds * 1_000);
        return later(delivery.id, until);
      }
      if (error instanceof GrammyError && error.error_code === 403) {
        // A chat that is not a member's (a staff alert) has no member to mark.
        if (delivery.memberId !== null) result.blockedMembers.push(delivery.memberId);
        result.outcomes.push({ id: delivery.id, status: 'BLOCKED', error: error.description });
        return;
      }
      if (error instanceof GrammyError && error.error_code === 400) {
        // A malformed message does not get better by retrying.
        log.error({ err: error, deliveryId: delivery.id }, 'delivery refused by Telegram');
        result.outcomes.push({ id: delivery.id, status: 'FAILED', error: error.description });
        return;
      }
      log.warn({ err: error, deliveryId: delivery.id }, 'delivery failed for now; retried');
      result.error ??= error;
      later(delivery.id, Date.now());
    }
  }

  /**
   * Waits for this send's slot under the rate and the chat's gate: 'go', or when to try again.
   * While more than a second of slots is taken (other chunks' sends), it asks again when that
   * has shrunk, until `sendBy`: the chunk's rows are claimed for a bounded time.
   */
  async function slotFor(chatGateKey: string, sendBy: number): Promise<'go' | number> {
    for (;;) {
      const slot = await sendRate.take({ key: chatGateKey, ms: chatGateMs });
      if (slot.go) return 'go';
      // `gated`: another message to this chat took its slot: this one waits in the delayed set.
      if (slot.reason === 'gated') return Date.now() + Math.ceil(slot.waitMs);
      const retryIn = Math.max(slot.waitMs - MAX_SLOT_WAIT_MS, 20);
      if (Date.now() + retryIn > sendBy) return Date.now() + retryIn;
      await sleep(retryIn);
    }
  }

  worker.on('failed', (job, error) => {
    if (!job || job.attemptsMade < (job.opts.attempts ?? 1)) return;
    log.error({ err: error, job: job.data }, 'delivery failed for good');
    // Every row of the job still pending fails with it (the job completes no more).
    void deps.repos.deliveries
      .pendingFor(selectorOf(job.data))
      .then((rows) => deps.repos.deliveries.settle(rows.map((row) => ({ id: row.delivery.id, status: 'FAILED', error: error.message }))))
      .then(() => {
        if (job.data.broadcastId !== undefined) deps.onBroadcastDelivery?.(job.data.broadcastId);
      })
      .catch(() => undefined);
  });
  worker.on('error', (error) => log.warn({ err: error }, 'delivery worker error'));
  return worker;
}
