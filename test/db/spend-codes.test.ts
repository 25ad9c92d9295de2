import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDomainError } from '../../src/domain/errors.js';
import { recordPurchase } from '../../src/domain/purchases/record-purchase.js';
import { afterFailure, waitSeconds } from '../../src/domain/rewards/lookup-throttle.js';
import type { ThrottleState } from '../../src/domain/rewards/types.js';
import { issueSpendCode, SPEND_CODE_POLICY, spendCodeCheck, spendThrottleKey } from '../../src/domain/spending/spend-codes.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { type DomainHarness, domainHarness } from '../support/domain.js';

// The attacker review's finding: wrong spend codes were counted after the compare, so guesses
// sent at once all saw "fewer than 5 wrong" and were all compared. These run the real purchase
// path on real PostgreSQL, with as many connections as guesses in flight.
let db: TestDatabase;
let h: DomainHarness;
let nextUser = 7_000;
const till = { type: 'TILL' as const, id: 'till-guess' };

beforeAll(async () => {
  db = await createTestDatabase({ poolSize: 24 });
  h = await domainHarness(db);
});
afterAll(async () => db?.drop());

/** The error code a purchase ends with ('OK' when it was recorded). */
async function outcomeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'OK';
  } catch (error) {
    if (!isDomainError(error)) throw error;
    return error.code;
  }
}

const otherThan = (code: string, i: number) => String((Number(code) + 1 + i) % 1_000_000).padStart(6, '0');

async function memberWithStore(points: number) {
  const member = await h.member(nextUser++, points);
  const store = await h.store();
  let receipt = 0;
  /** A purchase paying 10 points with `spendCode`, on a receipt of its own. */
  const pay = (spendCode: string) => {
    receipt++;
    return recordPurchase(h.deps, {
      memberId: member.id,
      storeId: store.id,
      receiptNo: `G-${member.id}-${receipt}`,
      amountMinor: 10_000,
      pointsToSpend: 10,
      idempotencyKey: `guess-${member.id}-${receipt}`,
      actor: till,
      spendProof: { kind: 'code', code: spendCode },
    });
  };
  return { member, pay };
}

const throttleOf = (memberId: number) => db.prisma.lookupThrottle.findUnique({ where: { key: spendThrottleKey(memberId) } });
const balanceOf = async (memberId: number) => (await h.deps.repos.members.findById(memberId))?.balance;

describe('spend code guessing', () => {
  it('answers at most 5 of 50 concurrent wrong guesses; the rest, and the right code, meet the lock', async () => {
    const { member, pay } = await memberWithStore(1_000);
    const { code: right } = await issueSpendCode(h.deps, member.id);
    const guesses = Array.from({ length: 50 }, (_, i) => otherThan(right, i));
    // The right code rides in the middle of the flood (as the member's own till would).
    guesses.splice(25, 0, right);

    const outcomes = await Promise.all(guesses.map((guess) => outcomeOf(pay(guess))));
    const wrongAnswers = outcomes.filter((o, i) => o === 'SPEND_CODE_INVALID' && guesses[i] !== right);
    expect(wrongAnswers.length).toBeLessThanOrEqual(SPEND_CODE_POLICY.maxFailures);
    // No wrong guess was ever let through, and every other guess was refused unanswered.
    for (const [i, outcome] of outcomes.entries()) {
      if (guesses[i] === right) expect(['OK', 'SPENDING_LOCKED']).toContain(outcome);
      else expect(['SPEND_CODE_INVALID', 'SPENDING_LOCKED']).toContain(outcome);
    }
    const paid = outcomes[25] === 'OK' ? 10 : 0;
    expect(await balanceOf(member.id)).toBe(1_000 - paid + (await earnedBy(member.id)));
    // Exactly the answered wrong guesses are counted, and they locked the member.
    const throttle = await throttleOf(member.id);
    expect(throttle?.failures).toBe(wrongAnswers.length);
    expect(wrongAnswers.length).toBe(SPEND_CODE_POLICY.maxFailures);
    expect(throttle?.blockedUntil?.getTime()).toBe(h.clock.now().getTime() + SPEND_CODE_POLICY.blockMs);
    expect(await db.prisma.auditLog.count({ where: { subject: `member:${member.id}`, action: { startsWith: 'spend_code.' } } })).toBe(wrongAnswers.length);

    // Locked: even a fresh right code is refused, and not counted.
    expect(await outcomeOf(pay((await issueSpendCode(h.deps, member.id)).code))).toBe('SPENDING_LOCKED');
    expect((await throttleOf(member.id))?.failures).toBe(SPEND_CODE_POLICY.maxFailures);

    // When the lock is over, the member's code works again.
    h.clock.advance(SPEND_CODE_POLICY.blockMs + 1);
    expect(await outcomeOf(pay((await issueSpendCode(h.deps, member.id)).code))).toBe('OK');
  });

  it('lets the right code pay at once when not locked, without counting it, and counts a wrong one', async () => {
    const { member, pay } = await memberWithStore(1_000);
    expect(await outcomeOf(pay((await issueSpendCode(h.deps, member.id)).code))).toBe('OK');
    // Not even an empty guessing-lock row: a right code writes nothing before the purchase does
    // (the till's snapshot stays a read-only transaction, with no WAL flush of its own).
    expect(await throttleOf(member.id)).toBeNull();

    const { code } = await issueSpendCode(h.deps, member.id);
    expect(await outcomeOf(pay(otherThan(code, 0)))).toBe('SPEND_CODE_INVALID');
    expect(await outcomeOf(pay('12-34'))).toBe('SPEND_CODE_INVALID');
    expect((await throttleOf(member.id))?.failures).toBe(2);
    // Two wrong codes leave three tries; the right one still pays, and is then used up.
    expect(await outcomeOf(pay(code))).toBe('OK');
    expect(await outcomeOf(pay(code))).toBe('SPEND_CODE_INVALID');
    expect((await throttleOf(member.id))?.failures).toBe(3);
  });

  it('counts in the database exactly as afterFailure says (windows, the lock and its end)', async () => {
    const member = await h.member(nextUser++, 0);
    const start = h.clock.now().getTime();
    // Minutes from the start of each wrong guess: a window running out, five in a row, a guess
    // during the lock, and the first after it.
    const minutes = [0, 1, 2, 12, 13, 14, 15, 16, 20, 31, 32];
    let expected: ThrottleState | null = null;
    const outcomes: string[] = [];
    for (const minute of minutes) {
      const now = new Date(start + minute * 60_000);
      const attempt = await h.deps.repos.spendCodes.attempt(member.id, spendCodeCheck(h.deps, '000000', now));
      outcomes.push(attempt.outcome);
      if (waitSeconds(expected, now) > 0) {
        expect(attempt, `minute ${minute}`).toEqual({ outcome: 'locked', blockedUntil: expected?.blockedUntil });
        continue;
      }
      expected = afterFailure(expected, now, SPEND_CODE_POLICY);
      expect(attempt, `minute ${minute}`).toEqual({ outcome: 'wrong', throttle: expected });
    }
    // The walk went through a lock (the fifth wrong code of the second window) and out of it.
    expect(outcomes).toEqual([...Array(8).fill('wrong'), 'locked', 'wrong', 'wrong']);
  });
});

/** Points the member earned by purchases so far (paying with points still earns on the money part). */
async function earnedBy(memberId: number): Promise<number> {
  const earned = await db.prisma.ledgerEntry.aggregate({ where: { memberId, type: 'EARN' }, _sum: { amount: true } });
  return earned._sum.amount ?? 0;
}
