import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { createApiKey } from '../../src/domain/staff/api-keys.js';
import { startTestApp } from '../support/app.js';
import { Conversation, expectNoViolations } from '../support/conversation.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { eventually } from '../support/eventually.js';
import { FakeBotApi } from '../support/fake-bot-api/server.js';
import { MemberSeeder } from '../support/members.js';

const ADMIN = 9_100;
let fake: FakeBotApi;
let db: TestDatabase;
let app: App;
const members = new MemberSeeder(() => db.prisma, 9_200);
const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

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

describe('/metrics', () => {
  /** One sample's value from the exposition text (0 when the series does not exist yet). */
  const sample = (text: string, name: string, labels: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.split(',').every((label) => l.includes(label)));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  };
  const scrape = async () => {
    const response = await fetch(`${app.httpUrl}/metrics`, { headers: basic('ops', 'correct-horse-battery') });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    return response.text();
  };

  it('refuses a scrape without the operator credentials', async () => {
    const anonymous = await fetch(`${app.httpUrl}/metrics`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.text()).not.toContain('loyalty_');
    expect((await fetch(`${app.httpUrl}/metrics`, { headers: basic('ops', 'wrong-password-000') })).status).toBe(401);
  });

  it('counts a purchase (API request by route template, ledger post) and a bot update; shows the queues', async () => {
    const before = await scrape();
    const [buyer] = await members.add(1);
    const code = (await db.prisma.member.findUniqueOrThrow({ where: { id: buyer?.id as number } })).code;
    const key = (await createApiKey(app.domain, ADMIN, { name: 'till msk-01', storeCode: 'msk-01' })).key;
    const response = await fetch(`${app.httpUrl}/v1/purchases`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': 'metrics-1' },
      body: JSON.stringify({ memberCode: code, receiptNo: 'MET-1', amountMinor: 100_000 }),
    });
    expect(response.status).toBe(201);
    const customer = new Conversation(fake, { id: 9_102, first_name: 'Max', language_code: 'en' });
    await customer.says('/help');

    const after = await scrape();
    const route = 'route="/v1/purchases"';
    expect(sample(after, 'loyalty_http_requests_total', `method="POST",${route},status="201"`)).toBe(
      sample(before, 'loyalty_http_requests_total', `method="POST",${route},status="201"`) + 1,
    );
    // The template, never the URL: no card code, no id in any label.
    expect(after).not.toContain(code);
    expect(sample(after, 'loyalty_ledger_posts_total', 'type="EARN"')).toBeGreaterThan(sample(before, 'loyalty_ledger_posts_total', 'type="EARN"'));
    expect(sample(after, 'loyalty_bot_updates_total', 'feature="/help",outcome="ok"')).toBe(
      sample(before, 'loyalty_bot_updates_total', 'feature="/help",outcome="ok"') + 1,
    );
    expect(sample(after, 'loyalty_bot_update_duration_seconds_count', 'feature="/help"')).toBeGreaterThan(0);
    // BullMQ's own export, one family for all the queues.
    expect(after).toMatch(/bullmq_job_count\{queue="delivery", state="waiting"\} \d+/);
    expect(after.match(/# TYPE bullmq_job_count gauge/g)).toHaveLength(1);
  });

  it('keeps the label sets bounded whatever strangers send: made-up commands and URLs add no series', async () => {
    const stranger = new Conversation(fake, { id: 9_103, first_name: 'Eve', language_code: 'en' });
    for (const word of ['zzqx', 'drop_table', 'a1b2c3']) await stranger.says(`/${word}`);
    for (const path of ['/v1/members/AB12-CD34-EF56/zzqx', '/wp-admin.php', '/v1/zzqx']) expect((await fetch(`${app.httpUrl}${path}`)).status).toBe(404);
    const text = await scrape();
    for (const word of ['zzqx', 'drop_table', 'a1b2c3', 'wp-admin', 'AB12']) expect(text).not.toContain(word);
    expect(sample(text, 'loyalty_bot_updates_total', 'feature="message"')).toBeGreaterThanOrEqual(3);
    expect(sample(text, 'loyalty_http_requests_total', 'route="unmatched",status="404"')).toBeGreaterThanOrEqual(3);
  });

  it('counts deliveries sent and blocked', async () => {
    const before = await scrape();
    const [reachable, blocking] = await members.add(2);
    fake.blockUser(blocking?.chatId as number);
    for (const m of [reachable, blocking])
      await app.domain.notifier.notify(m?.id as number, { kind: 'pointsAdjusted' as const, amount: 5, balance: 5 }, { dedupeKey: `metrics:${m?.id}` });
    await eventually(
      async () => {
        const text = await scrape();
        return (
          sample(text, 'loyalty_deliveries_total', 'outcome="sent"') > sample(before, 'loyalty_deliveries_total', 'outcome="sent"') &&
          sample(text, 'loyalty_deliveries_total', 'outcome="blocked"') > sample(before, 'loyalty_deliveries_total', 'outcome="blocked"')
        );
      },
      { what: 'a sent and a blocked delivery counted' },
    );
  });
});
