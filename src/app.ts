import { type RunnerHandle, run } from '@grammyjs/runner';
import type { FastifyInstance } from 'fastify';
import { Api, type Bot } from 'grammy';
import type { UserFromGetMe } from 'grammy/types';
import type { Logger } from 'pino';
import type { BotContext, BotDeps } from './bot/context.js';
import { createBot, registerCommands } from './bot/create-bot.js';
import { createI18n } from './bot/i18n.js';
import { TelegramNotifier } from './bot/notifier.js';
import type { Config } from './config.js';
import { type Database, openDatabase } from './db/client.js';
import { makeRepositories, PrismaUnitOfWork } from './db/repositories.js';
import { type Clock, systemClock } from './domain/clock.js';
import type { DomainDeps } from './domain/ports.js';
import type { Program } from './domain/program.js';
import { seedStores } from './domain/staff/access.js';
import { createHttpServer } from './http/server.js';
import { type RedisHandle, startRedis } from './redis.js';

/** Updates the bot asks Telegram for. */
export const ALLOWED_UPDATES = ['message', 'callback_query', 'my_chat_member'] as const;

export interface App {
  bot: Bot<BotContext>;
  db: Database;
  redis: RedisHandle;
  http: FastifyInstance;
  /** The HTTP server's address, e.g. http://127.0.0.1:3000. */
  httpUrl: string;
  stop(): Promise<void>;
}

export interface AppOptions {
  logger: Logger;
  clock?: Clock;
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
  const cleanup: (() => Promise<unknown>)[] = [];
  const stopAll = async () => {
    for (const step of cleanup.reverse()) {
      try {
        await step();
      } catch (error) {
        logger.warn({ err: error }, 'error while stopping');
      }
    }
  };

  try {
    const db = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
    cleanup.push(() => db.close());
    if (db.kind === 'pglite') {
      // Embedded mode migrates itself; PostgreSQL is migrated explicitly (npm run db:migrate).
      await db.migrate((message) => logger.info(message));
    }

    const redis = await startRedis(config.REDIS_URL, logger);
    cleanup.push(() => redis.stop());
    const probe = redis.connect('probe');

    const repos = makeRepositories(db.prisma);
    const i18n = await createI18n(config.DEFAULT_LOCALE);
    const api = new Api(config.BOT_TOKEN, { apiRoot: config.TELEGRAM_API_ROOT });
    const domain: DomainDeps = {
      uow: new PrismaUnitOfWork(db.prisma),
      repos,
      program,
      clock: options.clock ?? systemClock,
      notifier: new TelegramNotifier(api, repos, i18n, program, logger),
      adminTelegramIds: config.ADMIN_TELEGRAM_IDS,
    };
    await seedStores(domain);
    const deps: BotDeps = { domain, i18n, logger, defaultLocale: config.DEFAULT_LOCALE };

    const bot = createBot(config.BOT_TOKEN, deps, { apiRoot: config.TELEGRAM_API_ROOT, ...(options.botInfo ? { botInfo: options.botInfo } : {}) });
    await bot.init();
    await registerCommands(bot.api, deps);

    const webhook = config.BOT_MODE === 'webhook' ? new URL(config.WEBHOOK_URL as string) : null;
    const http = createHttpServer({
      logger,
      readiness: {
        database: () => db.ping(),
        redis: async () => {
          if (probe.status === 'wait') await probe.connect();
          await probe.ping();
        },
      },
      ...(webhook ? { webhook: { bot, path: webhook.pathname, secretToken: config.WEBHOOK_SECRET as string } } : {}),
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
      const runner: RunnerHandle = run(bot, { runner: { fetch: { allowed_updates: [...ALLOWED_UPDATES] } } });
      cleanup.push(async () => {
        if (runner.isRunning()) await runner.stop();
      });
      logger.info({ mode: 'polling', bot: bot.botInfo.username, database: db.kind, redis: redis.embedded ? 'embedded' : 'external' }, 'bot started');
    }

    return { bot, db, redis, http, httpUrl, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
