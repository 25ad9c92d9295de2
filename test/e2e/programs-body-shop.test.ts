import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { formatCouponCode } from '../../src/domain/codes.js';
import { sellWithoutPoints } from '../support/cashier.js';
import { Conversation, expectNoViolations, inlineButtons, labelled } from '../support/conversation.js';
import type { SentMessage } from '../support/fake-bot-api/server.js';
import { ADMIN_ID, type ProgramScenario, startProgramScenario } from '../support/program-scenario.js';
import { plain } from '../support/till-scenario.js';

/**
 * programs/body-shop.yaml: 1 point per pound, points for coupons; the £5 and £10 coupons are
 * online coupons (a code for the web shop's checkout, no QR), the tote bag is shown at the till.
 */

let s: ProgramScenario;
beforeAll(async () => {
  s = await startProgramScenario('body-shop', '2026-06-15T11:00:00Z');
});
afterAll(async () => s?.stop());
afterEach(() => expectNoViolations(s.fake));

const button = (message: SentMessage, prefix: string, label = '') => {
  const found = inlineButtons(message).find((b) => b.data?.startsWith(prefix) && b.text.includes(label));
  if (!found?.data) throw new Error(`no button ${prefix}… in ${JSON.stringify(inlineButtons(message))}`);
  return found.data;
};

async function take(user: Conversation, rewardCode: string): Promise<SentMessage> {
  const catalogue = await user.says('/rewards');
  // The catalogue is a menu: a reward's button is found by its title.
  const { title } = await s.db.prisma.reward.findUniqueOrThrow({ where: { code: rewardCode } });
  const card = await user.taps(button(catalogue, 'rw/', ` ${(title as Record<string, string>).en} · `));
  const confirm = await user.taps(button(card, 'rw:t:'));
  return user.taps(labelled(confirm, '✅ Yes, take it'));
}

describe('Beauty Lovers Club (programs/body-shop.yaml)', () => {
  it('earns points per pound and takes an online coupon: a code for the website, no QR', async () => {
    const { user, memberId, code } = await s.customer(83_001, 'Mia');
    // 50 welcome points + £75.99 -> 75: 125.
    expect((await s.post('/v1/purchases', { memberCode: code, storeCode: 'ldn-01', receiptNo: 'B-1', amountMinor: 7599 })).body).toMatchObject({
      pointsEarned: 75,
      balance: 125,
    });
    await user.nextMessage((m) => /Purchase at/.test(m.text ?? ''));
    const coupon = await take(user, 'online-5');
    expect(coupon.method).toBe('sendMessage');
    expect(coupon.photo).toBeUndefined();
    const row = await s.db.prisma.coupon.findFirstOrThrow({ where: { memberId } });
    expect(row).toMatchObject({ cost: 100, value: 500, status: 'ISSUED' });
    expect(coupon.text).toContain('£5 off online');
    expect(coupon.text).toContain(formatCouponCode(row.code));
    expect(coupon.text).toContain('Enter this code at checkout on the website: https://shop.example.com/checkout');
    // Not in the code itself: a random code may spell «QR» (3R98-FMQR-575… did once).
    expect(coupon.text?.replace(formatCouponCode(row.code), '')).not.toMatch(/QR|till/);
    expect(coupon.text).toContain('Your balance: 25 points.');
    // Opened again from «My coupons»: still the website code, no QR.
    await user.says('/coupons');
    const again = await user.taps(`cp:s:${row.id}`);
    expect(again.method).toBe('sendMessage');
    expect(again.text).toContain('Enter this code at checkout on the website');
  });

  it('a till coupon of the same program still comes as a QR to show at the till', async () => {
    const { user, code } = await s.customer(83_002, 'Zoe');
    // 50 + £200.00 -> 200: 250, the tote bag's cost.
    await s.post('/v1/purchases', { memberCode: code, storeCode: 'ldn-01', receiptNo: 'B-2', amountMinor: 20_000 });
    await user.nextMessage((m) => /Purchase at/.test(m.text ?? ''));
    const coupon = await take(user, 'tote-bag');
    expect(coupon.method).toBe('sendPhoto');
    expect(coupon.caption).toContain('Show this QR code at the till');
  });

  it('a cashier books a sale in the chat; at the till the tote bag is redeemed, the website coupon refused', async () => {
    const { user: lea, memberId, code } = await s.customer(83_003, 'Lea');
    const carl = await s.cashier(83_100, 'Carl', 'ldn-01');
    // £300.00 -> 300 points (1 per pound), no tier discount, no paying with points (cap 0 %).
    const { confirm, done } = await sellWithoutPoints(carl, code, '300', 'CG-1');
    expect(confirm.text).not.toContain('Discount');
    expect(confirm.text).toContain('Paid with points: 0 points');
    expect(plain(confirm)).toContain('To pay: £300');
    expect(plain(confirm)).not.toContain('saved');
    expect(confirm.text).toContain('Points to earn: 300 points');
    expect(plain(done)).toContain('Purchase recorded: £300, receipt CG-1.');
    // 50 welcome + 300.
    expect(done.text).toContain('Customer balance: 350 points');
    expect((await lea.nextMessage((m) => /Purchase at/.test(m.text ?? ''))).text).toContain('Purchase at Covent Garden: +300 points');

    // 350 - 100 (£5 online) - 250 (tote bag) = 0.
    await take(lea, 'online-5');
    await take(lea, 'tote-bag');
    const online = await s.db.prisma.coupon.findFirstOrThrow({ where: { memberId, reward: { code: 'online-5' } } });
    const tote = await s.db.prisma.coupon.findFirstOrThrow({ where: { memberId, reward: { code: 'tote-bag' } } });

    // The website coupon, typed at the till: shown, with no Confirm, and said to be for the website.
    const typed = await carl.says(`/redeem ${formatCouponCode(online.code)}`);
    expect(typed.text).toContain('£5 off online');
    expect(typed.text).toContain('This coupon is for the website, not the till');
    expect(typed.text).toContain('https://shop.example.com/checkout');
    expect(inlineButtons(typed)).toEqual([]);
    // Through the code dialog too.
    await carl.says('🎟 Redeem coupon');
    expect((await carl.says(online.code.toLowerCase())).text).toContain('This coupon is for the website');
    // A forged Confirm under it redeems nothing either.
    await carl.sendsCallback(`rdm:ok:${online.code}`);
    expect((await carl.nextMessage()).text).toContain('This coupon is for the website');
    expect(await s.db.prisma.coupon.findUniqueOrThrow({ where: { id: online.id } })).toMatchObject({ status: 'ISSUED', redeemedAt: null });

    // The till coupon goes through as before.
    const bag = await carl.says(`/redeem ${tote.code}`);
    expect(bag.text).not.toContain('website');
    expect((await carl.taps(button(bag, 'rdm:ok:'))).text).toContain('Redeemed');
    expect(await s.db.prisma.coupon.findUniqueOrThrow({ where: { id: tote.id } })).toMatchObject({ status: 'REDEEMED' });
  });

  it('refuses an online reward without the shop address, naming the reward', async () => {
    const { parseProgram } = await import('../../src/program.js');
    const { shippedProgram } = await import('../support/program-scenario.js');
    expect(shippedProgram('body-shop').rewards.online).toEqual({ shopUrl: 'https://shop.example.com/checkout', rewardCodes: ['online-5', 'online-10'] });
    const { parse } = await import('yaml');
    const { readFileSync } = await import('node:fs');
    const raw = parse(readFileSync(new URL('../../programs/body-shop.yaml', import.meta.url), 'utf8'));
    delete raw.rewards.onlineShopUrl;
    expect(() => parseProgram(raw, 'body-shop.yaml')).toThrow(/rewards\.catalogue\[online-5\]\.channel: an online reward needs rewards\.onlineShopUrl/);
  });

  it("a member gives points to a charity campaign with a confirmation; the totals show it and the admin's /charity CSV has it", async () => {
    const { user, memberId, code } = await s.customer(83_101, 'Ava');
    // 50 welcome points + £120.00 -> 120: 170.
    await s.post('/v1/purchases', { memberCode: code, storeCode: 'ldn-01', receiptNo: 'B-C1', amountMinor: 12_000 });
    await user.nextMessage((m) => /Purchase at/.test(m.text ?? ''));

    const list = await user.says('/charity');
    expect(list.text).toContain('Forever Against Animal Testing: 0 points (£0)');
    expect(list.text).toContain('The smallest donation is 50 points; 1 point = £0.05 for the cause.');
    const cause = await user.taps('ch:c:animal-testing');
    expect(inlineButtons(cause).map((b) => b.data ?? b.url)).toEqual([
      'ch:a:animal-testing:50',
      'ch:a:animal-testing:100',
      'ch:a:animal-testing:170',
      'https://example.org/against-animal-testing',
      'ch:l',
    ]);
    const confirm = await user.taps('ch:a:animal-testing:100');
    expect(confirm.text).toContain('Give 100 points to Forever Against Animal Testing?');
    expect(confirm.text).toContain('The chain transfers £5 to the cause.');
    // Nothing leaves before the confirmation.
    expect((await s.db.prisma.member.findUniqueOrThrow({ where: { id: memberId } })).balance).toBe(170);
    const done = await user.taps('ch:ok:animal-testing:100');
    expect(done.text).toContain('You gave 100 points to Forever Against Animal Testing.');
    expect(done.text).toContain('Your balance: 70 points.');

    const totals = await user.says('/charity');
    expect(totals.text).toContain('Together we have given 100 points (£5).');
    expect(totals.text).toContain('Forever Against Animal Testing: 100 points (£5)');

    const admin = new Conversation(s.fake, { id: ADMIN_ID, first_name: 'Admin', language_code: 'en' });
    const report = await admin.says('/charity 2026-06');
    expect(report.text).toContain('Forever Against Animal Testing (animal-testing): 100 points, £5, 1 donor');
    const csv = await admin.nextMessage();
    const document = csv.document;
    if (csv.method !== 'sendDocument' || !document || typeof document === 'string') throw new Error('the CSV must come as an uploaded file');
    expect(document.filename).toBe('charity-2026-06.csv');
    expect(document.data.toString('utf8').split('\r\n')).toEqual([
      'month,cause_code,cause_name,url,points,amount,currency,donors,donations',
      '2026-06,animal-testing,Forever Against Animal Testing,https://example.org/against-animal-testing,100,5.00,GBP,1,1',
      '',
    ]);
  });
});
