import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { offerLine, withOffer } from '../../src/bot/broadcast-message.js';
import { formatterFor } from '../../src/bot/format.js';
import { createI18n } from '../../src/bot/i18n.js';
import { cancelBroadcast } from '../../src/domain/broadcasts/cancel-broadcast.js';
import { MAX_TEXT } from '../../src/domain/broadcasts/content.js';
import { createBroadcast } from '../../src/domain/broadcasts/create-broadcast.js';
import { broadcastOfferKey, issueBroadcastOffer, NO_OFFER_REASON, OFFER_LINE_RESERVE } from '../../src/domain/broadcasts/offer.js';
import { finishBroadcastIfDone, pumpBroadcast, QUEUE_WINDOW, runBroadcasts, startBroadcast } from '../../src/domain/broadcasts/run-broadcast.js';
import { segmentProblems } from '../../src/domain/broadcasts/segment.js';
import type { BroadcastContent, BroadcastDispatch, Segment } from '../../src/domain/broadcasts/types.js';
import { getBroadcast, listBroadcasts, measureAudience } from '../../src/domain/broadcasts/view-broadcasts.js';
import { isDomainError } from '../../src/domain/errors.js';
import type { Member } from '../../src/domain/members/member.js';
import { addReward } from '../../src/domain/rewards/admin.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { type DomainHarness, domainHarness } from '../support/domain.js';
import { exampleProgram } from '../support/program.js';
import { rewardDefinition } from '../support/rewards.js';

/**
 * Segments against seeded members on real PostgreSQL: each filter, some combinations, and that
 * the audience size is exactly the delivery list a broadcast gets. The clock is 23 Nov 2026,
 * 12:00 in Moscow (the program's time zone), outside the quiet hours.
 */

const ADMIN = 1;
const MARKETER = 500;
const CASHIER = 501;
const DAY = 86_400_000;
const admin = { kind: 'staff', telegramId: ADMIN, locale: 'en' } as const;

let db: TestDatabase;
let h: DomainHarness;
let start: Date;
const people: Record<string, Member> = {};
let nextUser = 20_000;
let receipt = 0;

const text = (value: string): BroadcastContent => ({ text: value, entities: [], photoFileId: null, button: null });

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!isDomainError(error)) throw new Error(`expected a DomainError, got ${String(error)}`);
  return error.code;
}

interface Seed {
  tier?: string | null;
  locale?: 'ru' | 'en';
  registeredDaysAgo: number;
  birthday?: string;
  notificationsEnabled?: boolean;
  reachable?: boolean;
  status?: 'ACTIVE' | 'REGISTERING' | 'DELETED';
  /** [store code, days ago], in any order. */
  purchases?: [string, number][];
  /** [points, expires in N days or null]. */
  points?: [number, number | null][];
  /** NPS answers, oldest first: [group, days ago]. */
  nps?: ['PROMOTER' | 'PASSIVE' | 'DETRACTOR', number][];
}

async function seed(name: string, spec: Seed): Promise<void> {
  const now = h.clock.now();
  const base = await h.member(nextUser++);
  await db.prisma.member.update({
    where: { id: base.id },
    data: {
      tier: spec.tier === undefined ? 'basic' : spec.tier,
      locale: spec.locale ?? 'en',
      registeredAt: new Date(now.getTime() - spec.registeredDaysAgo * DAY),
      birthday: spec.birthday ? new Date(`${spec.birthday}T00:00:00Z`) : null,
      notificationsEnabled: spec.notificationsEnabled ?? true,
      reachable: spec.reachable ?? true,
      status: spec.status ?? 'ACTIVE',
    },
  });
  for (const [code, daysAgo] of spec.purchases ?? []) {
    const store = await h.store(code);
    await db.prisma.purchase.create({
      data: {
        memberId: base.id,
        storeId: store.id,
        receiptNo: `R${++receipt}`,
        amountMinor: 100_000n,
        idempotencyKey: `seed-purchase-${receipt}`,
        requestHash: 'seed',
        actorType: 'STAFF',
        createdAt: new Date(now.getTime() - daysAgo * DAY),
      },
    });
  }
  let lot = 0;
  for (const [points, expiresInDays] of spec.points ?? []) {
    await h.deps.repos.ledger.post({
      kind: 'credit',
      type: 'BONUS',
      memberId: base.id,
      amount: points,
      idempotencyKey: `seed-lot-${base.id}-${++lot}`,
      actor: { type: 'SYSTEM' },
      expiresAt: expiresInDays === null ? null : new Date(now.getTime() + expiresInDays * DAY),
    });
  }
  let survey = 0;
  for (const [group, daysAgo] of spec.nps ?? []) {
    const at = new Date(now.getTime() - daysAgo * DAY);
    const score = group === 'PROMOTER' ? 10 : group === 'PASSIVE' ? 8 : 3;
    await db.prisma.survey.create({
      data: { memberId: base.id, trigger: `seed:${++survey}`, status: 'ANSWERED', score, group, sentAt: at, answeredAt: at },
    });
  }
  people[name] = (await h.deps.repos.members.findById(base.id)) as Member;
}

const ids = (...names: string[]) => names.map((name) => (people[name] as Member).id).sort((a, b) => a - b);

/** Who a segment reaches, by name, among the seeded people (the database may hold others). */
async function recipientsOf(segment: Segment): Promise<string[]> {
  const { broadcast } = await createBroadcast(h.deps, admin, { content: text('hello'), segment, scheduledAt: null });
  const rows = await db.prisma.delivery.findMany({ where: { broadcastId: broadcast.id, status: 'PENDING' }, select: { memberId: true } });
  const memberIds = new Set(rows.map((row) => row.memberId));
  return Object.entries(people)
    .filter(([, member]) => memberIds.has(member.id))
    .map(([name]) => name)
    .sort();
}

beforeAll(async () => {
  db = await createTestDatabase();
  h = await domainHarness(db, { admins: [ADMIN] });
  start = h.clock.now();
  await h.deps.repos.staff.upsert({ telegramId: MARKETER, role: 'MARKETER', storeId: null, name: 'Mark' });
  await h.deps.repos.staff.upsert({ telegramId: CASHIER, role: 'STAFF', storeId: (await h.store()).id, name: 'Cash' });
  // Only the seeded people below exist: every count is theirs.
  await seed('anna', { tier: 'gold', locale: 'ru', registeredDaysAgo: 400, birthday: '1990-11-05', purchases: [['msk-01', 100]], points: [[500, null]] });
  await seed('boris', {
    tier: null,
    registeredDaysAgo: 3,
    purchases: [
      ['msk-01', 40],
      ['msk-02', 5],
    ],
  });
  await seed('clara', { tier: 'silver', registeredDaysAgo: 200, points: [[100, 10]], nps: [['PROMOTER', 20]] });
  await seed('dima', { tier: 'platinum', locale: 'ru', registeredDaysAgo: 50, purchases: [['msk-02', 10]], notificationsEnabled: false });
  await seed('eva', { registeredDaysAgo: 1, reachable: false });
  await seed('fedor', { registeredDaysAgo: 0, status: 'REGISTERING' });
  await seed('gleb', {
    registeredDaysAgo: 30,
    birthday: '1985-12-01',
    points: [[1000, 40]],
    nps: [
      ['PROMOTER', 60],
      ['DETRACTOR', 2],
    ],
  });
  await seed('hana', { registeredDaysAgo: 90, status: 'DELETED', purchases: [['msk-01', 2]] });
});
afterAll(async () => db?.drop());
afterEach(() => h.clock.set(start));

describe('segment filters', () => {
  it('everyone: only active members who take offers and are reachable receive it; the others are counted out', async () => {
    expect(await recipientsOf({})).toEqual(['anna', 'boris', 'clara', 'gleb']);
    expect(await measureAudience(h.deps, admin, {})).toEqual({ recipients: 4, optedOut: 1, unreachable: 1 });
  });

  it.each<[string, Segment, string[]]>([
    ['tier (no tier yet = the first tier)', { tiers: ['basic'] }, ['boris', 'gleb']],
    ['tiers (any of)', { tiers: ['gold', 'silver'] }, ['anna', 'clara']],
    ['language', { languages: ['ru'] }, ['anna']],
    ['home store = store of the latest purchase', { stores: ['msk-02'] }, ['boris']],
    ['home store msk-01', { stores: ['msk-01'] }, ['anna']],
    ['last purchase older than 30 days', { lastPurchaseOlderThanDays: 30 }, ['anna']],
    ['last purchase within 7 days', { lastPurchaseWithinDays: 7 }, ['boris']],
    ['last purchase between 30 and 200 days ago', { lastPurchaseOlderThanDays: 30, lastPurchaseWithinDays: 200 }, ['anna']],
    ['registered within 7 days', { registeredWithinDays: 7 }, ['boris']],
    ['birthday this month (November, program time zone)', { birthdayThisMonth: true }, ['anna']],
    ['points expiring within 30 days', { pointsExpiringWithinDays: 30 }, ['clara']],
    ['points expiring within 60 days', { pointsExpiringWithinDays: 60 }, ['clara', 'gleb']],
    ['balance at least 500', { minBalance: 500 }, ['anna', 'gleb']],
    ['never purchased', { neverPurchased: true }, ['clara', 'gleb']],
    ['NPS promoters (latest answer)', { npsGroups: ['promoter'] }, ['clara']],
    ['NPS detractors (latest answer)', { npsGroups: ['detractor'] }, ['gleb']],
    ['combination: first tier and never purchased', { tiers: ['basic'], neverPurchased: true }, ['gleb']],
    ['combination: English, balance at least 100', { languages: ['en'], minBalance: 100 }, ['clara', 'gleb']],
    ['combination: bought within 200 days, registered within 100 days', { lastPurchaseWithinDays: 200, registeredWithinDays: 100 }, ['boris']],
    ['combination that nobody matches', { tiers: ['platinum'], languages: ['en'] }, []],
  ])('%s', async (_name, segment, expected) => {
    expect(await recipientsOf(segment)).toEqual(expected);
    expect((await measureAudience(h.deps, admin, segment)).recipients).toBe(expected.length);
  });

  it('counts the opted-out and unreachable members the segment matches, and lists them as skipped and blocked', async () => {
    const segment: Segment = { tiers: ['basic', 'platinum'] };
    expect(await measureAudience(h.deps, admin, segment)).toEqual({ recipients: 2, optedOut: 1, unreachable: 1 });
    const { broadcast } = await createBroadcast(h.deps, admin, { content: text('hi'), segment, scheduledAt: null });
    expect(broadcast).toMatchObject({ status: 'SENDING', audience: 4 });
    const view = await getBroadcast(h.deps, admin, broadcast.id);
    expect(view.counts).toEqual({ pending: 2, sent: 0, blocked: 1, failed: 0, skipped: 1, cancelled: 0 });
    const rows = await db.prisma.delivery.findMany({ where: { broadcastId: broadcast.id }, orderBy: { memberId: 'asc' } });
    expect(rows.map((row) => [row.memberId, row.status, row.dedupeKey])).toEqual([
      [people.boris?.id, 'PENDING', `broadcast:${broadcast.id}:${people.boris?.id}`],
      [people.dima?.id, 'SKIPPED', `broadcast:${broadcast.id}:${people.dima?.id}`],
      [people.eva?.id, 'BLOCKED', `broadcast:${broadcast.id}:${people.eva?.id}`],
      [people.gleb?.id, 'PENDING', `broadcast:${broadcast.id}:${people.gleb?.id}`],
    ]);
    expect(ids('boris', 'gleb')).toEqual(rows.filter((row) => row.status === 'PENDING').map((row) => row.memberId));
  });

  it('refuses segments that name unknown values or contradict themselves, naming the field', () => {
    const program = exampleProgram();
    expect(segmentProblems({ tiers: ['diamond'] }, program)[0]?.field).toBe('segment.tiers');
    expect(segmentProblems({ languages: ['de' as 'en'] }, program)[0]?.field).toBe('segment.languages');
    expect(segmentProblems({ npsGroups: ['fans' as 'promoter'] }, program)[0]?.field).toBe('segment.npsGroups');
    expect(segmentProblems({ minBalance: -1 }, program)[0]?.field).toBe('segment.minBalance');
    expect(segmentProblems({ registeredWithinDays: 0 }, program)[0]?.field).toBe('segment.registeredWithinDays');
    expect(segmentProblems({ neverPurchased: true, lastPurchaseWithinDays: 5 }, program)[0]?.field).toBe('segment.lastPurchaseWithinDays');
    expect(segmentProblems({ lastPurchaseOlderThanDays: 30, lastPurchaseWithinDays: 10 }, program)[0]?.field).toBe('segment.lastPurchaseOlderThanDays');
    expect(segmentProblems({ tiers: ['gold'], birthdayThisMonth: true, minBalance: 0 }, program)).toEqual([]);
  });
});

describe('broadcast lifecycle', () => {
  it('starts once: a second start (another instance, the scheduler) writes nothing', async () => {
    const { broadcast } = await createBroadcast(h.deps, admin, { content: text('once'), segment: {}, scheduledAt: null });
    const again = await startBroadcast(h.deps, broadcast.id);
    expect(again).toMatchObject({ id: broadcast.id, status: 'SENDING', audience: 6 });
    await Promise.all([startBroadcast(h.deps, broadcast.id), runBroadcasts(h.deps)]);
    expect(await db.prisma.delivery.count({ where: { broadcastId: broadcast.id } })).toBe(6);
  });

  it('two concurrent starts of a scheduled broadcast write one delivery list', async () => {
    const at = new Date(start.getTime() + 3_600_000);
    const { broadcast, started } = await createBroadcast(h.deps, admin, { content: text('later'), segment: {}, scheduledAt: at });
    expect(started).toBe(false);
    expect(broadcast).toMatchObject({ status: 'SCHEDULED', scheduledAt: at, audience: 0 });
    expect(await db.prisma.delivery.count({ where: { broadcastId: broadcast.id } })).toBe(0);
    // Not due yet: the scheduler leaves it.
    await runBroadcasts(h.deps);
    expect((await h.deps.repos.broadcasts.findById(broadcast.id))?.status).toBe('SCHEDULED');
    h.clock.set(at);
    const results = await Promise.all([startBroadcast(h.deps, broadcast.id), startBroadcast(h.deps, broadcast.id), runBroadcasts(h.deps)]);
    expect(results[0]?.status).toBe('SENDING');
    expect(await db.prisma.delivery.count({ where: { broadcastId: broadcast.id } })).toBe(6);
  });

  it('finishes when nothing is pending, with the counts of its delivery list', async () => {
    const { broadcast } = await createBroadcast(h.deps, admin, { content: text('finish'), segment: { tiers: ['basic'] }, scheduledAt: null });
    expect(await finishBroadcastIfDone(h.deps, broadcast.id)).toBeNull();
    const pending = await db.prisma.delivery.findMany({ where: { broadcastId: broadcast.id, status: 'PENDING' } });
    for (const row of pending) await h.deps.repos.deliveries.finish(row.id, 'SENT');
    h.clock.advance(90_000);
    const done = await finishBroadcastIfDone(h.deps, broadcast.id);
    expect(done).toMatchObject({ status: 'DONE', final: { sent: 2, blocked: 1, failed: 0, skipped: 0, cancelled: 0 } });
    expect(await finishBroadcastIfDone(h.deps, broadcast.id)).toBeNull();
    const view = await getBroadcast(h.deps, admin, broadcast.id);
    expect(view.durationMs).toBe(90_000);
  });

  it('cancels a running broadcast: what was not sent never will be', async () => {
    const { broadcast } = await createBroadcast(h.deps, admin, { content: text('cancel me'), segment: {}, scheduledAt: null });
    const [first] = await db.prisma.delivery.findMany({ where: { broadcastId: broadcast.id, status: 'PENDING' }, orderBy: { id: 'asc' }, take: 1 });
    await h.deps.repos.deliveries.finish(first?.id as number, 'SENT');
    const cancelled = await cancelBroadcast(h.deps, { kind: 'staff', telegramId: MARKETER, locale: 'en' }, broadcast.id);
    expect(cancelled).toMatchObject({ status: 'CANCELLED', final: { sent: 1, cancelled: 3, skipped: 1, blocked: 1 } });
    expect(await db.prisma.delivery.count({ where: { broadcastId: broadcast.id, status: 'PENDING' } })).toBe(0);
    expect(await codeOf(cancelBroadcast(h.deps, admin, broadcast.id))).toBe('BROADCAST_NOT_CANCELLABLE');
    expect(await codeOf(cancelBroadcast(h.deps, admin, 999_999))).toBe('BROADCAST_NOT_FOUND');
  });

  it('cancels a scheduled broadcast before it starts; the scheduler then never starts it', async () => {
    const at = new Date(start.getTime() + 7_200_000);
    const { broadcast } = await createBroadcast(h.deps, admin, { content: text('never'), segment: {}, scheduledAt: at });
    await cancelBroadcast(h.deps, admin, broadcast.id);
    h.clock.set(at);
    await runBroadcasts(h.deps);
    expect(await h.deps.repos.broadcasts.findById(broadcast.id)).toMatchObject({ status: 'CANCELLED', audience: 0 });
    expect(await db.prisma.delivery.count({ where: { broadcastId: broadcast.id } })).toBe(0);
  });

  it('moves a start in the quiet hours to their end (22:00-09:00 Moscow)', async () => {
    // 23:30 in Moscow is 20:30 UTC; the quiet hours end at 09:00 Moscow = 06:00 UTC the next day.
    const at = new Date('2026-11-23T20:30:00Z');
    const result = await createBroadcast(h.deps, admin, { content: text('late'), segment: {}, scheduledAt: at });
    expect(result).toMatchObject({ started: false, movedByQuietHours: true });
    expect(result.broadcast.scheduledAt.toISOString()).toBe('2026-11-24T06:00:00.000Z');
    // And the scheduler does not start anything due while it is quiet.
    h.clock.set('2026-11-24T05:59:00Z');
    await runBroadcasts(h.deps);
    expect((await h.deps.repos.broadcasts.findById(result.broadcast.id))?.status).toBe('SCHEDULED');
    h.clock.set('2026-11-24T06:00:00Z');
    await runBroadcasts(h.deps);
    expect((await h.deps.repos.broadcasts.findById(result.broadcast.id))?.status).toBe('SENDING');
  });

  it('checks the message, the segment and the time, naming what is wrong', async () => {
    const invalid = async (promise: Promise<unknown>) => {
      const error = await promise.then(
        () => null,
        (e: unknown) => e,
      );
      if (!isDomainError(error)) throw new Error(`expected a DomainError, got ${String(error)}`);
      return [error.code, error.details.field];
    };
    const create = (input: Partial<Parameters<typeof createBroadcast>[2]>) =>
      createBroadcast(h.deps, admin, { content: text('ok'), segment: {}, scheduledAt: null, ...input });
    expect(await invalid(create({ content: text('x'.repeat(4097)) }))).toEqual(['BROADCAST_INVALID', 'text']);
    expect(await invalid(create({ content: { ...text('x'.repeat(1025)), photoFileId: 'AgAC123' } }))).toEqual(['BROADCAST_INVALID', 'text']);
    expect(await invalid(create({ content: { ...text('bold'), entities: [{ type: 'bold', offset: 2, length: 5 }] } }))).toEqual([
      'BROADCAST_INVALID',
      'entities.0',
    ]);
    expect(await invalid(create({ content: { ...text('hi'), button: { text: 'Go', url: 'javascript:alert(1)' } } }))).toEqual([
      'BROADCAST_INVALID',
      'button.url',
    ]);
    expect(await invalid(create({ segment: { stores: ['nowhere'] } }))).toEqual(['SEGMENT_INVALID', 'segment.stores']);
    expect(await invalid(create({ scheduledAt: new Date(start.getTime() - 3_600_000) }))).toEqual(['SCHEDULE_INVALID', 'scheduledAt']);
  });

  it('only marketers and admins may create, see or cancel broadcasts', async () => {
    const cashier = { kind: 'staff', telegramId: CASHIER, locale: 'en' } as const;
    const stranger = { kind: 'staff', telegramId: 777_777, locale: 'en' } as const;
    const { broadcast } = await createBroadcast(
      h.deps,
      { kind: 'staff', telegramId: MARKETER, locale: 'en' },
      {
        content: text('by the marketer'),
        segment: {},
        scheduledAt: new Date(start.getTime() + 86_400_000),
      },
    );
    for (const who of [cashier, stranger]) {
      expect(await codeOf(createBroadcast(h.deps, who, { content: text('no'), segment: {}, scheduledAt: null }))).toBe('FORBIDDEN');
      expect(await codeOf(listBroadcasts(h.deps, who))).toBe('FORBIDDEN');
      expect(await codeOf(getBroadcast(h.deps, who, broadcast.id))).toBe('FORBIDDEN');
      expect(await codeOf(measureAudience(h.deps, who, {}))).toBe('FORBIDDEN');
      expect(await codeOf(cancelBroadcast(h.deps, who, broadcast.id))).toBe('FORBIDDEN');
    }
    // A till's API key (bound to a store) may not either; a CRM key may.
    expect(await codeOf(listBroadcasts(h.deps, { kind: 'apiKey', apiKeyId: 1, storeId: 1 }))).toBe('FORBIDDEN');
    expect((await listBroadcasts(h.deps, { kind: 'apiKey', apiKeyId: 2, storeId: null }))[0]?.broadcast.id).toBe(broadcast.id);
    expect((await h.deps.repos.broadcasts.findById(broadcast.id))?.status).toBe('SCHEDULED');
  });

  it('replays an API create with the same idempotency key', async () => {
    const by = { kind: 'apiKey', apiKeyId: 3, storeId: null } as const;
    const first = await createBroadcast(h.deps, by, { content: text('crm'), segment: { tiers: ['gold'] }, scheduledAt: null, idempotencyKey: 'api:3:abc' });
    const again = await createBroadcast(h.deps, by, { content: text('crm'), segment: { tiers: ['gold'] }, scheduledAt: null, idempotencyKey: 'api:3:abc' });
    expect(again).toMatchObject({ replayed: true, broadcast: { id: first.broadcast.id } });
    expect(await codeOf(createBroadcast(h.deps, by, { content: text('other'), segment: {}, scheduledAt: null, idempotencyKey: 'api:3:abc' }))).toBe(
      'IDEMPOTENCY_CONFLICT',
    );
  });
});

describe('queueing in windows', () => {
  it('queues at most a window of deliveries at a time, tops it up as they finish, and withdraws only queued ones on cancel', async () => {
    // Runs last: 12,000 more members (Platinum, Russian) would change the counts above.
    await db.prisma.$executeRaw`
      INSERT INTO "Member" ("telegramId", "code", "status", "registrationStep", "locale", "tier", "registeredAt", "updatedAt")
      SELECT 7000000 + g, 'W' || lpad(g::text, 9, '0'), 'ACTIVE', NULL, 'ru', 'platinum', now(), now() FROM generate_series(0, 11999) g`;
    const queued: number[] = [];
    const withdrawn: number[] = [];
    let ours = 0;
    const dispatch: BroadcastDispatch = {
      enqueue: async (broadcast, ids) => void (broadcast.id === ours && queued.push(...ids)),
      withdraw: async (broadcast, ids) => void (broadcast.id === ours && withdrawn.push(...ids)),
      report: async () => undefined,
    };
    const deps = { ...h.deps, broadcastDispatch: dispatch };
    const at = new Date(start.getTime() + 60_000);
    const { broadcast } = await createBroadcast(deps, admin, { content: text('window'), segment: { tiers: ['platinum'], languages: ['ru'] }, scheduledAt: at });
    ours = broadcast.id;
    h.clock.set(at);
    await runBroadcasts(deps);
    const pending = (await db.prisma.delivery.findMany({ where: { broadcastId: ours, status: 'PENDING' }, orderBy: { id: 'asc' }, select: { id: true } })).map(
      (row) => row.id,
    );
    expect(pending).toHaveLength(12_000);
    // The tick started it and queued the first window, then (as its pump) the same window again: deduped by job id.
    expect(new Set(queued)).toEqual(new Set(pending.slice(0, QUEUE_WINDOW)));

    // Nothing finished yet: a pump adds nothing.
    queued.length = 0;
    expect(await pumpBroadcast(deps, ours)).toEqual({ queued: 0, finished: false });
    // 3,000 sent: 2,000 left in the window, below half: topped up to a full window again.
    await db.prisma.delivery.updateMany({ where: { id: { in: pending.slice(0, 3_000) } }, data: { status: 'SENT' } });
    expect(await pumpBroadcast(deps, ours)).toEqual({ queued: 3_000, finished: false });
    expect(queued).toEqual(pending.slice(QUEUE_WINDOW, QUEUE_WINDOW + 3_000));
    expect((await h.deps.repos.broadcasts.findById(ours))?.queuedThroughId).toBe(pending[QUEUE_WINDOW + 3_000 - 1]);

    // Cancelled: the 5,000 queued and unsent leave the queue; the 4,000 never queued need not.
    await cancelBroadcast(deps, admin, ours);
    expect(withdrawn.sort((a, b) => a - b)).toEqual(pending.slice(3_000, QUEUE_WINDOW + 3_000));
    expect(await h.deps.repos.broadcasts.findById(ours)).toMatchObject({ status: 'CANCELLED', final: { sent: 3_000, cancelled: 9_000 } });
  });
});

describe('personal offers', () => {
  let offers = 0;
  async function offerReward(stock: number | null, active = true): Promise<string> {
    const code = `offer-${++offers}`;
    await addReward(
      h.deps,
      ADMIN,
      rewardDefinition({
        code,
        kind: 'PERCENT_COUPON',
        value: 15,
        cost: 300,
        stock,
        limit: { count: 1, periodDays: null },
        minTier: 'platinum',
        validityDays: 5,
        title: { ru: 'Скидка', en: 'A discount' },
        description: { ru: 'Описание', en: 'Description' },
        active,
      }),
    );
    return code;
  }
  const recipientsOf = async (broadcastId: number) =>
    (await db.prisma.delivery.findMany({ where: { broadcastId, status: 'PENDING' }, orderBy: { id: 'asc' } })).map((row) => ({
      id: row.id,
      memberId: row.memberId as number,
    }));
  const stockOf = async (code: string) => (await db.prisma.reward.findUniqueOrThrow({ where: { code } })).stock;

  it('refuses an unknown or paused reward naming offerRewardCode, and leaves room in the text for the coupon line', async () => {
    const paused = await offerReward(null, false);
    const active = await offerReward(null);
    const invalid = async (input: Partial<Parameters<typeof createBroadcast>[2]>) => {
      const error = await createBroadcast(h.deps, admin, { content: text('ok'), segment: {}, scheduledAt: new Date(start.getTime() + DAY), ...input }).then(
        () => null,
        (e: unknown) => e,
      );
      if (!isDomainError(error)) throw new Error(`expected a DomainError, got ${String(error)}`);
      return [error.code, error.details.field];
    };
    expect(await invalid({ offerRewardCode: 'no-such-reward' })).toEqual(['BROADCAST_INVALID', 'offerRewardCode']);
    expect(await invalid({ offerRewardCode: paused })).toEqual(['BROADCAST_INVALID', 'offerRewardCode']);
    expect(await invalid({ offerRewardCode: active, content: text('x'.repeat(MAX_TEXT - OFFER_LINE_RESERVE + 1)) })).toEqual(['BROADCAST_INVALID', 'text']);
    const fits = await createBroadcast(h.deps, admin, {
      content: text('x'.repeat(MAX_TEXT - OFFER_LINE_RESERVE)),
      segment: {},
      scheduledAt: new Date(start.getTime() + DAY),
      offerRewardCode: active,
    });
    expect(fits.broadcast.offerRewardCode).toBe(active);
    await cancelBroadcast(h.deps, admin, fits.broadcast.id);
  });

  it('the same delivery processed twice (or by two workers at once) issues one coupon: free, whatever the reward’s tier and limit rules', async () => {
    const code = await offerReward(10);
    const { broadcast } = await createBroadcast(h.deps, admin, {
      content: text('For you'),
      segment: { languages: ['en'] },
      scheduledAt: null,
      offerRewardCode: code,
    });
    const recipients = await recipientsOf(broadcast.id);
    // Boris, Clara and Gleb (the window test's 12,000 Russian speakers are not in it).
    expect(recipients.length).toBe(3);
    const offer = { id: broadcast.id, offerRewardCode: code };
    const [first] = recipients as [{ id: number; memberId: number }];
    const balanceBefore = (await db.prisma.member.findUniqueOrThrow({ where: { id: first.memberId } })).balance;

    const once = await issueBroadcastOffer(h.deps, offer, first.memberId);
    const again = await issueBroadcastOffer(h.deps, offer, first.memberId);
    const racing = await Promise.all([1, 2, 3].map(() => issueBroadcastOffer(h.deps, offer, first.memberId)));
    expect(once).not.toBeNull();
    for (const coupon of [again, ...racing]) expect(coupon?.id).toBe(once?.id);
    expect(once).toMatchObject({
      memberId: first.memberId,
      cost: 0,
      status: 'ISSUED',
      kind: 'PERCENT_COUPON',
      value: 15,
      idempotencyKey: `broadcast:${broadcast.id}:${first.memberId}`,
    });
    expect(once?.expiresAt.getTime()).toBe(h.clock.now().getTime() + 5 * DAY);
    expect(await db.prisma.coupon.count({ where: { idempotencyKey: broadcastOfferKey(broadcast.id, first.memberId) } })).toBe(1);
    expect(await stockOf(code)).toBe(9);
    expect((await db.prisma.member.findUniqueOrThrow({ where: { id: first.memberId } })).balance).toBe(balanceBefore);

    // Every recipient gets a coupon of their own, racing or not.
    const coupons = await Promise.all(recipients.map((r) => issueBroadcastOffer(h.deps, offer, r.memberId)));
    expect(new Set(coupons.map((c) => c?.code)).size).toBe(3);
    expect(coupons.map((c) => c?.memberId)).toEqual(recipients.map((r) => r.memberId));
    expect(await stockOf(code)).toBe(7);
    await cancelBroadcast(h.deps, admin, broadcast.id);
  });

  it('out of stock or paused: the message goes without a coupon, and those copies are counted', async () => {
    const code = await offerReward(1);
    const { broadcast } = await createBroadcast(h.deps, admin, {
      content: text('Hurry'),
      segment: { languages: ['en'] },
      scheduledAt: null,
      offerRewardCode: code,
    });
    const offer = { id: broadcast.id, offerRewardCode: code };
    const recipients = await recipientsOf(broadcast.id);
    const t = (await createI18n('en')).t('en');
    const fmt = formatterFor('en', 'RUB', 'Europe/Moscow');
    const sent: string[] = [];
    // As the delivery worker does: issue, render with or without the coupon, record the outcome.
    for (const [i, recipient] of recipients.entries()) {
      if (i === 2) await db.prisma.reward.update({ where: { code }, data: { stock: 5, active: false } });
      const coupon = await issueBroadcastOffer(h.deps, offer, recipient.memberId);
      const content = coupon ? withOffer(broadcast.content, offerLine(t, fmt, coupon), coupon.code) : broadcast.content;
      sent.push(content.text);
      await h.deps.repos.deliveries.finish(recipient.id, 'SENT', coupon ? null : NO_OFFER_REASON);
    }
    expect(sent[0]).toMatch(/^Hurry\n\n🎁 Your personal coupon: [A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}, valid until /);
    expect(sent.slice(1)).toEqual(['Hurry', 'Hurry']);
    expect(await db.prisma.coupon.count({ where: { reward: { code } } })).toBe(1);
    // Paused with stock back: still nothing issued, and the stock is untouched.
    expect(await stockOf(code)).toBe(5);
    await finishBroadcastIfDone(h.deps, broadcast.id);
    const view = await getBroadcast(h.deps, admin, broadcast.id);
    expect(view.broadcast.status).toBe('DONE');
    expect(view.counts).toMatchObject({ sent: 3 });
    expect(view.offer).toEqual({ withCoupon: 1, withoutCoupon: 2 });
  });
});
