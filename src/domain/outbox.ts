import type { EventHandler } from './events.js';
import type { Delivery, DomainDeps, MemberNotice } from './ports.js';

/**
 * The consumer side of the domain-event outbox (src/domain/events.ts): one event handed to every
 * handler, then settled. Delivery is at least once (a crash after the handlers and before the
 * settle runs them again), which the handlers' idempotency by event id makes harmless.
 */

/** Failed attempts after which an event is left FAILED for an operator instead of retried forever. */
export const EVENT_MAX_ATTEMPTS = 20;

/** How long an event may stay pending before the sweep queues it again (it may have missed Redis). */
export const EVENT_SWEEP_AFTER_MS = 60_000;

export type EventOutcome = 'processed' | 'settled' | 'missing';

/**
 * Runs the handlers for event `id` and marks it PROCESSED. An event already settled (processed,
 * or failed for good) is left alone; a handler's failure is counted and rethrown (the queue retries).
 */
export async function processDomainEvent(deps: DomainDeps, handlers: readonly EventHandler[], id: string): Promise<EventOutcome> {
  const stored = await deps.repos.domainEvents.findById(id);
  if (!stored) return 'missing';
  if (stored.status !== 'PENDING') return 'settled';
  try {
    for (const handler of handlers) await handler.handle(stored.event);
  } catch (error) {
    await deps.repos.domainEvents.recordFailure(id, error instanceof Error ? error.message : String(error), EVENT_MAX_ATTEMPTS);
    throw error;
  }
  await deps.repos.domainEvents.markProcessed(id, deps.clock.now());
  return 'processed';
}

/**
 * Events still pending `olderThanMs` after they were recorded (by the injected clock): their job
 * never reached Redis, or failed its retries. `olderThanMs` null: every pending event (start-up,
 * after a crash). Queueing one twice is harmless: the job id is the event id.
 */
export function pendingDomainEvents(deps: Pick<DomainDeps, 'repos' | 'clock'>, olderThanMs: number | null, limit = 1_000): Promise<string[]> {
  const before = olderThanMs === null ? null : new Date(deps.clock.now().getTime() - olderThanMs);
  return deps.repos.domainEvents.pendingIds(before, limit);
}

/**
 * A member's notice as its outbox row reads once written: pending, never tried. What is the
 * row's own (id, time, batch) comes from where it was written: the database or the test double.
 */
export function pendingDelivery(notice: MemberNotice, row: { id: number; createdAt: Date; batchKey?: string | null }): Delivery {
  return {
    id: row.id,
    dedupeKey: notice.dedupeKey,
    memberId: notice.memberId,
    chat: null,
    class: notice.class,
    notification: notice.notification,
    status: 'PENDING',
    attempts: 0,
    createdAt: row.createdAt,
    ...(row.batchKey === undefined ? {} : { batchKey: row.batchKey }),
  };
}
