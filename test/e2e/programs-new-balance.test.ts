import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectNoViolations, inlineButtons, replyKeyboard } from '../support/conversation.js';
import { plain, startTillScenario, type TillScenario } from '../support/till-scenario.js';

/**
 * programs/new-balance.yaml: discount levels of 6/9/12/15 % by the last 365 days' purchases, no
 * points, `downgrade: reevaluate`. Figures written out by hand; money in kopecks.
 */
let s: TillScenario;
beforeAll(async () => {
  s = await startTillScenario('new-balance.yaml');
});
afterAll(async () => s?.stop());
afterEach(() => expectNoViolations(s.fake));

describe('programs/new-balance.yaml', () => {
  it('quotes and books 6 %, lifts to 9 % at 15 000 paid, and a partial return moves the level back', async () => {
    expect(s.program.tiers.levels.map((level) => level.discountPercent)).toEqual([6, 9, 12, 15]);
    const { user: dina, code } = await s.customer('Dina');

    // 16 000 RUB of running shoes at Start: 6 % = 960 RUB off, 15 040 to pay.
    expect((await s.till('/v1/purchases/quote', { memberCode: code, amountMinor: 1_600_000 })).json).toMatchObject({
      tier: { code: 'start', discountPercent: 6 },
      discountMinor: 96_000,
      amountDueMinor: 1_504_000,
      maxPoints: 0,
      pointsToEarn: 0,
    });
    const shoes = await s.till('/v1/purchases', { memberCode: code, receiptNo: 'NB-1', amountMinor: 1_600_000 }, 'nb-1');
    // 15 040 paid >= 15 000: Run, 9 %, from the next purchase.
    expect(shoes).toMatchObject({
      status: 201,
      json: {
        discountPercent: 6,
        discountMinor: 96_000,
        amountDueMinor: 1_504_000,
        savingMinor: 96_000,
        pointsEarned: 0,
        tier: { code: 'run', discountPercent: 9 },
      },
    });
    // Both messages are queued by the purchase; they may arrive in either order.
    const sentToDina = (pattern: RegExp) => s.fake.waitFor(() => s.fake.messagesTo(dina.user.id).find((m) => pattern.test(m.text ?? '')));
    expect(plain(await sentToDina(/Purchase at/))).toBe('🧾 Purchase at New Balance Aviapark.\n💰 Your discount saved you RUB 960.');
    expect((await sentToDina(/tier/)).text).toBe('🏆 Congratulations! You have reached the Run tier: your discount is now 9%.');
    // A replay with another amount is refused; with the same, it answers the first figures.
    expect((await s.till('/v1/purchases', { memberCode: code, receiptNo: 'NB-1', amountMinor: 1_700_000 }, 'nb-1')).json).toMatchObject({
      code: 'IDEMPOTENCY_CONFLICT',
    });
    expect((await s.till('/v1/purchases', { memberCode: code, receiptNo: 'NB-1', amountMinor: 1_600_000 }, 'nb-1')).json).toMatchObject({
      discountMinor: 96_000,
      amountDueMinor: 1_504_000,
    });

    // One 1 000 RUB pair of socks back: 940 refunded (the paid share), 60 of the discount undone;
    // 15 040 - 940 = 14 100 left: back to Start under `reevaluate`.
    const back = await s.till('/v1/returns', { receiptNo: 'NB-1', amountMinor: 100_000 }, 'r-nb-1');
    expect(back).toMatchObject({ status: 201, json: { refundMinor: 94_000, discountMinor: 6000 } });
    expect((await s.till('/v1/returns', { receiptNo: 'NB-1', amountMinor: 1_500_001 }, 'r-nb-2')).json).toMatchObject({
      code: 'RETURN_EXCEEDS_PURCHASE',
    });
    expect((await s.till('/v1/purchases/quote', { memberCode: code, amountMinor: 100_000 })).json).toMatchObject({
      tier: { code: 'start', discountPercent: 6 },
      discountMinor: 6000,
    });

    // Saved so far: 960 - 60 = 900 RUB.
    s.fake.sendText(dina.user, '💰 Balance');
    const balance = await sentToDina(/^Tier:/);
    expect(plain(balance)).toContain('Tier: Start · discount 6%');
    expect(plain(balance)).toContain('Saved with the program: RUB 900');
    expect(balance.text).not.toMatch(/point/i);
    expect(replyKeyboard(balance)).not.toContain('📜 History');
    expect(replyKeyboard(balance)).not.toContain('🎁 Rewards');
  });

  it("books a cashier sale in the chat at the member's level", async () => {
    const { user: egor, code, memberId } = await s.customer('Egor');
    const carl = await s.cashier('Carl', 'nb-02');
    await carl.says('🧾 New purchase');
    await carl.says(code);
    await carl.says('2000');
    const confirm = await carl.says('K-1');
    const ok = inlineButtons(confirm).find((b) => b.data?.startsWith('stf:ok:'))?.data as string;
    expect(plain(await carl.taps(ok))).toContain('Purchase recorded: RUB 2,000, receipt K-1');
    // 6 % of 2 000 RUB.
    expect(plain(await egor.nextMessage((m) => /Purchase at/.test(m.text ?? '')))).toBe(
      '🧾 Purchase at New Balance Arbat.\n💰 Your discount saved you RUB 120.',
    );
    expect(await s.db.prisma.purchase.findFirstOrThrow({ where: { memberId } })).toMatchObject({
      tierCode: 'start',
      discountMinor: 12_000n,
      paidMinor: 188_000n,
    });
  });
});
