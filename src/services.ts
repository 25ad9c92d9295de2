import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Api } from 'grammy';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { createI18n, type I18n } from './bot/i18n.js';
import { apiClientOptions } from './bot/telegram-fetch.js';
import type { Config } from './config.js';
import { type Database, openDatabase } from './db/client.js';
import { makeRepositories, PrismaUnitOfWork } from './db/repositories.js';
import { type Clock, systemClock } from './domain/clock.js';
import { keyedFingerprints } from './domain/members/fingerprints.js';
import type { DomainDeps } from './domain/ports.js';
import type { Program } from './domain/program.js';
import { syncRewards } from './domain/rewards/catalogue.js';
import { seedStores } from './domain/staff/access.js';
import { QueuedNotifier } from './jobs/delivery.js';
import { queueRelay } from './jobs/events.js';
import { createQueueRuntime, type QueueRuntime } from './jobs/runtime.js';
import { createMetrics, type Metrics } from './metrics.js';
import { type RedisHandle, startRedis } from './redis.js';

/** What both the bot process and a worker process stand on: database, Redis, queues, the domain. */
export interface Services {
  db: Database;
  redis: RedisHandle;
  i18n: I18n;
  api: Api;
  queues: QueueRuntime;
  domain: DomainDeps;
  /** A Redis connection for readiness checks. */
  probe: Redis;
  /** This instance's Prometheus metrics (its own registry). */
  metrics: Metrics;
  /** Steps to undo, in the order they were taken; the caller runs them in reverse. */
  cleanup: (() => Promise<unknown>)[];
}

export interface ServiceOptions {
  logger: Logger;
  clock?: Clock;
  /**
   * A chat's gap between queued messages; absent: Telegram's per-chat limit. Not configurable
   * from the environment: only tests, against a fake Bot API without that limit, shorten it.
   */
  chatGateMs?: number;
}

export async function startServices(config: Config, program: Program, options: ServiceOptions): Promise<Services> {
  const { logger } = options;
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    const db = await openDatabase({
      databaseUrl: config.DATABASE_URL,
      dataDir: config.DATA_DIR,
      onIdleError: (error) => logger.warn({ err: error }, 'idle database connection lost'),
    });
    cleanup.push(() => db.close());
    if (db.kind === 'pglite') {
      // Embedded mode migrates itself; PostgreSQL is migrated explicitly (npm run db:migrate).
      await db.migrate((message) => logger.info(message));
    }

    const redis = await startRedis(config.REDIS_URL, logger);
    cleanup.push(() => redis.stop());

    const clock = options.clock ?? systemClock;
    const metrics = createMetrics();
    const onLedgerPost = (type: string) => metrics.ledgerPosts.inc({ type });
    const repos = makeRepositories(db.prisma, clock, false, undefined, onLedgerPost);
    const i18n = await createI18n(config.DEFAULT_LOCALE, program.points.name);
    const api = new Api(config.BOT_TOKEN, apiClientOptions(config.TELEGRAM_API_ROOT));
    const queues = createQueueRuntime({
      redis,
      prefix: config.QUEUE_PREFIX,
      api,
      i18n,
      logger,
      ratePerSecond: config.DELIVERY_RATE_PER_SECOND === 0 ? Number.POSITIVE_INFINITY : config.DELIVERY_RATE_PER_SECOND,
      paidRatePerSecond: program.broadcasts.paidRatePerSecond,
      reconcileIntervalMs: config.RECONCILE_INTERVAL_MS,
      eventsLockMs: config.EVENTS_LOCK_MS,
      ...(options.chatGateMs !== undefined ? { chatGateMs: options.chatGateMs } : {}),
      metrics,
    });
    cleanup.push(() => queues.close());
    const relay = queueRelay(queues, logger);
    // Runs before the queues close (cleanup runs in reverse): relays in flight reach Redis.
    cleanup.push(() => relay.drain());
    const domain: DomainDeps = {
      // What a transaction writes to the outboxes is queued after its commit; the events
      // worker (not this request) runs the task engine.
      uow: new PrismaUnitOfWork(db.prisma, clock, relay, onLedgerPost),
      repos,
      program,
      clock,
      notifier: new QueuedNotifier(repos, queues.deliveryQueue, logger),
      adminTelegramIds: config.ADMIN_TELEGRAM_IDS,
      fingerprints: keyedFingerprints(config.FINGERPRINT_SECRET ?? (await embeddedFingerprintSecret(config.DATA_DIR)), config.FINGERPRINT_RETENTION_DAYS),
      spendCodeKey: config.SPEND_CODE_SECRET ?? createHash('sha256').update(`spend-code:${config.BOT_TOKEN}`).digest('hex'),
      broadcastDispatch: queues.broadcastDispatch,
    };
    await seedStores(domain);
    await syncRewards(domain);
    return { db, redis, i18n, api, queues, domain, probe: redis.connect('probe'), metrics, cleanup };
  } catch (error) {
    await runCleanup(cleanup, logger);
    throw error;
  }
}

/**
 * The embedded database's fingerprint key (no FINGERPRINT_SECRET given; config.ts requires one
 * with DATABASE_URL): drawn once and kept beside the database under DATA_DIR, readable by the
 * owner only. Losing it only means erased accounts are no longer recognised.
 */
async function embeddedFingerprintSecret(dataDir: string): Promise<string> {
  const path = join(dataDir, 'fingerprint-secret');
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('hex');
  try {
    // 'wx': a second process starting at the same moment keeps the first one's key.
    await writeFile(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    return secret;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return (await readFile(path, 'utf8')).trim();
  }
}

export async function runCleanup(cleanup: (() => Promise<unknown>)[], logger: Logger): Promise<void> {
  for (const step of [...cleanup].reverse()) {
    try {
      await step();
    } catch (error) {
      logger.warn({ err: error }, 'error while stopping');
    }
  }
  cleanup.length = 0;
}
