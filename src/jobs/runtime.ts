import type { Queue, Worker } from 'bullmq';
import type { Api } from 'grammy';
import type { Logger } from 'pino';
import type { I18n } from '../bot/i18n.js';
import { renderNotification } from '../bot/notifier.js';
import { nextAllowedTime } from '../domain/jobs/schedule-rules.js';
import type { DomainDeps } from '../domain/ports.js';
import type { RedisHandle } from '../redis.js';
import { createDeliveryQueue, type DeliveryJobData, startDeliveryWorker } from './delivery.js';
import { JOBS } from './registry.js';
import { createJobsQueue, registerSchedules, startJobsWorker } from './scheduler.js';

export interface QueueRuntime {
  deliveryQueue: Queue<DeliveryJobData>;
  jobsQueue: Queue;
  /** Every queue of the app, for the operator view and the dashboard. */
  all(): Queue[];
  /** Starts the delivery and jobs workers in this process and registers the schedules. */
  startWorkers(domain: DomainDeps): Promise<void>;
  close(): Promise<void>;
}

export interface QueueRuntimeOptions {
  redis: RedisHandle;
  prefix: string;
  api: Api;
  i18n: I18n;
  logger: Logger;
  ratePerSecond: number;
}

/** The queues (producers) for any process, and the workers for the processes that run them. */
export function createQueueRuntime(options: QueueRuntimeOptions): QueueRuntime {
  const deliveryQueue = createDeliveryQueue(options.redis, options.prefix);
  const jobsQueue = createJobsQueue(options.redis, options.prefix);
  const workers: Worker[] = [];
  return {
    deliveryQueue,
    jobsQueue,
    all: () => [deliveryQueue, jobsQueue],
    async startWorkers(domain) {
      const { program } = domain;
      workers.push(
        startDeliveryWorker({
          redis: options.redis,
          prefix: options.prefix,
          repos: domain.repos,
          api: options.api,
          clock: domain.clock,
          logger: options.logger,
          ratePerSecond: options.ratePerSecond,
          render: (locale, notification) => renderNotification(options.i18n, program, locale, notification),
          nextAllowed: (now) => nextAllowedTime(now, program.notifications.quietHours, program.timezone),
        }),
      );
      workers.push(startJobsWorker(options.redis, options.prefix, JOBS, { domain, deliveryQueue }, options.logger));
      await registerSchedules(jobsQueue, JOBS, program);
    },
    async close() {
      // Workers first: they finish the job in hand, then the producers go.
      await Promise.all(workers.map((worker) => worker.close()));
      await Promise.all([deliveryQueue.close(), jobsQueue.close()]);
    },
  };
}
