import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { twoProportionTest, welchTest } from '../../src/domain/analytics/significance.js';
import { createBroadcast } from '../../src/domain/broadcasts/create-broadcast.js';
import { isControl, variantOf } from '../../src/domain/broadcasts/experiment.js';
import { recentCampaignLifts, reportLifts } from '../../src/domain/broadcasts/lift.js';
import { finishBroadcastIfDone, startBroadcast } from '../../src/domain/broadcasts/run-broadcast.js';
import type { BroadcastContent } from '../../src/domain/broadcasts/types.js';
import { getBroadcast } from '../../src/domain/broadcasts/view-broadcasts.js';
import { isDomainError } from '../../src/domain/errors.js';
import type { ChatRecipient, DomainDeps, Notification, NotifyOptions } from '../../src/domain/ports.js';
import { addReward } from '../../src/domain/rewards/admin.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { type DomainHarness, domainHarness } from '../support/domain.js';
import { rewardDefinition } from '../support/rewards.js';

/**
 * Broadcasts as experiments on real PostgreSQL: the control group and the A/B split written by
 * the start (deterministic, the same as the pure functions, controls never in the delivery
 * list), and the lift measured set-based from purchases and coupon redemptions in each member's
 * attribution window, reported once to the author when the window has passed.
 */

const ADMIN = 1;
const MARKETER = 500;
const CASHIER = 501;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MEMBERS = 2_000;
const marketer = { kind: 'staff', telegramId: MARKETER, locale: 'en' } as const;
const cashier = { kind: 'staff', telegramId: CASHIER, locale: 'en' } as const;

let db: TestDatabase;
let h: DomainHarness;
let memberIds: number[];
let optedOut: number;
let unreachable: number;
let receipt = 0;

const text = (value: string): BroadcastContent => ({ text: value, entities: [], photoFileId: null, button: null });

async function codeOf(promise: Promise<unknown>): Promise<{ code: string; details: unknown }> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!isDomainError(error)) throw new Error(`expected a DomainError, got ${String(error)}`);
  return { code: error.code, details: error.details };
}

/** Holdout member ids and delivery rows (member, status, variant) of a broadcast. */
async function groupsOf(broadcastId: number) {
  const holdouts = (await db.prisma.broadcastHoldout.findMany({ where: { broadcastId }, select: { memberId: true } })).map((r) => r.memberId);
  const deliveries = await db.prisma.delivery.findMany({ where: { broadcastId }, select: { memberId: true, status: true, payload: true } });
  return {
    holdouts: new Set(holdouts),
    deliveries: deliveries.map((row) => ({
      memberId: row.memberId as number,
      status: row.status,
      variant: (row.payload as { variant?: string }).variant ?? null,
    })),
  };
}

/** Binomial bounds, 5 standard deviations: deterministic hashes, but the test states what it expects of any. */
function withinBinomial(count: number, n: number, p: number) {
  const sd = Math.sqrt(n * p * (1 - p));
  expect(count).toBeGreaterThan(n * p - 5 * sd);
  expect(count).toBeLessThan(n * p + 5 * sd);
}

beforeAll(async () => {
  db = await createTestDatabase();
  h = await domainHarness(db, { admins: [ADMIN] });
  await h.deps.repos.staff.upsert({ telegramId: MARKETER, role: 'MARKETER', storeId: null, name: 'Mark' });
  await h.deps.repos.staff.upsert({ telegramId: CASHIER, role: 'STAFF', storeId: (await h.store()).id, name: 'Cash' });
  const now = h.clock.now();
  // Many members in one statement; a few of them opted out or blocked the bot.
  await db.prisma.$executeRaw`
    INSERT INTO "Member" ("telegramId", code, status, "registrationStep", locale, name, tier, "registeredAt", "notificationsEnabled", reachable, "createdAt", "updatedAt")
    SELECT 7000000 + g, 'XP' || g, 'ACTIVE', NULL, 'en', 'Test', 'basic', ${now}, g % 97 <> 0, g % 89 <> 0, ${now}, ${now}
    FROM generate_series(1, ${MEMBERS}) AS g`;
  const rows = await db.prisma.member.findMany({ select: { id: true, notificationsEnabled: true, reachable: true }, orderBy: { id: 'asc' } });
  memberIds = rows.filter((row) => row.notificationsEnabled && row.reachable).map((row) => row.id);
  optedOut = rows.filter((row) => !row.notificationsEnabled).length;
  unreachable = rows.filter((row) => row.notificationsEnabled && !row.reachable).length;
});
afterAll(async () => db?.drop());

describe('control group and A/B split', () => {
  it('holds back about controlPercent of the recipients, exactly those the pure hash names; they get no delivery row', async () => {
    const { broadcast } = await createBroadcast(h.deps, marketer, { content: text('Sale!'), segment: {}, scheduledAt: null, controlPercent: 10 });
    expect(broadcast).toMatchObject({ status: 'SENDING', controlPercent: 10 });
    const { holdouts, deliveries } = await groupsOf(broadcast.id);
    withinBinomial(holdouts.size, memberIds.length, 0.1);
    // The SQL assignment is the pure function's, member by member.
    for (const id of memberIds) expect(holdouts.has(id), `member ${id}`).toBe(isControl(broadcast.id, id, 10));
    // Controls are not in the delivery list at all; everyone else who takes offers is PENDING.
    expect(deliveries.filter((row) => holdouts.has(row.memberId))).toEqual([]);
    const pending = deliveries.filter((row) => row.status === 'PENDING').map((row) => row.memberId);
    expect(pending.length + holdouts.size).toBe(memberIds.length);
    // Opted-out and blocked members are never "control": they would not have got it anyway.
    expect(deliveries.filter((row) => row.status === 'SKIPPED')).toHaveLength(optedOut);
    expect(deliveries.filter((row) => row.status === 'BLOCKED')).toHaveLength(unreachable);
    expect(broadcast.audience).toBe(deliveries.length);
    const view = await getBroadcast(h.deps, marketer, broadcast.id);
    expect(view.experiment).toEqual({ control: holdouts.size, variantA: deliveries.length, variantB: 0, controlPercent: 10, abTest: false });
    expect(view.lift).toBeNull();
  });

  it('a re-run or a resumed start assigns everyone the same way', async () => {
    const { broadcast } = await createBroadcast(h.deps, marketer, { content: text('Again'), segment: {}, scheduledAt: null, controlPercent: 25 });
    const first = await groupsOf(broadcast.id);
    // A second start writes nothing (it is no longer SCHEDULED).
    expect((await startBroadcast(h.deps, broadcast.id))?.status).toBe('SENDING');
    expect(await groupsOf(broadcast.id)).toEqual(first);
    // Undo the start as a crash before commit would, and start again: the same groups.
    await db.prisma.broadcastHoldout.deleteMany({ where: { broadcastId: broadcast.id } });
    await db.prisma.delivery.deleteMany({ where: { broadcastId: broadcast.id } });
    await db.prisma.broadcast.update({ where: { id: broadcast.id }, data: { status: 'SCHEDULED', startedAt: null, audience: 0 } });
    await startBroadcast(h.deps, broadcast.id);
    const again = await groupsOf(broadcast.id);
    expect([...again.holdouts].sort()).toEqual([...first.holdouts].sort());
    expect(again.deliveries.map((row) => row.memberId).sort()).toEqual(first.deliveries.map((row) => row.memberId).sort());
  });

  it('controlPercent 0 holds nobody back; the program default applies when it is omitted', async () => {
    const none = await createBroadcast(h.deps, marketer, { content: text('All'), segment: {}, scheduledAt: null, controlPercent: 0 });
    expect((await groupsOf(none.broadcast.id)).holdouts.size).toBe(0);
    const byDefault = await createBroadcast(h.deps, marketer, { content: text('Default'), segment: {}, scheduledAt: null });
    expect(byDefault.broadcast.controlPercent).toBe(h.deps.program.broadcasts.controlPercent);
    const withTen = { ...h.deps, program: { ...h.deps.program, broadcasts: { ...h.deps.program.broadcasts, controlPercent: 10 } } };
    const ten = await createBroadcast(withTen, marketer, { content: text('Ten'), segment: {}, scheduledAt: null });
    expect(ten.broadcast.controlPercent).toBe(10);
  });

  it('splits the treated members 50/50 between A and B by the pure hash, and records the variant on each delivery', async () => {
    const { broadcast } = await createBroadcast(h.deps, marketer, {
      content: text('Variant A'),
      variantB: text('Variant B'),
      segment: {},
      scheduledAt: null,
      controlPercent: 10,
    });
    const { holdouts, deliveries } = await groupsOf(broadcast.id);
    const pending = deliveries.filter((row) => row.status === 'PENDING');
    for (const row of deliveries) expect(row.variant, `member ${row.memberId}`).toBe(variantOf(broadcast.id, row.memberId));
    withinBinomial(pending.filter((row) => row.variant === 'B').length, pending.length, 0.5);
    expect(deliveries.some((row) => holdouts.has(row.memberId))).toBe(false);
    const message = await h.deps.repos.broadcasts.findById(broadcast.id);
    expect(message?.variantB?.text).toBe('Variant B');
  });

  it('a retry with the same idempotency key but another control share or variant B is a conflict, not a replay', async () => {
    const api = { kind: 'apiKey', apiKeyId: 1, storeId: null } as const;
    const input = { content: text('Keyed'), segment: {}, scheduledAt: null, idempotencyKey: 'exp-key', controlPercent: 20 };
    const first = await createBroadcast(h.deps, api, input);
    expect((await createBroadcast(h.deps, api, input)).replayed).toBe(true);
    expect((await codeOf(createBroadcast(h.deps, api, { ...input, controlPercent: 30 }))).code).toBe('IDEMPOTENCY_CONFLICT');
    expect((await codeOf(createBroadcast(h.deps, api, { ...input, variantB: text('B') }))).code).toBe('IDEMPOTENCY_CONFLICT');
    expect((await h.deps.repos.broadcasts.findById(first.broadcast.id))?.controlPercent).toBe(20);
  });

  it('refuses a control share outside 0..50 % or a broken variant B, naming the field, and creates nothing', async () => {
    const before = await db.prisma.broadcast.count();
    for (const controlPercent of [51, -1, 10.5, 100]) {
      expect(await codeOf(createBroadcast(h.deps, marketer, { content: text('x'), segment: {}, scheduledAt: null, controlPercent }))).toMatchObject({
        code: 'BROADCAST_INVALID',
        details: { field: 'controlPercent' },
      });
    }
    expect(await codeOf(createBroadcast(h.deps, marketer, { content: text('x'), variantB: text('  '), segment: {}, scheduledAt: null }))).toMatchObject({
      code: 'BROADCAST_INVALID',
      details: { field: 'variantB.text' },
    });
    expect(await db.prisma.broadcast.count()).toBe(before);
  });
});

describe('lift', () => {
  let broadcastId: number;
  let sentAt: Date;
  const chats: { recipient: ChatRecipient; notification: Notification; options?: NotifyOptions }[] = [];
  let deps: DomainDeps;
  const expected = {
    treated: { n: 0, converted: 0, redeemed: 0, revenue: [] as number[] },
    control: { n: 0, converted: 0, redeemed: 0, revenue: [] as number[] },
  };

  async function purchase(memberId: number, at: Date, amountMinor: number, returnedMinor = 0) {
    await db.prisma.purchase.create({
      data: {
        memberId,
        storeId: (await h.store()).id,
        receiptNo: `L${++receipt}`,
        amountMinor: BigInt(amountMinor),
        returnedMinor: BigInt(returnedMinor),
        idempotencyKey: `lift-purchase-${receipt}`,
        requestHash: 'seed',
        actorType: 'STAFF',
        createdAt: at,
      },
    });
  }

  beforeAll(async () => {
    deps = {
      ...h.deps,
      notifier: {
        notify: h.deps.notifier.notify,
        notifyChat: async (recipient, notification, options) => void chats.push({ recipient, notification, ...(options ? { options } : {}) }),
      },
    };
    // Only this broadcast's members: a segment of those registered at the lift's start.
    h.clock.set(new Date('2026-11-30T09:00:00Z'));
    const start = h.clock.now();
    await db.prisma.member.updateMany({ where: { id: { in: memberIds.slice(0, 1200) } }, data: { registeredAt: start } });
    const created = await createBroadcast(deps, marketer, {
      content: text('Lift'),
      segment: { registeredWithinDays: 1 },
      scheduledAt: null,
      controlPercent: 30,
    });
    broadcastId = created.broadcast.id;
    // The worker "sends" every copy an hour later (the clock's time), then the broadcast is done.
    h.clock.advance(HOUR);
    sentAt = h.clock.now();
    await db.prisma.delivery.updateMany({ where: { broadcastId, status: 'PENDING' }, data: { status: 'SENT', sentAt } });
    expect(await finishBroadcastIfDone(deps, broadcastId)).not.toBeNull();

    const { holdouts, deliveries } = await groupsOf(broadcastId);
    const treated = deliveries.filter((row) => row.status === 'SENT').map((row) => row.memberId);
    const reward = await addReward(h.deps, ADMIN, rewardDefinition({ code: 'lift-gift' }));
    let coupon = 0;
    const outcome = async (memberId: number, group: typeof expected.treated, since: Date, buys: boolean) => {
      group.n++;
      let revenue = 0;
      if (buys) {
        // In the window (2 days after), net of a partial return.
        await purchase(memberId, new Date(since.getTime() + 2 * DAY), 150_000 + (memberId % 7) * 1_000, 10_000);
        revenue += 140_000 + (memberId % 7) * 1_000;
        group.converted++;
      }
      // Outside the window: before the send, and after 7 days. Neither counts.
      if (memberId % 4 === 0) await purchase(memberId, new Date(since.getTime() - HOUR), 99_000);
      if (memberId % 5 === 0) await purchase(memberId, new Date(since.getTime() + 7 * DAY + HOUR), 77_000);
      if (memberId % 9 === 0) {
        const at = new Date(since.getTime() + 3 * DAY);
        await db.prisma.coupon.create({
          data: {
            code: `LIFT${++coupon}`,
            rewardId: reward.id,
            memberId,
            kind: 'GIFT',
            cost: 0,
            status: 'REDEEMED',
            idempotencyKey: `lift-coupon-${coupon}`,
            issuedAt: since,
            expiresAt: new Date(since.getTime() + 30 * DAY),
            redeemedAt: at,
          },
        });
        group.redeemed++;
      }
      group.revenue.push(revenue);
    };
    // Treated members buy more often (1 in 4) than the control group (1 in 8).
    for (const id of treated) await outcome(id, expected.treated, sentAt, id % 4 === 1);
    for (const id of holdouts) await outcome(id, expected.control, start, id % 8 === 1);
    expect(expected.control.n).toBeGreaterThan(200);
  }, 120_000);

  it('is null until the attribution window has passed for the last copy, and nothing is reported', async () => {
    h.clock.set(new Date(sentAt.getTime() + 7 * DAY - 1));
    expect((await getBroadcast(deps, marketer, broadcastId)).lift).toBeNull();
    expect(await reportLifts(deps)).toEqual({ reported: 0 });
    expect(chats).toEqual([]);
  });

  it('then compares the members sent it with the control group: conversion, revenue per member, coupon redemption', async () => {
    h.clock.set(new Date(sentAt.getTime() + 8 * DAY));
    const lift = (await getBroadcast(deps, marketer, broadcastId)).lift;
    expect(lift).not.toBeNull();
    const c = lift?.sentVsControl;
    expect(c?.treatedMembers).toBe(expected.treated.n);
    expect(c?.controlMembers).toBe(expected.control.n);
    const { treated, control } = expected;
    expect(c?.conversion).toEqual(twoProportionTest({ successes: treated.converted, n: treated.n }, { successes: control.converted, n: control.n }));
    expect(c?.redemption).toEqual(twoProportionTest({ successes: treated.redeemed, n: treated.n }, { successes: control.redeemed, n: control.n }));
    const summary = (values: number[]) => {
      const mean = values.reduce((s, v) => s + v, 0) / values.length;
      return { n: values.length, mean, variance: values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1) };
    };
    const welch = welchTest(summary(treated.revenue), summary(control.revenue));
    expect(c?.revenuePerMember.treated).toBeCloseTo(welch.treated, 6);
    expect(c?.revenuePerMember.control).toBeCloseTo(welch.control, 6);
    expect(c?.revenuePerMember.pValue).toBeCloseTo(welch.pValue as number, 9);
    // 1 in 4 against 1 in 8, on hundreds of members: the campaign worked.
    expect(c?.conversion.significant).toBe(true);
    expect(c?.conversion.absolute).toBeGreaterThan(0);
    expect(lift?.ab).toBeNull();
  });

  it('goes to the author once, through the outbox to their chat; only marketers see the lifts for /stats', async () => {
    expect(await reportLifts(deps)).toEqual({ reported: 1 });
    expect(chats).toHaveLength(1);
    expect(chats[0]).toMatchObject({
      recipient: { chatId: MARKETER, locale: 'en' },
      notification: { kind: 'broadcastLift', report: { broadcastId } },
      options: { dedupeKey: `broadcast-lift:${broadcastId}`, class: 'transactional' },
    });
    expect(await reportLifts(deps)).toEqual({ reported: 0 });
    expect(chats).toHaveLength(1);

    const lifts = await recentCampaignLifts(deps, marketer, 5);
    const mine = lifts.find((entry) => entry.broadcastId === broadcastId);
    const conversion = (await getBroadcast(deps, marketer, broadcastId)).lift?.sentVsControl?.conversion;
    expect(mine).toEqual({
      broadcastId,
      title: 'Lift',
      metric: 'conversion',
      lift: (conversion?.absolute as number) * 100,
      ciLow: (conversion?.ciLow as number) * 100,
      ciHigh: (conversion?.ciHigh as number) * 100,
      pValue: conversion?.pValue,
    });
    expect((await codeOf(recentCampaignLifts(deps, cashier, 5))).code).toBe('FORBIDDEN');
    expect((await codeOf(getBroadcast(deps, cashier, broadcastId))).code).toBe('FORBIDDEN');
  });

  it('is chain-wide, so an author since bound to a store, or revoked, is not sent it', async () => {
    const sent = chats.length;
    const again = () => db.prisma.broadcast.update({ where: { id: broadcastId }, data: { liftReportedAt: null } });
    await h.deps.repos.staff.upsert({ telegramId: MARKETER, role: 'MARKETER', storeId: (await h.store()).id, name: 'Mark' });
    await again();
    expect(await reportLifts(deps)).toEqual({ reported: 0 });
    await h.deps.repos.staff.upsert({ telegramId: MARKETER, role: 'MARKETER', storeId: null, name: 'Mark' });
    await h.deps.repos.staff.revoke(MARKETER, h.clock.now());
    await again();
    expect(await reportLifts(deps)).toEqual({ reported: 0 });
    expect(chats).toHaveLength(sent);
    // Marked all the same: the sweep does not come back to it every minute.
    expect((await db.prisma.broadcast.findUniqueOrThrow({ where: { id: broadcastId } })).liftReportedAt).not.toBeNull();
  });
});
