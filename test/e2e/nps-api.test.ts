import type { LightMyRequestResponse } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { ManualClock } from '../../src/domain/clock.js';
import { createApiKey } from '../../src/domain/staff/api-keys.js';
import { startTestApp } from '../support/app.js';
import { expectNoViolations } from '../support/conversation.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { FakeBotApi } from '../support/fake-bot-api/server.js';
import { MemberSeeder, type SeededMember } from '../support/members.js';

/**
 * POST /v1/nps/campaigns end to end: the CRM surveys a segment through the HTTP API, the surveys
 * go out through the delivery queue to the fake Bot API. Noon in Moscow: outside the quiet hours.
 */

const ADMIN = 970_001;

let fake: FakeBotApi;
let db: TestDatabase;
let app: App;
const clock = new ManualClock(new Date('2026-11-24T09:00:00Z'));
let crmKey: string;
let crmKeyId: number;
let tillKey: string;

beforeAll(async () => {
  fake = await FakeBotApi.start({ botUsername: 'loyalty_test_bot' });
  db = await createTestDatabase();
  app = await startTestApp({ fake, databaseUrl: db.url, clock, env: { ADMIN_TELEGRAM_IDS: String(ADMIN) } });
  const crm = await createApiKey(app.domain, ADMIN, { name: 'crm', storeCode: null });
  crmKey = crm.key;
  crmKeyId = crm.record.id;
  tillKey = (await createApiKey(app.domain, ADMIN, { name: 'till', storeCode: 'msk-01' })).key;
});
afterEach(() => expectNoViolations(fake));
afterAll(async () => {
  await app?.stop();
  await fake?.close();
  await db?.drop();
});

type Seeded = SeededMember;

const members = new MemberSeeder(
  () => db.prisma,
  971_000,
  () => clock.now(),
);

const post = (body: unknown, headers: Record<string, string> = {}, key = crmKey): Promise<LightMyRequestResponse> =>
  app.http.inject({ method: 'POST', url: '/v1/nps/campaigns', payload: body as object, headers: { authorization: `Bearer ${key}`, ...headers } });

const surveyQuestions = (member: Seeded) => fake.messagesTo(member.chatId).filter((m) => (m.text ?? '').includes('How likely are you to recommend'));
const campaignSurveys = () => db.prisma.survey.count({ where: { trigger: { startsWith: 'campaign:' } } });

describe('POST /v1/nps/campaigns', () => {
  it('a dry run counts who would be asked and who left out, and creates nothing', async () => {
    await members.add(3, { tier: 'gold' });
    await members.add(1, { tier: 'gold', notificationsEnabled: false });
    await members.add(1, { tier: 'gold', reachable: false });
    const response = await post({ segment: { tiers: ['gold'] }, dryRun: true }, { 'idempotency-key': 'gold-nov' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ dryRun: true, skipped: null, surveyed: 3, already: 0, optedOut: 1, unreachable: 1, recentlySurveyed: 0 });
    expect(await campaignSurveys()).toBe(0);
  });

  it("surveys the segment's members once; a retry with the same key, even concurrent, surveys nobody new", async () => {
    const targets = await members.add(2, { tier: 'platinum' });
    const others = await members.add(1, { tier: 'silver' });
    const body = { segment: { tiers: ['platinum'] } };
    const created = await post(body, { 'idempotency-key': 'plat-1' });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toEqual({ dryRun: false, skipped: null, surveyed: 2, already: 0, optedOut: 0, unreachable: 0, recentlySurveyed: 0 });
    const surveys = await db.prisma.survey.findMany({ where: { trigger: { startsWith: 'campaign:' } }, orderBy: { memberId: 'asc' } });
    expect(surveys.map((s) => [s.memberId, s.trigger, s.storeId, s.status])).toEqual(
      targets.map((m) => [m.id, `campaign:api:${crmKeyId}:plat-1`, null, 'SENT']),
    );
    await fake.waitFor(() => targets.every((m) => surveyQuestions(m).length === 1), { timeoutMs: 10_000, what: 'the survey questions' });

    const retries = await Promise.all([post(body, { 'idempotency-key': 'plat-1' }), post(body, { 'idempotency-key': 'plat-1' })]);
    for (const retry of retries) {
      expect(retry.statusCode).toBe(201);
      expect(retry.json()).toMatchObject({ surveyed: 0, already: 2 });
    }
    // A preview under the same key says the same.
    expect((await post({ ...body, dryRun: true }, { 'idempotency-key': 'plat-1' })).json()).toMatchObject({ surveyed: 0, already: 2 });
    expect(await campaignSurveys()).toBe(2);
    // Another key is another campaign, but within minDaysBetweenSurveys nobody is asked again.
    expect((await post(body, { 'idempotency-key': 'plat-2' })).json()).toMatchObject({ surveyed: 0, already: 0, recentlySurveyed: 2 });
    expect(await campaignSurveys()).toBe(2);
    // Give any duplicate a chance to arrive: none does, and the silver member got nothing.
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const member of targets) expect(surveyQuestions(member)).toHaveLength(1);
    expect(surveyQuestions(others[0] as Seeded)).toHaveLength(0);
  });

  it('refuses a key bound to a store with 403, creating nothing', async () => {
    for (const dryRun of [false, true]) {
      const response = await post({ segment: {}, dryRun }, { 'idempotency-key': 'till-1' }, tillKey);
      expect(response.statusCode).toBe(403);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(response.json().code).toBe('FORBIDDEN');
    }
    expect(await db.prisma.survey.count({ where: { trigger: { contains: 'till-1' } } })).toBe(0);
  });

  it('refuses invalid requests with problem details naming the fields', async () => {
    const before = await campaignSurveys();
    const missingKey = await post({ segment: {} });
    expect(missingKey.statusCode).toBe(400);
    expect(missingKey.headers['content-type']).toContain('application/problem+json');
    expect(missingKey.json().errors).toEqual([expect.objectContaining({ field: 'Idempotency-Key' })]);

    const cases: [unknown, string, string][] = [
      [{ segment: { tiers: ['diamond'] } }, 'SEGMENT_INVALID', 'segment.tiers'],
      [{ segment: { stores: ['nowhere'] } }, 'SEGMENT_INVALID', 'segment.stores'],
      [{ segment: { tier: ['gold'] } }, 'VALIDATION_FAILED', 'segment.tier'],
      [{ segment: { npsGroups: ['fans'] } }, 'VALIDATION_FAILED', 'segment.npsGroups.0'],
      [{ segment: {}, dryRun: 'yes' }, 'VALIDATION_FAILED', 'dryRun'],
      [{}, 'VALIDATION_FAILED', 'segment'],
    ];
    for (const [body, code, field] of cases) {
      const response = await post(body, { 'idempotency-key': 'bad-1' });
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
      expect(response.json()).toMatchObject({ code, errors: [expect.objectContaining({ field })] });
    }
    // The key becomes part of the surveys' trigger: a narrower alphabet than other endpoints'.
    const badKey = await post({ segment: {} }, { 'idempotency-key': 'spaces are not allowed' });
    expect(badKey.statusCode).toBe(400);
    expect(badKey.json().errors).toEqual([expect.objectContaining({ field: 'Idempotency-Key' })]);
    expect(await campaignSurveys()).toBe(before);
  });

  it("answers skipped: 'disabled' when NPS is off in the program, asking nobody", async () => {
    await members.add(1, { tier: 'gold' });
    const nps = app.domain.program.nps;
    nps.enabled = false;
    try {
      const response = await post({ segment: {} }, { 'idempotency-key': 'off-1' });
      expect(response.statusCode).toBe(201);
      expect(response.json()).toEqual({ dryRun: false, skipped: 'disabled', surveyed: 0, already: 0, optedOut: 0, unreachable: 0, recentlySurveyed: 0 });
    } finally {
      nps.enabled = true;
    }
    expect(await db.prisma.survey.count({ where: { trigger: { contains: 'off-1' } } })).toBe(0);
  });

  it('is in the OpenAPI document', async () => {
    const doc = (await app.http.inject({ method: 'GET', url: '/v1/openapi.json' })).json();
    const operation = doc.paths['/v1/nps/campaigns'].post;
    expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['200', '201', '400', '401', '403', '429']));
    expect(operation.parameters).toContainEqual(expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: true }));
    expect(operation.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/NpsCampaignRequest' });
    expect(doc.components.schemas.NpsCampaignRequest.required).toEqual(['segment']);
    expect(Object.keys(doc.components.schemas.NpsCampaignResponse.properties).sort()).toEqual([
      'already',
      'dryRun',
      'optedOut',
      'recentlySurveyed',
      'skipped',
      'surveyed',
      'unreachable',
    ]);
  });
});
