import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Services } from '../services.js';
import { createHttpServer } from './server.js';

/**
 * The HTTP side of `npm run worker` (WORKER_METRICS_PORT): /metrics, and the queue dashboard,
 * behind the ops credentials, plus /healthz. Deliveries are counted by the process that sends
 * them, so where workers run apart from the bot their counts are scraped here. Null when off.
 */
export async function startWorkerHttp(config: Config, services: Services, logger: Logger): Promise<{ http: FastifyInstance; url: string } | null> {
  if (config.WORKER_METRICS_PORT === undefined || !config.OPS_USERNAME || !config.OPS_PASSWORD) return null;
  const { metrics, queues } = services;
  const http = createHttpServer({
    logger,
    readiness: {},
    ops: {
      queues: queues.all(),
      username: config.OPS_USERNAME,
      password: config.OPS_PASSWORD,
      metrics: { scrape: () => metrics.scrape(queues.all()), contentType: metrics.registry.contentType },
    },
  });
  const url = await http.listen({ port: config.WORKER_METRICS_PORT, host: config.HOST });
  return { http, url };
}
