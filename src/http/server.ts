import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { type Bot, webhookCallback } from 'grammy';
import type { Logger } from 'pino';
import type { BotContext } from '../bot/context.js';
import { type ApiOptions, apiPlugin } from './api/plugin.js';
import { notFoundHandler } from './api/problems.js';
import { type OpsOptions, opsPlugin } from './ops.js';

export interface HttpDeps {
  logger: Logger;
  /** Each check throws when its component is not ready. */
  readiness: Record<string, () => Promise<void>>;
  webhook?: { bot: Bot<BotContext>; path: string; secretToken: string };
  /** The till/CRM API under /v1 (absent: not served). */
  api?: ApiOptions;
  /** The queue dashboard under /ops/queues (absent: not served). */
  ops?: OpsOptions;
}

/** Health, readiness, the till/CRM API and (in webhook mode) the Telegram webhook endpoint. */
export function createHttpServer(deps: HttpDeps): FastifyInstance {
  // Request lines are info-level noise (and carry URLs); warnings and errors still get through.
  const level = deps.logger.levelVal > 40 ? deps.logger.level : 'warn';
  const app = Fastify({ loggerInstance: deps.logger.child({ component: 'http' }, { level }) as FastifyBaseLogger });

  app.get('/healthz', async () => ({ status: 'ok' }));
  const ops = deps.ops;
  if (ops) app.register((scope) => opsPlugin(scope, ops));

  app.get('/readyz', async (_request, reply) => {
    const checks: Record<string, string> = {};
    await Promise.all(
      Object.entries(deps.readiness).map(async ([name, check]) => {
        try {
          await check();
          checks[name] = 'ok';
        } catch (error) {
          checks[name] = (error as Error).message || 'failed';
        }
      }),
    );
    const ready = Object.values(checks).every((value) => value === 'ok');
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks });
  });

  if (deps.webhook) {
    // grammY answers 401 when the X-Telegram-Bot-Api-Secret-Token header does not match.
    app.post(deps.webhook.path, webhookCallback(deps.webhook.bot, 'fastify', { secretToken: deps.webhook.secretToken }));
  }

  if (deps.api) void app.register(apiPlugin, { prefix: '/v1', ...deps.api });
  app.setNotFoundHandler(notFoundHandler);

  return app;
}
