import { timingSafeEqual } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import basicAuth from '@fastify/basic-auth';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';

export interface OpsOptions {
  queues: Queue[];
  username: string;
  password: string;
  /** The Prometheus exposition (src/metrics.ts) served at /metrics; absent: no /metrics. */
  metrics?: { scrape: () => Promise<string>; contentType: string };
}

export const METRICS_PATH = '/metrics';

export const OPS_PATH = '/ops/queues';

const same = (a: string, b: string) => {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
};

/** Bull Board (queues, jobs, failures, retries) and /metrics behind HTTP basic auth with the operator's credentials. */
export async function opsPlugin(app: FastifyInstance, options: OpsOptions): Promise<void> {
  await app.register(basicAuth, {
    validate: async (username, password) => {
      // Both compared, always, so the time taken says nothing about which one was wrong.
      const ok = [same(username, options.username), same(password, options.password)].every(Boolean);
      if (!ok) throw new Error('unauthorised');
    },
    authenticate: { realm: 'loyalty-ops' },
  });
  app.addHook('onRequest', app.basicAuth);
  const { metrics } = options;
  // Behind the same credentials as the dashboard: queue names and volumes are not for strangers.
  if (metrics) app.get(METRICS_PATH, async (_request, reply) => reply.type(metrics.contentType).send(await metrics.scrape()));
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(OPS_PATH);
  createBullBoard({ queues: options.queues.map((queue) => new BullMQAdapter(queue)), serverAdapter });
  await app.register(serverAdapter.registerPlugin(), { prefix: OPS_PATH });
}
