import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { issueSpendCode } from '../../src/domain/spending/spend-codes.js';
import { buttonData } from '../support/cashier.js';
import { expectNoViolations, inlineButtons } from '../support/conversation.js';
import { type ProgramScenario, startProgramScenario } from '../support/program-scenario.js';
import { plain } from '../support/till-scenario.js';

/**
 * programs/cashback.yaml: 3.5 % back in points worth 0.01 RUB each ("bonuses"), which pay up to
 * 30 % of a bill; the part paid with points earns nothing. Figures by hand in the comments.
 */

let s: ProgramScenario;
beforeAll(async () => {
  s = await startProgramScenario('cashback', '2026-06-15T09:00:00Z');
});
afterAll(async () => s?.stop());
afterEach(() => expectNoViolations(s.fake));

describe('Cashback Club (programs/cashback.yaml)', () => {
  it('pays 3.5 % back and lets bonuses pay up to 30 % of the next bill', async () => {
    const { user, memberId, code } = await s.customer(84_001, 'Ivan');
    // 1 000.00 RUB -> 35.00 RUB back = 3 500 bonuses.
    expect((await s.post('/v1/purchases', { memberCode: code, storeCode: 'msk-01', receiptNo: 'C-1', amountMinor: 100_000 })).body).toMatchObject({
      pointsEarned: 3500,
      balance: 3500,
    });
    // 123.45 RUB -> 4.32075 RUB -> 432 bonuses (rounded down): 3 932.
    expect((await s.post('/v1/purchases', { memberCode: code, storeCode: 'msk-01', receiptNo: 'C-2', amountMinor: 12_345 })).body).toMatchObject({
      pointsEarned: 432,
      balance: 3932,
    });
    // A 100.00 RUB bill: at most 30 % = 30.00 RUB = 3 000 bonuses; more is refused.
    const spendCode = async () => (await issueSpendCode(s.app.domain, memberId)).code;
    const over = await s.post('/v1/purchases', {
      memberCode: code,
      storeCode: 'msk-01',
      receiptNo: 'C-3',
      amountMinor: 10_000,
      pointsToSpend: 3001,
      spendCode: await spendCode(),
    });
    expect(over.status).toBe(422);
    // 3 000 bonuses pay 30.00; 70.00 paid in money earns 2.45 RUB = 245: 3 932 - 3 000 + 245 = 1 177.
    expect(
      (
        await s.post('/v1/purchases', {
          memberCode: code,
          storeCode: 'msk-01',
          receiptNo: 'C-3',
          amountMinor: 10_000,
          pointsToSpend: 3000,
          spendCode: await spendCode(),
        })
      ).body,
    ).toMatchObject({ pointsSpent: 3000, pointsEarned: 245, balance: 1177 });
    // The receipts arrive in the chat; the last one names the balance.
    await user.nextMessage((m) => /1,177 bonuses/.test(m.text ?? ''));
    const balance = await user.says('/balance');
    expect(balance.text).toContain('1,177 bonuses');
    expect(balance.text).not.toMatch(/\bpoints?\b/i);
  });

  it('a cashier books a sale paid partly with bonuses: Max is 30 % of the bill, the customer reads out their spend code', async () => {
    const { user, memberId, code } = await s.customer(84_002, 'Olga');
    // 1 000.00 RUB through the till first: 3 500 bonuses.
    await s.post('/v1/purchases', { memberCode: code, storeCode: 'msk-01', receiptNo: 'C-10', amountMinor: 100_000 });
    await user.nextMessage((m) => /3,500 bonuses/.test(m.text ?? ''));
    const carl = await s.cashier(84_100, 'Carl', 'msk-01');
    await carl.says('🧾 New purchase');
    await carl.says(code);
    await carl.says('100');
    // 30 % of 100.00 RUB = 30.00 RUB = 3 000 bonuses (the balance is 3 500).
    const points = await carl.says('C-11');
    expect(points.text).toContain('At most: 3,000 bonuses');
    expect(inlineButtons(points).map((b) => b.text)).toEqual(['No', 'Max (3000)', 'Cancel']);
    const ask = await carl.taps(inlineButtons(points)[1]?.data as string);
    expect(ask.text).toContain("Paying 3,000 bonuses needs the customer's consent");
    const confirm = await carl.says((await issueSpendCode(s.app.domain, memberId)).code);
    expect(confirm.text).toContain('Paid with bonuses: 3,000 bonuses');
    // 70.00 RUB in money; 3.5 % of it = 2.45 RUB = 245 bonuses.
    expect(plain(confirm)).toContain('To pay: RUB 70');
    expect(confirm.text).toContain('Bonuses to earn: 245 bonuses');
    expect(confirm.text).not.toMatch(/\bpoints?\b/i);
    const done = await carl.taps(buttonData(confirm, 'stf:ok:'));
    // 3 500 - 3 000 + 245.
    expect(done.text).toContain('Customer balance: 745 bonuses');
    expect((await user.nextMessage((m) => /Purchase at/.test(m.text ?? ''))).text).toContain('paid 3,000 bonuses, earned 245 bonuses');
  });
});
