import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isDomainError } from '../../src/domain/errors.js';
import type { Member } from '../../src/domain/members/member.js';
import { previewSurveyCampaign, sendSurveyCampaign } from '../../src/domain/nps/campaign.js';
import { dispatchNpsSurveys } from '../../src/domain/nps/dispatch.js';
import { markAlertHandled } from '../../src/domain/nps/handle-alert.js';
import { computeNpsReport } from '../../src/domain/nps/report.js';
import { answerSurvey, completeSurvey, surveyRewardKey, toggleSurveyReason } from '../../src/domain/nps/surveys.js';
import type { ChatRecipient, DomainDeps, Notification, NotificationClass } from '../../src/domain/ports.js';
import type { NpsProgram } from '../../src/domain/program.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { type DomainHarness, domainHarness } from '../support/domain.js';
import { ledgerViolations } from '../support/ledger-invariants.js';
import { exampleProgram } from '../support/program.js';

/**
 * NPS surveys on real PostgreSQL with a manual clock: who is asked and when, that a rerun asks
 * nobody twice, the answer's lifecycle (change window, late and forged taps), the reward once,
 * the detractor's alert, and the numbers.
 */

const ADMIN = 1;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

let db: TestDatabase;
let h: DomainHarness;
let nextUser = 70_000;
let nextReceipt = 1;

beforeAll(async () => {
  db = await createTestDatabase({ poolSize: 10 });
  h = await domainHarness(db, { admins: [ADMIN] });
});
afterAll(async () => db?.drop());

beforeEach(async () => {
  await db.prisma.$executeRawUnsafe('TRUNCATE "Member", "Staff", "AuditLog" CASCADE');
  h.clock.set('2026-11-23T09:00:00Z');
});

interface Sent {
  memberId: number | null;
  chat: ChatRecipient | null;
  notification: Notification;
  dedupeKey: string;
  class: NotificationClass;
}

/**
 * Deps with the program's `nps` section overridden and a notifier that writes the real outbox
 * (Delivery rows, unique dedupe key) as the app's does, and records what it let through.
 */
function npsDeps(nps: Partial<NpsProgram> = {}): { deps: DomainDeps; sent: Sent[] } {
  const sent: Sent[] = [];
  const program = exampleProgram();
  program.nps = { ...program.nps, ...nps };
  const write = async (
    memberId: number | null,
    chat: ChatRecipient | null,
    notification: Notification,
    options: { dedupeKey?: string; class?: NotificationClass } = {},
  ) => {
    const dedupeKey = options.dedupeKey ?? `test:${Math.random()}`;
    const cls = options.class ?? 'transactional';
    const created = await h.deps.repos.deliveries.create({ dedupeKey, memberId, chat, class: cls, notification });
    if (created) sent.push({ memberId, chat, notification, dedupeKey, class: cls });
  };
  const deps: DomainDeps = {
    ...h.deps,
    program,
    notifier: {
      notify: (memberId, notification, options) => write(memberId, null, notification, options),
      notifyChat: (recipient, notification, options) => write(null, recipient, notification, options),
    },
  };
  return { deps, sent };
}

async function member(options: { notifications?: boolean; reachable?: boolean; status?: 'ACTIVE' | 'DELETED'; name?: string } = {}): Promise<Member> {
  const created = await h.member(nextUser++);
  await db.prisma.member.update({
    where: { id: created.id },
    data: {
      name: options.name ?? 'Anna Petrova',
      ...(options.notifications === false ? { notificationsEnabled: false } : {}),
      ...(options.reachable === false ? { reachable: false } : {}),
      ...(options.status ? { status: options.status } : {}),
    },
  });
  return (await h.deps.repos.members.findById(created.id)) as Member;
}

/** A purchase made at `at` (the till's time), at store `storeCode`. */
async function purchase(memberId: number, at: Date, storeCode = 'msk-01', amountMinor = 100_000) {
  const store = await h.store(storeCode);
  return db.prisma.purchase.create({
    data: {
      memberId,
      storeId: store.id,
      receiptNo: `R-${nextReceipt++}`,
      amountMinor: BigInt(amountMinor),
      idempotencyKey: `nps-test:${nextReceipt}`,
      requestHash: 'x',
      actorType: 'STAFF',
      createdAt: at,
    },
  });
}

const surveysOf = (memberId: number) => db.prisma.survey.findMany({ where: { memberId }, orderBy: { id: 'asc' } });
const surveyMessages = (sent: Sent[]) => sent.filter((s) => s.notification.kind === 'npsSurvey');
const alerts = (sent: Sent[]) => sent.filter((s) => s.notification.kind === 'npsAlert');

/** A survey sent to a new member for a purchase 2 hours ago; returns the member and the survey id. */
async function surveyed(deps: DomainDeps, options: { storeCode?: string; name?: string } = {}) {
  const customer = await member({ name: options.name ?? 'Anna Petrova' });
  await purchase(customer.id, new Date(h.clock.now().getTime() - 2 * HOUR - MINUTE), options.storeCode);
  await dispatchNpsSurveys(deps);
  const [survey] = await surveysOf(customer.id);
  if (!survey) throw new Error('no survey was sent');
  return { customer, telegramId: customer.telegramId as number, surveyId: survey.id };
}

async function cashier(telegramId: number, storeCode = 'msk-01', locale: 'ru' | 'en' | null = 'en') {
  const store = await h.store(storeCode);
  return h.deps.repos.staff.upsert({ telegramId, role: 'STAFF', storeId: store.id, name: `Cashier ${telegramId}`, locale });
}

describe('the NPS dispatch', () => {
  it('asks about a purchase once, after the delay, through the delivery queue as a reminder', async () => {
    const { deps, sent } = npsDeps({ delayMinutes: 120 });
    const anna = await member();
    const bought = await purchase(anna.id, h.clock.now());

    h.clock.advance(119 * MINUTE);
    expect(await dispatchNpsSurveys(deps)).toMatchObject({ created: 0, queued: 0 });
    expect(await surveysOf(anna.id)).toEqual([]);

    h.clock.advance(MINUTE);
    expect(await dispatchNpsSurveys(deps)).toMatchObject({ created: 1, queued: 1 });
    const [survey] = await surveysOf(anna.id);
    expect(survey).toMatchObject({ trigger: `purchase:${bought.id}`, purchaseId: bought.id, storeId: bought.storeId, status: 'SENT', score: null });
    expect(surveyMessages(sent)).toEqual([
      {
        memberId: anna.id,
        chat: null,
        notification: { kind: 'npsSurvey', surveyId: survey?.id, storeName: 'Tverskaya 1' },
        dedupeKey: `nps:${survey?.id}`,
        class: 'reminder',
      },
    ]);

    // Rerunning sends nothing new, now or later.
    expect(await dispatchNpsSurveys(deps)).toMatchObject({ created: 0, queued: 0 });
    h.clock.advance(HOUR);
    expect(await dispatchNpsSurveys(deps)).toMatchObject({ created: 0, queued: 0 });
    expect(await surveysOf(anna.id)).toHaveLength(1);
    expect(await db.prisma.delivery.count({ where: { memberId: anna.id } })).toBe(1);
  });

  it('never asks a member more often than minDaysBetweenSurveys, whatever they buy', async () => {
    const { deps } = npsDeps({ delayMinutes: 120, minDaysBetweenSurveys: 30 });
    const anna = await member();
    // Two purchases in the same window: one survey, about the latest.
    await purchase(anna.id, h.clock.now());
    const latest = await purchase(anna.id, new Date(h.clock.now().getTime() + 10 * MINUTE), 'msk-02');
    h.clock.advance(3 * HOUR);
    await dispatchNpsSurveys(deps);
    expect((await surveysOf(anna.id)).map((s) => s.purchaseId)).toEqual([latest.id]);

    // More purchases within 30 days of that survey: none.
    const firstSentAt = h.clock.now().getTime();
    for (const days of [1, 10, 29]) {
      h.clock.set(new Date(firstSentAt + days * DAY));
      await purchase(anna.id, h.clock.now());
      h.clock.advance(3 * HOUR);
      expect(await dispatchNpsSurveys(deps)).toMatchObject({ created: 0 });
    }
    expect(await surveysOf(anna.id)).toHaveLength(1);

    // 30 days after it, a new purchase is asked about again (the latest one, once).
    h.clock.set(new Date(firstSentAt + 30 * DAY + MINUTE));
    const later = await purchase(anna.id, h.clock.now());
    h.clock.advance(2 * HOUR);
    expect(await dispatchNpsSurveys(deps)).toMatchObject({ created: 1 });
    expect((await surveysOf(anna.id)).map((s) => s.purchaseId)).toEqual([latest.id, later.id]);
  });

  it('does not ask members who opted out of such messages, blocked the bot or left, nor about a returned purchase', async () => {
    const { deps, sent } = npsDeps();
    const optedOut = await member({ notifications: false });
    const blocked = await member({ reachable: false });
    const deleted = await member({ status: 'DELETED' });
    const returned = await member();
    const fine = await member();
    for (const m of [optedOut, blocked, deleted, returned, fine]) await purchase(m.id, h.clock.now());
    await db.prisma.purchase.updateMany({ where: { memberId: returned.id }, data: { returnedMinor: 100_000n } });
    h.clock.advance(2 * HOUR);
    expect(await dispatchNpsSurveys(deps)).toMatchObject({ created: 1, queued: 1 });
    expect(await db.prisma.survey.findMany({ select: { memberId: true } })).toEqual([{ memberId: fine.id }]);
    expect(surveyMessages(sent).map((s) => s.memberId)).toEqual([fine.id]);
  });

  it('sends nothing when switched off, and does not ask about purchases long past', async () => {
    const anna = await member();
    await purchase(anna.id, h.clock.now());
    h.clock.advance(3 * HOUR);
    expect(await dispatchNpsSurveys(npsDeps({ enabled: false }).deps)).toMatchObject({ skipped: 'disabled', created: 0 });
    // Switched on three days later: that purchase is too old to ask about.
    h.clock.advance(3 * DAY);
    expect(await dispatchNpsSurveys(npsDeps().deps)).toMatchObject({ created: 0 });
  });

  it('queues the message of a survey whose message never reached the outbox (a crash between the two)', async () => {
    const { deps, sent } = npsDeps();
    const anna = await member();
    await purchase(anna.id, h.clock.now());
    h.clock.advance(2 * HOUR);
    const lost: DomainDeps = { ...deps, notifier: { notify: async () => {} } };
    expect(await dispatchNpsSurveys(lost)).toMatchObject({ created: 1, queued: 1 });
    expect(await db.prisma.delivery.count({ where: { memberId: anna.id } })).toBe(0);
    expect(await dispatchNpsSurveys(deps)).toMatchObject({ created: 0, queued: 1 });
    expect(surveyMessages(sent)).toHaveLength(1);
    expect(await dispatchNpsSurveys(deps)).toMatchObject({ created: 0, queued: 0 });
  });
});

describe('answering', () => {
  it('records the score, group and time; the score may change within the window, not after', async () => {
    const { deps } = npsDeps({ changeWindowMinutes: 60 });
    const { telegramId, surveyId } = await surveyed(deps);
    expect(await answerSurvey(deps, { telegramId, surveyId, score: 8 })).toMatchObject({
      outcome: 'answered',
      followUp: true,
      survey: { score: 8, group: 'passive' },
    });
    h.clock.advance(30 * MINUTE);
    expect(await answerSurvey(deps, { telegramId, surveyId, score: 8 })).toMatchObject({ outcome: 'same' });
    // Within the group: no new follow-up; into another group: the follow-up starts again.
    expect(await answerSurvey(deps, { telegramId, surveyId, score: 7 })).toMatchObject({ outcome: 'changed', followUp: false });
    expect(await answerSurvey(deps, { telegramId, surveyId, score: 3 })).toMatchObject({ outcome: 'changed', followUp: true, survey: { group: 'detractor' } });

    // The window counts from the first answer: 60 minutes after it, a tap changes nothing.
    h.clock.advance(30 * MINUTE);
    const before = await db.prisma.survey.findUniqueOrThrow({ where: { id: surveyId } });
    expect(await answerSurvey(deps, { telegramId, surveyId, score: 10 })).toEqual({ outcome: 'closed' });
    expect(await db.prisma.survey.findUniqueOrThrow({ where: { id: surveyId } })).toEqual(before);
    expect(before).toMatchObject({ score: 3, group: 'DETRACTOR', status: 'ANSWERED', answeredAt: new Date('2026-11-23T09:00:00Z') });
  });

  it('changes nothing for a tap on a survey that closed unanswered, or was closed by the job', async () => {
    const { deps } = npsDeps({ answerWithinDays: 7 });
    const { telegramId, surveyId } = await surveyed(deps);
    h.clock.advance(7 * DAY);
    expect(await answerSurvey(deps, { telegramId, surveyId, score: 9 })).toEqual({ outcome: 'closed' });
    expect(await dispatchNpsSurveys(deps)).toMatchObject({ unanswered: 1 });
    expect(await db.prisma.survey.findUniqueOrThrow({ where: { id: surveyId } })).toMatchObject({ status: 'CLOSED', score: null, answeredAt: null });
    expect(await answerSurvey(deps, { telegramId, surveyId, score: 9 })).toEqual({ outcome: 'closed' });
    expect(await completeSurvey(deps, { telegramId, surveyId, comment: 'late' })).toEqual({ outcome: 'closed' });
    expect(await toggleSurveyReason(deps, { telegramId, surveyId, code: 'staff' })).toEqual({ outcome: 'closed' });
    expect(await db.prisma.survey.findUniqueOrThrow({ where: { id: surveyId } })).toMatchObject({ status: 'CLOSED', score: null, comment: null, reasons: [] });
  });

  it('changes nothing for forged taps: another member’s survey, a score of 11, a reason not offered', async () => {
    const { deps } = npsDeps();
    const { telegramId, surveyId } = await surveyed(deps);
    const other = await surveyed(deps, { name: 'Eve' });
    const snapshot = () => db.prisma.survey.findMany({ orderBy: { id: 'asc' } });
    const before = await snapshot();

    expect(await answerSurvey(deps, { telegramId: other.telegramId, surveyId, score: 0 })).toEqual({ outcome: 'unknown' });
    expect(await answerSurvey(deps, { telegramId, surveyId, score: 11 })).toEqual({ outcome: 'invalid' });
    expect(await answerSurvey(deps, { telegramId, surveyId, score: -1 })).toEqual({ outcome: 'invalid' });
    expect(await answerSurvey(deps, { telegramId, surveyId: 999_999, score: 5 })).toEqual({ outcome: 'unknown' });
    expect(await answerSurvey(deps, { telegramId: 123_456_789, surveyId, score: 5 })).toEqual({ outcome: 'unknown' });
    expect(await snapshot()).toEqual(before);

    await answerSurvey(deps, { telegramId, surveyId, score: 2 });
    const answered = await snapshot();
    expect(await toggleSurveyReason(deps, { telegramId: other.telegramId, surveyId, code: 'queue' })).toEqual({ outcome: 'unknown' });
    expect(await toggleSurveyReason(deps, { telegramId, surveyId, code: 'bonuses' })).toEqual({ outcome: 'invalid' }); // a promoters' reason
    expect(await completeSurvey(deps, { telegramId: other.telegramId, surveyId, comment: 'forged' })).toEqual({ outcome: 'unknown' });
    expect(await answerSurvey(deps, { telegramId: other.telegramId, surveyId, score: 10 })).toEqual({ outcome: 'unknown' });
    expect(await snapshot()).toEqual(answered);
  });
});

describe('the follow-up and closing the loop', () => {
  it('keeps reasons and the comment, credits the reward once, and alerts the store’s cashiers once, in their language', async () => {
    const { deps, sent } = npsDeps({ rewardPoints: 20 });
    await cashier(800_001, 'msk-01', 'en');
    await cashier(800_002, 'msk-01', 'ru');
    await cashier(800_003, 'msk-02', 'en'); // another store: not told
    const revoked = await cashier(800_004, 'msk-01', 'en');
    await h.deps.repos.staff.revoke(revoked.telegramId, h.clock.now());
    const { customer, telegramId, surveyId } = await surveyed(deps, { name: 'Anna Petrova' });

    await answerSurvey(deps, { telegramId, surveyId, score: 3 });
    await toggleSurveyReason(deps, { telegramId, surveyId, code: 'queue' });
    await toggleSurveyReason(deps, { telegramId, surveyId, code: 'staff' });
    await toggleSurveyReason(deps, { telegramId, surveyId, code: 'staff' }); // taken back
    await toggleSurveyReason(deps, { telegramId, surveyId, code: 'stock' });
    const done = await completeSurvey(deps, { telegramId, surveyId, comment: '  The queue took 20 minutes  ' });
    expect(done).toMatchObject({
      outcome: 'completed',
      reward: 20,
      // Only a promoter is offered an invite link (with their opaque token, never the card code).
      referralToken: null,
      survey: { reasons: ['queue', 'stock'], comment: 'The queue took 20 minutes' },
    });

    const expected = {
      kind: 'npsAlert',
      surveyId,
      score: 3,
      reasons: ['queue', 'stock'],
      comment: 'The queue took 20 minutes',
      storeName: 'Tverskaya 1',
      memberName: 'Anna',
      memberCode: customer.code,
    };
    expect(alerts(sent)).toEqual([
      { memberId: null, chat: { chatId: 800_001, locale: 'en' }, notification: expected, dedupeKey: `nps-alert:${surveyId}:800001`, class: 'transactional' },
      { memberId: null, chat: { chatId: 800_002, locale: 'ru' }, notification: expected, dedupeKey: `nps-alert:${surveyId}:800002`, class: 'transactional' },
    ]);

    // Finishing again (a second «Done», a later comment) pays and alerts nothing more.
    expect(await completeSurvey(deps, { telegramId, surveyId, comment: null })).toMatchObject({ outcome: 'completed', reward: 0 });
    expect(await completeSurvey(deps, { telegramId, surveyId, comment: 'one more thing' })).toMatchObject({ outcome: 'completed', reward: 0 });
    h.clock.advance(2 * HOUR);
    expect(await dispatchNpsSurveys(deps)).toMatchObject({ closed: 1, finished: 0, alerts: 0 });
    expect(alerts(sent)).toHaveLength(2);
    const rewards = await db.prisma.ledgerEntry.findMany({ where: { memberId: customer.id, reason: 'nps' } });
    expect(rewards).toMatchObject([{ amount: 20, type: 'BONUS', idempotencyKey: surveyRewardKey(surveyId), storeId: (await h.store('msk-01')).id }]);
    expect(await db.prisma.survey.findUniqueOrThrow({ where: { id: surveyId } })).toMatchObject({ status: 'CLOSED', comment: 'one more thing' });
    expect(await ledgerViolations(db.prisma)).toEqual([]);
  });

  it('sends a detractor’s answer to the manager chat instead, when the program names one', async () => {
    const { deps, sent } = npsDeps({ managerChatId: -100_555, alertLocale: 'en' });
    await cashier(800_010);
    const { telegramId, surveyId } = await surveyed(deps);
    await answerSurvey(deps, { telegramId, surveyId, score: 0 });
    await completeSurvey(deps, { telegramId, surveyId, comment: null });
    expect(alerts(sent).map((s) => s.chat)).toEqual([{ chatId: -100_555, locale: 'en' }]);
  });

  it('finishes a follow-up the member walked away from when the window closes: reward and alert, once', async () => {
    const { deps, sent } = npsDeps({ rewardPoints: 15, changeWindowMinutes: 60 });
    const { customer, telegramId, surveyId } = await surveyed(deps, { storeCode: 'msk-02' });
    await answerSurvey(deps, { telegramId, surveyId, score: 6 });
    h.clock.advance(59 * MINUTE);
    expect(await dispatchNpsSurveys(deps)).toMatchObject({ closed: 0 });
    h.clock.advance(MINUTE);
    // No cashier at msk-02: the admins hear about it.
    expect(await dispatchNpsSurveys(deps)).toMatchObject({ closed: 1, finished: 1, alerts: 1 });
    expect(alerts(sent).map((s) => s.chat)).toEqual([{ chatId: ADMIN, locale: 'ru' }]);
    expect(await dispatchNpsSurveys(deps)).toMatchObject({ closed: 0, finished: 0, alerts: 0 });
    expect((await db.prisma.member.findUniqueOrThrow({ where: { id: customer.id } })).balance).toBe(15);
    expect(await completeSurvey(deps, { telegramId, surveyId, comment: 'too late' })).toEqual({ outcome: 'closed' });
  });

  it('lets a cashier of the store mark an alert handled once; other stores’ cashiers and customers may not', async () => {
    const { deps } = npsDeps();
    await cashier(800_020, 'msk-01');
    await cashier(800_021, 'msk-02');
    const { telegramId, surveyId } = await surveyed(deps);
    await answerSurvey(deps, { telegramId, surveyId, score: 1 });
    expect(await markAlertHandled(deps, 800_020, surveyId)).toEqual({ outcome: 'unknown' }); // not alerted yet
    await completeSurvey(deps, { telegramId, surveyId, comment: null });

    for (const outsider of [800_021, telegramId]) {
      const refused = await markAlertHandled(deps, outsider, surveyId).catch((error: unknown) => error);
      expect(isDomainError(refused, 'FORBIDDEN')).toBe(true);
    }
    expect(await markAlertHandled(deps, 800_020, surveyId)).toMatchObject({
      outcome: 'handled',
      handledBy: 800_020,
      handlerName: 'Cashier 800020',
      alert: { score: 1 },
    });
    h.clock.advance(MINUTE);
    expect(await markAlertHandled(deps, ADMIN, surveyId)).toMatchObject({
      outcome: 'already',
      handledBy: 800_020,
      handlerName: 'Cashier 800020',
      handledAt: new Date('2026-11-23T09:00:00Z'),
    });
  });
});

describe('the numbers', () => {
  it('counts surveys sent in the period: overall, per store, per week, with the reasons', async () => {
    const { deps } = npsDeps();
    const answer = async (storeCode: string, score: number | null, reasons: string[] = []) => {
      const { telegramId, surveyId } = await surveyed(deps, { storeCode });
      if (score === null) return;
      await answerSurvey(deps, { telegramId, surveyId, score });
      for (const code of reasons) await toggleSurveyReason(deps, { telegramId, surveyId, code });
    };
    const period = { from: '2026-11-16', to: '2026-11-29' };
    expect((await computeNpsReport(deps, period)).overall).toMatchObject({ sent: 0, answered: 0, nps: null, responseRate: null });

    // Week of 16 November: msk-01 one promoter, one unanswered.
    h.clock.set('2026-11-18T09:00:00Z');
    await answer('msk-01', 10, ['staff']);
    await answer('msk-01', null);
    // Week of 23 November: msk-01 a detractor; msk-02 a passive and a detractor.
    h.clock.set('2026-11-24T09:00:00Z');
    await answer('msk-01', 2, ['queue', 'staff']);
    await answer('msk-02', 8);
    await answer('msk-02', 0, ['queue']);
    // Outside the period.
    h.clock.set('2026-11-30T09:00:00Z');
    await answer('msk-02', 0, ['queue']);

    const report = await computeNpsReport(deps, period);
    expect(report.overall).toEqual({ sent: 5, answered: 4, responseRate: 80, promoters: 1, passives: 1, detractors: 2, nps: -25 });
    expect(report.stores.map((s) => [s.code, s.summary.nps, s.summary.answered, s.summary.sent])).toEqual([
      ['msk-01', 0, 2, 3],
      ['msk-02', -50, 2, 2],
    ]);
    expect(report.weeks.map((w) => [w.weekStart, w.summary.nps, w.summary.answered])).toEqual([
      ['2026-11-16', 100, 1],
      ['2026-11-23', -67, 3],
    ]);
    expect(report.reasons.map((r) => [r.group, r.code, r.count, r.title?.en])).toEqual([
      ['detractor', 'queue', 2, 'Long queues'],
      ['detractor', 'staff', 1, 'Unfriendly staff'],
      ['promoter', 'staff', 1, 'Friendly staff'],
    ]);

    const msk02 = await h.store('msk-02');
    const one = await computeNpsReport(deps, period, msk02.id);
    expect(one.store?.code).toBe('msk-02');
    expect(one.overall).toMatchObject({ sent: 2, answered: 2, nps: -50 });
  });
});

describe('campaigns: a marketer surveys a segment', () => {
  const MARKETER = 600;
  const by = { kind: 'staff' as const, telegramId: MARKETER, locale: 'en' as const };
  const recentBuyers = { lastPurchaseWithinDays: 30 };

  /** Five members who bought last week (one opted out, one blocked the bot, one surveyed yesterday) and one who never bought. */
  async function audience(deps: DomainDeps) {
    await h.deps.repos.staff.upsert({ telegramId: MARKETER, role: 'MARKETER', storeId: null, name: 'Mark' });
    const anna = await member();
    const boris = await member();
    const optedOut = await member({ notifications: false });
    const blocked = await member({ reachable: false });
    const recent = await member();
    const never = await member();
    for (const m of [anna, boris, optedOut, blocked, recent]) await purchase(m.id, new Date(h.clock.now().getTime() - 7 * DAY));
    // Surveyed yesterday about a purchase (the dispatch's own survey).
    h.clock.advance(-DAY);
    await purchase(recent.id, new Date(h.clock.now().getTime() - 2 * HOUR - MINUTE));
    await dispatchNpsSurveys(deps);
    h.clock.advance(DAY);
    expect(await surveysOf(recent.id)).toHaveLength(1);
    return { anna, boris, optedOut, blocked, recent, never };
  }

  it('asks each eligible member of the segment once, as the dispatch does; a rerun or a double tap creates nothing new', async () => {
    const { deps, sent } = npsDeps({ minDaysBetweenSurveys: 30 });
    const { anna, boris, recent, never } = await audience(deps);
    const dispatched = surveyMessages(sent).length;

    const counts = { already: 0, optedOut: 1, unreachable: 1, recentlySurveyed: 1 };
    expect(await previewSurveyCampaign(deps, by, { segment: recentBuyers, key: 'nov' })).toMatchObject({ skipped: null, surveyed: 2, ...counts });
    expect(await db.prisma.survey.count()).toBe(1);

    // A double tap: two runs at once, one campaign.
    const [first, second] = await Promise.all([
      sendSurveyCampaign(deps, by, { segment: recentBuyers, key: 'nov' }),
      sendSurveyCampaign(deps, by, { segment: recentBuyers, key: 'nov' }),
    ]);
    expect(first.surveyed + second.surveyed).toBe(2);
    expect(first.surveyed === 2 ? second : first).toMatchObject({ surveyed: 0, already: 2, optedOut: 1, unreachable: 1, recentlySurveyed: 1 });

    const campaign = await db.prisma.survey.findMany({ where: { trigger: 'campaign:nov' }, orderBy: { id: 'asc' } });
    expect(campaign.map((s) => [s.memberId, s.purchaseId, s.storeId, s.status])).toEqual([
      [anna.id, null, null, 'SENT'],
      [boris.id, null, null, 'SENT'],
    ]);
    expect(surveyMessages(sent).slice(dispatched)).toEqual(
      campaign.map((survey) => ({
        memberId: survey.memberId,
        chat: null,
        notification: { kind: 'npsSurvey', surveyId: survey.id, storeName: null },
        dedupeKey: `nps:${survey.id}`,
        class: 'reminder',
      })),
    );

    // Rerun later: nothing new; and the dispatch neither resends the messages nor asks those members about a purchase now.
    h.clock.advance(HOUR);
    expect(await sendSurveyCampaign(deps, by, { segment: recentBuyers, key: 'nov' })).toMatchObject({ surveyed: 0, already: 2 });
    await purchase(anna.id, h.clock.now());
    h.clock.advance(3 * HOUR);
    expect(await dispatchNpsSurveys(deps)).toMatchObject({ created: 0, queued: 0 });
    // Another campaign within minDaysBetweenSurveys asks nobody again.
    expect(await sendSurveyCampaign(deps, by, { segment: {}, key: 'dec' })).toMatchObject({ surveyed: 1, recentlySurveyed: 3, optedOut: 1, unreachable: 1 });
    expect((await surveysOf(never.id)).map((s) => s.trigger)).toEqual(['campaign:dec']);
    expect(await surveysOf(recent.id)).toHaveLength(1);
    expect(await db.prisma.delivery.count({ where: { dedupeKey: { startsWith: 'nps:' } } })).toBe(4);
  });

  it('is for marketers and admins only, validates the segment, and asks nobody when NPS is off', async () => {
    const { deps } = npsDeps();
    await audience(deps);
    const customer = await member();
    for (const telegramId of [customer.telegramId as number, 999_999]) {
      await expect(sendSurveyCampaign(deps, { ...by, telegramId }, { segment: {} })).rejects.toSatisfy((e) => isDomainError(e, 'FORBIDDEN'));
    }
    await expect(sendSurveyCampaign(deps, by, { segment: { tiers: ['platinum-x'] } })).rejects.toSatisfy((e) => isDomainError(e, 'SEGMENT_INVALID'));
    await expect(sendSurveyCampaign(deps, { kind: 'apiKey', apiKeyId: 1, storeId: 5 }, { segment: {} })).rejects.toSatisfy((e) =>
      isDomainError(e, 'FORBIDDEN'),
    );
    expect(await sendSurveyCampaign(npsDeps({ enabled: false }).deps, by, { segment: {} })).toMatchObject({ skipped: 'disabled', surveyed: 0 });
    expect(await sendSurveyCampaign(deps, { ...by, telegramId: ADMIN }, { segment: {}, key: 'by-admin' })).toMatchObject({ surveyed: 4 });
    expect(await db.prisma.survey.count({ where: { trigger: { startsWith: 'campaign:' } } })).toBe(4);
  });

  it('counts the answers to a campaign in the NPS report, as surveys with no store', async () => {
    const { deps } = npsDeps();
    const { anna, boris } = await audience(deps);
    await sendSurveyCampaign(deps, by, { segment: recentBuyers, key: 'nov' });
    const [annaSurvey] = await surveysOf(anna.id);
    const [borisSurvey] = await surveysOf(boris.id);
    expect(await answerSurvey(deps, { telegramId: anna.telegramId as number, surveyId: annaSurvey?.id as number, score: 10 })).toMatchObject({
      outcome: 'answered',
    });
    expect(await answerSurvey(deps, { telegramId: boris.telegramId as number, surveyId: borisSurvey?.id as number, score: 3 })).toMatchObject({
      outcome: 'answered',
    });
    const report = await computeNpsReport(deps, { from: '2026-11-16', to: '2026-11-29' });
    // Three surveys: the dispatch's (unanswered) and the campaign's two.
    expect(report.overall).toMatchObject({ sent: 3, answered: 2, promoters: 1, detractors: 1, nps: 0 });
    expect(report.stores.find((s) => s.code === null)?.summary).toMatchObject({ sent: 2, answered: 2, nps: 0 });
  });
});
