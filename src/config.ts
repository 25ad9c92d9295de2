import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * The process environment, parsed once. Nothing else in the code reads `process.env`:
 * the entry point calls `loadConfig()` and passes the result down.
 */

const emptyToUndefined = (value: unknown) => (value === '' ? undefined : value);
const optionalUrl = z.preprocess(emptyToUndefined, z.url().optional());

const telegramIdList = z.preprocess(
  (value) =>
    value === undefined || value === ''
      ? []
      : String(value)
          .split(',')
          .map((part) => part.trim())
          .filter(Boolean),
  z.array(z.string().regex(/^\d+$/, 'a comma-separated list of numeric Telegram user ids').transform(Number)),
);

const booleanFlag = z.preprocess(
  (value) => (value === undefined || value === '' ? undefined : String(value).toLowerCase()),
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .optional()
    .transform((v) => v === 'true' || v === '1' || v === 'yes'),
);

/** proxy-addr's names for address ranges, as Fastify's trustProxy takes them. */
const PROXY_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** An address, an address/prefix length (CIDR), or one of PROXY_RANGES. */
function isProxyAddress(entry: string): boolean {
  if (PROXY_RANGES.has(entry)) return true;
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (!family || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/**
 * Which reverse proxies may say who the client is (X-Forwarded-For), as Fastify's `trustProxy`:
 * false (default: the socket's address; the header is ignored, so a client cannot claim another
 * address), true (every hop: only when nothing but the proxy can reach the server), a hop count,
 * or the proxies' addresses/CIDRs. The client address is what the per-address limits count.
 */
export type TrustProxy = boolean | number | string[];
const trustProxy = z.preprocess(
  emptyToUndefined,
  z
    .string()
    .default('false')
    .transform((value, ctx): TrustProxy => {
      const text = value.trim().toLowerCase();
      if (text === 'false') return false;
      if (text === 'true') return true;
      if (/^\d+$/.test(text) && Number(text) >= 1 && Number(text) <= 100) return Number(text);
      const entries = text.split(',').map((part) => part.trim());
      if (entries.every(isProxyAddress)) return entries;
      ctx.addIssue({
        code: 'custom',
        message: 'false, true, a hop count (1-100), or a comma-separated list of proxy addresses or CIDRs (e.g. 10.0.0.0/8,127.0.0.1)',
      });
      return z.NEVER;
    }),
);

const envShape = z.object({
  BOT_TOKEN: z.string({ error: 'is required: the token @BotFather gave you' }).regex(/^\d+:[\w-]{10,}$/, 'does not look like a bot token (digits:secret)'),
  TELEGRAM_API_ROOT: z.preprocess(emptyToUndefined, z.url().default('https://api.telegram.org')),
  DATABASE_URL: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgresql:// URL')
      .optional(),
  ),
  DATA_DIR: z.preprocess(emptyToUndefined, z.string().default('./data')),
  REDIS_URL: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^rediss?:\/\//, 'must be a redis:// URL')
      .optional(),
  ),
  ADMIN_TELEGRAM_IDS: telegramIdList,
  DEFAULT_LOCALE: z.preprocess(emptyToUndefined, z.enum(['ru', 'en']).default('ru')),
  LOG_LEVEL: z.preprocess(emptyToUndefined, z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info')),
  BOT_MODE: z.preprocess(emptyToUndefined, z.enum(['polling', 'webhook']).default('polling')),
  WEBHOOK_URL: optionalUrl,
  WEBHOOK_SECRET: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^[A-Za-z0-9_-]{16,256}$/, '16-256 characters of A-Z, a-z, 0-9, _ and -')
      .optional(),
  ),
  PORT: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(65535).default(3000)),
  HOST: z.preprocess(emptyToUndefined, z.string().default('0.0.0.0')),
  PROGRAM_FILE: z.preprocess(emptyToUndefined, z.string().default('./programs/example.yaml')),
  PRETTY_LOGS: booleanFlag,
  /**
   * How long the till API trusts an API key or store it read, in milliseconds (0: not at all).
   * A revoked key is refused at most this long after its revocation (src/http/api/lookup-cache.ts).
   */
  API_LOOKUP_CACHE_MS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(60_000).default(5_000)),
  /** Behind a reverse proxy: which proxies' X-Forwarded-For to believe (see TrustProxy). */
  TRUST_PROXY: trustProxy,
  /**
   * Messages per second for the whole bot (Telegram allows about 30 for bulk sends). 0: no limit
   * at all, for a Bot API that enforces none (a self-hosted one in tests, the engine benchmark);
   * never against Telegram's.
   */
  DELIVERY_RATE_PER_SECOND: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(1000).default(25)),
  /** Key prefix of the BullMQ queues in Redis: one per deployment sharing a Redis. */
  QUEUE_PREFIX: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^[A-Za-z0-9_:-]{1,64}$/)
      .default('loyalty'),
  ),
  /**
   * Per-user token bucket in front of the bot (shared by all instances through Redis): a user may
   * send a burst of this many updates, refilled at USER_UPDATES_PER_SECOND. The excess is dropped.
   */
  USER_UPDATES_BURST: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(10_000).default(20)),
  USER_UPDATES_PER_SECOND: z.preprocess(emptyToUndefined, z.coerce.number().min(0.01).max(10_000).default(1)),
  /**
   * How often a worker process checks that the job schedules are still in Redis and, if Redis
   * lost them, registers them again and re-queues pending work (it also checks on reconnect).
   */
  RECONCILE_INTERVAL_MS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(50).max(3_600_000).default(30_000)),
  /**
   * How long the events worker holds a domain event without a heartbeat: the events a killed
   * worker held run again about this long after its death (BullMQ's stalled-job check).
   */
  EVENTS_LOCK_MS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1_000).max(600_000).default(15_000)),
  /**
   * How long a stop (SIGTERM, SIGINT) may take before the process exits anyway, with status 1: a
   * Redis or PostgreSQL that hangs would otherwise keep it alive until it is killed. Below the
   * usual orchestrator grace period (30 s), so that the log says why.
   */
  SHUTDOWN_TIMEOUT_MS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1_000).max(600_000).default(20_000)),
  /** Run the queue workers and schedules in this process (false when `npm run worker` runs them). */
  RUN_WORKERS: z.preprocess(
    (value) => (value === undefined || value === '' ? 'true' : String(value).toLowerCase()),
    z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes'),
  ),
  /** Requests each API key may send per API_RATE_LIMIT_WINDOW_SECONDS (counted in Redis, under QUEUE_PREFIX). */
  API_RATE_LIMIT: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(100_000).default(20)),
  API_RATE_LIMIT_WINDOW_SECONDS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(3600).default(1)),
  /**
   * The key one-time spend codes are hashed under (HMAC). Unset: derived from BOT_TOKEN, which
   * every instance of a deployment shares and the database never holds.
   */
  SPEND_CODE_SECRET: z.preprocess(emptyToUndefined, z.string().min(16, 'at least 16 characters').optional()),
  /** Basic-auth credentials of the queue dashboard at /ops/queues; unset: the dashboard is off. */
  OPS_USERNAME: z.preprocess(emptyToUndefined, z.string().min(1).optional()),
  OPS_PASSWORD: z.preprocess(emptyToUndefined, z.string().min(12, 'at least 12 characters').optional()),
  /** The port `npm run worker` serves /metrics on (behind the ops credentials); unset: no HTTP in workers. */
  WORKER_METRICS_PORT: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(65535).optional()),
  /**
   * The key of the fingerprints erasure keeps (keyed HMAC-SHA256 of the Telegram id and the
   * phone, against re-registration farming). Required with DATABASE_URL: every instance must hash
   * alike, and the key must outlive any one machine. Unset with the embedded database: generated
   * once and kept in DATA_DIR/fingerprint-secret.
   */
  FINGERPRINT_SECRET: z.preprocess(emptyToUndefined, z.string().min(32, 'at least 32 characters (e.g. openssl rand -hex 32)').optional()),
  /** Days an erased account's fingerprint is kept (fraud prevention), then purged. */
  FINGERPRINT_RETENTION_DAYS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(3650).default(730)),
});

export const envSchema = envShape.superRefine((env, ctx) => {
  if (Boolean(env.OPS_USERNAME) !== Boolean(env.OPS_PASSWORD)) {
    ctx.addIssue({ code: 'custom', path: [env.OPS_USERNAME ? 'OPS_PASSWORD' : 'OPS_USERNAME'], message: 'OPS_USERNAME and OPS_PASSWORD go together' });
  }
  if (env.WORKER_METRICS_PORT !== undefined && !env.OPS_USERNAME) {
    ctx.addIssue({ code: 'custom', path: ['WORKER_METRICS_PORT'], message: 'needs OPS_USERNAME and OPS_PASSWORD (the metrics are served behind them)' });
  }
  if (env.DATABASE_URL && !env.FINGERPRINT_SECRET) {
    ctx.addIssue({
      code: 'custom',
      path: ['FINGERPRINT_SECRET'],
      message: 'is required with DATABASE_URL (e.g. openssl rand -hex 32); keep it secret and stable',
    });
  }
  if (env.BOT_MODE === 'webhook') {
    if (!env.WEBHOOK_URL) ctx.addIssue({ code: 'custom', path: ['WEBHOOK_URL'], message: 'is required when BOT_MODE=webhook' });
    if (!env.WEBHOOK_SECRET) ctx.addIssue({ code: 'custom', path: ['WEBHOOK_SECRET'], message: 'is required when BOT_MODE=webhook' });
  }
});

export type Config = z.infer<typeof envSchema>;

/** Start-up stops with this error; its message names every offending key. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`Invalid configuration in ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`);
}

/** Just what `npm run db:migrate` needs: it runs without a bot token. */
export function loadDatabaseConfig(env: Record<string, string | undefined> = process.env): Pick<Config, 'DATABASE_URL' | 'DATA_DIR'> {
  const parsed = envShape.pick({ DATABASE_URL: true, DATA_DIR: true }).safeParse(env);
  if (!parsed.success) throw new ConfigError('the environment', formatIssues(parsed.error.issues));
  return parsed.data;
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError('the environment', formatIssues(parsed.error.issues));
  return parsed.data;
}
