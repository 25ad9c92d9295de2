import type { EventEmitter } from 'node:events';
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import { runBroadcasts } from '../domain/broadcasts/run-broadcast.js';
import type { DomainDeps } from '../domain/ports.js';
import { type DeliveryJobData, sweepPendingDeliveries } from './delivery.js';
import { type EventJobData, sweepPendingEvents } from './events.js';
import type { JobDefinition } from './registry.js';
import { missingSchedules, registerSchedules } from './scheduler.js';

/**
 * Heals what a Redis that lost its data (a restart without persistence, a failover to an empty
 * replica, FLUSHALL) takes away while the process keeps running: the job schedulers, and with
 * them every job that was waiting. PostgreSQL still knows what is owed, so the cure is to
 * register the schedules again and queue again what the database says is pending: outbox rows
 * and domain events (the delivery and event sweeps) and the windows of running or due broadcasts (runBroadcasts). All of it is
 * idempotent (upserts, job ids), so several processes may reconcile at once.
 */
export interface ReconcileDeps {
  jobsQueue: Queue;
  deliveryQueue: Queue<DeliveryJobData>;
  eventsQueue: Queue<EventJobData>;
  jobs: readonly JobDefinition<never>[];
  domain: DomainDeps;
  logger: Logger;
}

export interface ReconcileOutcome {
  /** Schedules that were missing and have been registered again. */
  missing: string[];
  /** Outbox rows queued again. */
  requeued: number;
}

/**
 * One check: cheap when all is well (one read of the schedulers). Missing schedules mean Redis
 * lost its data, so the pending work is queued again at once rather than at the next sweep.
 */
export async function reconcileQueues(deps: ReconcileDeps): Promise<ReconcileOutcome> {
  const { domain } = deps;
  const missing = await missingSchedules(deps.jobsQueue, deps.jobs, domain.program);
  if (missing.length === 0) return { missing, requeued: 0 };
  await registerSchedules(deps.jobsQueue, deps.jobs, domain.program);
  const { requeued } = await sweepPendingDeliveries(domain.repos, deps.deliveryQueue, domain.clock.now());
  const events = await sweepPendingEvents(domain, deps.eventsQueue, null);
  const broadcasts = await runBroadcasts(domain);
  deps.logger.warn(
    { component: 'reconcile', missing, requeued, events: events.requeued, broadcasts },
    'job schedules were missing from Redis: registered again, pending work queued again',
  );
  return { missing, requeued };
}

/**
 * Runs `reconcileQueues` every `intervalMs` and whenever `connection` is ready again after a
 * reconnect (a restarted Redis is the usual way to lose it all). Runs never overlap; a request
 * during a run gets one more run after it.
 */
export function startReconciler(deps: ReconcileDeps, options: { intervalMs: number; connection: EventEmitter }): { close(): Promise<void> } {
  let running: Promise<void> | null = null;
  let again = false;
  let closed = false;
  const run = (): void => {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = reconcileQueues(deps)
      .then(() => undefined)
      .catch((error: unknown) => deps.logger.warn({ err: error, component: 'reconcile' }, 'could not reconcile the queues; will try again'))
      .finally(() => {
        running = null;
        if (again) {
          again = false;
          run();
        }
      });
  };
  const timer = setInterval(run, options.intervalMs);
  timer.unref();
  options.connection.on('ready', run);
  return {
    async close() {
      closed = true;
      clearInterval(timer);
      options.connection.off('ready', run);
      await running;
    },
  };
}
