import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buttonData } from '../support/cashier.js';
import { expectNoViolations, inlineButtons, replyKeyboard } from '../support/conversation.js';
import { plain, startTillScenario, type TillScenario } from '../support/till-scenario.js';

/**
 * programs/briju.yaml: a jewellery chain's discount card without points (5/10/15/20 % by the
 * lifetime total, `downgrade: never`). Figures written out by hand; money in kopecks.
 */
let s: TillScenario;
beforeAll(async () => {
  s = await startTillScenario('briju.yaml');
});
afterAll(async () => s?.stop());
afterEach(() => expectNoViolations(s.fake));

describe('programs/briju.yaml', () => {
  it('is a discount-only program: the till gets 5 % off, Silver at 30 000, a returned ring takes Silver back', async () => {
    expect(s.program.points.enabled).toBe(false);
    const { user: anna, code } = await s.customer('Anna');

    // A 20 000 RUB ring at Welcome: 5 % = 1 000 RUB off, 19 000 to pay, no points anywhere.
    const quote = await s.till('/v1/purchases/quote', { memberCode: code, amountMinor: 2_000_000 });
    expect(quote).toEqual({
      status: 200,
      json: {
        memberCode: code,
        tier: { code: 'welcome', discountPercent: 5 },
        discountMinor: 100_000,
        netMinor: 1_900_000,
        maxPoints: 0,
        pointsToSpend: 0,
        pointsValueMinor: 0,
        amountDueMinor: 1_900_000,
        savingMinor: 100_000,
        pointsToEarn: 0,
        balance: 0,
      },
    });
    // Paying with points is not a thing here.
    expect((await s.till('/v1/purchases/quote', { memberCode: code, amountMinor: 2_000_000, pointsToSpend: 1 })).json).toMatchObject({
      code: 'POINTS_OVER_CAP',
      details: { max: 0 },
    });

    const ring = await s.till('/v1/purchases', { memberCode: code, receiptNo: 'B-1', amountMinor: 2_000_000 }, 'b-1');
    expect(ring).toMatchObject({ status: 201, json: { pointsEarned: 0, discountMinor: 100_000, amountDueMinor: 1_900_000, savingMinor: 100_000 } });
    const told = await anna.nextMessage((m) => /Purchase at/.test(m.text ?? ''));
    expect(plain(told)).toBe('🧾 Purchase at Briju Tverskaya.\n💰 Your discount saved you RUB 1,000.');

    // 12 000 RUB earrings: 600 off, 11 400 paid; 19 000 + 11 400 = 30 400 >= 30 000: Silver.
    const earrings = await s.till('/v1/purchases', { memberCode: code, receiptNo: 'B-2', amountMinor: 1_200_000 }, 'b-2');
    expect(earrings.json).toMatchObject({
      discountPercent: 5,
      discountMinor: 60_000,
      amountDueMinor: 1_140_000,
      tier: { code: 'silver', discountPercent: 10 },
    });
    const silver = await anna.nextMessage((m) => /tier/.test(m.text ?? ''));
    expect(silver.text).toBe('🏆 Congratulations! You have reached the Silver tier: your discount is now 10%.');
    expect((await s.till('/v1/purchases/quote', { memberCode: code, amountMinor: 1_000_000 })).json).toMatchObject({
      tier: { code: 'silver', discountPercent: 10 },
      discountMinor: 100_000,
    });

    // The earrings come back: 11 400 RUB refunded, and Silver, bought with them, is gone.
    const back = await s.till('/v1/returns', { receiptNo: 'B-2' }, 'r-b-2');
    expect(back).toMatchObject({ status: 201, json: { refundMinor: 1_140_000, discountMinor: 60_000, pointsReversed: 0, pointsRefunded: 0 } });
    expect((await anna.nextMessage((m) => /Return at/.test(m.text ?? ''))).text).toBe('↩️ Return at Briju Tverskaya recorded.');
    expect((await s.till('/v1/purchases/quote', { memberCode: code, amountMinor: 1_000_000 })).json).toMatchObject({
      tier: { code: 'welcome', discountPercent: 5 },
    });

    // The balance screen: the level and what the program saved, no points, no History or Rewards.
    const balance = await anna.says('💰 Balance');
    expect(plain(balance)).toContain('Tier: Welcome · discount 5%');
    expect(plain(balance)).toContain('Saved with the program: RUB 1,000');
    expect(balance.text).not.toMatch(/point/i);
    expect(replyKeyboard(balance)).toEqual(['💰 Balance', '💳 Member card', '🎯 Tasks', '⚙️ Settings', '❓ Help']);
  });

  it('books a cashier sale in the chat with the discount and tells the customer what it saved', async () => {
    const { user: boris, code, memberId } = await s.customer('Boris');
    const carl = await s.cashier('Carl', 'br-02');
    await carl.says('🧾 New purchase');
    await carl.says(code);
    await carl.says('5000');
    // No points to pay with: the dialog goes straight to the confirmation.
    const confirm = await carl.says('C-1');
    const ok = inlineButtons(confirm).find((b) => b.data?.startsWith('stf:ok:'))?.data as string;
    expect(plain(await carl.taps(ok))).toContain('Purchase recorded: RUB 5,000, receipt C-1');
    // 5 % of 5 000 RUB.
    expect(plain(await boris.nextMessage((m) => /Purchase at/.test(m.text ?? '')))).toBe('🧾 Purchase at Briju Mega.\n💰 Your discount saved you RUB 250.');
    const row = await s.db.prisma.purchase.findFirstOrThrow({ where: { memberId } });
    expect(row).toMatchObject({ tierCode: 'welcome', discountMinor: 25_000n, paidMinor: 475_000n, pointsEarned: 0 });
  });

  it('shows the discount and the money due, never a point, in the purchase and the return', async () => {
    const { user: dina, code, memberId } = await s.customer('Dina');
    const carl = await s.cashier('Carl', 'br-01');
    await carl.says('🧾 New purchase');
    const found = await carl.says(code);
    expect(found.text).toContain('Tier: Welcome · discount 5%');
    expect(found.text).not.toMatch(/point|balance/i);
    await carl.says('8000');
    // No points step: the receipt leads straight to the confirmation.
    const confirm = await carl.says('BR-1');
    expect(inlineButtons(confirm).map((b) => b.text)).toEqual(['✅ Confirm', 'Cancel']);
    // 5 % of RUB 8,000 = 400 off, 7,600 to pay.
    expect(plain(confirm)).toContain('Amount: RUB 8,000');
    expect(plain(confirm)).toContain('Discount 5% (Welcome): −RUB 400');
    expect(plain(confirm)).toContain('To pay: RUB 7,600, saved RUB 400');
    expect(confirm.text).not.toMatch(/point|earn/i);
    const done = await carl.taps(buttonData(confirm, 'stf:ok:'));
    expect(plain(done)).toContain('Purchase recorded: RUB 8,000, receipt BR-1.');
    expect(plain(done)).toContain('To pay: RUB 7,600, saved RUB 400');
    expect(done.text).not.toMatch(/point|balance/i);
    expect(plain(await dina.nextMessage((m) => /Purchase at/.test(m.text ?? '')))).toBe('🧾 Purchase at Briju Tverskaya.\n💰 Your discount saved you RUB 400.');
    expect(await s.db.prisma.purchase.findFirstOrThrow({ where: { memberId } })).toMatchObject({
      discountMinor: 40_000n,
      paidMinor: 760_000n,
      pointsEarned: 0,
    });

    // The whole ring comes back: the 7,600 paid in money is what the cashier hands back.
    await carl.says('↩️ Return');
    const shown = await carl.says('BR-1');
    const back = await carl.taps(buttonData(await carl.taps(buttonData(shown, 'stf:rfull:')), 'stf:ok:'));
    expect(plain(back)).toContain('Return recorded: RUB 8,000, receipt BR-1.');
    expect(plain(back)).toContain('Money to give back: RUB 7,600');
    expect(back.text).not.toMatch(/point|balance/i);
  });
});
