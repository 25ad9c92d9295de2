import type { Queue } from 'bullmq';
import { z } from 'zod';
import type { DomainDeps } from '../domain/ports.js';
import type { Program } from '../domain/program.js';
import { type DeliveryJobData, sweepPendingDeliveries } from './delivery.js';

/**
 * Scheduled work as data: a name, the payload it accepts (validated), when it runs (a cron
 * pattern in the program's time zone, derived from the program file), and a handler that calls
 * one domain use case. Every handler is idempotent: running it twice changes nothing the
 * second time, so retries and overlapping instances are harmless.
 */
export interface JobContext {
  domain: DomainDeps;
  deliveryQueue: Queue<DeliveryJobData>;
}

export interface JobDefinition<Payload = unknown> {
  name: string;
  payload: z.ZodType<Payload>;
  /** Cron pattern (minute hour day month weekday) in the program's time zone; null: on demand only. */
  schedule(program: Program): string | null;
  run(context: JobContext, payload: Payload): Promise<Record<string, number | string>>;
}

const noPayload = z.object({}).strict();

export const deliverySweep: JobDefinition<z.infer<typeof noPayload>> = {
  name: 'delivery-sweep',
  payload: noPayload,
  schedule: () => '* * * * *',
  run: ({ domain, deliveryQueue }) => sweepPendingDeliveries(domain.repos, deliveryQueue, domain.clock.now()),
};

export const JOBS: readonly JobDefinition<never>[] = [deliverySweep] as unknown as JobDefinition<never>[];
