import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { startTestApp } from '../support/app.js';
import { Conversation, expectNoViolations, inlineButtons, replyKeyboard } from '../support/conversation.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import type { SentMessage } from '../support/fake-bot-api/server.js';
import { FakeBotApi } from '../support/fake-bot-api/server.js';
import { exampleProgram } from '../support/program.js';

const ADMIN_ID = 900_001;

let fake: FakeBotApi;
let db: TestDatabase;
let app: App;
let nextUserId = 61_000;

/**
 * The example program as shipped: Basic takes 6 % off the bill (rounded down to a kopeck), points
 * pay at most half of the bill after the discount (1 point = 1 RUB), and 3 % of the money paid
 * comes back in points (rounded down). Every figure below is worked out by hand in its comment.
 */
const program = exampleProgram();
const startApp = () => startTestApp({ fake, databaseUrl: db.url, env: { ADMIN_TELEGRAM_IDS: String(ADMIN_ID) }, program });

beforeAll(async () => {
  fake = await FakeBotApi.start({ botUsername: 'loyalty_test_bot' });
  db = await createTestDatabase();
  app = await startApp();
});
afterAll(async () => {
  await app?.stop();
  await fake?.close();
  await db?.drop();
});
afterEach(() => expectNoViolations(fake));

const admin = () => new Conversation(fake, { id: ADMIN_ID, first_name: 'Boss', language_code: 'en' });
const newUser = (firstName: string, languageCode = 'en') => new Conversation(fake, { id: nextUserId++, first_name: firstName, language_code: languageCode });

const memberOf = (user: Conversation) => db.prisma.member.findUniqueOrThrow({ where: { telegramId: BigInt(user.user.id) } });
const balanceOf = async (user: Conversation) => (await memberOf(user)).balance;
const storeByCode = (code: string) => db.prisma.store.findUniqueOrThrow({ where: { code } });

/** A customer registered through the bot, in English: 100 welcome points. */
async function registerCustomer(name: string) {
  const user = newUser(name);
  await user.registers();
  const member = await memberOf(user);
  return { user, code: member.code, memberId: member.id };
}

const inviteLink = (message: SentMessage) => {
  const match = /https:\/\/t\.me\/loyalty_test_bot\?start=(inv_[\w-]+)/.exec(message.text ?? '');
  if (!match) throw new Error(`no invite link in ${message.text}`);
  return match[1] as string;
};

/** The admin invites a cashier to a store and the cashier opens the link. */
async function hireCashier(name: string, storeCode = 'msk-01', languageCode = 'en') {
  const payload = inviteLink(await admin().says(`/invite staff ${storeCode}`));
  const cashier = newUser(name, languageCode);
  await cashier.says(`/start ${payload}`);
  return cashier;
}

const button = (message: SentMessage, prefix: string) => {
  const found = inlineButtons(message).find((b) => b.data?.startsWith(prefix));
  if (!found?.data) throw new Error(`no button ${prefix}… in ${JSON.stringify(inlineButtons(message))}`);
  return found.data;
};

/**
 * The customer opens their card in the bot and reads out the one-time spend code under it
 * (the card image comes first, the code right after it).
 */
async function spendCodeOf(customer: Conversation): Promise<string> {
  await customer.says('💳 Member card');
  const shown = await customer.nextMessage((m) => /Code for paying with points/.test(m.text ?? ''));
  const code = /(\d{3}) (\d{3})/.exec(shown.text ?? '');
  if (!code) throw new Error(`no spend code in ${shown.text}`);
  return `${code[1]} ${code[2]}`;
}

/** A whole purchase through the wizard; returns the cashier's result message. Points need the customer there. */
async function purchase(cashier: Conversation, code: string, amount: string, receipt: string, points: 'none' | 'max' = 'none', customer?: Conversation) {
  await cashier.says('🧾 New purchase');
  await cashier.says(code);
  await cashier.says(amount);
  let screen = await cashier.says(receipt);
  if (inlineButtons(screen).some((b) => b.data?.startsWith('stf:pts:'))) {
    const choice = inlineButtons(screen).filter((b) => b.data?.startsWith('stf:pts:'))[points === 'max' ? 1 : 0];
    screen = await cashier.taps(choice?.data as string);
  }
  if (points === 'max') {
    if (!customer) throw new Error('paying with points needs the customer');
    screen = await cashier.says(await spendCodeOf(customer));
  }
  return cashier.taps(button(screen, 'stf:ok:'));
}

/** The message's text with the no-break spaces of formatted money as plain spaces. */
const plain = (message: SentMessage) => (message.text ?? '').replace(/[\u00a0\u202f]/g, ' ');

/** The answers the bot gave to callback queries since call index `from`. */
const callbackAnswers = (from: number) =>
  fake.calls
    .slice(from)
    .filter((call) => call.method === 'answerCallbackQuery')
    .map((call) => call.params.text);

describe('invites', () => {
  it('turns whoever opens a staff invite into staff, once, without a customer registration', async () => {
    const boss = admin();
    expect((await boss.says('/invite')).text).toContain('Usage: /invite staff');
    expect((await boss.says('/invite staff')).text).toContain('Usage: /invite staff');
    expect((await boss.says('/invite staff nowhere-99')).text).toContain('There is no such active store');

    const invite = await boss.says('/invite staff msk-01');
    expect(invite.text).toContain('A staff invite for Tverskaya 1');
    expect(invite.text).toMatch(/Valid until \d{1,2} [A-Z][a-z]{2} \d{4}, works once/);
    const payload = inviteLink(invite);

    const carl = newUser('Carl');
    const welcome = await carl.says(`/start ${payload}`);
    expect(welcome.text).toContain('You are now staff at Tverskaya 1');
    expect(replyKeyboard(welcome)).toEqual(['🧾 New purchase', '↩️ Return', '🎟 Redeem coupon']);
    const store = await storeByCode('msk-01');
    expect(await db.prisma.staff.findUnique({ where: { telegramId: BigInt(carl.user.id) } })).toMatchObject({
      role: 'STAFF',
      storeId: store.id,
      name: 'Carl',
      revokedAt: null,
    });
    // Staff need not be customers: no registration was started.
    expect(await db.prisma.member.findUnique({ where: { telegramId: BigInt(carl.user.id) } })).toBeNull();
    expect((await carl.says('/staff')).text).toContain('Staff menu · Tverskaya 1');
    expect((await carl.says('what now?')).text).toContain('Use the staff menu below');

    // The link works once: a second person, and the first one again, are refused.
    const eve = newUser('Eve');
    expect((await eve.says(`/start ${payload}`)).text).toContain('This invite link is invalid, expired or already used');
    expect(await db.prisma.staff.findUnique({ where: { telegramId: BigInt(eve.user.id) } })).toBeNull();
    expect(await db.prisma.member.findUnique({ where: { telegramId: BigInt(eve.user.id) } })).toBeNull();
    expect((await carl.says(`/start ${payload}`)).text).toContain('This invite link is invalid');
    expect((await eve.says('/start inv_forged-token')).text).toContain('This invite link is invalid');
  });

  it('speaks Russian to a Russian-speaking cashier', async () => {
    const olga = await hireCashier('Ольга', 'msk-02', 'ru');
    const menu = fake.lastMessageTo(olga.user.id) as SentMessage;
    expect(menu.text).toContain('Теперь вы сотрудник магазина Arbat 12');
    expect(replyKeyboard(menu)).toEqual(['🧾 Новая покупка', '↩️ Возврат', '🎟 Погасить купон']);
    const { user: customer, code } = await registerCustomer('Nina');

    await olga.says('🧾 Новая покупка');
    const found = await olga.says(code.toLowerCase());
    expect(found.text).toContain('Nina');
    expect(found.text).toContain('Уровень: Базовый · скидка 6%');
    expect(found.text).toContain('Баланс: 100 баллов');
    expect((await olga.says('12,5 рублей')).text).toContain('Введите сумму числом');
    await olga.says('1 234,56');
    const points = await olga.says('Ч-77');
    // 6 % of 1 234,56 = 74,0736: 74,07 off, 1 160,49 left; half of it is 580 points, the balance 100.
    expect(points.text).toContain('Максимум: 100 баллов');
    expect(inlineButtons(points).map((b) => b.text)).toEqual(['Нет', 'Максимум (100)', 'Отмена']);
    expect((await olga.says('101')).text).toContain('Введите целое число баллов от 0 до 100');
    const ask = await olga.says('1');
    expect(ask.text).toContain('нужно согласие покупателя');
    expect(inlineButtons(ask).map((b) => b.text)).toEqual(['📲 Запросить подтверждение в чате', 'Без баллов', 'Отмена']);
    expect((await olga.says('12345')).text).toContain('Код списания — это 6 цифр');
    const confirm = await olga.says(await spendCodeOf(customer));
    expect(plain(confirm)).toContain('Сумма: 1 234,56 ₽');
    expect(plain(confirm)).toContain('Скидка 6% (Базовый): −74,07 ₽');
    expect(confirm.text).toContain('Оплата баллами: 1 балл');
    // 1 160,49 - 1 ₽ of points.
    expect(plain(confirm)).toContain('К оплате: 1 159,49 ₽, экономия 74,07 ₽');
    // 3 % of 1 159,49 ₽ = 34,78: 34 points.
    expect(confirm.text).toContain('Будет начислено: 34 балла');
    const done = await olga.taps(button(confirm, 'stf:ok:'));
    expect(done.text).toContain('Покупка записана');
    expect(plain(done)).toContain('К оплате: 1 159,49 ₽, экономия 74,07 ₽');
    // 100 - 1 + 34.
    expect(done.text).toContain('Баланс покупателя: 133 балла');
    expect((await customer.nextMessage()).text).toContain('Purchase at Arbat 12: paid 1 point, earned 34 points');
  });
});

describe('a purchase', () => {
  it('is recorded by typed card code, paid partly with points, and the customer is told', async () => {
    const carl = await hireCashier('Carl');
    const { user: anna, code, memberId } = await registerCustomer('Anna');

    const find = await carl.says('🧾 New purchase');
    expect(find.text).toContain("Scan the customer's card QR code, or type the card number or phone number");
    // A typo in the card number is caught by its check character; an unknown phone is not found.
    const typo = `${code.slice(0, 8)}${code[8] === '2' ? '3' : '2'}`;
    expect((await carl.says(typo)).text).toContain('This card number has a typo');
    expect((await carl.says('+7 999 000-00-00')).text).toContain('No active customer with this card number or phone');

    // Typed the way a cashier reads it: lower case, in groups.
    const typed = `${code.slice(0, 3)} ${code.slice(3, 6)}-${code.slice(6)}`.toLowerCase();
    const found = await carl.says(typed);
    expect(found.text).toContain('Anna');
    expect(found.text).toContain('Tier: Basic · discount 6%');
    expect(found.text).toContain('Balance: 100 points');
    expect(found.text).toContain('Type the purchase amount');

    expect((await carl.says('twelve')).text).toContain('Please type the amount as a number');
    expect((await carl.says('12.345')).text).toContain('Please type the amount as a number');
    expect((await carl.says('1 234,56')).text).toContain('Type the receipt number');
    expect((await carl.says('R 1001')).text).toContain('A receipt number is 1 to 64 letters');
    const points = await carl.says('R-1001');
    // The cap is half the bill after the discount (580 points of 1 160.49); the balance (100) is lower.
    expect(points.text).toContain('At most: 100 points');
    expect(inlineButtons(points).map((b) => b.text)).toEqual(['No', 'Max (100)', 'Cancel']);

    // Paying with points needs the customer's consent: the code under their card in the bot.
    const ask = await carl.taps(button(points, 'stf:pts:').replace(/:0$/, ':100'));
    expect(ask.text).toContain("Paying 100 points needs the customer's consent");
    expect(await db.prisma.spendCode.count({ where: { memberId } })).toBe(0);
    const confirm = await carl.says(await spendCodeOf(anna));
    expect(confirm.text).toContain('Check the purchase');
    expect(plain(confirm)).toContain('Amount: RUB 1,234.56');
    expect(confirm.text).toContain('Receipt: R-1001');
    // 6 % of RUB 1,234.56 = 74.0736: 74.07 off.
    expect(plain(confirm)).toContain('Discount 6% (Basic): −RUB 74.07');
    expect(confirm.text).toContain('Paid with points: 100 points');
    // 1,234.56 - 74.07 - 100.
    expect(plain(confirm)).toContain('To pay: RUB 1,060.49, saved RUB 74.07');
    // 3 % of RUB 1,060.49 = 31.81: 31 points.
    expect(confirm.text).toContain('Points to earn: 31 points');
    expect(await db.prisma.purchase.count({ where: { memberId } })).toBe(0);

    const done = await carl.taps(button(confirm, 'stf:ok:'));
    expect(plain(done)).toContain('Purchase recorded: RUB 1,234.56, receipt R-1001');
    expect(plain(done)).toContain('Discount 6% (Basic): −RUB 74.07');
    expect(plain(done)).toContain('To pay: RUB 1,060.49, saved RUB 74.07');
    expect(done.text).toContain('Paid with points: 100 points');
    expect(done.text).toContain('Points earned: 31 points');
    expect(done.text).toContain('Customer balance: 31 points');

    const told = await anna.nextMessage((m) => /Purchase at/.test(m.text ?? ''));
    expect(told.text).toContain('Purchase at Tverskaya 1: paid 100 points, earned 31 points');
    expect(told.text).toContain('Balance: 31 points');

    const store = await storeByCode('msk-01');
    expect(await balanceOf(anna)).toBe(31);
    const bought = await db.prisma.purchase.findMany({ where: { memberId } });
    expect(bought).toEqual([
      expect.objectContaining({
        storeId: store.id,
        receiptNo: 'R-1001',
        amountMinor: 123456n,
        paidWithPoints: 100,
        pointsEarned: 31,
        tierCode: 'basic',
        discountMinor: 7_407n,
        paidMinor: 106_049n,
        actorType: 'STAFF',
        actorId: String(carl.user.id),
      }),
    ]);
    const entries = await db.prisma.ledgerEntry.findMany({ where: { memberId }, orderBy: { id: 'asc' } });
    expect(entries.map((e) => [e.type, e.amount, e.balanceAfter])).toEqual([
      ['BONUS', 100, 100],
      ['SPEND', -100, 0],
      ['EARN', 31, 31],
    ]);

    // The same receipt twice in one store is refused at the receipt step, nothing booked.
    await carl.says('🧾 New purchase');
    await carl.says(code);
    await carl.says('10');
    expect((await carl.says('R-1001')).text).toContain('A purchase with receipt R-1001 is already recorded in this store');
    expect((await carl.says('/cancel')).text).toContain('Cancelled. Nothing was recorded.');
    expect(await db.prisma.purchase.count({ where: { memberId } })).toBe(1);
  });

  it('opens from the card QR deep link, and a double tap on Confirm books once', async () => {
    const carl = await hireCashier('Carl');
    const { user: bob, code, memberId } = await registerCustomer('Bob');

    const found = await carl.says(`/start m_${code}`);
    expect(found.text).toContain('Bob');
    expect(found.text).toContain('Balance: 100 points');
    await carl.says('500');
    const points = await carl.says('Q-1');
    const confirm = await carl.taps(button(points, 'stf:pts:'));
    expect(confirm.text).toContain('Paid with points: 0 points');
    // 6 % of RUB 500 = 30 off, 470 to pay; 3 % of 470 = 14.1: 14 points.
    expect(plain(confirm)).toContain('Discount 6% (Basic): −RUB 30');
    expect(plain(confirm)).toContain('To pay: RUB 470, saved RUB 30');
    expect(confirm.text).toContain('Points to earn: 14 points');

    const ok = button(confirm, 'stf:ok:');
    const before = fake.calls.length;
    fake.tapButton(carl.user, ok);
    fake.tapButton(carl.user, ok);
    const done = await carl.nextMessage();
    expect(done.text).toContain('Customer balance: 114 points');
    await fake.waitFor(() => callbackAnswers(before).length === 2, { what: 'both taps answered' });
    expect(callbackAnswers(before)).toEqual(['Recorded.', 'Already recorded: nothing was booked twice.']);
    // A forged replay of the same confirmation later changes nothing either.
    expect(await carl.sendsCallback(ok)).toBe('Already recorded: nothing was booked twice.');

    expect(await db.prisma.purchase.count({ where: { memberId } })).toBe(1);
    expect(await balanceOf(bob)).toBe(114);
    expect((await bob.nextMessage((m) => /Purchase at/.test(m.text ?? ''))).text).toContain('Purchase at Tverskaya 1: +14 points');
    expect(fake.messagesTo(bob.user.id).filter((m) => m.text?.includes('Purchase at'))).toHaveLength(1);
  });

  it('offers as Max only the points the bill takes after the discount, and books exactly the quoted figures', async () => {
    const carl = await hireCashier('Carl');
    const boss = admin();
    const { user: max, code, memberId } = await registerCustomer('Maxim');
    const adjust = await boss.says(`/adjust ${code} +900 welcome back`);
    await boss.taps(button(adjust, 'adm:adj:'));
    expect(await balanceOf(max)).toBe(1000);

    await carl.says('🧾 New purchase');
    await carl.says(code);
    await carl.says('1000');
    // Half of RUB 1,000 would be 500 points; half of the 940 left after 6 % off is 470.
    const points = await carl.says('MX-1');
    expect(points.text).toContain('At most: 470 points');
    expect(inlineButtons(points).map((b) => b.text)).toEqual(['No', 'Max (470)', 'Cancel']);
    // 471 typed is refused; a forged "Max" tap for the old cap is refused too.
    expect((await carl.says('471')).text).toContain('Please type a whole number of points from 0 to 470');
    expect(await carl.sendsCallback(button(points, 'stf:pts:').replace(/:0$/, ':500'))).toContain('470');
    const ask = await carl.taps(inlineButtons(points)[1]?.data as string);
    expect(ask.text).toContain("Paying 470 points needs the customer's consent");
    const confirm = await carl.says(await spendCodeOf(max));
    expect(plain(confirm)).toContain('Discount 6% (Basic): −RUB 60');
    expect(confirm.text).toContain('Paid with points: 470 points');
    // 940 - 470 = 470 in money; 3 % of it = 14.1: 14 points.
    expect(plain(confirm)).toContain('To pay: RUB 470, saved RUB 60');
    expect(confirm.text).toContain('Points to earn: 14 points');
    const done = await carl.taps(button(confirm, 'stf:ok:'));
    expect(plain(done)).toContain('To pay: RUB 470, saved RUB 60');
    // 1 000 - 470 + 14.
    expect(done.text).toContain('Customer balance: 544 points');
    expect(await db.prisma.purchase.findFirstOrThrow({ where: { memberId } })).toMatchObject({
      paidWithPoints: 470,
      pointsEarned: 14,
      discountMinor: 6_000n,
      paidMinor: 47_000n,
    });
  });

  it('asks an admin without a store which store it is for', async () => {
    const boss = admin();
    const { code, memberId } = await registerCustomer('Dora');
    const choose = await boss.says('🧾 New purchase');
    expect(choose.text).toContain('Which store is this for?');
    expect(inlineButtons(choose).map((b) => b.text)).toEqual(['Tverskaya 1 · msk-01', 'Arbat 12 · msk-02', 'Cancel']);
    const arbat = await storeByCode('msk-02');
    expect((await boss.taps(`${button(choose, 'stf:st:').replace(/:\d+$/, '')}:${arbat.id}`)).text).toContain('type the card number');
    await boss.says(code);
    await boss.says('300');
    const points = await boss.says('A-1');
    const confirm = await boss.taps(button(points, 'stf:pts:'));
    expect(confirm.text).toContain('Store: Arbat 12');
    // 6 % of RUB 300 = 18 off; 3 % of the 282 paid = 8.46: 8 points.
    expect((await boss.taps(button(confirm, 'stf:ok:'))).text).toContain('Customer balance: 108 points');
    expect(await db.prisma.purchase.findFirst({ where: { memberId } })).toMatchObject({ storeId: arbat.id, actorType: 'ADMIN', actorId: String(ADMIN_ID) });
  });

  it('carries on after the bot restarts, from the database', async () => {
    const carl = await hireCashier('Carl');
    const { code, memberId } = await registerCustomer('Rita');
    await carl.says('🧾 New purchase');
    await carl.says(code);

    await app.stop();
    app = await startApp();

    expect((await carl.says('250')).text).toContain('Type the receipt number');
    const points = await carl.says('RS-1');
    const confirm = await carl.taps(button(points, 'stf:pts:'));
    // 6 % of RUB 250 = 15 off; 3 % of the 235 paid = 7.05: 7 points.
    expect((await carl.taps(button(confirm, 'stf:ok:'))).text).toContain('Customer balance: 107 points');
    expect(await db.prisma.purchase.count({ where: { memberId } })).toBe(1);
  });
});

describe('a return', () => {
  it('is recorded in part and then in full, giving back the points paid and taking back the points earned', async () => {
    const carl = await hireCashier('Carl');
    const { user: vera, memberId, code } = await registerCustomer('Vera');
    // 1 000.00 less 6 % (60.00) = 940.00, 100 of it paid with points: 25 points earned on the
    // 840.00 paid in money (3 % = 25.2).
    expect((await purchase(carl, code, '1000', 'RET-1', 'max', vera)).text).toContain('Customer balance: 25 points');
    await vera.nextMessage();

    const ask = await carl.says('↩️ Return');
    expect(ask.text).toContain('Type the receipt number of the purchase');
    expect((await carl.says('NOPE-1')).text).toContain('There is no purchase with this receipt number in this store');
    const shown = await carl.says('RET-1');
    expect(shown.text).toContain('Receipt RET-1');
    expect(shown.text).toContain('Customer: Vera');
    expect(plain(shown)).toContain('Left to return: RUB 1,000');
    expect(inlineButtons(shown).map((b) => b.text.replace(/\s/g, ' '))).toEqual(['Full return (RUB 1,000)', 'Cancel']);
    expect(plain(await carl.says('1000.01'))).toContain('Left to return: RUB 1,000.');

    const confirm = await carl.says('400');
    expect(plain(confirm)).toContain('Returned amount: RUB 400');
    const partial = await carl.taps(button(confirm, 'stf:ok:'));
    expect(plain(partial)).toContain('Return recorded: RUB 400, receipt RET-1');
    // 40 % of the bill: 10 of the 25 earned, 40 of the 100 points paid, and 40 % of the 840.00
    // paid in money back in money.
    expect(plain(partial)).toContain('Money to give back: RUB 336');
    expect(partial.text).toContain('Points taken back: 10 points');
    expect(partial.text).toContain('Points given back to the customer: 40 points');
    expect(partial.text).toContain('Customer balance: 55 points');
    expect((await vera.nextMessage((m) => /Return at/.test(m.text ?? ''))).text).toContain(
      'Return at Tverskaya 1: 10 points taken back, 40 points returned to you',
    );
    expect(await balanceOf(vera)).toBe(55);

    await carl.says('↩️ Return');
    const rest = await carl.says('RET-1');
    expect(plain(rest)).toContain('already returned: RUB 400');
    expect(plain(rest)).toContain('Left to return: RUB 600');
    const confirmFull = await carl.taps(button(rest, 'stf:rfull:'));
    expect(plain(confirmFull)).toContain('Full return: RUB 600');
    const full = await carl.taps(button(confirmFull, 'stf:ok:'));
    // The rest: 840.00 - 336.00 in money, 25 - 10 points taken back, 100 - 40 given back.
    expect(plain(full)).toContain('Money to give back: RUB 504');
    expect(full.text).toContain('Points taken back: 15 points');
    expect(full.text).toContain('Points given back to the customer: 60 points');
    expect(full.text).toContain('Customer balance: 100 points');
    expect(await balanceOf(vera)).toBe(100);

    // Nothing is left to return.
    await carl.says('↩️ Return');
    expect(plain(await carl.says('RET-1'))).toContain('Left to return: RUB 0');
    const bought = await db.prisma.purchase.findFirstOrThrow({ where: { memberId }, include: { returns: { orderBy: { id: 'asc' } } } });
    expect(bought.returnedMinor).toBe(100000n);
    expect(bought.returns.map((r) => [r.amountMinor, r.pointsRefunded, r.pointsReversed, r.shortfall])).toEqual([
      [40000n, 40, 10, 0],
      [60000n, 60, 15, 0],
    ]);
  });

  it('reports the points it could not take back because the customer no longer has them', async () => {
    const carl = await hireCashier('Carl');
    const boss = admin();
    const { user: ivan, code, memberId } = await registerCustomer('Ivan');
    // RUB 2,000 less 6 % = 1,880; 3 % of it: 56 points (56.4).
    expect((await purchase(carl, code, '2000', 'SF-1')).text).toContain('Customer balance: 156 points');
    const adjust = await boss.says(`/adjust ${code} -150 spent at a partner store`);
    await boss.taps(button(adjust, 'adm:adj:'));
    expect(await balanceOf(ivan)).toBe(6);

    await carl.says('↩️ Return');
    const shown = await carl.says('SF-1');
    const confirm = await carl.taps(button(shown, 'stf:rfull:'));
    const done = await carl.taps(button(confirm, 'stf:ok:'));
    expect(plain(done)).toContain('Money to give back: RUB 1,880');
    expect(done.text).toContain('Points taken back: 6 points');
    expect(done.text).toContain('Customer balance: 0 points');
    expect(done.text).toContain('50 points could not be taken back: the customer had already spent them');
    expect(await balanceOf(ivan)).toBe(0);
    const returned = await db.prisma.purchaseReturn.findFirstOrThrow({ where: { purchase: { memberId } } });
    expect(returned).toMatchObject({ pointsReversed: 6, shortfall: 50 });
  });
});

describe('refusals', () => {
  it('refuses staff commands and forged staff buttons to a customer, and changes nothing', async () => {
    const carl = await hireCashier('Carl');
    const { user: mallory, code, memberId } = await registerCustomer('Mallory');

    // A confirmation screen waits on the cashier's side.
    await carl.says('🧾 New purchase');
    await carl.says(code);
    await carl.says('999');
    const points = await carl.says('M-1');
    const confirm = await carl.taps(button(points, 'stf:pts:'));
    const ok = button(confirm, 'stf:ok:');

    for (const text of ['/staff', '🧾 New purchase', '↩️ Return', '/purchase', '/invite staff msk-01', '/revoke 1', '/apikey till', '/adjust X +5 gift']) {
      expect((await mallory.says(text)).text).toBe('This is only for store staff and administrators.');
    }
    for (const data of [ok, 'stf:ok:AAAAAAAA', 'stf:pts:AAAAAAAA:100', 'stf:no:AAAAAAAA', 'stf:rfull:AAAAAAAA', 'stf:whatever', 'adm:adj:AAAAAAAA']) {
      expect(await mallory.sendsCallback(data)).toBe('This is only for store staff and administrators.');
    }
    // Her own card's deep link is just /start for a customer.
    expect((await mallory.says(`/start m_${code}`)).text).toContain('You are already a member, Mallory');
    expect(await db.prisma.purchase.count({ where: { memberId } })).toBe(0);
    expect(await balanceOf(mallory)).toBe(100);
    expect(await db.prisma.staff.findUnique({ where: { telegramId: BigInt(mallory.user.id) } })).toBeNull();

    // The cashier's screen is untouched and still works.
    // RUB 999 less 6 % (59.94) = 939.06; 3 % = 28.17: 28 points.
    expect((await carl.taps(ok)).text).toContain('Customer balance: 128 points');
  });

  it("refuses a cashier's taps on another cashier's dialog: nothing is booked or cancelled, and both carry on", async () => {
    const carl = await hireCashier('Carl');
    const olga = await hireCashier('Olga');
    const { code, memberId } = await registerCustomer('Paula');
    await carl.says('🧾 New purchase');
    await carl.says(code);
    await carl.says('500');
    const points = await carl.says('R-77');
    const confirm = await carl.taps(button(points, 'stf:pts:'));
    const ok = button(confirm, 'stf:ok:');

    // Olga, staff too, with a dialog of her own open, replays Carl's buttons (ids are not secrets).
    expect((await olga.says('🧾 New purchase')).text).toContain('type the card number');
    for (const data of [ok, button(confirm, 'stf:no:'), button(points, 'stf:pts:'), button(points, 'stf:pts:').replace(/:0$/, ':100')]) {
      expect(await olga.sendsCallback(data)).toBe('This button is no longer active.');
    }
    expect(await db.prisma.purchase.count({ where: { memberId } })).toBe(0);

    // Her own dialog still waits for a card; Carl's confirmation still books, once.
    expect((await olga.says(code)).text).toContain('Type the purchase amount');
    expect((await carl.taps(ok)).text).toContain('Customer balance:');
    expect(await db.prisma.purchase.count({ where: { memberId } })).toBe(1);
  });

  it('leaves a scanned card link to an outsider as the start of a registration', async () => {
    const { code } = await registerCustomer('Paul');
    const stranger = newUser('Sam');
    expect((await stranger.says(`/start m_${code}`)).text).toContain('Welcome to Friends Club');
    expect(await memberOf(stranger)).toMatchObject({ status: 'REGISTERING', startPayload: `m_${code}` });
  });

  it('refuses a revoked cashier, even halfway through a purchase', async () => {
    const boss = admin();
    const carl = await hireCashier('Carlos');
    const { code, memberId } = await registerCustomer('Zoe');
    await carl.says('🧾 New purchase');
    await carl.says(code);

    const list = await boss.says('/staff_list');
    expect(list.text).toContain(`Carlos · ${carl.user.id} · staff · Tverskaya 1`);
    expect((await boss.says('/revoke')).text).toContain('Usage: /revoke');
    expect((await boss.says('/revoke 424242')).text).toContain('424242 is not a staff member');
    expect((await boss.says(`/revoke ${carl.user.id}`)).text).toContain(`Carlos (${carl.user.id}) no longer has access`);
    expect((await boss.says('/staff_list')).text).toMatch(new RegExp(`Carlos · ${carl.user.id} · staff · Tverskaya 1 · revoked`));

    expect((await carl.says('100')).text).toBe('This is only for store staff and administrators.');
    expect((await carl.says('🧾 New purchase')).text).toBe('This is only for store staff and administrators.');
    expect((await carl.says(`/start m_${code}`)).text).toContain('Welcome to Friends Club');
    expect(await db.prisma.purchase.count({ where: { memberId } })).toBe(0);
  });
});

describe('administration', () => {
  it('adjusts points only with a reason and after confirming', async () => {
    const boss = admin();
    const { user: kate, code, memberId } = await registerCustomer('Kate');

    expect((await boss.says('/adjust')).text).toContain('Usage: /adjust');
    expect((await boss.says(`/adjust ${code} 50 no sign`)).text).toContain('Usage: /adjust');
    const noReason = await boss.says(`/adjust ${code} +50`);
    expect(noReason.text).toContain('Please give a reason');
    expect(noReason.text).toContain('Usage: /adjust');
    expect(inlineButtons(noReason)).toEqual([]);

    const confirm = await boss.says(`/adjust ${code.slice(0, 3)}-${code.slice(3, 6)}-${code.slice(6)} +50 late delivery`);
    expect(confirm.text).toContain('Adjust points?');
    expect(confirm.text).toContain('Customer: Kate');
    expect(confirm.text).toContain('Balance now: 100 points');
    expect(confirm.text).toContain('Change: +50');
    expect(confirm.text).toContain('Reason: late delivery');
    expect(await balanceOf(kate)).toBe(100);
    const done = await boss.taps(button(confirm, 'adm:adj:'));
    expect(done.text).toContain('Done: +50 for Kate. Balance: 150 points.');
    expect((await kate.nextMessage()).text).toContain('50 points added to your account. Balance: 150 points.');
    expect(await boss.sendsCallback(button(confirm, 'adm:adj:'))).toBe('Already recorded: nothing was booked twice.');

    // More than the balance holds: refused before the confirmation screen, nothing changes.
    const tooMuch = await boss.says(`/adjust ${code} -1000 duplicate bonus`);
    expect(tooMuch.text).toContain('The customer has only 150 points, so −1,000 would take the balance below zero.');
    expect(inlineButtons(tooMuch)).toEqual([]);
    // Cancelled: nothing changes.
    const cancelled = await boss.says(`/adjust ${code} -10 test`);
    expect((await boss.taps(button(cancelled, 'adm:no:'))).text).toContain('Cancelled. Nothing changed.');

    expect(await balanceOf(kate)).toBe(150);
    const adjustments = await db.prisma.ledgerEntry.findMany({ where: { memberId, type: 'ADJUST' } });
    expect(adjustments.map((e) => [e.amount, e.reason, e.actorType, e.actorId])).toEqual([[50, 'late delivery', 'ADMIN', String(ADMIN_ID)]]);
  });

  it('manages stores and API keys and explains itself', async () => {
    const boss = admin();
    const help = await boss.says('/admin');
    for (const command of ['/invite staff', '/invite marketer', '/revoke', '/staff_list', '/stores', '/addstore', '/apikey', '/adjust'])
      expect(help.text).toContain(command);

    expect((await boss.says('/addstore')).text).toContain('Usage: /addstore');
    expect((await boss.says('/addstore bad!code Name')).text).toContain('A store code is 1 to 32 Latin letters');
    expect((await boss.says('/addstore msk-03 Lenina 5')).text).toContain('Store msk-03 saved: Lenina 5.');
    const stores = await boss.says('/stores');
    expect(stores.text).toContain('msk-01 · Tverskaya 1');
    expect(stores.text).toContain('msk-03 · Lenina 5');

    expect((await boss.says('/apikey')).text).toContain('Usage: /apikey');
    expect((await boss.says('/apikey till-9 nowhere')).text).toContain('There is no such active store');
    const key = await boss.says('/apikey till-1 msk-03');
    expect(key.text).toContain('shown only this once');
    const shown = /lk_[0-9a-f]{8}_[A-Za-z0-9_-]{32}/.exec(key.text ?? '')?.[0];
    expect(shown).toBeDefined();
    const record = await db.prisma.apiKey.findFirstOrThrow({ where: { name: 'till-1' } });
    expect(record.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(record.hash).not.toContain(shown?.slice(12));
    expect(record.storeId).toBe((await storeByCode('msk-03')).id);

    const marketer = await boss.says('/invite marketer');
    expect(marketer.text).toContain('A marketer invite');
    const maria = newUser('Maria');
    expect((await maria.says(`/start ${inviteLink(marketer)}`)).text).toContain('You are now a marketer');
    // A marketer records no purchases.
    expect((await maria.says('🧾 New purchase')).text).toBe('This is only for store staff and administrators.');
  });
});

describe('paying with points needs the customer', () => {
  /** The cashier has rung up a bill and chosen the maximum of points: the consent screen. */
  async function upToConsent(cashier: Conversation, code: string, receipt: string) {
    await cashier.says('🧾 New purchase');
    await cashier.says(code);
    await cashier.says('1000');
    const points = await cashier.says(receipt);
    return cashier.taps(inlineButtons(points).filter((b) => b.data?.startsWith('stf:pts:'))[1]?.data as string);
  }

  it('refuses a stranger at the till who has only the card code: a guessed code spends nothing, and guessing locks spending', async () => {
    const carl = await hireCashier('Carl');
    const { user: victim, code, memberId } = await registerCustomer('Victor');
    const ask = await upToConsent(carl, code, 'ST-1');
    expect(ask.text).toContain("needs the customer's consent");
    const real = await spendCodeOf(victim);
    const wrong = real === '123 456' ? '654 321' : '123 456';
    for (let attempt = 1; attempt <= 5; attempt++) {
      const confirm = await carl.says(wrong);
      expect((await carl.taps(button(confirm, 'stf:ok:'))).text).toContain('The spend code is wrong, expired or already used');
      expect((await carl.nextMessage()).text).toContain("needs the customer's consent");
    }
    // Locked now: even the customer's real code is refused; the purchase can go on without points.
    const confirm = await carl.says(real);
    expect((await carl.taps(button(confirm, 'stf:ok:'))).text).toContain('paying with points is locked for this card');
    expect((await carl.nextMessage()).text).toContain('Pay part of the bill with points?');
    expect(await balanceOf(victim)).toBe(100);
    expect(await db.prisma.purchase.count({ where: { memberId } })).toBe(0);
    expect(await db.prisma.lookupThrottle.findUniqueOrThrow({ where: { key: `spend:${memberId}` } })).toMatchObject({ failures: 5 });
    expect((await carl.says('/cancel')).text).toContain('Cancelled');
  });

  it('asks the customer in the chat; Yes lets the cashier record the purchase, once', async () => {
    const carl = await hireCashier('Carl');
    const { user: yana, code, memberId } = await registerCustomer('Yana');
    const ask = await upToConsent(carl, code, 'CF-1');
    const waiting = await carl.taps(button(ask, 'stf:req:'));
    expect(waiting.text).toContain("Waiting for the customer's confirmation of 100 points");
    expect(await carl.sendsCallback(button(waiting, 'stf:chk:'))).toBe('No answer yet.');

    const question = await yana.nextMessage();
    expect(question.text).toContain('Pay 100 points at Tverskaya 1?');
    expect(inlineButtons(question).map((b) => b.text)).toEqual(['✅ Yes, pay', '❌ No']);
    const yes = button(question, 'spr:y:');
    // Someone else tapping (a forged button) changes nothing.
    const mallory = (await registerCustomer('Mallory')).user;
    expect(await mallory.sendsCallback(yes)).toBe('This request is not for you or no longer exists.');

    await yana.tapsAndSeesEdit(yes, /You approved paying 100 points at Tverskaya 1/);
    expect(await yana.sendsCallback(button(question, 'spr:n:'))).toBe('This request has already been answered.');
    const told = await carl.nextMessage((m) => /approved/.test(m.text ?? ''));
    expect(told.text).toContain('The customer approved paying 100 points');
    const confirm = await carl.taps(button(told, 'stf:chk:'));
    expect(confirm.text).toContain('Paid with points: 100 points');
    const done = await carl.taps(button(confirm, 'stf:ok:'));
    // RUB 1,000 less 6 % = 940, 100 paid with points: 3 % of the RUB 840 paid in money, 25 points.
    expect(done.text).toContain('Customer balance: 25 points');
    expect(await db.prisma.purchase.count({ where: { memberId } })).toBe(1);
    expect(await db.prisma.spendRequest.findFirstOrThrow({ where: { memberId } })).toMatchObject({ status: 'APPROVED', usedAt: expect.any(Date) });
  });

  it('takes nothing when the customer says No, and goes back to the choice of points', async () => {
    const carl = await hireCashier('Carl');
    const { user: nick, code, memberId } = await registerCustomer('Nick');
    const ask = await upToConsent(carl, code, 'CF-2');
    await carl.taps(button(ask, 'stf:req:'));
    const question = await nick.nextMessage();
    await nick.tapsAndSeesEdit(button(question, 'spr:n:'), /You declined paying 100 points/);
    const told = await carl.nextMessage((m) => /declined/.test(m.text ?? ''));
    expect(told.text).toContain('The customer declined paying 100 points');
    expect((await carl.taps(button(told, 'stf:chk:'))).text).toContain('The customer declined');
    expect((await carl.nextMessage()).text).toContain('Pay part of the bill with points?');
    expect(await balanceOf(nick)).toBe(100);
    expect(await db.prisma.purchase.count({ where: { memberId } })).toBe(0);
  });

  it('goes back to the choice of points when the balance fell after the points were chosen', async () => {
    const carl = await hireCashier('Carl');
    const boss = admin();
    const { user: gil, code, memberId } = await registerCustomer('Gil');
    // RUB 1,000 less 6 %: 940, half of it 470 points; the balance (100) is the limit: Max 100.
    const ask = await upToConsent(carl, code, 'BF-1');
    expect(ask.text).toContain('Paying 100 points');
    const adjust = await boss.says(`/adjust ${code} -60 spent elsewhere`);
    await boss.taps(button(adjust, 'adm:adj:'));
    // The code is read out; the quote for 100 points no longer holds: no confirmation screen.
    expect((await carl.says(await spendCodeOf(gil))).text).toContain('Not enough points');
    const again = await carl.nextMessage();
    expect(again.text).toContain('At most: 40 points');
    expect(inlineButtons(again).map((b) => b.text)).toEqual(['No', 'Max (40)', 'Cancel']);
    expect(await db.prisma.purchase.count({ where: { memberId } })).toBe(0);
    expect(await balanceOf(gil)).toBe(40);
    expect((await carl.says('/cancel')).text).toContain('Cancelled');
  });

  it('refuses a cashier who rings up a purchase on their own card', async () => {
    const carl = await hireCashier('Carl');
    await carl.registers();
    const own = await memberOf(carl);
    await carl.says('🧾 New purchase');
    expect((await carl.says(own.code)).text).toContain('You cannot book purchases, returns or adjustments on your own member card');
    expect(await db.prisma.purchase.count({ where: { memberId: own.id } })).toBe(0);
  });
});

describe('API keys in the chat', () => {
  it('lists keys with their last use, and revokes and rotates one after a confirmation', async () => {
    const boss = admin();
    const created = await boss.says('/apikey till-r msk-01');
    const key = /lk_[0-9a-f]{8}_[A-Za-z0-9_-]{32}/.exec(created.text ?? '')?.[0] as string;
    const record = await db.prisma.apiKey.findFirstOrThrow({ where: { name: 'till-r' }, orderBy: { id: 'desc' } });
    expect(record.createdBy).toBe(BigInt(ADMIN_ID));
    const list = await boss.says('/apikeys');
    expect(list.text).toContain(`#${record.id} till-r · lk_${record.prefix}_… · msk-01`);
    expect(list.text).toContain('last used never');

    expect((await boss.says('/apikey_rotate')).text).toContain('Usage: /apikey_rotate');
    const rotate = await boss.says(`/apikey_rotate ${record.id}`);
    expect(rotate.text).toContain(`Replace API key #${record.id}`);
    const rotated = await boss.taps(button(rotate, 'adm:krt:'));
    const fresh = /lk_[0-9a-f]{8}_[A-Za-z0-9_-]{32}/.exec(rotated.text ?? '')?.[0];
    expect(fresh).toBeDefined();
    expect(fresh).not.toBe(key);
    expect((await db.prisma.apiKey.findUniqueOrThrow({ where: { id: record.id } })).revokedAt).not.toBeNull();
    // A second tap rotates nothing more.
    expect(await boss.sendsCallback(button(rotate, 'adm:krt:'))).toBe('There is no active API key with this number. See /apikeys.');

    const replacement = await db.prisma.apiKey.findFirstOrThrow({ where: { name: 'till-r', revokedAt: null } });
    const revoke = await boss.says(`/apikey_revoke ${replacement.id}`);
    expect((await boss.taps(button(revoke, 'adm:krv:'))).text).toContain(`API key #${replacement.id} «till-r» is revoked`);
    expect((await db.prisma.apiKey.findUniqueOrThrow({ where: { id: replacement.id } })).revokedAt).not.toBeNull();
    // Customers cannot revoke keys, even with a forged button.
    const { user: mallory } = await registerCustomer('Mallory');
    expect(await mallory.sendsCallback(`adm:krv:${replacement.id}`)).toBe('This is only for store staff and administrators.');
  });
});
