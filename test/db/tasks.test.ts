import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDomainError } from '../../src/domain/errors.js';
import type { DomainEvent, EventHandler } from '../../src/domain/events.js';
import type { Member } from '../../src/domain/members/member.js';
import { acceptConsent, chooseLanguage, provideBirthday, provideName, providePhone, startRegistration } from '../../src/domain/members/registration.js';
import { recordPurchase } from '../../src/domain/purchases/record-purchase.js';
import { recordReturn } from '../../src/domain/purchases/record-return.js';
import { syncRewards } from '../../src/domain/rewards/catalogue.js';
import { checkIn, claimTask, verifyChannel, visitStore } from '../../src/domain/tasks/actions.js';
import { getLeaderboard, setLeaderboardProfile } from '../../src/domain/tasks/leaderboard.js';
import { getTasksOverview } from '../../src/domain/tasks/overview.js';
import { convertReferral, referralSummary, referralTokenOf, registerReferral, rotateReferralToken } from '../../src/domain/tasks/referrals.js';
import { taskSubscriber } from '../../src/domain/tasks/subscriber.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { type DomainHarness, domainHarness } from '../support/domain.js';
import { programWithTasks } from '../support/program.js';

let db: TestDatabase;
let h: DomainHarness;
/** The task engine's handler, handed events directly (as the events worker would, maybe twice). */
let tasks: EventHandler;
let nextUser = 7_000;
let receipt = 1;
const till = { type: 'TILL' as const, id: 'till-1' };

beforeAll(async () => {
  db = await createTestDatabase({ poolSize: 20 });
  h = await domainHarness(db, { program: programWithTasks() });
  // Events are handled right after each commit here; the worker's own path is in test/e2e.
  h.followEvents = true;
  tasks = taskSubscriber(h.deps);
  await syncRewards(h.deps);
});
afterAll(async () => db?.drop());

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!isDomainError(error)) throw new Error(`expected a DomainError, got ${String(error)}`);
  return error.code;
}

const DAY = 86_400_000;
const entriesOf = (memberId: number) => db.prisma.ledgerEntry.findMany({ where: { memberId }, orderBy: { id: 'asc' } });
const bonusesOf = async (memberId: number) =>
  (await entriesOf(memberId)).filter((e) => e.type === 'BONUS' && e.reason !== null).map((e) => [e.idempotencyKey.replace(`:${memberId}:`, ':M:'), e.amount]);
const progressOf = (memberId: number, taskCode: string) => db.prisma.taskProgress.findMany({ where: { memberId, taskCode }, orderBy: { periodKey: 'asc' } });

/**
 * A purchase through the use case, its event handled right after the commit; with `quiet`, the
 * event is left waiting in the outbox (no worker has taken it yet).
 */
async function buy(member: Member, amountMinor: number, options: { store?: string; quiet?: boolean } = {}) {
  const store = await h.store(options.store);
  if (options.quiet) h.followEvents = false;
  try {
    const no = `T-${receipt++}`;
    return await recordPurchase(h.deps, {
      memberId: member.id,
      storeId: store.id,
      receiptNo: no,
      amountMinor,
      pointsToSpend: 0,
      idempotencyKey: `k-${no}`,
      actor: till,
    });
  } finally {
    h.followEvents = true;
  }
}

const purchaseEvent = (member: Member, result: Awaited<ReturnType<typeof buy>>): DomainEvent => ({
  type: 'purchaseRecorded',
  id: `purchase:${result.purchase.id}`,
  memberId: member.id,
  purchaseId: result.purchase.id,
  storeId: result.purchase.storeId,
  amountMinor: result.purchase.amountMinor,
  at: h.clock.now(),
});

describe('idempotency', () => {
  it('rewards a replayed event once', async () => {
    const anna = await h.member(nextUser++);
    const first = await buy(anna, 20_000);
    expect(await bonusesOf(anna.id)).toEqual([['task:M:first-purchase:all', 100]]);
    expect(await db.prisma.memberBadge.findMany({ where: { memberId: anna.id }, select: { code: true } })).toEqual([{ code: 'first-step' }]);
    const notified = h.notifications.filter((n) => n.memberId === anna.id && n.notification.kind === 'taskCompleted');
    expect(notified.map((n) => n.notification)).toEqual([
      {
        kind: 'taskCompleted',
        title: { ru: 'Первая покупка', en: 'Your first purchase' },
        points: 100,
        badge: { icon: '🛍', name: { ru: 'Первая покупка', en: 'First purchase' } },
        couponCode: null,
        claimable: false,
      },
    ]);

    await tasks.handle(purchaseEvent(anna, first));
    await tasks.handle(purchaseEvent(anna, first));
    expect(await bonusesOf(anna.id)).toEqual([['task:M:first-purchase:all', 100]]);
    expect((await progressOf(anna.id, 'three-purchases'))[0]).toMatchObject({ progress: 1n });
    expect(await db.prisma.taskRecord.count({ where: { memberId: anna.id, eventId: `purchase:${first.purchase.id}` } })).toBe(4); // first, three, spend, two-stores
  });

  it('rewards events delivered concurrently once, and counts concurrent distinct events all', async () => {
    const ben = await h.member(nextUser++);
    const purchases = [await buy(ben, 10_000, { quiet: true }), await buy(ben, 10_000, { quiet: true }), await buy(ben, 10_000, { quiet: true })];
    const events = purchases.map((p) => purchaseEvent(ben, p));
    // Every event five times, all at once.
    await Promise.all(events.flatMap((event) => Array.from({ length: 5 }, () => tasks.handle(event))));
    const [month] = await progressOf(ben.id, 'three-purchases');
    expect(month).toMatchObject({ periodKey: '2026-11', progress: 3n, goal: 3n });
    expect(month?.completedAt).not.toBeNull();
    expect(month?.rewardedAt).not.toBeNull();
    expect(await bonusesOf(ben.id)).toEqual(
      expect.arrayContaining([
        ['task:M:first-purchase:all', 100],
        ['task:M:three-purchases:2026-11', 150],
      ]),
    );
    expect((await bonusesOf(ben.id)).length).toBe(2);
    expect(await db.prisma.taskRecord.count({ where: { memberId: ben.id, taskCode: 'three-purchases' } })).toBe(3);
  });

  it('checks in once a day however often the button is tapped', async () => {
    const cleo = await h.member(nextUser++);
    const telegramId = cleo.telegramId as number;
    const outcomes = await Promise.all([checkIn(h.deps, telegramId), checkIn(h.deps, telegramId), checkIn(h.deps, telegramId)]);
    expect(outcomes.filter((o) => !o.duplicate)).toHaveLength(1);
    expect(await bonusesOf(cleo.id)).toEqual([['task:M:daily-checkin:2026-11-23', 5]]);
    expect(await db.prisma.taskStreak.findUnique({ where: { memberId_taskCode: { memberId: cleo.id, taskCode: 'daily-checkin' } } })).toMatchObject({
      current: 1,
      best: 1,
    });
  });
});

describe('progress in the database', () => {
  it('streaks across days with the grace day, milestones paid once', async () => {
    const dora = await h.member(nextUser++);
    const telegramId = dora.telegramId as number;
    const start = h.clock.now();
    try {
      for (const day of [0, 1, 3]) {
        h.clock.set(new Date(start.getTime() + day * DAY));
        await checkIn(h.deps, telegramId);
      }
      const overview = await getTasksOverview(h.deps, telegramId);
      expect(overview.checkIn).toEqual({ current: 3, best: 3, checkedInToday: true });
      expect(await bonusesOf(dora.id)).toEqual([
        ['task:M:daily-checkin:2026-11-23', 5],
        ['task:M:daily-checkin:2026-11-24', 5],
        ['task:M:daily-checkin:2026-11-26', 5],
        ['streak:M:daily-checkin:2026-11-23:3', 20],
      ]);
    } finally {
      h.clock.set(start);
    }
  });

  it('a return takes back the progress its purchase gave', async () => {
    const eve = await h.member(nextUser++);
    const store = await h.store();
    const big = await buy(eve, 300_000);
    expect((await progressOf(eve.id, 'spend-5000'))[0]).toMatchObject({ progress: 300_000n });
    await recordReturn(h.deps, { storeId: store.id, receiptNo: big.purchase.receiptNo, amountMinor: 100_000, idempotencyKey: 'ret-eve-1', actor: till });
    expect((await progressOf(eve.id, 'spend-5000'))[0]).toMatchObject({ progress: 200_000n });
    expect((await progressOf(eve.id, 'three-purchases'))[0]).toMatchObject({ progress: 1n });
    await recordReturn(h.deps, { storeId: store.id, receiptNo: big.purchase.receiptNo, amountMinor: null, idempotencyKey: 'ret-eve-2', actor: till });
    expect((await progressOf(eve.id, 'spend-5000'))[0]).toMatchObject({ progress: 0n });
    expect((await progressOf(eve.id, 'three-purchases'))[0]).toMatchObject({ progress: 0n });
    // The first-purchase reward had been paid: it is kept.
    expect((await progressOf(eve.id, 'first-purchase'))[0]).toMatchObject({ progress: 0n });
    expect((await progressOf(eve.id, 'first-purchase'))[0]?.rewardedAt).not.toBeNull();
  });

  it('claims a completed task once: a gift coupon of the catalogue', async () => {
    const fay = await h.member(nextUser++);
    await buy(fay, 300_000);
    await buy(fay, 250_000);
    const [spend] = await progressOf(fay.id, 'spend-5000');
    expect(spend).toMatchObject({ progress: 550_000n, rewardedAt: null });
    expect(spend?.completedAt).not.toBeNull();
    const claimable = h.notifications.filter((n) => n.memberId === fay.id && n.notification.kind === 'taskCompleted').map((n) => n.notification);
    expect(claimable).toContainEqual(
      expect.objectContaining({ claimable: true, title: { ru: 'Покупки на 5 000 ₽ за месяц', en: 'Spend 5,000 RUB this month' } }),
    );

    const telegramId = fay.telegramId as number;
    const results = await Promise.allSettled([claimTask(h.deps, telegramId, 'spend-5000', '2026-11'), claimTask(h.deps, telegramId, 'spend-5000', '2026-11')]);
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(isDomainError(lost.reason, 'TASK_ALREADY_CLAIMED')).toBe(true);
    const coupons = await db.prisma.coupon.findMany({ where: { memberId: fay.id }, include: { reward: true } });
    expect(coupons.map((c) => [c.reward.code, c.cost, c.status])).toEqual([['free-coffee', 0, 'ISSUED']]);
    expect(await codeOf(claimTask(h.deps, telegramId, 'three-purchases', '2026-11'))).toBe('TASK_NOT_COMPLETED');
    expect(await codeOf(claimTask(h.deps, telegramId, 'no-such-task', '2026-11'))).toBe('TASK_NOT_FOUND');
  });

  it('counts a store visit once per store and day', async () => {
    const gus = await h.member(nextUser++);
    const start = h.clock.now();
    try {
      const first = await visitStore(h.deps, gus, 'msk-02');
      const again = await visitStore(h.deps, gus, 'msk-02');
      expect([first.counted, again.counted]).toEqual([true, false]);
      expect(await codeOf(visitStore(h.deps, gus, 'nowhere'))).toBe('STORE_NOT_FOUND');
      h.clock.set(new Date(start.getTime() + DAY));
      const next = await visitStore(h.deps, gus, 'msk-02');
      expect(next.counted).toBe(true);
      expect(await db.prisma.storeVisit.count({ where: { memberId: gus.id } })).toBe(2);
      expect((await progressOf(gus.id, 'visit-arbat'))[0]).toMatchObject({ periodKey: '2026-W48', progress: 2n });
    } finally {
      h.clock.set(start);
    }
  });
});

describe('the channel task', () => {
  it('completes once Telegram says the member is in the channel', async () => {
    const deps = {
      ...h.deps,
      program: programWithTasks((raw) => {
        const tasks = raw.tasks as { channel?: unknown; list: unknown[] };
        tasks.channel = { chat: '@friends_club' };
        tasks.list.push({ code: 'join-channel', kind: 'channel', reward: { points: 30 }, title: { ru: 'Подпишитесь', en: 'Join our channel' } });
      }),
    };
    expect(deps.program.tasks.channel).toEqual({ chat: '@friends_club', url: 'https://t.me/friends_club' });
    const hal = await h.member(nextUser++);
    const telegramId = hal.telegramId as number;
    const asked: number[] = [];
    let inChannel = false;
    const membership = {
      isMember: async (id: number) => {
        asked.push(id);
        return inChannel;
      },
    };
    expect(await verifyChannel(deps, telegramId, membership)).toEqual({ joined: false, outcome: null });
    inChannel = true;
    const joined = await verifyChannel(deps, telegramId, membership);
    expect(joined.outcome?.updates.map((u) => [u.task.code, u.completed, u.reward?.points])).toEqual([['join-channel', true, 30]]);
    expect((await verifyChannel(deps, telegramId, membership)).outcome?.duplicate).toBe(true);
    expect(asked).toEqual([telegramId, telegramId, telegramId]);
    expect(await bonusesOf(hal.id)).toEqual([['task:M:join-channel:all', 30]]);
    // Without a channel in the program there is nothing to verify.
    expect(await codeOf(verifyChannel(h.deps, telegramId, membership))).toBe('TASK_NOT_FOUND');
  });
});

describe('referrals', () => {
  /** A referrer and a friend who just registered (the harness registers members now). */
  async function pair() {
    const referrer = await h.member(nextUser++);
    const friend = await h.member(nextUser++);
    return { referrer, friend };
  }
  const referralOf = (friendId: number) => db.prisma.referral.findUnique({ where: { friendId } });
  /** The member's invite token (drawn on first use), as their link carries it. */
  const tokenOf = (member: Member) => referralTokenOf(h.deps, member);

  it('credits nobody for a link with the card code, or with a token replaced by a new link', async () => {
    const { referrer, friend } = await pair();
    const token = await tokenOf(referrer);
    expect(token).toMatch(/^[0-9A-Za-z]{22}$/);
    expect(token).not.toContain(referrer.code);
    expect(await tokenOf((await h.deps.repos.members.findById(referrer.id)) as Member)).toBe(token);
    // The old links, ref_<card code>: they match nobody now.
    expect(await registerReferral(h.deps, friend.id, referrer.code)).toEqual({ kind: 'refused', reason: 'UNKNOWN_REFERRER' });
    // «New link»: the old token credits nobody, the new one does.
    const fresh = await rotateReferralToken(h.deps, Number(referrer.telegramId));
    expect(fresh).not.toBe(token);
    expect(await registerReferral(h.deps, friend.id, token)).toEqual({ kind: 'refused', reason: 'UNKNOWN_REFERRER' });
    expect(await referralOf(friend.id)).toBeNull();
    expect((await registerReferral(h.deps, friend.id, fresh)).kind).toBe('linked');
  });

  it('refuses self-referral, a second referral, an existing member', async () => {
    const { referrer, friend } = await pair();
    expect(await registerReferral(h.deps, referrer.id, await tokenOf(referrer))).toEqual({ kind: 'refused', reason: 'SELF' });
    expect(await registerReferral(h.deps, friend.id, 'NOSUCHCODE')).toEqual({ kind: 'refused', reason: 'UNKNOWN_REFERRER' });
    expect((await registerReferral(h.deps, friend.id, await tokenOf(referrer))).kind).toBe('linked');
    const other = await h.member(nextUser++);
    expect(await registerReferral(h.deps, friend.id, await tokenOf(other))).toEqual({ kind: 'refused', reason: 'ALREADY_REFERRED' });
    expect(await registerReferral(h.deps, friend.id, await tokenOf(referrer))).toEqual({ kind: 'refused', reason: 'ALREADY_REFERRED' });

    // Members from before: registered two days ago, or already buying.
    const old = await h.member(nextUser++);
    await db.prisma.member.update({ where: { id: old.id }, data: { registeredAt: new Date(h.clock.now().getTime() - 2 * DAY) } });
    expect(await registerReferral(h.deps, old.id, await tokenOf(referrer))).toEqual({ kind: 'refused', reason: 'NOT_NEW' });
    const buyer = await h.member(nextUser++);
    await buy(buyer, 1_000, { quiet: true });
    expect(await registerReferral(h.deps, buyer.id, await tokenOf(referrer))).toEqual({ kind: 'refused', reason: 'NOT_NEW' });
    // The database refuses self-referral whatever the code path.
    await expect(db.prisma.referral.create({ data: { referrerId: referrer.id, friendId: referrer.id, createdAt: new Date() } })).rejects.toThrow();
  });

  it('pays nothing without a purchase, or for one below the minimum', async () => {
    const { referrer, friend } = await pair();
    await registerReferral(h.deps, friend.id, await tokenOf(referrer));
    expect(await referralSummary(h.deps, referrer.id)).toMatchObject({ joined: 1, bought: 0, pending: 1 });
    expect(await bonusesOf(friend.id)).toEqual([]);
    await buy(friend, 99_999);
    expect(await referralOf(friend.id)).toMatchObject({ status: 'PENDING' });
    expect((await entriesOf(referrer.id)).filter((e) => e.reason === 'referral')).toEqual([]);
    expect((await entriesOf(friend.id)).filter((e) => e.reason === 'referral')).toEqual([]);
  });

  it('rewards both on the friend’s first qualifying purchase, once, even when bought twice at once', async () => {
    const { referrer, friend } = await pair();
    await registerReferral(h.deps, friend.id, await tokenOf(referrer));
    const [a, b] = [await buy(friend, 150_000, { quiet: true }), await buy(friend, 120_000, { quiet: true })];
    await Promise.all([tasks.handle(purchaseEvent(friend, a)), tasks.handle(purchaseEvent(friend, b)), tasks.handle(purchaseEvent(friend, a))]);
    const referral = await referralOf(friend.id);
    expect(referral).toMatchObject({ status: 'CONVERTED', referrerRewarded: true });
    expect([a.purchase.id, b.purchase.id]).toContain(referral?.purchaseId);
    expect((await entriesOf(friend.id)).filter((e) => e.reason === 'referral').map((e) => e.amount)).toEqual([200]);
    expect((await entriesOf(referrer.id)).filter((e) => e.reason === 'referral').map((e) => e.amount)).toEqual([300]);
    expect(await referralSummary(h.deps, referrer.id)).toMatchObject({ joined: 1, bought: 1, pending: 0 });
    expect(h.notifications.filter((n) => n.notification.kind === 'referralRewarded' && [friend.id, referrer.id].includes(n.memberId))).toHaveLength(2);
    // The referrer's «invite three friends» task counted the friend.
    expect((await progressOf(referrer.id, 'invite-three'))[0]).toMatchObject({ progress: 1n });
  });

  it('stops rewarding the referrer at the monthly cap, and starts again next month', async () => {
    const referrer = await h.member(nextUser++);
    const start = h.clock.now();
    try {
      const convert = async () => {
        const friend = await h.member(nextUser++);
        expect((await registerReferral(h.deps, friend.id, await tokenOf(referrer))).kind).toBe('linked');
        await buy(friend, 100_000);
        return friend;
      };
      for (let i = 0; i < 5; i++) await convert();
      const sixth = await convert();
      expect(await referralOf(sixth.id)).toMatchObject({ status: 'CONVERTED', referrerRewarded: false });
      expect((await entriesOf(sixth.id)).filter((e) => e.reason === 'referral').map((e) => e.amount)).toEqual([200]);
      expect((await entriesOf(referrer.id)).filter((e) => e.reason === 'referral')).toHaveLength(5);
      expect(await referralSummary(h.deps, referrer.id)).toMatchObject({ joined: 6, bought: 6 });

      h.clock.set(new Date('2026-12-02T09:00:00Z'));
      await convert();
      expect((await entriesOf(referrer.id)).filter((e) => e.reason === 'referral')).toHaveLength(6);
    } finally {
      h.clock.set(start);
    }
  });

  it('expires a referral the friend did not buy within the window', async () => {
    const { referrer, friend } = await pair();
    await registerReferral(h.deps, friend.id, await tokenOf(referrer));
    const start = h.clock.now();
    try {
      h.clock.set(new Date(start.getTime() + 91 * DAY));
      const result = await buy(friend, 200_000, { quiet: true });
      expect(await convertReferral(h.deps, friend.id, { purchaseId: result.purchase.id, amountMinor: 200_000, at: h.clock.now() })).toBeNull();
      expect(await referralOf(friend.id)).toMatchObject({ status: 'EXPIRED' });
    } finally {
      h.clock.set(start);
    }
  });

  it('links a friend who registers through the invite link, and counts a complete profile', async () => {
    const referrer = await h.member(nextUser++);
    const telegramId = nextUser++;
    await startRegistration(h.deps, { telegramId, locale: 'en', telegramName: 'Zoe', payload: `ref_${await tokenOf(referrer)}` });
    await chooseLanguage(h.deps, telegramId, 'en');
    await acceptConsent(h.deps, telegramId);
    await providePhone(h.deps, telegramId, { kind: 'typed', text: `+7912${String(telegramId).padStart(7, '0')}` });
    await provideName(h.deps, telegramId, 'Zoe');
    const { member } = await provideBirthday(h.deps, telegramId, '01.02.1990');
    expect(await referralOf(member.id)).toMatchObject({ referrerId: referrer.id, status: 'PENDING' });
    expect(await bonusesOf(member.id)).toEqual(expect.arrayContaining([['task:M:profile:all', 50]]));
  });
});

describe('leaderboard', () => {
  it('ranks the members who opted in, shows names as they chose, and the member’s own place', async () => {
    const start = h.clock.now();
    // Ledger entries carry the database's time: look at the real current month.
    h.clock.set(new Date());
    try {
      const names = ['Ann Lee', 'Bob Ray', 'Cy Young', 'Di Fox'];
      const members: Member[] = [];
      for (const [i, name] of names.entries()) {
        const m = await h.member(nextUser++);
        await db.prisma.member.update({ where: { id: m.id }, data: { name } });
        await buy(m, (i + 1) * 100_000, { quiet: true });
        members.push(m);
      }
      const [ann, bob, cy, di] = members as [Member, Member, Member, Member];
      const tid = (m: Member) => m.telegramId as number;
      await setLeaderboardProfile(h.deps, tid(ann), { leaderboard: true, nameStyle: 'FIRST_NAME' });
      await setLeaderboardProfile(h.deps, tid(bob), { leaderboard: true });
      await setLeaderboardProfile(h.deps, tid(cy), { leaderboard: true, nameStyle: 'HIDDEN' });
      const board = await getLeaderboard(h.deps, tid(bob));
      const ours = board.top.filter((line) => line.name === null || ['Ann', 'B. R.'].includes(line.name));
      // Points earned: 3 % of 940.00, 1 880.00 and 2 820.00 paid after the 6 % discount.
      expect(ours.map((line) => [line.name, line.score, line.own])).toEqual([
        [null, 84, false],
        ['B. R.', 56, true],
        ['Ann', 28, false],
      ]);
      expect(board.own).toMatchObject({ score: 56, own: true });
      // Di has not opted in: not on the board, and no rank of her own.
      const dis = await getLeaderboard(h.deps, tid(di));
      expect(dis.own).toBeNull();
      expect(dis.profile).toEqual({ leaderboard: false, nameStyle: 'INITIALS' });
    } finally {
      h.clock.set(start);
    }
  });
});
