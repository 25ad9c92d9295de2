import type { Queue } from 'bullmq';
import type { Api } from 'grammy';
import type { Logger } from 'pino';
import { renderBroadcastReport } from '../bot/broadcast-report.js';
import type { I18n } from '../bot/i18n.js';
import { pumpBroadcast } from '../domain/broadcasts/run-broadcast.js';
import type { BroadcastDispatch, BroadcastMessage, BroadcastRepository } from '../domain/broadcasts/types.js';
import type { DomainDeps } from '../domain/ports.js';
import { type DeliveryJobData, enqueueBroadcastDeliveries, removeDeliveries } from './delivery.js';

/**
 * Broadcasts on the delivery queues: the BroadcastDispatch port (queue, withdraw, report), the
 * cached content the workers send, and the watcher that notices when a broadcast is done.
 */

export interface BroadcastDispatchOptions {
  deliveryQueue: Queue<DeliveryJobData>;
  paidQueue: Queue<DeliveryJobData>;
  /** Rows per chunk job on each queue (chunkSizeFor its rate). */
  chunkSize: number;
  paidChunkSize: number;
  api: Api;
  i18n: I18n;
  logger: Logger;
}

export function createBroadcastDispatch(options: BroadcastDispatchOptions): BroadcastDispatch {
  const queueOf = (broadcast: { paid: boolean }) => (broadcast.paid ? options.paidQueue : options.deliveryQueue);
  const chunkOf = (broadcast: { paid: boolean }) => (broadcast.paid ? options.paidChunkSize : options.chunkSize);
  const log = options.logger.child({ component: 'broadcasts' });
  return {
    enqueue: (broadcast, deliveryIds) => enqueueBroadcastDeliveries(queueOf(broadcast), broadcast.id, deliveryIds, chunkOf(broadcast)),
    async withdraw(broadcast, deliveryIds) {
      const removed = await removeDeliveries(queueOf(broadcast), broadcast.id, deliveryIds, chunkOf(broadcast));
      log.info({ broadcastId: broadcast.id, cancelled: deliveryIds.length, removed }, 'cancelled broadcast withdrawn from the queue');
    },
    async report(broadcast, counts) {
      if (!broadcast.reportTo) return;
      // One message per broadcast to the marketer (who need not be a member): sent directly.
      const { chatId, locale } = broadcast.reportTo;
      try {
        const text = renderBroadcastReport(options.i18n, locale, broadcast, counts);
        await options.api.sendMessage(chatId, text, { parse_mode: 'HTML' });
      } catch (error) {
        log.warn({ err: error, broadcastId: broadcast.id }, 'could not send the broadcast report');
      }
    },
  };
}

/**
 * The message of a broadcast (content and personal offer) for its deliveries, read once per
 * broadcast and process: a broadcast's message never changes after it is created.
 */
export function broadcastContentCache(repository: BroadcastRepository, size = 100): (broadcastId: number) => Promise<BroadcastMessage | null> {
  const cache = new Map<number, Promise<BroadcastMessage | null>>();
  return (broadcastId) => {
    let content = cache.get(broadcastId);
    if (!content) {
      content = repository
        .findById(broadcastId)
        .then((broadcast) => (broadcast ? { content: broadcast.content, offerRewardCode: broadcast.offerRewardCode, variantB: broadcast.variantB } : null));
      content.catch(() => cache.delete(broadcastId));
      cache.set(broadcastId, content);
      if (cache.size > size) cache.delete(cache.keys().next().value as number);
    }
    return content;
  };
}

/**
 * Keeps running broadcasts going from the deliveries that finish in this process: each asks for
 * a pump (top the queue window up, or finish the broadcast when nothing is pending), and the pumps
 * of one broadcast are coalesced (at most one per `delayMs`, always one after the last delivery).
 * The scheduler's minute tick is the safety net across restarts and processes.
 */
export function broadcastCompletionWatcher(domain: DomainDeps, logger: Logger, delayMs = 500): { notify: (broadcastId: number) => void; close: () => void } {
  const timers = new Map<number, NodeJS.Timeout>();
  let closed = false;
  return {
    notify(broadcastId) {
      if (closed || timers.has(broadcastId)) return;
      const timer = setTimeout(() => {
        timers.delete(broadcastId);
        pumpBroadcast(domain, broadcastId).catch((error: unknown) => logger.warn({ err: error, broadcastId }, 'broadcast pump failed'));
      }, delayMs);
      timer.unref();
      timers.set(broadcastId, timer);
    },
    close() {
      closed = true;
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
    },
  };
}
