import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { formatCouponCode } from '../../src/domain/codes.js';
import { sellWithoutPoints } from '../support/cashier.js';
import { expectNoViolations } from '../support/conversation.js';
import { eventually } from '../support/eventually.js';
import { ledgerViolations } from '../support/ledger-invariants.js';
import { type ProgramScenario, startProgramScenario } from '../support/program-scenario.js';

/**
 * programs/nordstrom.yaml: 1.5 points per dollar, and every 2 000 points become a $20 Note by
 * themselves, issued by the events worker after the purchase commits. Figures by hand.
 */

let s: ProgramScenario;
beforeAll(async () => {
  s = await startProgramScenario('nordstrom', '2026-06-15T17:00:00Z');
});
afterAll(async () => s?.stop());
afterEach(() => expectNoViolations(s.fake));

const notesOf = (memberId: number) => s.db.prisma.coupon.findMany({ where: { memberId, reward: { code: 'note-20' } }, orderBy: { id: 'asc' } });
const balanceOf = async (memberId: number) => (await s.db.prisma.member.findUniqueOrThrow({ where: { id: memberId } })).balance;

describe('Nord Club (programs/nordstrom.yaml)', () => {
  it('earns 1.5 points per dollar and turns 2 000 points into a $20 Note by itself, with a message', async () => {
    const { user, memberId, code } = await s.customer(82_001, 'Nina');
    // $123.45 -> 185.175 -> 185 points.
    expect((await s.post('/v1/purchases', { memberCode: code, storeCode: 'sea-flagship', receiptNo: 'N-1', amountMinor: 12_345 })).body).toMatchObject({
      pointsEarned: 185,
      balance: 185,
    });
    // $1 200.00 -> 1 800 points: 1 985, still below 2 000: no Note.
    await s.post('/v1/purchases', { memberCode: code, storeCode: 'sea-flagship', receiptNo: 'N-2', amountMinor: 120_000 });
    // $10.01 -> 15.015 -> 15 points: 2 000 exactly. The purchase answers 2 000; the Note follows.
    expect((await s.post('/v1/purchases', { memberCode: code, storeCode: 'sea-flagship', receiptNo: 'N-3', amountMinor: 1001 })).body).toMatchObject({
      pointsEarned: 15,
      balance: 2000,
    });
    const message = await user.nextMessage((m) => /became a coupon/.test(m.text ?? ''));
    const [note] = await notesOf(memberId);
    expect(note).toMatchObject({ cost: 2000, value: 2000, status: 'ISSUED' });
    expect(message.text).toContain('Your 2,000 points became a coupon: «A $20 Note»');
    expect(message.text).toContain(formatCouponCode(note?.code as string));
    expect(message.text).toContain('Balance: 0 points.');
    expect(await balanceOf(memberId)).toBe(0);
  });

  it('a cashier books a sale in the chat, and the points it crosses 2 000 with become a Note', async () => {
    const { user, memberId, code } = await s.customer(82_003, 'Pia');
    const carl = await s.cashier(82_100, 'Carl', 'sea-flagship');
    // $1 340.00 at Member: 1.5 points per dollar = 2 010 points; no tier discount, no paying with points.
    const { confirm, done } = await sellWithoutPoints(carl, code, '1340', 'N-C1');
    expect(confirm.text).not.toContain('Discount');
    expect(confirm.text).toContain('To pay: US$1,340');
    expect(confirm.text).toContain('Points to earn: 2,010 points');
    expect(done.text).toContain('Points earned: 2,010 points');
    // The balance when the purchase was booked; the Note follows it.
    expect(done.text).toContain('Customer balance: 2,010 points');
    const message = await user.nextMessage((m) => /became a coupon/.test(m.text ?? ''));
    expect(message.text).toContain('Your 2,000 points became a coupon: «A $20 Note»');
    expect(message.text).toContain('Balance: 10 points.');
    expect(await notesOf(memberId)).toHaveLength(1);
    expect(await balanceOf(memberId)).toBe(10);
  });

  it('attack: the till resends the crossing purchase and two purchases cross at once: one Note per 2 000 points', async () => {
    const { user, memberId, code } = await s.customer(82_002, 'Oleg');
    // $1 300.00 -> 1 950 points.
    await s.post('/v1/purchases', { memberCode: code, storeCode: 'sea-flagship', receiptNo: 'O-1', amountMinor: 130_000 });
    // Two purchases at once: $40.00 -> 60 and $20.00 -> 30: 2 040 in all, one crossing.
    const [a, b] = await Promise.all([
      s.post('/v1/purchases', { memberCode: code, storeCode: 'sea-flagship', receiptNo: 'O-2', amountMinor: 4000 }),
      s.post('/v1/purchases', { memberCode: code, storeCode: 'sea-flagship', receiptNo: 'O-3', amountMinor: 2000 }),
    ]);
    expect([a.status, b.status]).toEqual([201, 201]);
    // The crossing purchase resent (same store and receipt): a replay, no new event.
    expect((await s.post('/v1/purchases', { memberCode: code, storeCode: 'sea-flagship', receiptNo: 'O-2', amountMinor: 4000 })).status).toBe(200);
    await user.nextMessage((m) => /became a coupon/.test(m.text ?? ''));
    await eventually(async () => (await s.db.prisma.domainEvent.count({ where: { status: 'PENDING' } })) === 0, { what: 'every event processed' });
    expect(await notesOf(memberId)).toHaveLength(1);
    expect(await balanceOf(memberId)).toBe(40);
    expect(await ledgerViolations(s.db.prisma)).toEqual([]);
  });
});
