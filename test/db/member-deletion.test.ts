import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrismaSessionStore } from '../../src/db/session-store.js';
import { isDomainError } from '../../src/domain/errors.js';
import { deleteMember, exportMemberData } from '../../src/domain/members/settings.js';
import { dispatchNpsSurveys } from '../../src/domain/nps/dispatch.js';
import { answerSurvey, completeSurvey, toggleSurveyReason } from '../../src/domain/nps/surveys.js';
import type { ChatRecipient, DomainDeps, Notification, NotifyOptions } from '../../src/domain/ports.js';
import { recordPurchase } from '../../src/domain/purchases/record-purchase.js';
import { addReward } from '../../src/domain/rewards/admin.js';
import { type CouponOperator, redeemCoupon } from '../../src/domain/rewards/redeem-coupon.js';
import { takeReward } from '../../src/domain/rewards/take-reward.js';
import { requireRole } from '../../src/domain/staff/access.js';
import { setLeaderboardProfile } from '../../src/domain/tasks/leaderboard.js';
import { referralTokenOf, registerReferral } from '../../src/domain/tasks/referrals.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { type DomainHarness, domainHarness } from '../support/domain.js';
import { programWithTasks } from '../support/program.js';
import { rewardDefinition } from '../support/rewards.js';

const ADMIN = 1;
let db: TestDatabase;
let h: DomainHarness;
let staff: CouponOperator;

beforeAll(async () => {
  db = await createTestDatabase();
  h = await domainHarness(db, { admins: [ADMIN] });
  const store = await h.store();
  await db.prisma.staff.create({ data: { telegramId: 777_001n, role: 'STAFF', storeId: store.id } });
  staff = { kind: 'staff', principal: await requireRole(h.deps, 777_001, ['STAFF']) };
  await addReward(h.deps, ADMIN, rewardDefinition({ code: 'limited', stock: 5, description: { ru: '', en: '' } }));
});
afterAll(async () => db?.drop());

describe('deleting an account', () => {
  it("cancels the member's unused coupons without a refund, so they can no longer be redeemed", async () => {
    const member = await h.member(40_001, 350);
    const telegramId = member.telegramId as number;
    const used = await takeReward(h.deps, { telegramId, rewardCode: 'limited', idempotencyKey: 'a' });
    const open = await takeReward(h.deps, { telegramId, rewardCode: 'limited', idempotencyKey: 'b' });
    await redeemCoupon(h.deps, { code: used.coupon.code, operator: staff });
    const other = await h.member(40_002, 100);
    const theirs = await takeReward(h.deps, { telegramId: other.telegramId as number, rewardCode: 'limited', idempotencyKey: 'c' });
    expect((await db.prisma.reward.findUniqueOrThrow({ where: { code: 'limited' } })).stock).toBe(2);

    h.clock.advance(60_000);
    await deleteMember(h.deps, telegramId);

    expect(await db.prisma.coupon.findUniqueOrThrow({ where: { id: open.coupon.id } })).toMatchObject({
      status: 'CANCELLED',
      cancelledAt: h.clock.now(),
      pointsRefunded: 0,
    });
    // Redeemed stays redeemed; another member's coupon is untouched; the unit goes back to stock.
    expect(await db.prisma.coupon.findUniqueOrThrow({ where: { id: used.coupon.id } })).toMatchObject({ status: 'REDEEMED' });
    expect(await db.prisma.coupon.findUniqueOrThrow({ where: { id: theirs.coupon.id } })).toMatchObject({ status: 'ISSUED' });
    expect((await db.prisma.reward.findUniqueOrThrow({ where: { code: 'limited' } })).stock).toBe(3);

    // The points were closed, not refunded.
    const entries = await db.prisma.ledgerEntry.findMany({ where: { memberId: member.id }, orderBy: { id: 'asc' } });
    expect(entries.map((e) => [e.type, e.amount, e.balanceAfter])).toEqual([
      ['BONUS', 350, 350],
      ['SPEND', -100, 250],
      ['SPEND', -100, 150],
      ['CLOSE', -150, 0],
    ]);

    const refused = await redeemCoupon(h.deps, { code: open.coupon.code, operator: staff }).catch((error: unknown) => error);
    expect(isDomainError(refused, 'COUPON_CANCELLED')).toBe(true);
    expect(await db.prisma.coupon.findUniqueOrThrow({ where: { id: open.coupon.id } })).toMatchObject({ status: 'CANCELLED', redeemedAt: null });
  });
});

describe("the member's own data", () => {
  /** The example program with its tasks, and a notifier that writes the real outbox (Delivery rows), as the app's does. */
  async function withOutbox(): Promise<{ deps: DomainDeps; clock: DomainHarness['clock'] }> {
    const t = await domainHarness(db, { program: programWithTasks(), admins: [ADMIN] });
    const write = (memberId: number | null, chat: ChatRecipient | null, notification: Notification, options: NotifyOptions = {}) =>
      t.deps.repos.deliveries
        .create({ dedupeKey: options.dedupeKey ?? `test:${Math.random()}`, memberId, chat, class: options.class ?? 'transactional', notification })
        .then(() => undefined);
    const deps: DomainDeps = {
      ...t.deps,
      notifier: {
        notify: (memberId, notification, options) => write(memberId, null, notification, options),
        notifyChat: (to, notification, options) => write(null, to, notification, options),
      },
    };
    // The task engine follows the events right after each commit, as the events worker would.
    t.followEvents = true;
    return { deps, clock: t.clock };
  }

  it('exports every category kept about the member, and erasure removes the personal traces but keeps the accounting', async () => {
    const { deps, clock } = await withOutbox();
    const inviter = await h.member(40_101);
    await db.prisma.member.update({ where: { id: inviter.id }, data: { name: 'Boris Inviter', phone: '+79990001122' } });
    const anna = await h.member(40_102, 300);
    const telegramId = anna.telegramId as number;
    expect((await registerReferral(deps, anna.id, await referralTokenOf(deps, inviter))).kind).toBe('linked');
    const store = await h.store();

    // A purchase (it completes the first-purchase task and converts the referral), a coupon, an
    // NPS answer with a comment, a leaderboard choice, and a wizard halfway through.
    const bought = await recordPurchase(deps, {
      memberId: anna.id,
      storeId: store.id,
      receiptNo: 'DEL-1',
      amountMinor: 123_456,
      pointsToSpend: 0,
      idempotencyKey: 'del-1',
      actor: { type: 'TILL', id: 'till-1' },
    });
    const coupon = await takeReward(deps, { telegramId, rewardCode: 'limited', idempotencyKey: 'del-coupon' });
    clock.advance(2 * 60 * 60_000 + 60_000);
    await dispatchNpsSurveys(deps);
    const survey = await db.prisma.survey.findFirstOrThrow({ where: { memberId: anna.id } });
    await answerSurvey(deps, { telegramId, surveyId: survey.id, score: 3 });
    await toggleSurveyReason(deps, { telegramId, surveyId: survey.id, code: 'queue' });
    await completeSurvey(deps, { telegramId, surveyId: survey.id, comment: 'The queue took forever, call me' });
    await setLeaderboardProfile(deps, telegramId, { leaderboard: true, nameStyle: 'FIRST_NAME' });
    const sessions = new PrismaSessionStore(db.prisma);
    await sessions.write(`nps:${telegramId}`, { surveyId: survey.id });
    await sessions.write(`staff:${telegramId}`, { step: 'amount' });
    // Every open dialog (src/bot/dialogs.ts) is one row of the plugin's state.
    await sessions.write(`dialogs:${telegramId}`, { version: [0, 1], state: { purchase: [{ interrupts: [], replay: {} }] } });
    await sessions.write(`nps:${inviter.telegramId}`, { surveyId: 0 });

    const data = await exportMemberData(deps, telegramId);
    expect(data.purchases).toEqual([
      {
        at: bought.purchase.createdAt.toISOString(),
        store: 'Tverskaya 1',
        receipt: 'DEL-1',
        currency: 'RUB',
        amount: '1234.56',
        returnedAmount: '0.00',
        pointsEarned: bought.pointsEarned,
        pointsSpent: 0,
      },
    ]);
    expect(bought.pointsEarned).toBeGreaterThan(0);
    expect(data.coupons).toEqual([
      expect.objectContaining({
        reward: 'A gift',
        code: coupon.coupon.code,
        status: 'ISSUED',
        pointsPaid: 100,
        usedAt: null,
        store: null,
        expiresAt: coupon.coupon.expiresAt.toISOString(),
      }),
    ]);
    expect(data.surveys).toEqual([
      {
        sentAt: clock.now().toISOString(),
        answeredAt: clock.now().toISOString(),
        store: 'Tverskaya 1',
        score: 3,
        reasons: ['queue'],
        comment: 'The queue took forever, call me',
      },
    ]);
    expect(data.tasks.progress).toContainEqual({
      task: 'Your first purchase',
      period: 'all',
      progress: 1,
      goal: 1,
      completedAt: expect.any(String),
      rewardedAt: expect.any(String),
    });
    expect(data.tasks.badges).toEqual([{ badge: 'First purchase', awardedAt: expect.any(String) }]);
    expect(data.referrals).toEqual({
      invitedBy: { cardCode: inviter.code, status: 'CONVERTED', at: expect.any(String) },
      friendsInvited: 0,
      friendsWhoBought: 0,
    });
    expect(data.leaderboard).toEqual({ optedIn: true, nameShown: 'FIRST_NAME' });
    // Another person's name or phone never appears; the inviter sees only a count.
    expect(JSON.stringify(data)).not.toMatch(/Boris|79990001122/);
    expect((await exportMemberData(deps, inviter.telegramId as number)).referrals).toEqual({ invitedBy: null, friendsInvited: 1, friendsWhoBought: 1 });

    const alert = await db.prisma.delivery.findFirstOrThrow({ where: { kind: 'npsAlert', payload: { path: ['surveyId'], equals: survey.id } } });
    expect(alert.payload).toMatchObject({ comment: 'The queue took forever, call me', memberName: 'Test' });
    const entriesBefore = await db.prisma.ledgerEntry.findMany({ where: { memberId: anna.id }, orderBy: { id: 'asc' } });
    const inviterPending = await db.prisma.delivery.count({ where: { memberId: inviter.id, status: 'PENDING' } });
    expect(inviterPending).toBeGreaterThan(0);
    expect(await db.prisma.delivery.count({ where: { memberId: anna.id, status: 'PENDING' } })).toBeGreaterThan(0);

    clock.advance(60_000);
    await deleteMember(deps, telegramId);

    // The NPS answer stays for the statistics, without its free text (here and in the staff alert).
    expect(await db.prisma.survey.findUniqueOrThrow({ where: { id: survey.id } })).toMatchObject({
      score: 3,
      group: 'DETRACTOR',
      reasons: ['queue'],
      comment: null,
    });
    expect((await db.prisma.delivery.findUniqueOrThrow({ where: { id: alert.id } })).payload).toMatchObject({
      score: 3,
      reasons: ['queue'],
      comment: null,
      memberName: null,
    });
    // Nothing is sent to them any more; other members' messages are untouched.
    expect(await db.prisma.delivery.count({ where: { memberId: anna.id, status: 'PENDING' } })).toBe(0);
    expect(await db.prisma.delivery.findFirstOrThrow({ where: { memberId: anna.id, kind: 'npsSurvey' } })).toMatchObject({
      status: 'SKIPPED',
      error: 'account deleted',
    });
    expect(await db.prisma.delivery.count({ where: { memberId: inviter.id, status: 'PENDING' } })).toBe(inviterPending);
    // Their wizards are gone, another user's stays; so is the leaderboard choice.
    expect(await sessions.read(`nps:${telegramId}`)).toBeUndefined();
    expect(await sessions.read(`staff:${telegramId}`)).toBeUndefined();
    expect(await sessions.read(`dialogs:${telegramId}`)).toBeUndefined();
    expect(await sessions.read(`nps:${inviter.telegramId}`)).toEqual({ surveyId: 0 });
    expect(await db.prisma.gameProfile.findUnique({ where: { memberId: anna.id } })).toBeNull();
    // The accounting stays: the ledger (plus the closing entry), the purchase, the referral.
    const entriesAfter = await db.prisma.ledgerEntry.findMany({ where: { memberId: anna.id }, orderBy: { id: 'asc' } });
    expect(entriesAfter.slice(0, -1)).toEqual(entriesBefore);
    expect(entriesAfter.at(-1)).toMatchObject({ type: 'CLOSE', balanceAfter: 0 });
    expect(await db.prisma.purchase.findUniqueOrThrow({ where: { id: bought.purchase.id } })).toMatchObject({ receiptNo: 'DEL-1', amountMinor: 123_456n });
    expect(await db.prisma.referral.count({ where: { friendId: anna.id } })).toBe(1);
    // What is kept of the person: keyed digests (no Telegram id, no phone) and the one-time
    // rewards they had; the row itself no longer holds an invite token or a phone.
    expect(await db.prisma.member.findUniqueOrThrow({ where: { id: anna.id } })).toMatchObject({ referralToken: null, phone: null, phoneVerified: false });
    const kept = await db.prisma.erasedIdentity.findMany({ where: { telegramDigest: deps.fingerprints.digest('telegram', String(telegramId)) } });
    expect(kept).toHaveLength(1);
    expect(kept[0]?.telegramDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(kept)).not.toContain(String(telegramId));
    expect(kept[0]?.rewardTakes).toEqual([{ reward: 'limited', at: coupon.coupon.issuedAt.toISOString() }]);
    expect(kept[0]?.tasksRewarded).toEqual(expect.arrayContaining([expect.objectContaining({ task: 'first-purchase' })]));
  });
});
