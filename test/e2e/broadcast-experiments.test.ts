import type { LightMyRequestResponse } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { createBroadcast } from '../../src/domain/broadcasts/create-broadcast.js';
import { runBroadcasts } from '../../src/domain/broadcasts/run-broadcast.js';
import { ManualClock } from '../../src/domain/clock.js';
import { createApiKey } from '../../src/domain/staff/api-keys.js';
import { startTestApp } from '../support/app.js';
import { expectNoViolations } from '../support/conversation.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { eventually } from '../support/eventually.js';
import { FakeBotApi } from '../support/fake-bot-api/server.js';
import { MemberSeeder, type SeededMember } from '../support/members.js';

/**
 * Broadcast experiments end to end: the delivery worker against the fake Bot API sends nothing to
 * the control group and each treated member their variant; the CRM API takes controlPercent and
 * variantB (refusing bad values with problem details) and shows the groups and, after the
 * attribution window, the lift; the author gets the lift report in the chat, once.
 */

const ADMIN = 951_001;
const MARKETER = 951_002;
const FIRST_TELEGRAM_ID = 961_000;
const DAY = 86_400_000;

let fake: FakeBotApi;
let db: TestDatabase;
let app: App;
let crmKey: string;
const clock = new ManualClock(new Date('2026-11-23T09:00:00Z'));
const members = new MemberSeeder(
  () => db.prisma,
  FIRST_TELEGRAM_ID,
  () => clock.now(),
);
const marketer = { kind: 'staff', telegramId: MARKETER, locale: 'en' } as const;

beforeAll(async () => {
  fake = await FakeBotApi.start({ botUsername: 'loyalty_test_bot' });
  db = await createTestDatabase();
  app = await startTestApp({ fake, databaseUrl: db.url, clock, env: { ADMIN_TELEGRAM_IDS: String(ADMIN), API_RATE_LIMIT: '1000' } });
  await app.domain.repos.staff.upsert({ telegramId: MARKETER, role: 'MARKETER', storeId: null, name: 'Mia' });
  crmKey = (await createApiKey(app.domain, ADMIN, { name: 'crm', storeCode: null })).key;
});
afterEach(() => expectNoViolations(fake));
afterAll(async () => {
  await app?.stop();
  await fake?.close();
  await db?.drop();
});

const post = (body: unknown, key: string): Promise<LightMyRequestResponse> =>
  app.http.inject({ method: 'POST', url: '/v1/broadcasts', payload: body as object, headers: { authorization: `Bearer ${crmKey}`, 'idempotency-key': key } });
const get = (id: number) => app.http.inject({ method: 'GET', url: `/v1/broadcasts/${id}`, headers: { authorization: `Bearer ${crmKey}` } });
const callsTo = (member: SeededMember) => fake.calls.filter((call) => call.chatId === member.chatId);

describe('control group and variants through the delivery worker', () => {
  it('the control group gets nothing at all; treated members get their own variant, once', async () => {
    const seeded = await members.add(60, { tier: 'gold', locale: 'en' });
    const response = await post(
      { text: 'Variant A text', variantB: { text: 'Variant B text' }, controlPercent: 50, segment: { tiers: ['gold'], registeredWithinDays: 1 } },
      'exp-1',
    );
    expect(response.statusCode).toBe(201);
    const { id } = response.json();
    const done = await eventually(async () => {
      const view = (await get(id)).json();
      return view.status === 'DONE' ? view : null;
    });
    const holdouts = new Set((await db.prisma.broadcastHoldout.findMany({ where: { broadcastId: id } })).map((row) => row.memberId));
    const deliveries = await db.prisma.delivery.findMany({ where: { broadcastId: id } });
    const variantOf = new Map(deliveries.map((row) => [row.memberId, (row.payload as { variant?: string }).variant]));
    expect(holdouts.size).toBeGreaterThan(0);
    expect(done).toMatchObject({ controlPercent: 50, abTest: true, experiment: { control: holdouts.size }, lift: null });
    expect(done.counts.sent).toBe(seeded.length - holdouts.size);
    for (const member of seeded) {
      if (holdouts.has(member.id)) {
        // Not a message, not a chat action: nothing tells a member they are in the control group.
        expect(callsTo(member)).toEqual([]);
      } else {
        const copies = fake.messagesTo(member.chatId);
        expect(copies.map((m) => m.text)).toEqual([variantOf.get(member.id) === 'B' ? 'Variant B text' : 'Variant A text']);
      }
    }
    expect(new Set(variantOf.values())).toEqual(new Set(['A', 'B']));
  });

  it('refuses a control share outside 0..50 % or a bad variant B with problem details naming the field; nothing is created', async () => {
    const before = await db.prisma.broadcast.count();
    const cases: [unknown, string][] = [
      [{ text: 'Hi', controlPercent: 51 }, 'controlPercent'],
      [{ text: 'Hi', controlPercent: -5 }, 'controlPercent'],
      [{ text: 'Hi', controlPercent: 12.5 }, 'controlPercent'],
      [{ text: 'Hi', controlPercent: '10' }, 'controlPercent'],
      [{ text: 'Hi', variantB: { text: '' } }, 'variantB.text'],
      [{ text: 'Hi', variantB: { text: 'B', entities: [{ type: 'bold', offset: 3, length: 5 }] } }, 'variantB.entities.0'],
    ];
    for (const [body, field] of cases) {
      const response = await post(body, `bad-${field}-${JSON.stringify(body).length}`);
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(response.json().errors, JSON.stringify(body)).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
    }
    expect(await db.prisma.broadcast.count()).toBe(before);
  });
});

describe('the lift report', () => {
  it('after the attribution window the API shows the lift and the author gets the report in the chat, once', async () => {
    clock.advance(2 * DAY);
    const seeded = await members.add(80, { tier: 'silver', locale: 'en' });
    const { broadcast } = await createBroadcast(app.domain, marketer, {
      content: { text: 'Weekend offer', entities: [], photoFileId: null, button: null },
      segment: { tiers: ['silver'], registeredWithinDays: 1 },
      scheduledAt: null,
      controlPercent: 30,
    });
    const done = await eventually(async () => {
      const view = (await get(broadcast.id)).json();
      return view.status === 'DONE' ? view : null;
    });
    expect(done.lift).toBeNull();
    // The "done" report says the results come later, so nobody reads the lift off the delivery counts.
    const doneReport = await fake.waitFor(() => fake.messagesTo(MARKETER).find((m) => m.text?.includes(`Broadcast #${broadcast.id} is done`)));
    expect(doneReport.text).toContain('Control group: 30 % of the members held back (sent nothing).');
    // Half of the treated members buy within the window; nobody in the control group does.
    const holdouts = new Set((await db.prisma.broadcastHoldout.findMany({ where: { broadcastId: broadcast.id } })).map((row) => row.memberId));
    const store = await app.domain.repos.stores.findByCode('msk-01');
    let receipt = 0;
    for (const member of seeded.filter((m) => !holdouts.has(m.id) && m.id % 2 === 0)) {
      await db.prisma.purchase.create({
        data: {
          memberId: member.id,
          storeId: store?.id as number,
          receiptNo: `E${++receipt}`,
          amountMinor: 120_000n,
          idempotencyKey: `exp-purchase-${receipt}`,
          requestHash: 'seed',
          actorType: 'STAFF',
          createdAt: new Date(clock.now().getTime() + DAY),
        },
      });
    }
    const before = fake.messagesTo(MARKETER).length;
    await runBroadcasts(app.domain);
    expect(fake.messagesTo(MARKETER).length).toBe(before);

    clock.advance(8 * DAY);
    const view = (await get(broadcast.id)).json();
    expect(view.lift.attributionDays).toBe(7);
    expect(view.lift.sentVsControl).toMatchObject({ treatedMembers: seeded.length - holdouts.size, controlMembers: holdouts.size });
    expect(view.lift.sentVsControl.conversion.control).toBe(0);
    expect(view.lift.sentVsControl.conversion.treated).toBeGreaterThan(0.3);
    expect(view.lift.ab).toBeNull();

    expect((await runBroadcasts(app.domain)).lifts).toBe(1);
    const report = await fake.waitFor(() => fake.messagesTo(MARKETER).find((m) => m.text?.includes(`Broadcast #${broadcast.id}: results`)));
    expect(report.text).toContain('Conversion');
    expect(report.text).toMatch(/vs 0\.0 % in the control group: \+\d+\.\d pp/);
    expect(report.text).toContain('Revenue per member');
    expect((await runBroadcasts(app.domain)).lifts).toBe(0);
    // Once: the next sweeps find nothing, and no second copy arrives.
    await eventually(async () =>
      (await db.prisma.delivery.count({ where: { dedupeKey: `broadcast-lift:${broadcast.id}`, status: 'SENT' } })) === 1 ? true : null,
    );
    expect(fake.messagesTo(MARKETER).filter((m) => m.text?.includes(`Broadcast #${broadcast.id}: results`))).toHaveLength(1);
  });
});
