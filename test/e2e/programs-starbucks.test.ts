import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sendBirthdayGreetings } from '../../src/domain/jobs/birthday-greetings.js';
import { sellWithoutPoints } from '../support/cashier.js';
import { Conversation, expectNoViolations } from '../support/conversation.js';
import { type ProgramScenario, startProgramScenario } from '../support/program-scenario.js';

/**
 * programs/starbucks.yaml: stars instead of points, tiers by stars earned (Gold at 300, 1.25
 * stars per dollar), a free-drink coupon on the birthday. Figures by hand in the comments.
 */

let s: ProgramScenario;
beforeAll(async () => {
  // 10:00 in Los Angeles (PDT, UTC-7) on 15 June 2026.
  s = await startProgramScenario('starbucks', '2026-06-15T17:00:00Z');
});
afterAll(async () => s?.stop());
afterEach(() => expectNoViolations(s.fake));

describe('Coffee Stars (programs/starbucks.yaml)', () => {
  it('earns stars, reaches Gold by stars, earns the Gold rate, and every screen says "stars"', async () => {
    const { user, code } = await s.customer(81_001, 'Anna');
    // $12.50 -> 12 stars (1 per whole dollar).
    const first = await s.post('/v1/purchases', { memberCode: code, storeCode: 'sea-01', receiptNo: 'SB-1', amountMinor: 1250 });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ pointsEarned: 12, balance: 12 });
    expect((await user.nextMessage((m) => /12 stars/.test(m.text ?? ''))).text).not.toMatch(/points?\b/);
    const balance = await user.says('/balance');
    expect(balance.text).toContain('12 stars');
    expect(balance.text).toContain('Green');

    // $300.00 -> 300 stars: 312 earned in the window, Gold from 300.
    expect((await s.post('/v1/purchases', { memberCode: code, storeCode: 'sea-01', receiptNo: 'SB-2', amountMinor: 30_000 })).body).toMatchObject({
      pointsEarned: 300,
      balance: 312,
    });
    // $10.00 at Gold's 1.25 stars per dollar: 12.5 -> 12 stars; 324.
    expect((await s.post('/v1/purchases', { memberCode: code, storeCode: 'sea-01', receiptNo: 'SB-3', amountMinor: 1000 })).body).toMatchObject({
      pointsEarned: 12,
      balance: 324,
    });
    // The receipts of SB-2 and SB-3 (and a tier-up notice) arrive from the outbox in their own
    // time: read the Balance screen where it arrives, not whichever message comes next.
    s.fake.sendText(user.user, '/balance');
    const gold = await user.nextMessage((m) => (m.text ?? '').includes('Tier:'));
    expect(gold.text).toContain('324 stars');
    expect(gold.text).toContain('Gold');

    s.fake.sendText(user.user, '/history');
    const history = await user.nextMessage((m) => (m.text ?? '').includes('Stars history'));
    expect(history.text).not.toMatch(/\bpoints?\b/i);
    s.fake.sendText(user.user, '/rewards');
    const rewards = await user.nextMessage((m) => (m.text ?? m.caption ?? '').includes('Rewards'));
    expect(rewards.text ?? rewards.caption ?? '').not.toMatch(/\bpoints?\b/i);
  });

  it('a cashier books a sale in the chat: stars on every line, no points', async () => {
    const { user, code } = await s.customer(81_005, 'Dana');
    const carl = await s.cashier(81_100, 'Carl', 'sea-01');
    // US$8.40 at Green: 8 stars (1 per whole dollar); no tier discount, stars do not pay bills.
    const { confirm, done } = await sellWithoutPoints(carl, code, '8.40', 'SB-C1');
    expect(confirm.text).not.toContain('Discount');
    expect(confirm.text).toContain('Paid with stars: 0 stars');
    expect(confirm.text).toContain('To pay: US$8.40');
    expect(confirm.text).toContain('Stars to earn: 8 stars');
    expect(done.text).toContain('Purchase recorded: US$8.40, receipt SB-C1.');
    expect(done.text).toContain('Stars earned: 8 stars');
    expect(done.text).toContain('Customer balance: 8 stars');
    for (const screen of [confirm, done]) expect(screen.text).not.toMatch(/\bpoints?\b/i);
    expect((await user.nextMessage((m) => /Purchase at/.test(m.text ?? ''))).text).toContain('+8 stars');
  });

  it('reads in Russian: 1 звезда, 2 звезды, 5 звёзд, 21 звезда on receipts, balance, history and rewards', async () => {
    const { user, memberId, code } = await s.customer(81_003, 'Vera');
    await s.db.prisma.member.update({ where: { id: memberId }, data: { locale: 'ru' } });
    // $1, $1, $3, $16 -> 1, 2, 5, 21 stars in all.
    const steps: [number, string, string][] = [
      [100, '+1 звезда', '1 звезда'],
      [100, '+1 звезда', '2 звезды'],
      [300, '+3 звезды', '5 звёзд'],
      [1600, '+16 звёзд', '21 звезда'],
    ];
    for (const [i, [amountMinor, earned, balance]] of steps.entries()) {
      await s.post('/v1/purchases', { memberCode: code, storeCode: 'sea-01', receiptNo: `V-${i}`, amountMinor });
      const receipt = await user.nextMessage((m) => (m.text ?? '').includes(`Баланс: ${balance}.`));
      expect(receipt.text).toContain(earned);
    }
    expect((await user.says('/balance')).text).toContain('21 звезда');
    const history = await user.says('/history');
    expect(history.text).toContain('История звёзд');
    expect(history.text).not.toMatch(/балл/);
    const rewards = await user.says('/rewards');
    expect(rewards.text).toContain('Ваш баланс: <b>21 звезда</b>'.replace(/<\/?b>/g, ''));
    expect(rewards.text).toContain('не хватает 4 звезды');
    expect(rewards.text).not.toMatch(/балл/);
  });

  it('promises the birthday drink when registration asks for the birthday', async () => {
    const user = new Conversation(s.fake, { id: 81_004, first_name: 'Gleb', language_code: 'en' });
    await user.says('/start');
    await user.taps('reg:lang:en');
    await user.taps('reg:consent:yes');
    await user.sharesContact('79120081004');
    const question = await user.says('Gleb');
    expect(question.text).toContain('When is your birthday?');
    expect(question.text).toContain('And a gift coupon: «A birthday drink on us».');
    expect((await user.says('Skip')).text).toContain('You are in, Gleb!');
  });

  it('gives the free-drink coupon on the birthday, once, and the greeting names it', async () => {
    const { user, memberId } = await s.customer(81_002, 'Boris');
    await s.db.prisma.member.update({ where: { id: memberId }, data: { birthday: new Date('1990-06-15T00:00:00Z') } });
    expect(await sendBirthdayGreetings(s.app.domain)).toMatchObject({ coupons: 1 });
    const greeting = await user.nextMessage((m) => /Happy birthday/.test(m.text ?? ''));
    expect(greeting.text).toContain('A birthday drink on us');
    const coupon = await s.db.prisma.coupon.findFirstOrThrow({ where: { memberId } });
    expect(greeting.text).toContain(`${coupon.code.slice(0, 4)}-${coupon.code.slice(4, 8)}-${coupon.code.slice(8)}`);
    expect(coupon).toMatchObject({ cost: 0, status: 'ISSUED' });
    // A rerun the same day issues nothing more.
    expect(await sendBirthdayGreetings(s.app.domain)).toMatchObject({ coupons: 0 });
    expect(await s.db.prisma.coupon.count({ where: { memberId } })).toBe(1);
    // The gift is not in the catalogue for stars.
    const rewards = await user.says('/rewards');
    expect(rewards.text ?? '').not.toContain('A birthday drink on us');
  });
});
