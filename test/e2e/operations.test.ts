import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { startTestApp } from '../support/app.js';
import { Conversation, expectNoViolations } from '../support/conversation.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { eventually } from '../support/eventually.js';
import { FakeBotApi } from '../support/fake-bot-api/server.js';

const ADMIN = 9_100;
let fake: FakeBotApi;
let db: TestDatabase;
let app: App;

beforeAll(async () => {
  fake = await FakeBotApi.start();
  db = await createTestDatabase();
  app = await startTestApp({
    fake,
    databaseUrl: db.url,
    env: { ADMIN_TELEGRAM_IDS: String(ADMIN), OPS_USERNAME: 'ops', OPS_PASSWORD: 'correct-horse-battery' },
  });
});
afterEach(() => expectNoViolations(fake));
afterAll(async () => {
  await app?.stop();
  await fake?.close();
  await db?.drop();
});

describe('operator view', () => {
  it('serves the queue dashboard only with the operator credentials', async () => {
    const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
    expect((await fetch(`${app.httpUrl}/ops/queues`)).status).toBe(401);
    expect((await fetch(`${app.httpUrl}/ops/queues`, { headers: basic('ops', 'wrong-password-000') })).status).toBe(401);
    const page = await fetch(`${app.httpUrl}/ops/queues`, { headers: basic('ops', 'correct-horse-battery') });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<html');
    const queues = await fetch(`${app.httpUrl}/ops/queues/api/queues`, { headers: basic('ops', 'correct-horse-battery') });
    expect(JSON.stringify(await queues.json())).toContain('delivery');
  });

  it('shows admins queue depth and the last run of each job, and nobody else', async () => {
    // A tracked job run, through the queue as the scheduler would run it.
    await app.queues.jobsQueue.add('points-expiry', {});
    await eventually(async () => (await db.prisma.jobRun.count({ where: { name: 'points-expiry', finishedAt: { not: null } } })) > 0, {
      what: 'a points-expiry run',
    });

    const admin = new Conversation(fake, { id: ADMIN, first_name: 'Ops', language_code: 'en' });
    const status = await admin.says('/queues');
    expect(status.text).toMatch(/delivery: waiting \d+ · active \d+ · delayed \d+ · failed \d+/);
    expect(status.text).toMatch(/jobs: waiting \d+/);
    expect(status.text).toMatch(/points-expiry · .* · ✅/);

    const customer = new Conversation(fake, { id: 9_101, first_name: 'Cat', language_code: 'en' });
    expect((await customer.says('/queues')).text).not.toContain('delivery:');
  });
});
