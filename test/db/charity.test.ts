import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { donatePoints } from '../../src/domain/charity/donate.js';
import { charityCsv, charityReport, charityTotals, monthRange, previousMonth, sendCharityReport } from '../../src/domain/charity/report.js';
import { type DomainError, isDomainError } from '../../src/domain/errors.js';
import { getHistory } from '../../src/domain/members/overview.js';
import { deleteMember, exportMemberData } from '../../src/domain/members/settings.js';
import type { ChatRecipient, DomainDeps, Notification, NotifyOptions } from '../../src/domain/ports.js';
import { charityProgram } from '../support/charity.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { type DomainHarness, domainHarness } from '../support/domain.js';
import { ledgerViolations } from '../support/ledger-invariants.js';
import { exampleProgram } from '../support/program.js';

/**
 * Donations of points on real PostgreSQL: the ledger debit, the Donation row and the event in
 * one transaction; refusals that change nothing; replays and conflicting replays; races for the
 * last points; totals, the monthly report and its CSV; export and erasure.
 */

const ADMIN = 9_000_001;

let db: TestDatabase;
let h: DomainHarness;
let deps: DomainDeps;
const chatMessages: { to: ChatRecipient; notification: Notification; options: NotifyOptions }[] = [];

beforeAll(async () => {
  db = await createTestDatabase({ poolSize: 12 });
  // 2026-11-10 12:00 Moscow.
  h = await domainHarness(db, { program: charityProgram(), admins: [ADMIN], start: new Date('2026-11-10T09:00:00Z') });
  deps = {
    ...h.deps,
    notifier: {
      ...h.deps.notifier,
      notifyChat: async (to, notification, options = {}) => void chatMessages.push({ to, notification, options }),
    },
  };
});
afterAll(async () => db?.drop());

async function refusal(work: Promise<unknown>): Promise<DomainError> {
  const error = await work.then(
    () => null,
    (caught: unknown) => caught,
  );
  if (!isDomainError(error)) throw new Error(`expected a domain error, got ${String(error)}`);
  return error;
}

const donationsOf = (memberId: number) => db.prisma.donation.findMany({ where: { memberId }, orderBy: { id: 'asc' } });
const balanceOf = async (memberId: number) => (await db.prisma.member.findUniqueOrThrow({ where: { id: memberId } })).balance;

describe('donating points', () => {
  it('posts a DONATION debit drawing the oldest lots, a Donation row worth points x pointValueMinor, and an event, together', async () => {
    const member = await h.member(50_001, 150);
    // A second, sooner-expiring lot: the donation draws it first, like a spend.
    await deps.repos.ledger.post({
      kind: 'credit',
      type: 'BONUS',
      memberId: member.id,
      amount: 100,
      idempotencyKey: `soon:${member.id}`,
      actor: { type: 'SYSTEM' },
      expiresAt: new Date('2026-12-01T00:00:00Z'),
    });
    const result = await donatePoints(deps, { memberId: member.id, causeCode: 'shelter', points: 200, idempotencyKey: 'tap-1' });

    expect(result).toMatchObject({ replayed: false, balance: 50, cause: { code: 'shelter' } });
    const [donation] = await donationsOf(member.id);
    expect(donation).toMatchObject({
      causeCode: 'shelter',
      points: 200,
      valueMinor: BigInt(200 * deps.program.points.pointValueMinor),
      createdAt: h.clock.now(),
    });
    const entry = await db.prisma.ledgerEntry.findUniqueOrThrow({
      where: { id: donation?.ledgerEntryId },
      include: { allocations: { include: { lot: true } } },
    });
    expect(entry).toMatchObject({ type: 'DONATION', amount: -200, balanceAfter: 50, reason: 'charity:shelter', actorType: 'MEMBER' });
    // Soonest expiry first (100 from the expiring lot), then the never-expiring one.
    expect(entry.allocations.map((allocation) => [allocation.amount, allocation.lot.expiresAt])).toEqual([
      [100, new Date('2026-12-01T00:00:00Z')],
      [100, null],
    ]);
    const event = await db.prisma.domainEvent.findFirst({ where: { id: `donation:${donation?.id}` } });
    expect(event).not.toBeNull();
    expect(await ledgerViolations(db.prisma)).toEqual([]);

    const history = await getHistory(deps, member, 0);
    expect(history.entries[0]).toMatchObject({ type: 'DONATION', amount: -200, reason: 'charity:shelter' });
  });

  it('refuses below the minimum, unknown, removed and closed causes, more than the balance and non-integers, writing nothing', async () => {
    const member = await h.member(50_002, 300);
    const attempt = (causeCode: string, points: number) =>
      refusal(donatePoints(deps, { memberId: member.id, causeCode, points, idempotencyKey: `r-${causeCode}-${points}` }));
    expect((await attempt('shelter', 99)).code).toBe('DONATION_TOO_SMALL');
    expect((await attempt('nope', 100)).code).toBe('CAUSE_NOT_FOUND');
    expect((await attempt('closed', 100)).code).toBe('CAUSE_NOT_FOUND');
    expect((await attempt('shelter', 301)).code).toBe('INSUFFICIENT_POINTS');
    expect((await attempt('shelter', 150.5)).code).toBe('AMOUNT_INVALID');
    expect((await attempt('shelter', -200)).code).toBe('AMOUNT_INVALID');
    expect((await attempt('shelter', Number.NaN)).code).toBe('AMOUNT_INVALID');

    // A cause taken out of the program file takes nothing, though it is still in the totals.
    const withoutTrees: DomainDeps = { ...deps, program: charityProgram((charity) => (charity.causes as { code: string }[]).splice(1, 1)) };
    expect((await refusal(donatePoints(withoutTrees, { memberId: member.id, causeCode: 'trees', points: 100, idempotencyKey: 'removed' }))).code).toBe(
      'CAUSE_NOT_FOUND',
    );

    expect(await donationsOf(member.id)).toEqual([]);
    expect(await balanceOf(member.id)).toBe(300);
    expect(await db.prisma.ledgerEntry.count({ where: { memberId: member.id, type: 'DONATION' } })).toBe(0);
  });

  it('a deleted member gives nothing', async () => {
    const member = await h.member(50_003, 300);
    await db.prisma.member.update({ where: { id: member.id }, data: { status: 'DELETED' } });
    expect((await refusal(donatePoints(deps, { memberId: member.id, causeCode: 'shelter', points: 100, idempotencyKey: 'gone' }))).code).toBe(
      'MEMBER_NOT_ACTIVE',
    );
    expect(await balanceOf(member.id)).toBe(300);
  });
});

describe('replays', () => {
  it('a double tap (same key, same donation) gives once and answers with the first donation', async () => {
    const member = await h.member(50_010, 500);
    const input = { memberId: member.id, causeCode: 'trees', points: 100, idempotencyKey: 'double' };
    const [first, second] = await Promise.all([donatePoints(deps, input), donatePoints(deps, input)]);
    const third = await donatePoints(deps, input);
    expect([first.replayed, second.replayed].sort()).toEqual([false, true]);
    expect(third).toMatchObject({ replayed: true, balance: 400 });
    expect(third.donation.id).toBe(first.donation.id);
    expect(await donationsOf(member.id)).toHaveLength(1);
    expect(await balanceOf(member.id)).toBe(400);
  });

  it('the same key with another amount or another cause is a conflict and writes nothing', async () => {
    const member = await h.member(50_011, 500);
    await donatePoints(deps, { memberId: member.id, causeCode: 'trees', points: 100, idempotencyKey: 'k' });
    expect((await refusal(donatePoints(deps, { memberId: member.id, causeCode: 'trees', points: 400, idempotencyKey: 'k' }))).code).toBe(
      'IDEMPOTENCY_CONFLICT',
    );
    expect((await refusal(donatePoints(deps, { memberId: member.id, causeCode: 'shelter', points: 100, idempotencyKey: 'k' }))).code).toBe(
      'IDEMPOTENCY_CONFLICT',
    );
    expect(await donationsOf(member.id)).toHaveLength(1);
    expect(await balanceOf(member.id)).toBe(400);
  });

  it("one member's key neither replays nor blocks another member's donation", async () => {
    const a = await h.member(50_012, 200);
    const b = await h.member(50_013, 200);
    await donatePoints(deps, { memberId: a.id, causeCode: 'trees', points: 100, idempotencyKey: 'shared' });
    const theirs = await donatePoints(deps, { memberId: b.id, causeCode: 'trees', points: 200, idempotencyKey: 'shared' });
    expect(theirs.replayed).toBe(false);
    expect([await balanceOf(a.id), await balanceOf(b.id)]).toEqual([100, 0]);
  });
});

describe('races for the last points', () => {
  it('two donations racing for the last points: one wins, the balance never goes negative', async () => {
    const member = await h.member(50_020, 150);
    const results = await Promise.allSettled([
      donatePoints(deps, { memberId: member.id, causeCode: 'shelter', points: 100, idempotencyKey: 'race-a' }),
      donatePoints(deps, { memberId: member.id, causeCode: 'trees', points: 100, idempotencyKey: 'race-b' }),
    ]);
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    const failed = results.find((result) => result.status === 'rejected');
    expect(isDomainError(failed?.reason, 'INSUFFICIENT_POINTS')).toBe(true);
    expect(await balanceOf(member.id)).toBe(50);
    expect(await donationsOf(member.id)).toHaveLength(1);
  });

  it('twenty concurrent donations of 100 on a balance of 250: exactly two are given, and the ledger holds', async () => {
    const member = await h.member(50_021, 250);
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        donatePoints(deps, { memberId: member.id, causeCode: i % 2 ? 'shelter' : 'trees', points: 100, idempotencyKey: `many-${i}` }),
      ),
    );
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(2);
    for (const result of results) if (result.status === 'rejected') expect(isDomainError(result.reason, 'INSUFFICIENT_POINTS')).toBe(true);
    expect(await balanceOf(member.id)).toBe(50);
    expect(await donationsOf(member.id)).toHaveLength(2);
    expect(await ledgerViolations(db.prisma)).toEqual([]);
  });
});

describe('totals and the monthly report', () => {
  it('sums per cause and overall, with distinct donors, for all time and for a month in the program time zone', async () => {
    // A fresh database state is shared with the tests above: compare differences.
    const before = await charityTotals(deps);
    const a = await h.member(50_030, 1_000);
    const b = await h.member(50_031, 1_000);
    // 2026-11-30 23:30 Moscow is still November there (20:30 UTC).
    h.clock.set(new Date('2026-11-30T20:30:00Z'));
    await donatePoints(deps, { memberId: a.id, causeCode: 'shelter', points: 100, idempotencyKey: 'nov-a1' });
    await donatePoints(deps, { memberId: a.id, causeCode: 'trees', points: 200, idempotencyKey: 'nov-a2' });
    await donatePoints(deps, { memberId: b.id, causeCode: 'shelter', points: 300, idempotencyKey: 'nov-b1' });
    // 2026-12-01 00:30 Moscow: December.
    h.clock.set(new Date('2026-11-30T21:30:00Z'));
    await donatePoints(deps, { memberId: b.id, causeCode: 'trees', points: 100, idempotencyKey: 'dec-b1' });

    const after = await charityTotals(deps);
    expect(after.overall.points - before.overall.points).toBe(700);
    expect(after.overall.valueMinor - before.overall.valueMinor).toBe(700 * deps.program.points.pointValueMinor);
    const shelter = (totals: typeof after) => totals.causes.find((cause) => cause.causeCode === 'shelter')?.points ?? 0;
    expect(shelter(after) - shelter(before)).toBe(400);

    const { from, to } = monthRange('2026-12', 'Europe/Moscow');
    expect([from.toISOString(), to.toISOString()]).toEqual(['2026-11-30T21:00:00.000Z', '2026-12-31T21:00:00.000Z']);
    const december = await charityReport(deps, '2026-12');
    expect(december.causes).toEqual([{ causeCode: 'trees', points: 100, valueMinor: 100 * deps.program.points.pointValueMinor, donors: 1, donations: 1 }]);
    expect(december.overall).toMatchObject({ points: 100, donors: 1, donations: 1 });

    const november = await charityReport(deps, '2026-11');
    const novemberShelter = november.causes.find((cause) => cause.causeCode === 'shelter');
    // Every shelter donation of this file was made in November (December's went to trees).
    expect(novemberShelter?.points).toBe(shelter(after));
    // Donors overall are distinct members, not the sum of each cause's donors.
    const perCauseDonors = november.causes.reduce((sum, cause) => sum + cause.donors, 0);
    expect(november.overall.donors).toBeLessThan(perCauseDonors);

    const csv = charityCsv(deps.program, november);
    const lines = csv.trimEnd().split('\r\n');
    expect(lines[0]).toBe('month,cause_code,cause_name,url,points,amount,currency,donors,donations');
    expect(lines).toContain(
      `2026-11,shelter,Animal shelter,https://example.org/shelter,${novemberShelter?.points},${((novemberShelter?.valueMinor ?? 0) / 100).toFixed(2)},RUB,${novemberShelter?.donors},${novemberShelter?.donations}`,
    );
  });

  it('the monthly job sends each admin last month once, however often it runs', async () => {
    h.clock.set(new Date('2026-12-01T06:00:00Z'));
    expect(previousMonth(h.clock.now(), deps.program.timezone)).toBe('2026-11');
    const first = await sendCharityReport(deps);
    expect(first).toMatchObject({ month: '2026-11', skipped: null, admins: 1 });
    const sent = chatMessages.at(-1);
    expect(sent?.to.chatId).toBe(ADMIN);
    expect(sent?.options.dedupeKey).toBe(`charity-report:2026-11:${ADMIN}`);
    expect(sent?.notification).toMatchObject({ kind: 'charityReport', month: '2026-11' });
    // A rerun hands the same dedupe key to the notifier: the delivery outbox keeps one message.
    await sendCharityReport(deps);
    expect(chatMessages.at(-1)?.options.dedupeKey).toBe(`charity-report:2026-11:${ADMIN}`);

    const noCharity: DomainDeps = { ...deps, program: exampleProgram() };
    expect(await sendCharityReport(noCharity)).toMatchObject({ skipped: 'disabled', admins: 0 });
  });
});

describe("the member's data", () => {
  it('the export lists the donations; erasure keeps the totals and leaves no person behind them', async () => {
    h.clock.set(new Date('2026-12-02T09:00:00Z'));
    const member = await h.member(50_040, 500);
    await db.prisma.member.update({ where: { id: member.id }, data: { name: 'Vera Giver', phone: '+79990005566' } });
    await donatePoints(deps, { memberId: member.id, causeCode: 'shelter', points: 200, idempotencyKey: 'gift' });

    const data = await exportMemberData(deps, 50_040);
    expect(data.donations).toEqual([
      {
        at: '2026-12-02T09:00:00.000Z',
        cause: 'Animal shelter',
        causeCode: 'shelter',
        points: 200,
        currency: 'RUB',
        amount: ((200 * deps.program.points.pointValueMinor) / 100).toFixed(2),
      },
    ]);

    const before = await charityTotals(deps);
    await deleteMember(deps, 50_040);
    const after = await charityTotals(deps);
    expect(after).toEqual(before);
    const [donation] = await donationsOf(member.id);
    expect(donation).toMatchObject({ points: 200, causeCode: 'shelter' });
    // The row points at the erased member: no name, phone or Telegram id left to find.
    expect(await db.prisma.member.findUniqueOrThrow({ where: { id: member.id } })).toMatchObject({
      status: 'DELETED',
      telegramId: null,
      name: null,
      phone: null,
    });
    expect(await ledgerViolations(db.prisma)).toEqual([]);
  });
});
