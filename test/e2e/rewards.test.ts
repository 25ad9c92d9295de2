import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { formatterFor } from '../../src/bot/format.js';
import { formatCouponCode, generateCouponCode } from '../../src/domain/codes.js';
import { addReward } from '../../src/domain/rewards/admin.js';
import type { RewardDefinition } from '../../src/domain/rewards/types.js';
import { startTestApp } from '../support/app.js';
import { Conversation, expectNoViolations, inlineButtons, labelled, replyKeyboard } from '../support/conversation.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { eventually } from '../support/eventually.js';
import type { SentMessage } from '../support/fake-bot-api/server.js';
import { FakeBotApi } from '../support/fake-bot-api/server.js';
import { readQr } from '../support/qr.js';
import { rewardDefinition } from '../support/rewards.js';

const ADMIN_ID = 900_101;
const BOT = 'loyalty_test_bot';

let fake: FakeBotApi;
let db: TestDatabase;
let app: App;
let nextUserId = 71_000;
let nextBonus = 0;

beforeAll(async () => {
  fake = await FakeBotApi.start({ botUsername: BOT });
  db = await createTestDatabase();
  app = await startTestApp({ fake, databaseUrl: db.url, env: { ADMIN_TELEGRAM_IDS: String(ADMIN_ID) } });
  // Two rewards of our own beside the program file's: no per-member limit, one with an image.
  await addReward(app.domain, ADMIN_ID, reward({ code: 'cake', title: { ru: 'Кусок торта', en: 'A piece of cake' }, cost: 100, validityDays: 7 }));
  await addReward(
    app.domain,
    ADMIN_ID,
    reward({
      code: 'tea',
      kind: 'FREE_ITEM',
      title: { ru: 'Чай', en: 'A cup of tea' },
      cost: 50,
      imageUrl: 'https://example.com/rewards/tea.jpg',
      description: { ru: 'Любой чай.', en: 'Any tea from the menu.' },
    }),
  );
});
afterAll(async () => {
  await app?.stop();
  await fake?.close();
  await db?.drop();
});
afterEach(() => expectNoViolations(fake));

const reward = (overrides: Partial<RewardDefinition>) => rewardDefinition({ code: 'x', ...overrides });

const admin = () => new Conversation(fake, { id: ADMIN_ID, first_name: 'Boss', language_code: 'en' });
const newUser = (firstName: string, languageCode = 'en') => new Conversation(fake, { id: nextUserId++, first_name: firstName, language_code: languageCode });
const memberOf = (user: Conversation) => db.prisma.member.findUniqueOrThrow({ where: { telegramId: BigInt(user.user.id) } });
const balanceOf = async (user: Conversation) => (await memberOf(user)).balance;
const couponByCode = (code: string) => db.prisma.coupon.findUniqueOrThrow({ where: { code } });
const fmt = () => formatterFor('en', app.domain.program.currency, app.domain.program.timezone);

/** A customer registered through the bot, in English (100 welcome points), with `extra` points on top. */
async function registerCustomer(name: string, extra = 0) {
  const user = newUser(name);
  await user.registers();
  const member = await memberOf(user);
  if (extra > 0) {
    await app.domain.repos.ledger.post({
      kind: 'credit',
      type: 'BONUS',
      memberId: member.id,
      amount: extra,
      idempotencyKey: `test-bonus:${++nextBonus}`,
      actor: { type: 'SYSTEM' },
      expiresAt: null,
    });
  }
  return { user, memberId: member.id };
}

const inviteLink = (message: SentMessage) => {
  const match = /https:\/\/t\.me\/loyalty_test_bot\?start=(inv_[\w-]+)/.exec(message.text ?? '');
  if (!match) throw new Error(`no invite link in ${message.text}`);
  return match[1] as string;
};

async function hireCashier(name: string, storeCode = 'msk-01') {
  const payload = inviteLink(await admin().says(`/invite staff ${storeCode}`));
  const cashier = newUser(name);
  await cashier.says(`/start ${payload}`);
  return cashier;
}

const button = (message: SentMessage, prefix: string) => {
  const found = inlineButtons(message).find((b) => b.data?.startsWith(prefix));
  if (!found?.data) throw new Error(`no button ${prefix}… in ${JSON.stringify(inlineButtons(message))}`);
  return found.data;
};

const callbackAnswers = (from: number) =>
  fake.calls
    .slice(from)
    .filter((call) => call.method === 'answerCallbackQuery')
    .map((call) => call.params.text);

/** The coupon code in a coupon message's caption, without dashes. */
function codeIn(message: SentMessage): string {
  const match = /([2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4})/.exec(message.caption ?? message.text ?? '');
  if (!match) throw new Error(`no coupon code in ${message.caption ?? message.text}`);
  return (match[1] as string).replaceAll('-', '');
}

/** A reward's button in a catalogue (a menu: its buttons are found by label, the reward's title). */
async function rewardButton(catalogue: SentMessage, rewardCode: string, locale: 'en' | 'ru' = 'en'): Promise<string> {
  const { title } = await db.prisma.reward.findUniqueOrThrow({ where: { code: rewardCode } });
  const name = (title as Record<string, string>)[locale];
  const found = inlineButtons(catalogue).find((b) => b.text.includes(` ${name} · `));
  if (!found?.data) throw new Error(`no button of ${rewardCode} in ${JSON.stringify(inlineButtons(catalogue))}`);
  return found.data;
}

/** The customer takes a reward through the bot; returns the coupon message and its code. */
async function take(user: Conversation, rewardCode: string) {
  const catalogue = await user.says('🎁 Rewards');
  const card = await user.taps(await rewardButton(catalogue, rewardCode));
  const confirm = await user.taps(button(card, 'rw:t:'));
  const coupon = await user.taps(labelled(confirm, '✅ Yes, take it'));
  expect(coupon.method).toBe('sendPhoto');
  return { coupon, code: codeIn(coupon) };
}

describe('a customer takes a reward', () => {
  it('sees the catalogue against the balance, confirms, and gets the code, a QR deep link and the expiry; a double tap takes once', async () => {
    const { user: anna, memberId } = await registerCustomer('Anna', 300);

    const catalogue = await anna.says('🎁 Rewards');
    expect(catalogue.text).toContain('Your balance: 400 points');
    expect(catalogue.text).toContain('A free coffee · 150 points ✅');
    expect(catalogue.text).toContain('A 200 RUB coupon · 2,000 points · you need 1,600 points more');
    // Only what she may take: the 10 % coupon is for Silver and above.
    expect(catalogue.text).not.toContain('10 % off');
    expect(inlineButtons(catalogue).map((b) => b.text)).toEqual([
      '🎁 A cup of tea · 50',
      '🎁 A piece of cake · 100',
      '🎁 A free coffee · 150',
      '🔒 A 200 RUB coupon · 2000',
      '🎟 My coupons',
    ]);
    // A menu: the buttons name no reward, only their place on the page shown.
    expect(inlineButtons(catalogue).every((b) => b.data?.startsWith('rw/') && !b.data.includes('coupon-200'))).toBe(true);

    // One she cannot afford yet: what is missing, and no Take button.
    const expensive = await anna.taps(labelled(catalogue, '🔒 A 200 RUB coupon · 2000'));
    expect(expensive.text).toContain('Cost: 2,000 points · your balance: 400 points');
    expect(expensive.text).toContain('You need 1,600 points more.');
    expect(expensive.text).toContain('Left: 100.');
    expect(inlineButtons(expensive)).toEqual([]);
    // A forged Take of it is refused and shows nothing.
    expect(await anna.sendsCallback('rw:t:coupon-200')).toBe('Not enough points: you need 1,600 points more.');

    const card = await anna.taps(labelled(catalogue, '🎁 A free coffee · 150'));
    expect(card.text).toContain('A free coffee');
    expect(card.text).toContain('Any coffee from the menu, in any of our stores.');
    expect(card.text).toContain('The coupon is valid for 14 days after you take it.');
    expect(inlineButtons(card)).toEqual([{ text: '🎁 Take for 150 points', data: 'rw:t:free-coffee', url: undefined }]);

    const confirm = await anna.taps('rw:t:free-coffee');
    expect(confirm.text).toContain('Take «A free coffee» for 150 points?');
    expect(confirm.text).toContain('Your balance after: 250 points.');
    expect(await balanceOf(anna)).toBe(400);

    expect(inlineButtons(confirm).map((b) => b.text)).toEqual(['✅ Yes, take it', 'Cancel']);
    const yes = labelled(confirm, '✅ Yes, take it');
    // The confirmation's code is only a hint: forged to a reward not hers to take, the use case
    // refuses it (and the refused confirmation loses its buttons); not a code at all, it is stale.
    expect(yes).toContain('/free-coffee/');
    expect(await anna.sendsCallback(yes.replace('/free-coffee/', '/../'))).toBe('This button is no longer active.');
    expect(await anna.sendsCallback(yes.replace('/free-coffee/', '/discount-10/'))).toBe('This reward is for the Silver tier and above.');
    expect(await db.prisma.coupon.count({ where: { memberId } })).toBe(0);
    expect(await balanceOf(anna)).toBe(400);

    const ok = labelled(await anna.taps('rw:t:free-coffee'), '✅ Yes, take it');
    const before = fake.calls.length;
    fake.tapButton(anna.user, ok);
    fake.tapButton(anna.user, ok);
    const coupon = await anna.nextMessage();
    await fake.waitFor(() => callbackAnswers(before).length === 2, { what: 'both taps answered' });
    expect(callbackAnswers(before)).toEqual(['Done!', 'You have already taken it: the coupon is in «My coupons».']);

    expect(coupon.method).toBe('sendPhoto');
    const code = codeIn(coupon);
    const row = await couponByCode(code);
    expect(row).toMatchObject({ memberId, status: 'ISSUED', cost: 150 });
    expect(row.expiresAt.getTime() - row.issuedAt.getTime()).toBe(14 * 86_400_000);
    expect(coupon.caption).toContain(`Code: ${formatCouponCode(code)}`);
    expect(coupon.caption).toContain(`Valid until ${fmt().dateTime(row.expiresAt)}`);
    expect(coupon.caption).toContain('Your balance: 250 points.');
    const photo = coupon.photo;
    if (!photo || typeof photo === 'string') throw new Error('the coupon must be an uploaded image');
    expect(readQr(photo.data)).toBe(`https://t.me/${BOT}?start=c_${code}`);

    expect(await db.prisma.coupon.count({ where: { memberId } })).toBe(1);
    expect(await balanceOf(anna)).toBe(250);
    const entries = await db.prisma.ledgerEntry.findMany({ where: { memberId }, orderBy: { id: 'asc' } });
    expect(entries.map((e) => [e.type, e.amount])).toEqual([
      ['BONUS', 100],
      ['BONUS', 300],
      ['SPEND', -150],
    ]);

    // The per-member limit (one coffee in 30 days) takes it off her catalogue.
    expect((await anna.says('🎁 Rewards')).text).not.toContain('A free coffee');
    expect(await anna.sendsCallback('rw:t:free-coffee')).toBe('This reward is not available to you now.');
  });

  it('shows a reward with an image as a photo with its caption, and the menu has the Rewards button', async () => {
    const { user } = await registerCustomer('Lena');
    expect(replyKeyboard(await user.says('/help'))).toContain('🎁 Rewards');
    const catalogue = await user.says('🎁 Rewards');
    const card = await user.taps(await rewardButton(catalogue, 'tea'));
    expect(card.method).toBe('sendPhoto');
    expect(card.photo).toBe('https://example.com/rewards/tea.jpg');
    expect(card.caption).toContain('A cup of tea');
    expect(card.caption).toContain('Any tea from the menu.');
    expect(card.caption).toContain('Cost: 50 points · your balance: 100 points');
    expect(button(card, 'rw:t:')).toBe('rw:t:tea');

    // «My coupons» from the catalogue's menu, and back: both in place of the same message.
    const coupons = await user.tapsAndSeesEdit(labelled(catalogue, '🎟 My coupons'), /You have no coupons yet/);
    expect(coupons.messageId).toBe(catalogue.messageId);
    const again = await user.tapsAndSeesEdit(labelled(coupons, '🎁 Rewards'), /Your balance: <b>100 points<\/b>/);
    expect(again.messageId).toBe(catalogue.messageId);
    expect(inlineButtons(again)).toEqual(inlineButtons(catalogue));
  });

  it('pages the catalogue in place and speaks Russian with its plural forms', async () => {
    const { user } = await registerCustomer('Olga', 1900);
    const settings = await user.says('/settings');
    const languages = await user.tapsAndSeesEdit(labelled(settings, '🌐 Language'), /Choose your language/);
    expect(replyKeyboard(await user.taps(labelled(languages, 'Русский')))).toContain('🎁 Награды');
    for (let i = 1; i <= 4; i++) await addReward(app.domain, ADMIN_ID, reward({ code: `gift-${i}`, cost: 20 + i, validityDays: 21 }));
    try {
      const first = await user.says('🎁 Награды');
      expect(first.text).toContain('страница 1 из 2');
      expect(first.text).toContain('Ваш баланс: 2\u00a0000 баллов');
      expect(first.text).toContain('1. Подарок · 21 балл ✅');
      expect(first.text).toContain('2. Подарок · 22 балла ✅');
      const second = await user.tapsAndSeesEdit(labelled(first, 'Дальше ›'), /страница 2 из 2/);
      expect(second.text).toContain('6. Кусок торта · 100 баллов ✅');
      expect(second.text).toContain('8. Купон на 200 ₽ · 2\u00a0000 баллов ✅');
      expect(inlineButtons(second).map((b) => b.text)).toEqual([
        '🎁 Кусок торта · 100',
        '🎁 Кофе в подарок · 150',
        '🎁 Купон на 200 ₽ · 2000',
        '‹ Назад',
        '🎟 Мои купоны',
      ]);
      const back = await user.tapsAndSeesEdit(labelled(second, '‹ Назад'), /страница 1 из 2/);
      const gift = labelled(back, '🎁 Подарок · 21');
      const card = await user.taps(gift);
      expect(card.text).toContain('Купон действует 21 день после получения.');
      const confirm = await user.taps('rw:t:gift-1');
      expect(confirm.text).toContain('Получить «Подарок» за 21 балл?');
      expect(confirm.text).toContain('Купон будет действовать 21 день.');
      // The first page has changed since it was shown (a gift paused): the button in that place
      // now reads otherwise, so it is outdated, answered as such, and opens nothing.
      await db.prisma.reward.update({ where: { code: 'gift-1' }, data: { active: false } });
      const sent = fake.messagesTo(user.user.id).length;
      expect(await user.sendsCallback(gift)).toBe('Эта кнопка больше не действует.');
      expect(fake.messagesTo(user.user.id)).toHaveLength(sent);
    } finally {
      for (let i = 1; i <= 4; i++) await db.prisma.reward.update({ where: { code: `gift-${i}` }, data: { active: false } });
    }
  });
});

describe('staff redeem coupons', () => {
  it('by typed code and by deep link; the customer is told; a second confirmation says when it was redeemed', async () => {
    const carl = await hireCashier('Carl');
    const olga = await hireCashier('Olga', 'msk-02');
    const { user: anna, memberId } = await registerCustomer('Anna', 500);
    const first = await take(anna, 'cake');
    const second = await take(anna, 'cake');
    const third = await take(anna, 'tea');

    // Typed: lower case, in groups, with a space.
    const ask = await carl.says('🎟 Redeem coupon');
    expect(ask.text).toContain('Type the coupon code');
    const typed = formatCouponCode(first.code).toLowerCase().replace('-', ' - ');
    const shown = await carl.says(typed);
    const row = await couponByCode(first.code);
    expect(shown.text).toContain('A piece of cake (a gift)');
    expect(shown.text).toContain(`Code: ${formatCouponCode(first.code)}`);
    expect(shown.text).toContain('Customer: Anna');
    expect(shown.text).toContain(`Status: ✅ valid until ${fmt().dateTime(row.expiresAt)}`);
    expect(inlineButtons(shown).map((b) => b.data)).toEqual([`rdm:ok:${first.code}`, 'rdm:no']);
    expect(await couponByCode(first.code)).toMatchObject({ status: 'ISSUED' });

    const ok = button(shown, 'rdm:ok:');
    const before = fake.calls.length;
    fake.tapButton(carl.user, ok);
    fake.tapButton(carl.user, ok);
    const done = await carl.nextMessage();
    expect(done.text).toContain(`Redeemed: A piece of cake · ${formatCouponCode(first.code)}`);
    expect(done.text).toContain('Customer: Anna');
    await fake.waitFor(() => callbackAnswers(before).length === 2, { what: 'both taps answered' });
    expect(callbackAnswers(before)).toEqual(['Redeemed.', 'Already confirmed: the coupon was redeemed once.']);
    expect((await anna.nextMessage()).text).toContain(`Your coupon “A piece of cake” (${formatCouponCode(first.code)}) has been used at Tverskaya 1.`);

    const store = await db.prisma.store.findUniqueOrThrow({ where: { code: 'msk-01' } });
    const redeemed = await couponByCode(first.code);
    expect(redeemed).toMatchObject({ status: 'REDEEMED', redeemedStoreId: store.id, redeemedByType: 'STAFF', redeemedById: String(carl.user.id) });
    const when = fmt().dateTime(redeemed.redeemedAt as Date);

    // The QR deep link opens the confirmation straight away.
    const scanned = await carl.says(`/start c_${second.code}`);
    expect(scanned.text).toContain(`Code: ${formatCouponCode(second.code)}`);
    expect((await carl.taps(button(scanned, 'rdm:ok:'))).text).toContain('Redeemed: A piece of cake');
    expect((await anna.nextMessage()).text).toContain(`(${formatCouponCode(second.code)}) has been used at Tverskaya 1`);

    // Another cashier looking the first one up sees when and where it was used, and no Confirm.
    const again = await olga.says(`/redeem ${formatCouponCode(first.code)}`);
    expect(again.text).toContain(`Status: ❌ already redeemed on ${when} at Tverskaya 1`);
    expect(inlineButtons(again)).toEqual([]);

    // Two screens open on one coupon: the first Confirm wins, the second is told when it happened.
    const carlScreen = await carl.says(`/redeem ${third.code}`);
    const olgaScreen = await olga.says(`/redeem ${third.code}`);
    expect((await carl.taps(button(carlScreen, 'rdm:ok:'))).text).toContain('Redeemed: A cup of tea');
    const late = await olga.taps(button(olgaScreen, 'rdm:ok:'));
    const thirdRow = await couponByCode(third.code);
    expect(late.text).toBe(`This coupon was already redeemed on ${fmt().dateTime(thirdRow.redeemedAt as Date)} at Tverskaya 1.`);
    expect(thirdRow.redeemedById).toBe(String(carl.user.id));
    await anna.nextMessage();
    expect(fake.messagesTo(anna.user.id).filter((m) => m.text?.includes('has been used'))).toHaveLength(3);
    expect(await db.prisma.coupon.count({ where: { memberId, status: 'REDEEMED' } })).toBe(3);
  });

  it('tells typos, unknown, expired and cancelled codes apart, and slows down guessing', async () => {
    const carl = await hireCashier('Carl');
    const { user: ivan } = await registerCustomer('Ivan', 400);
    const expiring = await take(ivan, 'cake');
    const toCancel = await take(ivan, 'cake');

    const typo = `${first11(expiring.code)}${expiring.code.at(-1) === '2' ? '3' : '2'}`;
    await carl.says('🎟 Redeem coupon');
    expect((await carl.says(typo)).text).toBe('This coupon code has a typo: please check it and type it again.');
    // Still waiting for a code.
    expect((await carl.says(generateCouponCode())).text).toBe('There is no coupon with this code. Check it and type it again. Attempts left: 4.');

    // Expired: the expiry passed (the job has not run yet).
    const past = new Date(Date.now() - 86_400_000);
    await db.prisma.coupon.update({ where: { code: expiring.code }, data: { expiresAt: past } });
    const expired = await carl.says(`/redeem ${expiring.code}`);
    expect(expired.text).toContain(`Status: ❌ expired on ${fmt().dateTime(past)}`);
    expect(inlineButtons(expired)).toEqual([]);

    // Cancelled by the customer while the cashier's screen was open.
    const screen = await carl.says(`/redeem ${toCancel.code}`);
    const couponId = (await couponByCode(toCancel.code)).id;
    await ivan.says('/coupons');
    const ask = await ivan.taps(`cp:c:${couponId}`);
    await ivan.taps(button(ask, 'cp:cy:'));
    const cancelledAt = (await couponByCode(toCancel.code)).cancelledAt as Date;
    expect((await carl.taps(button(screen, 'rdm:ok:'))).text).toBe(`This coupon was cancelled on ${fmt().dateTime(cancelledAt)}.`);
    expect(await couponByCode(toCancel.code)).toMatchObject({ status: 'CANCELLED' });

    // Guessing: the fifth unknown code in a row blocks this cashier for a while.
    for (let i = 0; i < 3; i++) await carl.says(`/redeem ${generateCouponCode()}`);
    expect((await carl.says(`/redeem ${generateCouponCode()}`)).text).toContain('Attempts left: 0.');
    expect((await carl.says(`/redeem ${toCancel.code}`)).text).toBe('Too many wrong coupon codes. Try again in 10 minutes.');
    expect(await db.prisma.auditLog.count({ where: { action: 'coupon.lookup_blocked', subject: `staff:${carl.user.id}` } })).toBe(1);
  });

  it('keeps an awaited code across a restart, and asks the role again when the code arrives: a cashier revoked meanwhile sees and redeems nothing', async () => {
    const carl = await hireCashier('Carl');
    const { user: anna } = await registerCustomer('Anna', 200);
    const first = await take(anna, 'cake');
    const second = await take(anna, 'cake');
    const dialogRow = () => db.prisma.chatSession.count({ where: { key: `redeem:${carl.user.id}` } });

    // The open step is a row of the session store (erasing the member erases it), so a restart carries on.
    expect((await carl.says('🎟 Redeem coupon')).text).toContain('Type the coupon code');
    // (Written once the update is handled, which may be just after the reply.)
    await eventually(async () => (await dialogRow()) === 1, { what: 'the dialog row' });
    await app.stop();
    app = await startTestApp({ fake, databaseUrl: db.url, env: { ADMIN_TELEGRAM_IDS: String(ADMIN_ID) } });
    expect((await carl.says(formatCouponCode(first.code))).text).toContain('Customer: Anna');
    await eventually(async () => (await dialogRow()) === 0, { what: 'the dialog row gone' });

    // Revoked between "Redeem coupon" and the code.
    await carl.says('🎟 Redeem coupon');
    expect((await admin().says(`/revoke ${carl.user.id}`)).text).toContain('no longer has access');
    const before = fake.messagesTo(carl.user.id).length;
    expect((await carl.says(formatCouponCode(second.code))).text).toBe('This is only for store staff and administrators.');
    expect(
      fake
        .messagesTo(carl.user.id)
        .slice(before)
        .some((m) => m.text?.includes('Anna')),
    ).toBe(false);
    await eventually(async () => (await dialogRow()) === 0, { what: 'the dialog row gone' });
    expect(await couponByCode(second.code)).toMatchObject({ status: 'ISSUED' });
    expect(await couponByCode(first.code)).toMatchObject({ status: 'ISSUED' });
  });

  it('leaves the purchase menu working while a code is awaited', async () => {
    const carl = await hireCashier('Carl');
    await carl.says('🎟 Redeem coupon');
    expect((await carl.says('🧾 New purchase')).text).toContain('New purchase');
    expect((await carl.says('/redeem')).text).toContain('Type the coupon code');
    expect((await carl.taps('rdm:no')).text).toBe('Cancelled. The coupon was not redeemed.');
  });
});

const first11 = (code: string) => code.slice(0, 11);

describe('customers cannot redeem', () => {
  it('through staff commands or forged buttons, their own coupon or another one; their own QR just shows their coupon', async () => {
    const { user: mallory } = await registerCustomer('Mallory', 200);
    const { user: bob } = await registerCustomer('Bob');
    const { code } = await take(mallory, 'cake');

    for (const text of ['/redeem', `/redeem ${code}`, '🎟 Redeem coupon']) {
      expect((await mallory.says(text)).text).toBe('This is only for store staff and administrators.');
      expect((await bob.says(text)).text).toBe('This is only for store staff and administrators.');
    }
    for (const data of [`rdm:ok:${code}`, 'rdm:no', 'rdm:whatever']) {
      expect(await mallory.sendsCallback(data)).toBe('This is only for store staff and administrators.');
      expect(await bob.sendsCallback(data)).toBe('This is only for store staff and administrators.');
    }
    // Typing a code is nothing special for a customer.
    expect((await mallory.says(formatCouponCode(code))).text).toContain("I didn't understand that");

    // Her own coupon's QR shows her coupon; for Bob it is just /start.
    const own = await mallory.says(`/start c_${code}`);
    expect(own.method).toBe('sendPhoto');
    expect(own.caption).toContain(formatCouponCode(code));
    expect((await bob.says(`/start c_${code}`)).text).toContain('You are already a member, Bob');
    const stranger = newUser('Sam');
    expect((await stranger.says(`/start c_${code}`)).text).toContain('Welcome to Friends Club');

    // Bob cannot see or cancel her coupon by forging its id.
    const id = (await couponByCode(code)).id;
    for (const data of [`cp:s:${id}`, `cp:c:${id}`, `cp:cy:${id}`]) expect(await bob.sendsCallback(data)).toBe('There is no such coupon among yours.');

    expect(await couponByCode(code)).toMatchObject({ status: 'ISSUED', redeemedAt: null });
    expect(await balanceOf(mallory)).toBe(200);
  });

  it('a cashier who is also a customer cannot confirm their own coupon, and sees it instead', async () => {
    const carl = await hireCashier('Carl');
    // Carl registers as a customer too.
    await carl.says('/start');
    await carl.taps('reg:lang:en');
    await carl.taps('reg:consent:yes');
    await carl.sharesContact(`7913${String(carl.user.id).padStart(7, '0')}`);
    await carl.says('Carl');
    await carl.says('Skip');
    const { code } = await take(carl, 'tea');
    expect((await carl.says(`/redeem ${code}`)).text).toBe('You cannot confirm your own coupon.');
    expect(await carl.sendsCallback(`rdm:ok:${code}`)).toBe('You cannot confirm your own coupon.');
    const scanned = await carl.says(`/start c_${code}`);
    expect(scanned.method).toBe('sendPhoto');
    // Typed in the redeem step, as a customer-cashier (after the customer features).
    await carl.says('🎟 Redeem coupon');
    expect((await carl.says(code.toLowerCase())).text).toBe('You cannot confirm your own coupon.');
    expect(await couponByCode(code)).toMatchObject({ status: 'ISSUED' });
  });
});

describe('my coupons', () => {
  it('lists active, used and expired coupons, shows one again, and cancelling returns the points', async () => {
    const carl = await hireCashier('Carl');
    const { user: vera, memberId } = await registerCustomer('Vera', 250);
    const used = await take(vera, 'cake');
    const kept = await take(vera, 'tea');
    const old = await take(vera, 'cake');
    await db.prisma.coupon.update({ where: { code: old.code }, data: { expiresAt: new Date(Date.now() - 3_600_000) } });
    const screen = await carl.says(`/redeem ${used.code}`);
    await carl.taps(button(screen, 'rdm:ok:'));
    await vera.nextMessage();
    expect(await balanceOf(vera)).toBe(100);

    const list = await vera.says('/coupons');
    expect(list.text).toContain('My coupons');
    const keptRow = await couponByCode(kept.code);
    const usedRow = await couponByCode(used.code);
    expect(list.text).toContain(`Active\n• A cup of tea · ${formatCouponCode(kept.code)} · until ${fmt().dateTime(keptRow.expiresAt)}`);
    expect(list.text).toContain(`Used\n• A piece of cake · used ${fmt().dateTime(usedRow.redeemedAt as Date)}, Tverskaya 1`);
    expect(list.text).toContain('Expired\n• A piece of cake · expired');
    expect(inlineButtons(list).map((b) => b.data)).toEqual([`cp:s:${keptRow.id}`, `cp:c:${keptRow.id}`, 'rw:p:0']);

    const again = await vera.taps(`cp:s:${keptRow.id}`);
    expect(again.method).toBe('sendPhoto');
    const photo = again.photo;
    if (!photo || typeof photo === 'string') throw new Error('the coupon must be an uploaded image');
    expect(readQr(photo.data)).toBe(`https://t.me/${BOT}?start=c_${kept.code}`);

    const ask = await vera.taps(`cp:c:${keptRow.id}`);
    expect(ask.text).toContain('Cancel the coupon «A cup of tea»');
    expect(ask.text).toContain('50 points will return to your balance.');
    expect(await vera.sendsCallback(button(ask, 'cp:k'))).toBe('The coupon stays valid.');
    expect(await couponByCode(kept.code)).toMatchObject({ status: 'ISSUED' });

    const ask2 = await vera.taps(`cp:c:${keptRow.id}`);
    const cancelled = await vera.taps(button(ask2, 'cp:cy:'));
    expect(cancelled.text).toContain('The coupon «A cup of tea» is cancelled: 50 points returned.');
    expect(cancelled.text).toContain('Your balance: 150 points.');
    expect(await vera.sendsCallback(`cp:cy:${keptRow.id}`)).toBe('This coupon was already cancelled.');
    expect(await balanceOf(vera)).toBe(150);
    const entries = await db.prisma.ledgerEntry.findMany({ where: { memberId }, orderBy: { id: 'asc' } });
    expect(entries.map((e) => [e.type, e.amount])).toEqual([
      ['BONUS', 100],
      ['BONUS', 250],
      ['SPEND', -100],
      ['SPEND', -50],
      ['SPEND', -100],
      ['REFUND', 50],
    ]);
    // A used coupon cannot be cancelled.
    expect(await vera.sendsCallback(`cp:cy:${usedRow.id}`)).toBe(`This coupon was already redeemed on ${fmt().dateTime(usedRow.redeemedAt as Date)}.`);
  });

  it('are cancelled when the account is deleted, so they can no longer be redeemed', async () => {
    const carl = await hireCashier('Carl');
    const { user: dora } = await registerCustomer('Dora', 100);
    const { code } = await take(dora, 'cake');
    const settings = await dora.says('/settings');
    const myData = await dora.tapsAndSeesEdit(labelled(settings, '📄 My data'), /My data/);
    const confirm = await dora.tapsAndSeesEdit(labelled(myData, '🗑 Delete my account'), /Delete your account\?/);
    expect((await dora.taps(labelled(confirm, 'Yes, delete everything'))).text).toContain('Your account is deleted');
    const row = await couponByCode(code);
    expect(row).toMatchObject({ status: 'CANCELLED', pointsRefunded: 0 });
    const shown = await carl.says(`/redeem ${code}`);
    expect(shown.text).toContain(`Status: ❌ cancelled on ${fmt().dateTime(row.cancelledAt as Date)}`);
    expect(shown.text).toContain('Customer: —');
    expect(inlineButtons(shown)).toEqual([]);
  });
});

describe('administration of rewards', () => {
  it('lists rewards with status and stock, pauses, resumes and restocks them', async () => {
    const boss = admin();
    const help = await boss.says('/admin');
    for (const command of ['/rewards', '/reward_pause', '/reward_resume', '/reward_stock', '/redeem']) expect(help.text).toContain(command);

    const list = await boss.says('/rewards');
    expect(list.text).toContain('coupon-200 · A 200 RUB coupon · 2,000 points · stock: 100 · offered');
    expect(list.text).toContain('free-coffee · A free coffee · 150 points · stock: unlimited · offered');

    expect((await boss.says('/reward_pause')).text).toContain('Usage: /reward_pause');
    expect((await boss.says('/reward_pause nope')).text).toBe('There is no reward with the code nope.');
    expect((await boss.says('/reward_pause cake')).text).toContain('cake is paused');
    expect((await boss.says('/rewards')).text).toContain('cake · A piece of cake · 100 points · stock: unlimited · ⏸ paused');
    const { user } = await registerCustomer('Kate', 100);
    expect((await user.says('🎁 Rewards')).text).not.toContain('A piece of cake');
    expect((await boss.says('/reward_resume cake')).text).toContain('cake is offered again');
    expect((await user.says('/rewards')).text).toContain('A piece of cake');

    expect((await boss.says('/reward_stock coupon-200 many')).text).toContain('Usage: /reward_stock');
    expect((await boss.says('/reward_stock coupon-200 5')).text).toContain('Stock of coupon-200: 5.');
    expect((await boss.says('/reward_stock cake 0')).text).toContain('Stock of cake: 0.');
    expect((await user.says('🎁 Rewards')).text).not.toContain('A piece of cake');
    expect((await boss.says('/reward_stock cake unlimited')).text).toContain('Stock of cake: unlimited.');
    expect(await db.prisma.reward.findUniqueOrThrow({ where: { code: 'coupon-200' } })).toMatchObject({ stock: 5 });

    // Not for anyone else.
    for (const text of ['/reward_pause cake', '/reward_resume cake', '/reward_stock cake 1'])
      expect((await user.says(text)).text).toBe('This is only for store staff and administrators.');
    const carl = await hireCashier('Carl');
    expect((await carl.says('/reward_pause cake')).text).toBe('This is only for store staff and administrators.');
    expect(await db.prisma.reward.findUniqueOrThrow({ where: { code: 'cake' } })).toMatchObject({ active: true, stock: null });
  });

  it('pauses and resumes a reward from the toggles under the list; an outdated or foreign tap changes nothing', async () => {
    const boss = admin();
    const list = await boss.says('/rewards');
    const pause = labelled(list, '⏸ cake');
    const before = fake.calls.length;
    const paused = await boss.tapsAndSeesEdit(pause, /<code>cake<\/code> · A piece of cake · 100 points · stock: unlimited · ⏸ paused/);
    expect(callbackAnswers(before)).toEqual(['⏸ cake is paused: it is no longer offered. Coupons already taken stay valid.']);
    expect(await db.prisma.reward.findUniqueOrThrow({ where: { code: 'cake' } })).toMatchObject({ active: false });
    const resume = labelled(paused, '▶️ cake');

    // The old "pause" button no longer reads so for cake: outdated, nothing toggled back.
    expect(await boss.sendsCallback(pause)).toBe('This button is no longer active.');
    expect(await db.prisma.reward.findUniqueOrThrow({ where: { code: 'cake' } })).toMatchObject({ active: false });
    // The admin's buttons replayed by a customer or a cashier: refused, nothing changed.
    const { user } = await registerCustomer('Tim');
    const carl = await hireCashier('Cid');
    for (const other of [user, carl]) expect(await other.sendsCallback(resume)).toBe('This is only for store staff and administrators.');
    expect(await db.prisma.reward.findUniqueOrThrow({ where: { code: 'cake' } })).toMatchObject({ active: false });

    await boss.tapsAndSeesEdit(resume, /<code>cake<\/code> · A piece of cake · 100 points · stock: unlimited · offered/);
    expect(await db.prisma.reward.findUniqueOrThrow({ where: { code: 'cake' } })).toMatchObject({ active: true });
  });
});
