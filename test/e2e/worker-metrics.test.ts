import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startWorkerHttp } from '../../src/http/worker-metrics.js';
import { runCleanup, type Services, startServices } from '../../src/services.js';
import { removeQueueKeys } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { TEST_FINGERPRINT_SECRET, TEST_REDIS_URL } from '../support/env.js';
import { eventually } from '../support/eventually.js';
import { FakeBotApi } from '../support/fake-bot-api/server.js';
import { MemberSeeder } from '../support/members.js';
import { exampleProgram } from '../support/program.js';

/**
 * `npm run worker` with WORKER_METRICS_PORT: the deliveries a worker process sends are counted
 * there, so they are scraped from the worker, behind the ops credentials.
 */

const prefix = `test-${randomBytes(4).toString('hex')}`;
const logger = pino({ level: 'silent' });
let fake: FakeBotApi;
let db: TestDatabase;
let services: Services;
let url: string;
const members = new MemberSeeder(() => db.prisma, 9_300);
const env = (extra: Record<string, string>) => ({
  BOT_TOKEN: fake.token,
  TELEGRAM_API_ROOT: fake.apiRoot,
  DATABASE_URL: db.url,
  REDIS_URL: TEST_REDIS_URL,
  HOST: '127.0.0.1',
  QUEUE_PREFIX: prefix,
  FINGERPRINT_SECRET: TEST_FINGERPRINT_SECRET,
  ...extra,
});

beforeAll(async () => {
  fake = await FakeBotApi.start();
  db = await createTestDatabase();
  const config = loadConfig(env({ OPS_USERNAME: 'ops', OPS_PASSWORD: 'correct-horse-battery', WORKER_METRICS_PORT: '0' }));
  services = await startServices(config, exampleProgram(), { logger });
  await services.queues.startWorkers(services.domain);
  const http = await startWorkerHttp(config, services, logger);
  if (!http) throw new Error('the worker serves no metrics');
  services.cleanup.push(() => http.http.close());
  url = http.url;
});

afterAll(async () => {
  if (services) await runCleanup(services.cleanup, logger);
  await fake?.close();
  await db?.drop();
  await removeQueueKeys(prefix);
});

describe('worker /metrics', () => {
  it('counts what the worker sends, behind the ops credentials', async () => {
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    const [member] = await members.add(1);
    await services.domain.notifier.notify(member?.id as number, { kind: 'pointsAdjusted', amount: 5, balance: 5 }, { dedupeKey: 'worker-metrics:1' });
    const authorization = `Basic ${Buffer.from('ops:correct-horse-battery').toString('base64')}`;
    await eventually(
      async () =>
        /loyalty_deliveries_total\{queue="delivery",outcome="sent"\} 1\b/.test(await (await fetch(`${url}/metrics`, { headers: { authorization } })).text()),
      {
        what: 'the sent delivery counted',
      },
    );
  });

  it('is off without a port, and a port without ops credentials is a configuration error naming it', async () => {
    expect(await startWorkerHttp(loadConfig(env({ OPS_USERNAME: 'ops', OPS_PASSWORD: 'correct-horse-battery' })), services, logger)).toBeNull();
    expect(() => loadConfig(env({ WORKER_METRICS_PORT: '9100' }))).toThrow(/WORKER_METRICS_PORT/);
  });
});
