import { type RunnerHandle, run } from '@grammyjs/runner';
import type { FastifyInstance } from 'fastify';
import type { Bot } from 'grammy';
import type { UserFromGetMe } from 'grammy/types';
import type { BotContext, BotDeps } from './bot/context.js';
import { createBot, registerCommands } from './bot/create-bot.js';
import { createUserRateLimiter } from './bot/user-rate-limit.js';
import type { Config } from './config.js';
import type { Database } from './db/client.js';
import { PrismaSessionStore } from './db/session-store.js';
import type { DomainDeps } from './domain/ports.js';
import type { Program } from './domain/program.js';
import { createHttpServer } from './http/server.js';
import type { QueueRuntime } from './jobs/runtime.js';
import { operationsStatus } from './jobs/status.js';
import type { RedisHandle } from './redis.js';
import { runCleanup, type ServiceOptions, startServices } from './services.js';

/**
 * Updates handled at once in polling mode (the runner's sink). It bounds the process's memory
 * when updates arrive faster than they are answered: the backlog waits at Telegram, not here.
 * (The runner's default of 500 let a backlog of waiting updates lift RSS by ~150 MiB, and gained
 * nothing: ten database connections serve them.) Only updates within their user's allowance
 * take a slot for longer than one Redis round trip, so a flooder holds at most
 * USER_UPDATES_BURST slots, and a reply waiting out a 429 holds one.
 */
const RUNNER_CONCURRENCY = 100;

/** Updates the bot asks Telegram for. */
export const ALLOWED_UPDATES = ['message', 'callback_query', 'my_chat_member'] as const;

export interface App {
  bot: Bot<BotContext>;
  domain: DomainDeps;
  queues: QueueRuntime;
  db: Database;
  redis: RedisHandle;
  http: FastifyInstance;
  /** The HTTP server's address, e.g. http://127.0.0.1:3000. */
  httpUrl: string;
  stop(): Promise<void>;
}

export interface AppOptions extends ServiceOptions {
  botInfo?: UserFromGetMe;
  /** Start the HTTP server without listening on a port (tests use inject). */
  skipListen?: boolean;
}

/**
 * The composition root: config -> database -> Redis -> domain -> bot and HTTP. Everything is
 * created here once and passed down; `stop()` takes it apart in reverse order.
 */
export async function startApp(config: Config, program: Program, options: AppOptions): Promise<App> {
  const { logger } = options;
  const services = await startServices(config, program, options);
  const { cleanup, db, redis, domain, i18n, queues, probe, metrics } = services;
  const stopAll = () => runCleanup(cleanup, logger);

  try {
    if (config.RUN_WORKERS) await queues.startWorkers(domain);
    const deps: BotDeps = {
      domain,
      i18n,
      logger,
      defaultLocale: config.DEFAULT_LOCALE,
      sessions: new PrismaSessionStore(db.prisma),
      operations: { status: () => operationsStatus(queues.all(), domain) },
    };

    const rateLimiter = createUserRateLimiter(
      redis.connect('limiter'),
      { burst: config.USER_UPDATES_BURST, perSecond: config.USER_UPDATES_PER_SECOND, prefix: config.QUEUE_PREFIX },
      logger,
    );
    const bot = createBot(config.BOT_TOKEN, deps, {
      apiRoot: config.TELEGRAM_API_ROOT,
      rateLimiter,
      metrics,
      ...(options.botInfo ? { botInfo: options.botInfo } : {}),
    });
    await bot.init();
    await registerCommands(bot.api, deps);

    const webhook = config.BOT_MODE === 'webhook' ? new URL(config.WEBHOOK_URL as string) : null;
    const http = createHttpServer({
      logger,
      readiness: {
        database: async () => {
          await db.ping();
          return 'ok';
        },
        redis: async () => {
          if (probe.status === 'wait') await probe.connect();
          await probe.ping();
          return 'ok';
        },
        // Where the workers run, their schedules must be in Redis (the reconciler puts them back).
        ...(config.RUN_WORKERS ? { schedules: async () => ((await queues.missingSchedules(domain.program)).length === 0 ? 'ok' : 'missing') } : {}),
      },
      ...(webhook ? { webhook: { bot, path: webhook.pathname, secretToken: config.WEBHOOK_SECRET as string } } : {}),
      // The per-key rate limit's counters live under the deployment's prefix: two deployments on
      // one Redis (or API key ids repeating across databases) never share a count.
      api: {
        domain,
        // The per-key limit and the key-lookup limit are one Redis call each in front of a
        // request: the limiter connection pipelines the calls of concurrent requests into one
        // write, and answers quickly or not at all (the request then goes through).
        redis: redis.connect('limiter'),
        defaultLocale: config.DEFAULT_LOCALE,
        lookupCache: { ttlMs: config.API_LOOKUP_CACHE_MS },
        rateLimit: { limit: config.API_RATE_LIMIT, windowSeconds: config.API_RATE_LIMIT_WINDOW_SECONDS, keyPrefix: `${config.QUEUE_PREFIX}:ratelimit:api:` },
      },
      metrics,
      trustProxy: config.TRUST_PROXY,
      ...(config.OPS_USERNAME && config.OPS_PASSWORD
        ? {
            ops: {
              queues: queues.all(),
              username: config.OPS_USERNAME,
              password: config.OPS_PASSWORD,
              metrics: { scrape: () => metrics.scrape(queues.all()), contentType: metrics.registry.contentType },
            },
          }
        : {}),
    });
    cleanup.push(() => http.close());
    let httpUrl = '';
    if (!options.skipListen) httpUrl = await http.listen({ port: config.PORT, host: config.HOST });
    else await http.ready();

    if (webhook) {
      await bot.api.setWebhook(webhook.toString(), { secret_token: config.WEBHOOK_SECRET as string, allowed_updates: [...ALLOWED_UPDATES] });
      logger.info({ mode: 'webhook', path: webhook.pathname }, 'bot started');
    } else {
      await bot.api.deleteWebhook();
      // `silent`: the runner would print fetch errors (with the token in the URL) to the console;
      // they are logged through pino instead (see createBot).
      const runner: RunnerHandle = run(bot, {
        runner: { silent: true, fetch: { allowed_updates: [...ALLOWED_UPDATES] } },
        sink: { concurrency: RUNNER_CONCURRENCY },
      });
      cleanup.push(async () => {
        if (runner.isRunning()) await runner.stop();
      });
      logger.info({ mode: 'polling', bot: bot.botInfo.username, database: db.kind, redis: redis.embedded ? 'embedded' : 'external' }, 'bot started');
    }

    return { bot, domain, queues, db, redis, http, httpUrl, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
