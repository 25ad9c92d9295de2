import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audienceQuery } from '../../src/domain/broadcasts/segment.js';
import { dispatchNpsSurveys } from '../../src/domain/nps/dispatch.js';
import { recordPurchase } from '../../src/domain/purchases/record-purchase.js';
import { getLeaderboard, setLeaderboardProfile } from '../../src/domain/tasks/leaderboard.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { type DomainHarness, domainHarness } from '../support/domain.js';
import { programWithTasks } from '../support/program.js';

/**
 * One clock (DESIGN.md, principle 9): every timestamp a rule compares comes from the injected
 * clock, never from the database's `now()`. Each rule below reads rows written a moment earlier;
 * it finds them only if they were stamped with the injected time. The suite runs with the clock
 * years before and years after the wall clock (and so the database's), where any mix shows.
 */

const YEAR = 365 * 86_400_000;
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db?.drop());

let telegramId = 70_000;

describe.each([
  ['five years before the wall clock', -5 * YEAR],
  ['five years after the wall clock', 5 * YEAR],
])('with the clock %s', (_label, offset) => {
  let h: DomainHarness;
  beforeAll(async () => {
    // Noon UTC keeps the local (Moscow) day and month away from their edges.
    const start = new Date(Date.now() + offset);
    start.setUTCDate(15);
    start.setUTCHours(12, 0, 0, 0);
    h = await domainHarness(db, { program: programWithTasks(), start });
  });

  const purchase = async (memberId: number, amountMinor: number) => {
    const store = await h.store();
    const key = `one-clock-${memberId}-${amountMinor}-${h.clock.now().getTime()}`;
    return recordPurchase(h.deps, {
      memberId,
      storeId: store.id,
      receiptNo: key,
      amountMinor,
      pointsToSpend: 0,
      idempotencyKey: key,
      actor: { type: 'TILL', id: 'till' },
    });
  };

  it('a purchase counts towards the tier window it falls in', async () => {
    const member = await h.member(++telegramId);
    // 15 957.44 - 6 % = 15 000.00 paid: Silver's threshold.
    const result = await purchase(member.id, 1_595_744);
    expect(result.upgradedTo?.code).toBe('silver');
  });

  it('an NPS survey follows a purchase after the configured delay', async () => {
    const member = await h.member(++telegramId);
    await purchase(member.id, 10_000);
    h.clock.advance((h.deps.program.nps.delayMinutes + 1) * 60_000);
    await dispatchNpsSurveys(h.deps);
    expect(await db.prisma.survey.count({ where: { memberId: member.id } })).toBe(1);
  });

  it("the leaderboard counts this month's points", async () => {
    const member = await h.member(++telegramId, 120);
    await setLeaderboardProfile(h.deps, member.telegramId as number, { leaderboard: true, nameStyle: 'FIRST_NAME' });
    const board = await getLeaderboard(h.deps, member.telegramId as number);
    expect(board.own?.score).toBe(120);
  });

  it('a segment of recent buyers finds a purchase made today', async () => {
    const member = await h.member(++telegramId);
    await db.prisma.member.update({ where: { id: member.id }, data: { tier: 'platinum' } });
    await purchase(member.id, 10_000);
    const query = await audienceQuery(h.deps, { tiers: ['platinum'], lastPurchaseWithinDays: 1 }, { strict: true });
    expect(await h.deps.repos.broadcasts.audienceSize(query)).toMatchObject({ recipients: 1 });
  });

  it('the delivery sweep finds a message that waited a minute for the queue', async () => {
    const member = await h.member(++telegramId);
    const delivery = await h.deps.repos.deliveries.create({
      dedupeKey: `one-clock:${member.id}`,
      memberId: member.id,
      class: 'transactional',
      notification: { kind: 'pointsAdjusted', amount: 1, balance: 1 },
    });
    h.clock.advance(2 * 60_000);
    const stale = await h.deps.repos.deliveries.pendingBefore(new Date(h.clock.now().getTime() - 60_000), 1_000);
    expect(stale.map((d) => d.id)).toContain(delivery?.id);
  });
});
