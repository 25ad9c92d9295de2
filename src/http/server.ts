import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { type Bot, webhookCallback } from 'grammy';
import type { Logger } from 'pino';
import type { BotContext } from '../bot/context.js';
import type { TrustProxy } from '../config.js';
import type { Metrics } from '../metrics.js';
import { type ApiOptions, apiPlugin } from './api/plugin.js';
import { notFoundHandler } from './api/problems.js';
import type { OpsOptions } from './ops.js';

export interface HttpDeps {
  logger: Logger;
  /**
   * Each check resolves with 'ok' or a one-word state ('missing'), and throws when its component
   * cannot be reached ('down'). Anything but 'ok' answers 503: 'not ready' when something is
   * down, 'degraded' when all is reachable but not whole.
   */
  readiness: Record<string, () => Promise<string>>;
  webhook?: { bot: Bot<BotContext>; path: string; secretToken: string };
  /** The till/CRM API under /v1 (absent: not served). */
  api?: ApiOptions;
  /** The queue dashboard under /ops/queues and /metrics, behind the ops credentials (absent: not served). */
  ops?: OpsOptions;
  /** Where HTTP requests are counted (by route template, never the URL); absent: not counted. */
  metrics?: Pick<Metrics, 'apiRequests' | 'apiSeconds'>;
  /** TRUST_PROXY: whose X-Forwarded-For gives `request.ip` (absent: nobody's, the socket's address). */
  trustProxy?: TrustProxy;
}

/** A hop count as the function Fastify makes of one (its types take no number): the n nearest hops. */
const fastifyTrustProxy = (trust: TrustProxy) => (typeof trust === 'number' ? (_address: string, hop: number) => hop < trust : trust);

/** Health, readiness, the till/CRM API and (in webhook mode) the Telegram webhook endpoint. */
export function createHttpServer(deps: HttpDeps): FastifyInstance {
  // Request lines are info-level noise (and carry URLs); warnings and errors still get through.
  const level = deps.logger.levelVal > 40 ? deps.logger.level : 'warn';
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'http' }, { level }) as FastifyBaseLogger,
    trustProxy: fastifyTrustProxy(deps.trustProxy ?? false),
  });

  const { metrics } = deps;
  if (metrics) {
    // The route template bounds the label set (a URL carries codes and ids); no route: `unmatched`.
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      metrics.apiRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
      metrics.apiSeconds.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    });
  }

  app.get('/healthz', async () => ({ status: 'ok' }));
  const ops = deps.ops;
  // Bull Board and its UI are megabytes of modules: loaded only where the dashboard is configured.
  if (ops) app.register(async (scope) => (await import('./ops.js')).opsPlugin(scope, ops));

  app.get('/readyz', async (request, reply) => {
    const checks: Record<string, string> = {};
    let down = false;
    await Promise.all(
      Object.entries(deps.readiness).map(async ([name, check]) => {
        try {
          checks[name] = await check();
        } catch (error) {
          // Driver messages name hosts and ports: they go to the log, not to anonymous callers.
          request.log.warn({ err: error, check: name }, 'readiness check failed');
          checks[name] = 'down';
          down = true;
        }
      }),
    );
    if (Object.values(checks).every((value) => value === 'ok')) return reply.code(200).send({ status: 'ready', checks });
    return reply.code(503).send({ status: down ? 'not ready' : 'degraded', checks });
  });

  if (deps.webhook) {
    // grammY answers 401 when the X-Telegram-Bot-Api-Secret-Token header does not match.
    app.post(deps.webhook.path, webhookCallback(deps.webhook.bot, 'fastify', { secretToken: deps.webhook.secretToken }));
  }

  if (deps.api) void app.register(apiPlugin, { prefix: '/v1', ...deps.api });
  app.setNotFoundHandler(notFoundHandler);

  return app;
}
