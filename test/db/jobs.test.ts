import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createI18n } from '../../src/bot/i18n.js';
import { renderNotification } from '../../src/bot/notifier.js';
import { formatCouponCode } from '../../src/domain/codes.js';
import { isDomainError } from '../../src/domain/errors.js';
import { sendBirthdayGreetings } from '../../src/domain/jobs/birthday-greetings.js';
import { expirePoints } from '../../src/domain/jobs/expire-points.js';
import { sendExpiringReminders } from '../../src/domain/jobs/expiring-reminders.js';
import { JOB_NAMES, lastJobRuns, trackJobRun } from '../../src/domain/jobs/job-runs.js';
import { sendWinBackReminders } from '../../src/domain/jobs/win-back.js';
import type { DomainDeps, Notification, NotificationClass } from '../../src/domain/ports.js';
import type { NotificationSchedules } from '../../src/domain/program.js';
import { syncRewards } from '../../src/domain/rewards/catalogue.js';
import { localDate } from '../../src/domain/time.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { type DomainHarness, domainHarness } from '../support/domain.js';
import { ledgerViolations } from '../support/ledger-invariants.js';
import { exampleProgram } from '../support/program.js';

/**
 * The scheduled jobs' use cases on real PostgreSQL with a manual clock: who is selected on which
 * local day, gifts once a year, reminders once per threshold and period, expiry that follows the
 * FIFO lots, and that running any of them again changes nothing.
 */

let db: TestDatabase;
let h: DomainHarness;
let nextUser = 1000;

beforeAll(async () => {
  db = await createTestDatabase({ poolSize: 10 });
  h = await domainHarness(db);
});
afterAll(async () => db?.drop());

beforeEach(async () => {
  // Every test starts with no members (stores stay): the jobs scan the whole table.
  await db.prisma.$executeRawUnsafe('TRUNCATE "Member", "JobRun" CASCADE');
});

interface Sent {
  memberId: number;
  notification: Notification;
  dedupeKey: string | undefined;
  class: NotificationClass | undefined;
}

type Schedules = { [K in keyof NotificationSchedules]?: Partial<NotificationSchedules[K]> };

/** Deps with a program in `timezone` and its `notifications` section, and a notifier that records what it is handed. */
function jobDeps(timezone: string, notifications: Schedules = {}): { deps: DomainDeps; sent: Sent[]; delivered: () => Sent[] } {
  const sent: Sent[] = [];
  const program = exampleProgram((raw) => {
    raw.timezone = timezone;
    raw.notifications = notifications;
  });
  const deps: DomainDeps = {
    ...h.deps,
    program,
    notifier: {
      notify: async (memberId, notification, options) => void sent.push({ memberId, notification, dedupeKey: options?.dedupeKey, class: options?.class }),
    },
  };
  // What the outbox lets through: the first message per dedupe key.
  const delivered = () => sent.filter((s, i) => s.dedupeKey === undefined || sent.findIndex((o) => o.dedupeKey === s.dedupeKey) === i);
  return { deps, sent, delivered };
}

async function member(options: { points?: number; birthday?: string; status?: 'ACTIVE' | 'REGISTERING' | 'DELETED'; notifications?: boolean } = {}) {
  const created = await h.member(nextUser++, options.points ?? 0);
  await db.prisma.member.update({
    where: { id: created.id },
    data: {
      ...(options.birthday ? { birthday: new Date(`${options.birthday}T00:00:00Z`) } : {}),
      ...(options.status ? { status: options.status } : {}),
      ...(options.notifications === false ? { notificationsEnabled: false } : {}),
    },
  });
  return created;
}

let keyCounter = 0;
const earn = (memberId: number, amount: number, expiresAt: Date | null) =>
  h.deps.repos.ledger.post({ kind: 'credit', type: 'EARN', memberId, amount, idempotencyKey: `earn:${++keyCounter}`, actor: { type: 'SYSTEM' }, expiresAt });
const spend = (memberId: number, amount: number) =>
  h.deps.repos.ledger.post({ kind: 'debit', type: 'SPEND', memberId, amount, idempotencyKey: `spend:${++keyCounter}`, actor: { type: 'SYSTEM' } });

const entriesOf = (memberId: number) => db.prisma.ledgerEntry.findMany({ where: { memberId }, orderBy: { id: 'asc' } });
const balanceOf = async (memberId: number) => (await db.prisma.member.findUniqueOrThrow({ where: { id: memberId } })).balance;
const keysFor = (sent: Sent[], memberId: number) => sent.filter((s) => s.memberId === memberId).map((s) => s.dedupeKey);

async function expectLedgerConsistent() {
  expect(await ledgerViolations(db.prisma)).toEqual([]);
}

/**
 * The expiry's notices of local `date` in the Delivery outbox (written in each batch's
 * transaction, not handed to the notifier), by member; each still PENDING, in a batch.
 */
async function expiredNotices(date: string) {
  const rows = await db.prisma.delivery.findMany({ where: { kind: 'pointsExpired', dedupeKey: { endsWith: `:${date}` } }, orderBy: { memberId: 'asc' } });
  for (const row of rows) expect(row).toMatchObject({ status: 'PENDING', batchKey: expect.any(String) });
  return rows.map((row) => ({ memberId: row.memberId, notification: row.payload, dedupeKey: row.dedupeKey, class: row.class }));
}

/** Every member with an EXPIRE entry written at `at` is told once, with that entry's points and balance, and nobody else is. */
async function expectEachExpiryNoticedOnce(at: Date, timezone = 'Europe/Moscow') {
  const date = localDate(at, timezone);
  const entries = await db.prisma.ledgerEntry.findMany({ where: { type: 'EXPIRE', createdAt: at }, orderBy: { memberId: 'asc' } });
  expect(await expiredNotices(date)).toEqual(
    entries.map((entry) => ({
      memberId: entry.memberId,
      notification: { kind: 'pointsExpired', points: -entry.amount, balance: entry.balanceAfter },
      dedupeKey: `expired:${entry.memberId}:${date}`,
      class: 'reminder',
    })),
  );
  return entries.length;
}

describe('birthday greetings', () => {
  it('greets on the local day: 24 November in Vladivostok while it is still 23 November in UTC', async () => {
    const { deps, sent } = jobDeps('Asia/Vladivostok', { birthday: { hour: 5, points: 200 } });
    const born24 = await Promise.all([member({ birthday: '1990-11-24' }), member({ birthday: '2001-11-24' }), member({ birthday: '1975-11-24' })]);
    const born23 = await member({ birthday: '1985-11-23' });
    const born25 = await member({ birthday: '1985-11-25' });
    const registering = await member({ birthday: '1990-11-24', status: 'REGISTERING' });
    await member();

    // 04:30 on 24 Nov in Vladivostok (UTC+10): not yet the configured hour.
    h.clock.set('2026-11-23T18:30:00Z');
    expect(await sendBirthdayGreetings(deps)).toEqual({ date: '2026-11-24', skipped: 'beforeHour', members: 0, gifts: 0, points: 0, coupons: 0 });
    expect(sent).toEqual([]);

    // 06:00 on 24 Nov there, 20:00 on 23 Nov in UTC. Batches of 2 page through the three members.
    h.clock.set('2026-11-23T20:00:00Z');
    expect(await sendBirthdayGreetings(deps, { batchSize: 2 })).toEqual({ date: '2026-11-24', skipped: null, members: 3, gifts: 3, points: 600, coupons: 0 });
    const ids = born24.map((m) => m.id).sort((a, b) => a - b);
    expect(sent).toEqual(
      ids.map((id) => ({ memberId: id, notification: { kind: 'birthdayGreeting', points: 200 }, dedupeKey: `birthday:${id}:2026`, class: 'reminder' })),
    );
    for (const other of [born23, born25, registering]) expect(await entriesOf(other.id)).toEqual([]);

    const [gift] = await entriesOf(ids[0] as number);
    expect(gift).toMatchObject({
      type: 'BONUS',
      amount: 200,
      idempotencyKey: `birthday:${ids[0]}:2026`,
      actorType: 'JOB',
      actorId: 'birthday-greetings',
      reason: 'birthday',
    });
    // The example program's points expire after 365 days, birthday gifts too.
    const lot = await db.prisma.pointLot.findUniqueOrThrow({ where: { entryId: gift?.id as number } });
    expect(lot.expiresAt).toEqual(new Date('2027-11-23T20:00:00Z'));
    await expectLedgerConsistent();
  });

  it('uses the program time zone: Moscow greets at 00:30 local on the 24th, 21:30 UTC on the 23rd', async () => {
    const { deps, sent } = jobDeps('Europe/Moscow', { birthday: { hour: 0, points: 50 } });
    const born = await member({ birthday: '1990-11-24' });
    h.clock.set('2026-11-23T20:59:00Z'); // 23:59 on the 23rd in Moscow
    expect((await sendBirthdayGreetings(deps)).members).toBe(0);
    h.clock.set('2026-11-23T21:30:00Z');
    expect((await sendBirthdayGreetings(deps)).members).toBe(1);
    expect(keysFor(sent, born.id)).toEqual([`birthday:${born.id}:2026`]);
  });

  it('pays the gift once a year: a rerun and a birthday moved later in the year pay nothing twice', async () => {
    const { deps, sent, delivered } = jobDeps('Europe/Moscow', { birthday: { hour: 10, points: 200 } });
    const born = await member({ birthday: '1990-03-10' });
    h.clock.set('2026-03-10T07:00:00Z'); // 10:00 in Moscow
    expect(await sendBirthdayGreetings(deps)).toMatchObject({ members: 1, gifts: 1, points: 200 });
    h.clock.set('2026-03-10T18:00:00Z');
    expect(await sendBirthdayGreetings(deps)).toMatchObject({ members: 1, gifts: 0, points: 0 });
    expect(await balanceOf(born.id)).toBe(200);
    // The rerun hands the notifier the same key again; the outbox lets one message through.
    expect(delivered().filter((s) => s.memberId === born.id)).toHaveLength(1);

    // The member moves their birthday to December: greeted (deduped) but not paid again in 2026.
    await db.prisma.member.update({ where: { id: born.id }, data: { birthday: new Date('1990-12-01T00:00:00Z') } });
    h.clock.set('2026-12-01T09:00:00Z');
    expect(await sendBirthdayGreetings(deps)).toMatchObject({ members: 1, gifts: 0 });
    expect(await balanceOf(born.id)).toBe(200);
    expect(new Set(keysFor(sent, born.id))).toEqual(new Set([`birthday:${born.id}:2026`]));

    // A gift amount changed in the program meanwhile does not make the year's key fail the run.
    const changed = jobDeps('Europe/Moscow', { birthday: { hour: 10, points: 300 } });
    expect(await sendBirthdayGreetings(changed.deps)).toMatchObject({ members: 1, gifts: 0 });
    expect(changed.sent).toEqual([]);

    // Next year: a new gift.
    h.clock.set('2027-12-01T09:00:00Z');
    expect(await sendBirthdayGreetings(deps)).toMatchObject({ members: 1, gifts: 1, points: 200 });
    expect(await balanceOf(born.id)).toBe(400);
    await expectLedgerConsistent();
  });

  it('greets 29 February birthdays on 28 February in years without it, on the 29th in leap years', async () => {
    const leapling = await member({ birthday: '1992-02-29' });
    const feb28 = await member({ birthday: '1990-02-28' });
    const mar1 = await member({ birthday: '1990-03-01' });
    const greeted = async (iso: string) => {
      const { deps: runDeps, sent } = jobDeps('Europe/Moscow', { birthday: { hour: 10, points: 10 } });
      h.clock.set(iso);
      await sendBirthdayGreetings(runDeps);
      return sent.map((s) => s.memberId).sort((a, b) => a - b);
    };
    expect(await greeted('2027-02-28T09:00:00Z')).toEqual([leapling.id, feb28.id]);
    expect(await greeted('2027-03-01T09:00:00Z')).toEqual([mar1.id]);
    expect(await greeted('2028-02-28T09:00:00Z')).toEqual([feb28.id]);
    expect(await greeted('2028-02-29T09:00:00Z')).toEqual([leapling.id]);
    expect(await greeted('2028-03-01T09:00:00Z')).toEqual([mar1.id]);
    expect(await balanceOf(leapling.id)).toBe(20);
    expect((await entriesOf(leapling.id)).map((e) => e.idempotencyKey)).toEqual([`birthday:${leapling.id}:2027`, `birthday:${leapling.id}:2028`]);
  });

  it('greets without a gift when the program gives none, and does nothing when switched off', async () => {
    const born = await member({ birthday: '1990-11-23' });
    h.clock.set('2026-11-23T09:00:00Z');
    const plain = jobDeps('Europe/Moscow');
    expect(await sendBirthdayGreetings(plain.deps)).toMatchObject({ members: 1, gifts: 0 });
    expect(plain.sent.map((s) => s.notification)).toEqual([{ kind: 'birthdayGreeting', points: 0 }]);
    expect(await entriesOf(born.id)).toEqual([]);
    const off = jobDeps('Europe/Moscow', { birthday: { enabled: false, points: 100 } });
    expect(await sendBirthdayGreetings(off.deps)).toMatchObject({ skipped: 'disabled', members: 0 });
    expect(off.sent).toEqual([]);
  });
});

describe('birthday coupons', () => {
  it('gives a coupon of a catalogue reward once a year, named in the greeting; a rerun issues none', async () => {
    const { deps, sent } = jobDeps('Europe/Moscow', { birthday: { hour: 10, points: 0, reward: 'free-coffee' } });
    await syncRewards(deps);
    const born = await member({ birthday: '1990-03-10' });
    h.clock.set('2026-03-10T07:00:00Z');
    expect(await sendBirthdayGreetings(deps)).toMatchObject({ members: 1, gifts: 0, coupons: 1 });
    expect(await sendBirthdayGreetings(deps)).toMatchObject({ members: 1, gifts: 0, coupons: 0 });
    const coupons = await db.prisma.coupon.findMany({ where: { memberId: born.id } });
    expect(coupons).toHaveLength(1);
    expect(coupons[0]).toMatchObject({ cost: 0, status: 'ISSUED', idempotencyKey: `birthday:${born.id}:2026:coupon` });
    // Both runs hand over the same greeting, with the same coupon (the outbox sends it once).
    const code = coupons[0]?.code as string;
    expect(sent.map((s) => s.notification)).toEqual([
      { kind: 'birthdayGreeting', points: 0, coupon: { code, title: { ru: expect.any(String), en: expect.any(String) } } },
      { kind: 'birthdayGreeting', points: 0, coupon: { code, title: { ru: expect.any(String), en: expect.any(String) } } },
    ]);
    const text = renderNotification(await createI18n('en'), deps.program, 'en', sent[0]?.notification as Notification).text;
    expect(text).toContain('Happy birthday');
    expect(text).toContain(formatCouponCode(code));
    expect(text).toContain(deps.program.rewards.catalogue.find((r) => r.code === 'free-coffee')?.title.en);
    // Next year: another coupon.
    h.clock.set('2027-03-10T07:00:00Z');
    expect(await sendBirthdayGreetings(deps)).toMatchObject({ coupons: 1 });
    expect(await db.prisma.coupon.count({ where: { memberId: born.id } })).toBe(2);
    await expectLedgerConsistent();
  });

  it('refuses a birthday reward that is not in the catalogue, naming the key', () => {
    expect(() => jobDeps('Europe/Moscow', { birthday: { reward: 'free-unicorn' } })).toThrow(
      /notifications\.birthday\.reward: a reward code of rewards\.catalogue/,
    );
  });
});

describe('expiring points reminders', () => {
  // Moscow is UTC+3 all year: midnight local is 21:00 UTC the day before.
  const moscowMidnight = (date: string) => new Date(new Date(`${date}T00:00:00Z`).getTime() - 3 * 3_600_000);

  it('reminds once per threshold with the points left on the nearest expiry date; a rerun sends nothing new', async () => {
    const { deps, sent, delivered } = jobDeps('Europe/Moscow', { expiringReminders: { daysBefore: [30, 7], hour: 12 } });
    const a = await member({ points: 5 });
    await earn(a.id, 100, moscowMidnight('2026-12-21'));
    await earn(a.id, 20, moscowMidnight('2026-12-21'));
    await earn(a.id, 50, moscowMidnight('2027-01-15'));
    await spend(a.id, 30); // FIFO: from the 100-point lot that expires first
    const b = await member();
    await earn(b.id, 40, moscowMidnight('2026-11-28'));
    await earn(b.id, 60, moscowMidnight('2026-12-10'));
    const far = await member();
    await earn(far.id, 70, moscowMidnight('2026-12-24'));
    const quiet = await member({ notifications: false });
    await earn(quiet.id, 70, moscowMidnight('2026-11-28'));
    const gone = await member({ status: 'DELETED' });
    await earn(gone.id, 70, moscowMidnight('2026-11-28'));

    h.clock.set('2026-11-23T08:59:00Z'); // 11:59 in Moscow
    expect(await sendExpiringReminders(deps)).toEqual({ date: '2026-11-23', skipped: 'beforeHour', reminders: 0 });

    h.clock.set('2026-11-23T09:00:00Z');
    expect(await sendExpiringReminders(deps, { batchSize: 1 })).toEqual({ date: '2026-11-23', skipped: null, reminders: 2 });
    expect(sent).toEqual([
      // 28 days before 21 Dec: the 30-day reminder, with what is left of the lots after the spend.
      {
        memberId: a.id,
        notification: { kind: 'pointsExpiring', points: 90, at: '2026-12-21' },
        dedupeKey: `expiring:${a.id}:2026-12-21:30`,
        class: 'reminder',
      },
      // 5 days before: only the 7-day reminder, and only for the nearest date.
      { memberId: b.id, notification: { kind: 'pointsExpiring', points: 40, at: '2026-11-28' }, dedupeKey: `expiring:${b.id}:2026-11-28:7`, class: 'reminder' },
    ]);

    // The same day again: the same keys, nothing new gets through.
    await sendExpiringReminders(deps);
    expect(delivered()).toHaveLength(2);
    // The next day `far` is 30 days from its date: its first reminder; a and b get nothing new.
    h.clock.set('2026-11-24T10:00:00Z');
    await sendExpiringReminders(deps);
    expect(
      delivered()
        .slice(2)
        .map((s) => s.dedupeKey),
    ).toEqual([`expiring:${far.id}:2026-12-24:30`]);

    // 14 Dec, 7 days before 21 Dec: the 7-day reminder for a (b's dates have passed, far still in its 30 days).
    h.clock.set('2026-12-14T09:00:00Z');
    await sendExpiringReminders(deps);
    expect(
      delivered()
        .slice(3)
        .map((s) => [s.dedupeKey, s.notification]),
    ).toEqual([[`expiring:${a.id}:2026-12-21:7`, { kind: 'pointsExpiring', points: 90, at: '2026-12-21' }]]);
  });

  it('moves on to the next date once the nearest has passed, and names the local date in the key', async () => {
    const { deps, delivered } = jobDeps('Asia/Vladivostok', { expiringReminders: { daysBefore: [7], hour: 9 } });
    const m = await member();
    // 23:30 UTC on 30 Nov is 09:30 on 1 Dec in Vladivostok.
    await earn(m.id, 10, new Date('2026-11-30T23:30:00Z'));
    await earn(m.id, 15, new Date('2026-12-05T12:00:00Z'));
    h.clock.set('2026-11-25T00:00:00Z'); // 10:00 on 25 Nov there
    await sendExpiringReminders(deps);
    h.clock.set('2026-12-01T00:00:00Z'); // 10:00 on 1 Dec: the first lot is gone
    await sendExpiringReminders(deps);
    expect(delivered().map((s) => [s.dedupeKey, s.notification])).toEqual([
      [`expiring:${m.id}:2026-12-01:7`, { kind: 'pointsExpiring', points: 10, at: '2026-12-01' }],
      [`expiring:${m.id}:2026-12-05:7`, { kind: 'pointsExpiring', points: 15, at: '2026-12-05' }],
    ]);
  });

  it('does nothing when the program has no thresholds', async () => {
    const { deps, sent } = jobDeps('Europe/Moscow', { expiringReminders: { daysBefore: [] } });
    const m = await member();
    await earn(m.id, 10, moscowMidnight('2026-11-25'));
    h.clock.set('2026-11-23T12:00:00Z');
    expect(await sendExpiringReminders(deps)).toMatchObject({ skipped: 'disabled', reminders: 0 });
    expect(sent).toEqual([]);
  });
});

describe('points expiry', () => {
  const NOW = new Date('2026-11-23T00:15:00Z'); // 03:15 in Moscow

  it('expires what is left of the due lots, FIFO, one entry per member, and a rerun changes nothing', async () => {
    const { deps, sent } = jobDeps('Europe/Moscow');
    const relayedBefore = h.notifications.length;
    const a = await member({ points: 10 }); // 10 that never expire
    const due = await earn(a.id, 100, new Date('2026-11-22T21:00:00Z'));
    const later = await earn(a.id, 50, new Date('2026-12-22T21:00:00Z'));
    await spend(a.id, 30); // from the lot that expires first: 70 of it left
    const b = await member();
    await earn(b.id, 80, new Date('2026-11-20T00:00:00Z'));
    await spend(b.id, 80); // all spent: nothing to expire
    const c = await member();
    const c1 = await earn(c.id, 10, new Date('2026-11-01T00:00:00Z'));
    const c2 = await earn(c.id, 15, NOW); // due exactly now
    const untouched = await member();
    await earn(untouched.id, 5, new Date(NOW.getTime() + 1));

    h.clock.set(NOW);
    expect(await expirePoints(deps)).toEqual({ lots: 3, members: 2, points: 95, batches: 1, complete: true });

    const expiry = (await entriesOf(a.id)).filter((e) => e.type === 'EXPIRE');
    expect(expiry).toMatchObject([
      { amount: -70, balanceAfter: 60, actorType: 'JOB', actorId: 'points-expiry', idempotencyKey: `expire:${a.id}:${await lotId(due.entry.id)}` },
    ]);
    expect(await db.prisma.lotAllocation.findMany({ where: { entryId: expiry[0]?.id as number }, select: { lotId: true, amount: true } })).toEqual([
      { lotId: await lotId(due.entry.id), amount: 70 },
    ]);
    expect(await remainingOf(due.entry.id)).toBe(0);
    expect(await remainingOf(later.entry.id)).toBe(50);
    expect(await balanceOf(a.id)).toBe(60);

    const cExpiry = (await entriesOf(c.id)).filter((e) => e.type === 'EXPIRE');
    expect(cExpiry.map((e) => e.amount)).toEqual([-25]);
    expect(
      await db.prisma.lotAllocation.findMany({
        where: { entryId: cExpiry[0]?.id as number },
        select: { lotId: true, amount: true },
        orderBy: { lotId: 'asc' },
      }),
    ).toEqual([
      { lotId: await lotId(c1.entry.id), amount: 10 },
      { lotId: await lotId(c2.entry.id), amount: 15 },
    ]);
    expect((await entriesOf(b.id)).map((e) => e.type)).toEqual(['EARN', 'SPEND']);
    expect(await balanceOf(untouched.id)).toBe(5);

    // The notices are in the outbox (the batch's transaction wrote them), not handed to the
    // notifier; the unit of work gave them to the relay after the commit.
    expect(await expiredNotices('2026-11-23')).toEqual([
      { memberId: a.id, notification: { kind: 'pointsExpired', points: 70, balance: 60 }, dedupeKey: `expired:${a.id}:2026-11-23`, class: 'reminder' },
      { memberId: c.id, notification: { kind: 'pointsExpired', points: 25, balance: 0 }, dedupeKey: `expired:${c.id}:2026-11-23`, class: 'reminder' },
    ]);
    expect(sent).toEqual([]);
    expect(h.notifications.slice(relayedBefore)).toEqual([
      { memberId: a.id, notification: { kind: 'pointsExpired', points: 70, balance: 60 } },
      { memberId: c.id, notification: { kind: 'pointsExpired', points: 25, balance: 0 } },
    ]);
    await expectLedgerConsistent();

    // A rerun: nothing due, nothing written, nobody told.
    const before = await db.prisma.ledgerEntry.count();
    expect(await expirePoints(deps)).toEqual({ lots: 0, members: 0, points: 0, batches: 0, complete: true });
    expect(await db.prisma.ledgerEntry.count()).toBe(before);
    expect(await db.prisma.delivery.count({ where: { kind: 'pointsExpired' } })).toBe(2);
    expect(h.notifications).toHaveLength(relayedBefore + 2);

    // Later the other lot of `a` is due too: a second entry with its own key.
    h.clock.set('2026-12-23T00:15:00Z');
    expect(await expirePoints(deps)).toMatchObject({ lots: 2, members: 2, points: 55 });
    expect((await entriesOf(a.id)).filter((e) => e.type === 'EXPIRE').map((e) => e.amount)).toEqual([-70, -50]);
    expect(await balanceOf(a.id)).toBe(10);
    expect(await expectEachExpiryNoticedOnce(new Date('2026-12-23T00:15:00Z'))).toBe(2);
    await expectLedgerConsistent();
  });

  it('stops after a batch when interrupted; the next run finishes and all ends consistent', async () => {
    const { deps } = jobDeps('Europe/Moscow');
    let expected = 0;
    const members = [];
    for (let i = 0; i < 12; i++) {
      const m = await member({ points: i % 3 === 0 ? 7 : 0 });
      members.push(m);
      for (let j = 0; j < 3; j++) await earn(m.id, 10 + i + j, new Date(NOW.getTime() - (j + 1) * 86_400_000));
      if (i % 2 === 0) await spend(m.id, 12);
      expected += 3 * (10 + i) + 3 - (i % 2 === 0 ? 12 : 0);
    }
    h.clock.set(NOW);
    const first = await expirePoints(deps, { batchSize: 4, maxBatches: 1 });
    expect(first).toMatchObject({ batches: 1, complete: false });
    expect(first.members).toBeGreaterThan(0);
    expect(first.members).toBeLessThan(12);
    await expectLedgerConsistent();

    const rest = await expirePoints(deps, { batchSize: 5 });
    expect(rest.complete).toBe(true);
    // 36 due lots, less member 0's oldest one (12 points), which its 12-point spend emptied.
    expect(first.lots + rest.lots).toBe(35);
    expect(first.points + rest.points).toBe(expected);
    expect(first.members + rest.members).toBe(12);
    for (const m of members) expect(await balanceOf(m.id)).toBe(members.indexOf(m) % 3 === 0 ? 7 : 0);
    expect(await db.prisma.ledgerEntry.count({ where: { type: 'EXPIRE' } })).toBe(12);
    expect(await expectEachExpiryNoticedOnce(NOW)).toBe(12);
    await expectLedgerConsistent();
    expect(await expirePoints(deps)).toMatchObject({ lots: 0, batches: 0, complete: true });
  });

  it('writes no notice when its batch rolls back, and the rerun tells each member once', async () => {
    const { deps } = jobDeps('Europe/Moscow');
    const a = await member({ points: 4 });
    await earn(a.id, 10, new Date(NOW.getTime() - 86_400_000));
    const b = await member();
    await earn(b.id, 20, new Date(NOW.getTime() - 3_600_000));
    h.clock.set(NOW);
    // The batch fails after all its writes, notices included, and before its commit.
    let written: number | null = null;
    const failing: DomainDeps = {
      ...deps,
      uow: {
        atomic: (work) => deps.uow.atomic(work),
        run: (work) =>
          deps.uow.run(async (repos) => {
            await work(repos);
            written = (await repos.deliveries.pendingBefore(new Date(NOW.getTime() + 1), 100)).filter((d) => d.notification.kind === 'pointsExpired').length;
            throw new Error('connection lost');
          }),
      },
    };
    const relayedBefore = h.notifications.length;
    await expect(expirePoints(failing)).rejects.toThrow('connection lost');
    expect(written).toBe(2);
    expect(await db.prisma.delivery.count()).toBe(0);
    expect(h.notifications).toHaveLength(relayedBefore);
    expect(await db.prisma.ledgerEntry.count({ where: { type: 'EXPIRE' } })).toBe(0);
    expect([await balanceOf(a.id), await balanceOf(b.id)]).toEqual([14, 20]);
    await expectLedgerConsistent();

    expect(await expirePoints(deps)).toMatchObject({ lots: 2, members: 2, points: 30, complete: true });
    expect(await expectEachExpiryNoticedOnce(NOW)).toBe(2);
    expect(h.notifications).toHaveLength(relayedBefore + 2);
    await expectLedgerConsistent();
  });

  it('stops between batches when its signal is aborted', async () => {
    const { deps } = jobDeps('Europe/Moscow');
    const m = await member();
    await earn(m.id, 10, new Date(NOW.getTime() - 1000));
    h.clock.set(NOW);
    const controller = new AbortController();
    controller.abort();
    expect(await expirePoints(deps, { signal: controller.signal })).toEqual({ lots: 0, members: 0, points: 0, batches: 0, complete: false });
    expect(await balanceOf(m.id)).toBe(10);
  });

  it('keeps the ledger consistent when spends and a second expiry run race with it', async () => {
    await expectExpiryRaceConsistent(NOW, { batchSize: 7 }, { batchSize: 11 });
  });
});

/**
 * 30 members with 20 points due a day ago, 20 due an hour ago and 20 due tomorrow each, two
 * expiry runs (`a`, `b`) at `now` racing with a spend of 30 by every member: the ledger stays
 * consistent, every point is accounted for, no lot expires twice and nothing due is left.
 */
async function expectExpiryRaceConsistent(now: Date, a: Parameters<typeof expirePoints>[1], b: Parameters<typeof expirePoints>[1]) {
  const { deps } = jobDeps('Europe/Moscow');
  const members = [];
  for (let i = 0; i < 30; i++) {
    const m = await member();
    members.push(m);
    await earn(m.id, 20, new Date(now.getTime() - 86_400_000));
    await earn(m.id, 20, new Date(now.getTime() - 3_600_000));
    await earn(m.id, 20, new Date(now.getTime() + 86_400_000));
  }
  h.clock.set(now);
  const spends = members.map((m) =>
    spend(m.id, 30).then(
      () => 30,
      (error: unknown) => {
        if (isDomainError(error, 'INSUFFICIENT_POINTS')) return 0;
        throw error;
      },
    ),
  );
  const [runA, runB, ...spent] = await Promise.all([expirePoints(deps, a), expirePoints(deps, b), ...spends]);
  await expectLedgerConsistent();
  // Every point is accounted for: 60 each, minus what was spent, expired or is left.
  const left = (await db.prisma.member.aggregate({ where: { id: { in: members.map((m) => m.id) } }, _sum: { balance: true } }))._sum.balance ?? 0;
  const spentTotal = spent.reduce((sum, s) => sum + s, 0);
  expect(left + spentTotal + (runA?.points ?? 0) + (runB?.points ?? 0)).toBe(60 * 30);
  // No lot expired twice, nothing due is left.
  expect(await db.prisma.pointLot.count({ where: { expiresAt: { lte: now }, remaining: { gt: 0 } } })).toBe(0);
  expect((runA?.members ?? 0) + (runB?.members ?? 0)).toBe(await db.prisma.ledgerEntry.count({ where: { type: 'EXPIRE' } }));
  // Whichever run expired a member told them, once.
  expect(await expectEachExpiryNoticedOnce(now)).toBe((runA?.members ?? 0) + (runB?.members ?? 0));
}

describe('points expiry in two lanes', () => {
  const NOW = new Date('2026-11-23T00:15:00Z');

  /** `count` members with two due lots and one not due each; returns them and the points due. */
  async function seed(count: number) {
    const members = [];
    let due = 0;
    for (let i = 0; i < count; i++) {
      const m = await member({ points: i % 4 === 0 ? 3 : 0 });
      members.push(m);
      await earn(m.id, 10 + i, new Date(NOW.getTime() - 2 * 86_400_000));
      await earn(m.id, 20, new Date(NOW.getTime() - 3_600_000));
      await earn(m.id, 5, new Date(NOW.getTime() + 86_400_000));
      due += 30 + i;
    }
    return { members, due };
  }

  it('expires every due lot once, each member in one entry, and a rerun changes nothing', async () => {
    const { deps } = jobDeps('Europe/Moscow');
    const { members, due } = await seed(13);
    h.clock.set(NOW);
    const run = await expirePoints(deps, { batchSize: 3, lanes: 2 });
    expect(run).toMatchObject({ lots: 26, members: 13, points: due, complete: true });
    // Both lanes worked: odd and even member ids each had batches of their own.
    expect(run.batches).toBeGreaterThanOrEqual(2);
    for (const m of members) expect(await balanceOf(m.id)).toBe(5 + (members.indexOf(m) % 4 === 0 ? 3 : 0));
    expect(await db.prisma.ledgerEntry.count({ where: { type: 'EXPIRE' } })).toBe(13);
    expect(await expectEachExpiryNoticedOnce(NOW)).toBe(13);
    await expectLedgerConsistent();

    const before = await db.prisma.ledgerEntry.count();
    expect(await expirePoints(deps, { lanes: 2 })).toEqual({ lots: 0, members: 0, points: 0, batches: 0, complete: true });
    expect(await db.prisma.ledgerEntry.count()).toBe(before);
    expect(await db.prisma.delivery.count({ where: { kind: 'pointsExpired' } })).toBe(13);
  });

  it('counts maxBatches over both lanes; the next run finishes what is left', async () => {
    const { deps } = jobDeps('Europe/Moscow');
    const { members, due } = await seed(10);
    h.clock.set(NOW);
    const first = await expirePoints(deps, { batchSize: 2, maxBatches: 1, lanes: 2 });
    expect(first).toMatchObject({ batches: 1, complete: false });
    expect(first.members).toBeGreaterThan(0);
    expect(first.members).toBeLessThan(10);
    await expectLedgerConsistent();
    const rest = await expirePoints(deps, { batchSize: 4, lanes: 2 });
    expect(rest.complete).toBe(true);
    expect(first.points + rest.points).toBe(due);
    expect(first.members + rest.members).toBe(members.length);
    await expectLedgerConsistent();
  });

  it('stops the other lane when one fails mid-run (as a crash would); a rerun completes and all is consistent', async () => {
    const { deps } = jobDeps('Europe/Moscow');
    const { members, due } = await seed(12);
    h.clock.set(NOW);
    // The odd lane's second batch fails, after its first committed. The batches run in units
    // of work (the notices share their transaction), so the failure goes into the repositories
    // the unit of work hands out.
    let oddBatches = 0;
    const failing: DomainDeps = {
      ...deps,
      uow: {
        atomic: (work) => deps.uow.atomic(work),
        run: (work) =>
          deps.uow.run((repos) => {
            const jobs = repos.jobs;
            const failingJobs = Object.assign(Object.create(Object.getPrototypeOf(jobs)), jobs, {
              expireDueLots: (...args: Parameters<typeof jobs.expireDueLots>) => {
                if (args[3]?.index === 1 && ++oddBatches === 2) return Promise.reject(new Error('connection lost'));
                return jobs.expireDueLots(...args);
              },
            });
            return work({ ...repos, jobs: failingJobs });
          }),
      },
    };
    await expect(expirePoints(failing, { batchSize: 2, lanes: 2 })).rejects.toThrow('connection lost');
    await expectLedgerConsistent();
    expect(await db.prisma.pointLot.count({ where: { expiresAt: { lte: NOW }, remaining: { gt: 0 } } })).toBeGreaterThan(0);

    const rest = await expirePoints(deps, { batchSize: 2, lanes: 2 });
    expect(rest.complete).toBe(true);
    await expectLedgerConsistent();
    expect(await db.prisma.pointLot.count({ where: { expiresAt: { lte: NOW }, remaining: { gt: 0 } } })).toBe(0);
    // Every member expired once, every point once, each told once.
    expect(await db.prisma.ledgerEntry.count({ where: { type: 'EXPIRE' } })).toBe(members.length);
    const expired = await db.prisma.ledgerEntry.aggregate({ where: { type: 'EXPIRE' }, _sum: { amount: true } });
    expect(-(expired._sum.amount ?? 0)).toBe(due);
    expect(await expectEachExpiryNoticedOnce(NOW)).toBe(members.length);
  });

  it('keeps the ledger consistent when spends and a one-lane run race with it', async () => {
    await expectExpiryRaceConsistent(NOW, { batchSize: 5, lanes: 2 }, { batchSize: 11 });
  });
});

describe('win-back reminders', () => {
  async function purchase(memberId: number, at: string) {
    const store = await h.store();
    await db.prisma.purchase.create({
      data: {
        memberId,
        storeId: store.id,
        receiptNo: `R-${++keyCounter}`,
        amountMinor: 10_000n,
        idempotencyKey: `p:${keyCounter}`,
        requestHash: 'x',
        actorType: 'TILL',
        createdAt: new Date(at),
      },
    });
  }
  const registered = (memberId: number, at: string) => db.prisma.member.update({ where: { id: memberId }, data: { registeredAt: new Date(at) } });

  it('reminds members away for inactiveDays once per everyDays period, counted from their last visit', async () => {
    const { deps, sent, delivered } = jobDeps('Europe/Moscow', { winBack: { inactiveDays: 60, everyDays: 30, hour: 12 } });
    const neverBought = await member({ points: 40 });
    await registered(neverBought.id, '2026-09-01T10:00:00Z');
    const lapsed = await member();
    await registered(lapsed.id, '2026-06-01T10:00:00Z');
    await purchase(lapsed.id, '2026-09-20T10:00:00Z');
    const regular = await member();
    await registered(regular.id, '2026-06-01T10:00:00Z');
    await purchase(regular.id, '2026-11-01T10:00:00Z');
    const optedOut = await member({ notifications: false });
    await registered(optedOut.id, '2026-06-01T10:00:00Z');
    const deleted = await member({ status: 'DELETED' });
    await registered(deleted.id, '2026-06-01T10:00:00Z');
    const justNew = await member();
    // 00:30 on 25 Sep in Moscow (still 24 Sep in UTC): 59 local days before 23 Nov.
    await registered(justNew.id, '2026-09-24T21:30:00Z');

    h.clock.set('2026-11-23T08:00:00Z'); // 11:00 in Moscow
    expect(await sendWinBackReminders(deps)).toMatchObject({ skipped: 'beforeHour', reminders: 0 });

    h.clock.set('2026-11-23T09:00:00Z');
    expect(await sendWinBackReminders(deps, { batchSize: 1 })).toEqual({ date: '2026-11-23', skipped: null, reminders: 2 });
    expect(sent).toEqual([
      {
        memberId: neverBought.id,
        notification: { kind: 'winBack', balance: 40, inactiveDays: 83 },
        dedupeKey: `winback:${neverBought.id}:2026-09-01:0`,
        class: 'reminder',
      },
      {
        memberId: lapsed.id,
        notification: { kind: 'winBack', balance: 0, inactiveDays: 64 },
        dedupeKey: `winback:${lapsed.id}:2026-09-20:0`,
        class: 'reminder',
      },
    ]);

    // The next day justNew has been away 60 days; five days later still the first period for all.
    h.clock.set('2026-11-24T09:00:00Z');
    await sendWinBackReminders(deps);
    h.clock.set('2026-11-28T09:00:00Z');
    await sendWinBackReminders(deps);
    expect(delivered().map((s) => s.dedupeKey)).toEqual([
      `winback:${neverBought.id}:2026-09-01:0`,
      `winback:${lapsed.id}:2026-09-20:0`,
      `winback:${justNew.id}:2026-09-25:0`,
    ]);
    // 90 days after 1 Sep: the second period for neverBought.
    h.clock.set('2026-11-30T09:00:00Z');
    await sendWinBackReminders(deps);
    expect(
      delivered()
        .map((s) => s.dedupeKey)
        .slice(3),
    ).toEqual([`winback:${neverBought.id}:2026-09-01:1`]);

    // neverBought comes back, then stays away again: a new series, not a used key.
    await purchase(neverBought.id, '2026-12-01T10:00:00Z');
    h.clock.set('2027-01-29T09:00:00Z'); // 59 days after
    await sendWinBackReminders(deps);
    expect(keysFor(delivered(), neverBought.id)).toHaveLength(2);
    h.clock.set('2027-01-30T09:00:00Z'); // 60 days after
    await sendWinBackReminders(deps);
    expect(keysFor(delivered(), neverBought.id).at(-1)).toBe(`winback:${neverBought.id}:2026-12-01:0`);
  });

  it('does nothing when switched off', async () => {
    const { deps, sent } = jobDeps('Europe/Moscow', { winBack: { enabled: false } });
    const m = await member();
    await registered(m.id, '2026-01-01T10:00:00Z');
    h.clock.set('2026-11-23T12:00:00Z');
    expect(await sendWinBackReminders(deps)).toMatchObject({ skipped: 'disabled' });
    expect(sent).toEqual([]);
  });
});

describe('job runs', () => {
  it('records each run with its counts or its error, and shows the last run of each job', async () => {
    const { deps } = jobDeps('Europe/Moscow');
    h.clock.set('2026-11-23T00:15:00Z');
    await trackJobRun(deps, JOB_NAMES.pointsExpiry, () => expirePoints(deps));
    h.clock.set('2026-11-24T00:15:00Z');
    await trackJobRun(deps, JOB_NAMES.pointsExpiry, () => expirePoints(deps));
    await expect(trackJobRun(deps, JOB_NAMES.winBack, () => Promise.reject(new Error('Redis went away')))).rejects.toThrow('Redis went away');
    const runs = await lastJobRuns(deps);
    expect(runs).toMatchObject([
      {
        name: 'points-expiry',
        startedAt: new Date('2026-11-24T00:15:00Z'),
        finishedAt: new Date('2026-11-24T00:15:00Z'),
        outcome: { lots: 0, members: 0, points: 0, batches: 0, complete: true },
        error: null,
      },
      { name: 'win-back', outcome: null, error: 'Error: Redis went away' },
    ]);
    expect(await db.prisma.jobRun.count()).toBe(3);
  });
});

async function lotId(entryId: number): Promise<number> {
  return (await db.prisma.pointLot.findUniqueOrThrow({ where: { entryId } })).id;
}

async function remainingOf(entryId: number): Promise<number> {
  return (await db.prisma.pointLot.findUniqueOrThrow({ where: { entryId } })).remaining;
}
