import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigError, loadConfig, loadDatabaseConfig } from '../../src/config.js';
import { parseProgram } from '../../src/program.js';
import { exampleProgram } from '../support/program.js';

const problems = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

describe('environment', () => {
  it('needs only BOT_TOKEN and fills in the embedded defaults', () => {
    const config = loadConfig({ BOT_TOKEN: '123456:ABCdefGHIjklMNOpqr' });
    expect(config).toMatchObject({
      TELEGRAM_API_ROOT: 'https://api.telegram.org',
      DATA_DIR: './data',
      DEFAULT_LOCALE: 'ru',
      BOT_MODE: 'polling',
      ADMIN_TELEGRAM_IDS: [],
    });
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.REDIS_URL).toBeUndefined();
  });

  it('requires the fingerprint key with PostgreSQL, and a long one; the embedded database makes its own', () => {
    const token = { BOT_TOKEN: '123456:ABCdefGHIjklMNOpqr' };
    const database = { DATABASE_URL: 'postgresql://x@127.0.0.1/db' };
    expect(problems(() => loadConfig({ ...token, ...database }))[0]).toMatch(/^FINGERPRINT_SECRET: is required with DATABASE_URL/);
    expect(problems(() => loadConfig({ ...token, ...database, FINGERPRINT_SECRET: 'short' }))).toEqual([
      'FINGERPRINT_SECRET: at least 32 characters (e.g. openssl rand -hex 32)',
    ]);
    expect(problems(() => loadConfig({ ...token, FINGERPRINT_RETENTION_DAYS: '0' })).map((p) => p.split(':')[0])).toEqual(['FINGERPRINT_RETENTION_DAYS']);
    const config = loadConfig({ ...token, ...database, FINGERPRINT_SECRET: 'x'.repeat(32) });
    expect(config).toMatchObject({ FINGERPRINT_SECRET: 'x'.repeat(32), FINGERPRINT_RETENTION_DAYS: 730 });
    expect(loadConfig(token).FINGERPRINT_SECRET).toBeUndefined();
  });

  it('names every bad key and never echoes the token', () => {
    const found = problems(() => loadConfig({ BOT_TOKEN: 'secret-but-wrong', DEFAULT_LOCALE: 'de', ADMIN_TELEGRAM_IDS: '12,abc', DATABASE_URL: 'mysql://x' }));
    expect(found.map((p) => p.split(':')[0])).toEqual(['BOT_TOKEN', 'DATABASE_URL', 'ADMIN_TELEGRAM_IDS.1', 'DEFAULT_LOCALE']);
    expect(found.join('\n')).not.toContain('secret-but-wrong');
    expect(problems(() => loadConfig({}))).toEqual(['BOT_TOKEN: is required: the token @BotFather gave you']);
  });

  it('requires the webhook URL and secret in webhook mode', () => {
    const found = problems(() => loadConfig({ BOT_TOKEN: '123456:ABCdefGHIjklMNOpqr', BOT_MODE: 'webhook' }));
    expect(found).toEqual(['WEBHOOK_URL: is required when BOT_MODE=webhook', 'WEBHOOK_SECRET: is required when BOT_MODE=webhook']);
  });
});

describe('other settings', () => {
  it('pairs the dashboard credentials and bounds the delivery rate', () => {
    const base = { BOT_TOKEN: '123456:ABCdefGHIjklMNOpqr' };
    expect(problems(() => loadConfig({ ...base, OPS_USERNAME: 'ops' }))).toEqual(['OPS_PASSWORD: OPS_USERNAME and OPS_PASSWORD go together']);
    expect(problems(() => loadConfig({ ...base, DELIVERY_RATE_PER_SECOND: '-1' }))[0]).toMatch(/^DELIVERY_RATE_PER_SECOND: /);
    expect(problems(() => loadConfig({ ...base, DELIVERY_RATE_PER_SECOND: '1001' }))[0]).toMatch(/^DELIVERY_RATE_PER_SECOND: /);
    // 0 is "no limit at all", for a Bot API that enforces none (the engine benchmark).
    expect(loadConfig({ ...base, DELIVERY_RATE_PER_SECOND: '0' }).DELIVERY_RATE_PER_SECOND).toBe(0);
    expect(loadConfig(base)).toMatchObject({ DELIVERY_RATE_PER_SECOND: 25, RUN_WORKERS: true, QUEUE_PREFIX: 'loyalty' });
    expect(loadConfig({ ...base, RUN_WORKERS: 'false' }).RUN_WORKERS).toBe(false);
  });

  it('bounds the per-user allowance of updates', () => {
    const base = { BOT_TOKEN: '123456:ABCdefGHIjklMNOpqr' };
    expect(loadConfig(base)).toMatchObject({ USER_UPDATES_BURST: 20, USER_UPDATES_PER_SECOND: 1 });
    expect(loadConfig({ ...base, USER_UPDATES_PER_SECOND: '0.5' }).USER_UPDATES_PER_SECOND).toBe(0.5);
    const found = problems(() => loadConfig({ ...base, USER_UPDATES_BURST: '0', USER_UPDATES_PER_SECOND: '0' }));
    expect(found.map((p) => p.split(':')[0])).toEqual(['USER_UPDATES_BURST', 'USER_UPDATES_PER_SECOND']);
  });

  it('reads TRUST_PROXY as Fastify takes it: off by default, true, a hop count or proxy addresses; anything else names the key', () => {
    const base = { BOT_TOKEN: '123456:ABCdefGHIjklMNOpqr' };
    const trust = (value: string) => loadConfig({ ...base, TRUST_PROXY: value }).TRUST_PROXY;
    expect(loadConfig(base).TRUST_PROXY).toBe(false);
    expect(trust('')).toBe(false);
    expect(trust('false')).toBe(false);
    expect(trust('TRUE')).toBe(true);
    expect(trust('2')).toBe(2);
    expect(trust('10.0.0.0/8, 127.0.0.1,::1,fd00::/8,loopback')).toEqual(['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8', 'loopback']);
    for (const bad of ['yes', '0', '101', '10.0.0.0/33', '::1/129', '10.0.0.1/8/8', 'proxy.internal', '10.0.0.1,,10.0.0.2', '300.1.1.1']) {
      const found = problems(() => loadConfig({ ...base, TRUST_PROXY: bad }));
      expect(
        found.map((p) => p.split(':')[0]),
        bad,
      ).toEqual(['TRUST_PROXY']);
    }
  });

  it('lets the migrate command run without a bot token', () => {
    expect(loadDatabaseConfig({})).toEqual({ DATA_DIR: './data' });
    expect(problems(() => loadDatabaseConfig({ DATABASE_URL: 'mysql://x' }))).toEqual(['DATABASE_URL: must be a postgresql:// URL']);
  });
});

describe('program file', () => {
  it('accepts the shipped example', () => {
    const program = exampleProgram();
    expect(program.tiers.levels.map((level) => level.discountPercent)).toEqual([6, 9, 12, 15]);
    expect(program.earn.rate).toEqual({ percent: 3 });
  });

  it('names the path of each bad value', () => {
    // biome-ignore lint/suspicious/noExplicitAny: the test pokes wrong values into the raw document.
    const raw = structuredClone(exampleProgram()) as unknown as Record<string, any>;
    raw.timezone = 'Mars/Olympus';
    raw.tiers.levels[2].threshold = 10;
    raw.earn.rate = { percent: 150 };
    raw.welcomeBonus = { points: 100, typo: true };
    const found = problems(() => parseProgram(raw, 'program.yaml'));
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^timezone: /),
        expect.stringMatching(/^tiers\.levels\[gold\]\.threshold: thresholds must increase/),
        expect.stringMatching(/^earn\.rate/),
        expect.stringMatching(/^welcomeBonus: .*typo/),
      ]),
    );
  });

  it('a discount-only program (`points: none`) has no earn section and nothing that pays or costs points', () => {
    const raw = parse(readFileSync(new URL('../../programs/example.yaml', import.meta.url), 'utf8'));
    raw.points = 'none';
    const found = problems(() => parseProgram(raw, 'program.yaml'));
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^earn: not allowed with `points: none`/),
        expect.stringMatching(/^welcomeBonus\.points: not allowed/),
        expect.stringMatching(/^notifications\.birthday\.points: not allowed/),
        expect.stringMatching(/^rewards\.catalogue: not allowed/),
        expect.stringMatching(/^nps\.rewardPoints: not allowed/),
        expect.stringMatching(/^tasks\.referrals: not allowed/),
        expect.stringMatching(/^tasks\.list\[daily-checkin\]\.reward\.points: not allowed/),
      ]),
    );
    delete raw.points;
    delete raw.earn;
    expect(problems(() => parseProgram(raw, 'program.yaml'))).toEqual([expect.stringMatching(/^earn: required \(or `points: none`/)]);
  });
});
