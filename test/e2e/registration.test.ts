import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { isMemberCode } from '../../src/domain/codes.js';
import { findMemberForStaff } from '../../src/domain/purchases/find-member.js';
import { startTestApp } from '../support/app.js';
import { Conversation, expectNoViolations, inlineButtons, labelled, replyKeyboard } from '../support/conversation.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { FakeBotApi } from '../support/fake-bot-api/server.js';
import { readQr } from '../support/qr.js';

let fake: FakeBotApi;
let db: TestDatabase;
let app: App;
let nextUserId = 5000;

beforeAll(async () => {
  fake = await FakeBotApi.start({ botUsername: 'loyalty_test_bot' });
  db = await createTestDatabase();
  app = await startTestApp({ fake, databaseUrl: db.url });
});
afterAll(async () => {
  await app?.stop();
  await fake?.close();
  await db?.drop();
});
afterEach(() => expectNoViolations(fake));

const newUser = (languageCode: string | undefined, firstName = 'Анна') =>
  new Conversation(fake, { id: nextUserId++, first_name: firstName, ...(languageCode ? { language_code: languageCode } : {}) });

const memberOf = (user: Conversation) => db.prisma.member.findUnique({ where: { telegramId: BigInt(user.user.id) } });

/** Registers in Russian up to the birthday question. */
async function registerUpToBirthday(user: Conversation) {
  await user.says('/start');
  await user.taps('reg:lang:ru');
  await user.taps('reg:consent:yes');
  await user.sharesContact(`7912${String(user.user.id).padStart(7, '0')}`);
  await user.says(user.user.first_name);
}

describe('registration', () => {
  it('registers a customer in Russian and shows balance and card', async () => {
    const anna = newUser('ru');
    const greeting = await anna.says('/start ref_FRIEND1');
    expect(greeting.text).toContain('Добро пожаловать в Клуб «Друзья»');
    expect(inlineButtons(greeting).map((b) => b.text)).toEqual(['Русский', 'English']);

    const consent = await anna.taps('reg:lang:ru');
    expect(consent.text).toContain('согласие на обработку персональных данных');
    expect(consent.text).toContain('версия 2026-01');
    expect(consent.entities).toContainEqual(expect.objectContaining({ type: 'text_link', url: 'https://example.com/loyalty/privacy' }));

    const phonePrompt = await anna.taps('reg:consent:yes');
    expect(phonePrompt.text).toContain('Поделитесь номером телефона');
    expect(phonePrompt.replyMarkup.keyboard[0][0]).toMatchObject({ text: '📱 Отправить мой номер', request_contact: true });

    const namePrompt = await anna.sharesContact('79123450001');
    expect(namePrompt.text).toContain('Как к вам обращаться');
    expect(replyKeyboard(namePrompt)).toEqual(['Анна']);

    const birthdayPrompt = await anna.says('Анна');
    expect(birthdayPrompt.text).toContain('ДД.ММ.ГГГГ');
    expect(replyKeyboard(birthdayPrompt)).toEqual(['Пропустить']);

    const welcome = await anna.says('05.09.1990');
    expect(welcome.text).toContain('Готово, Анна!');
    expect(welcome.text).toContain('Приветственный бонус: 100 баллов уже на вашем счёте');
    expect(replyKeyboard(welcome)).toEqual(['💰 Баланс', '💳 Карта', '🎁 Награды', '🎯 Задания', '📜 История', '⚙️ Настройки', '❓ Помощь']);

    const member = await memberOf(anna);
    expect(member).toMatchObject({
      status: 'ACTIVE',
      phone: '+79123450001',
      name: 'Анна',
      locale: 'ru',
      consentVersion: '2026-01',
      startPayload: 'ref_FRIEND1',
      balance: 100,
    });
    expect(member?.birthday?.toISOString().slice(0, 10)).toBe('1990-09-05');
    expect(member?.consentAt).toBeInstanceOf(Date);

    const balance = await anna.says('💰 Баланс');
    expect(balance.text).toContain('100 баллов');
    expect(balance.text).toContain('Уровень: Базовый · скидка 6%');
    expect(balance.text).toMatch(/До уровня «Серебряный» осталось потратить 15\s000\s₽/);
    expect(balance.text).toMatch(/100 баллов сгорят \d{2}\.\d{2}\.\d{4}/);

    const card = await anna.says('💳 Карта');
    expect(card.method).toBe('sendPhoto');
    const code = member?.code as string;
    expect(isMemberCode(code)).toBe(true);
    expect(card.caption).toContain(`${code.slice(0, 3)}-${code.slice(3, 6)}-${code.slice(6)}`);
    const photo = card.photo;
    if (!photo || typeof photo === 'string') throw new Error('the card must be an uploaded image');
    expect(readQr(photo.data)).toBe(`https://t.me/loyalty_test_bot?start=m_${code}`);
    // Under the card: the one-time code for paying with points, and a button for a new one.
    const spendCode = await anna.nextMessage();
    expect(spendCode.text).toMatch(/Код для оплаты баллами: \d{3} \d{3}/);
    expect(inlineButtons(spendCode).map((b) => b.data)).toEqual(['card:code']);

    // The image is uploaded once; later cards reuse Telegram's file id.
    const again = await anna.says('💳 Карта');
    const fileId = (await memberOf(anna))?.cardFileId;
    expect(fileId).toEqual(expect.any(String));
    expect(again.params.photo).toBe(fileId);
    expect(again.caption).toBe(card.caption);
    expect((await anna.nextMessage()).text).toMatch(/Код для оплаты баллами: \d{3} \d{3}/);
    // Only the code shown last works: the earlier one is closed.
    expect(await db.prisma.spendCode.count({ where: { memberId: member?.id, usedAt: null } })).toBe(1);
  });

  it('registers a customer in English with a typed phone number', async () => {
    const john = newUser('en-GB', 'John');
    const greeting = await john.says('/start');
    expect(greeting.text).toContain('Welcome to <b>Friends Club</b>'.replace(/<\/?b>/g, ''));
    await john.taps('reg:lang:en');
    const phonePrompt = await john.taps('reg:consent:yes');
    expect(phonePrompt.text).toContain('Please share your phone number');

    const refused = await john.says('call me maybe');
    expect(refused.text).toContain("doesn't look like a valid phone number");
    const namePrompt = await john.says('+44 20 7946 0958');
    expect(namePrompt.text).toContain('What should we call you?');
    await john.says('John Smith');
    const welcome = await john.says('Skip');
    expect(welcome.text).toContain('You are in, John Smith!');
    expect(welcome.text).toContain('Welcome bonus: 100 points');
    // A typed number is kept, unverified: only the member's own shared contact verifies a phone.
    expect(await memberOf(john)).toMatchObject({ phone: '+442079460958', phoneVerified: false, birthday: null, locale: 'en' });

    const balance = await john.says('💰 Balance');
    expect(balance.text).toContain('100 points');
    expect(balance.text).toContain('Tier: Basic · discount 6%');
  });

  it('refuses invalid and future birthdays and changes nothing', async () => {
    const olga = newUser('ru', 'Ольга');
    await registerUpToBirthday(olga);
    expect((await olga.says('31.02.1990')).text).toContain('Такой даты не существует');
    expect((await olga.says('01.01.2999')).text).toContain('Эта дата ещё не наступила');
    expect((await olga.says('в мае')).text).toContain('ДД.ММ.ГГГГ');
    expect(await memberOf(olga)).toMatchObject({ status: 'REGISTERING', registrationStep: 'BIRTHDAY', birthday: null, balance: 0 });
    expect((await olga.says('29.02.2000')).text).toContain('Готово, Ольга!');
  });

  it("refuses someone else's contact", async () => {
    const ivan = newUser('ru', 'Иван');
    await ivan.says('/start');
    await ivan.taps('reg:lang:ru');
    await ivan.taps('reg:consent:yes');
    const refused = await ivan.sharesContact('79990001122', 424242);
    expect(refused.text).toContain('Это чужой контакт');
    expect(await memberOf(ivan)).toMatchObject({ registrationStep: 'PHONE', phone: null });
  });

  it('a typed number of someone else never blocks its owner, who shares their contact and takes it over; a phone lookup finds only the owner', async () => {
    const sam = newUser('en', 'Sam');
    await sam.says('/start');
    await sam.taps('reg:lang:en');
    await sam.taps('reg:consent:yes');
    expect((await sam.says('+7 912 777-00-01')).text).toContain('What should we call you?');
    await sam.says('Sam');
    expect((await sam.says('Skip')).text).toContain('You are in, Sam!');
    expect(await memberOf(sam)).toMatchObject({ phone: '+79127770001', phoneVerified: false });
    // A cashier typing the number does not find the squatter.
    await expect(findMemberForStaff(app.domain, '+79127770001')).rejects.toMatchObject({ code: 'MEMBER_NOT_FOUND' });

    const olivia = newUser('en', 'Olivia');
    await olivia.says('/start');
    await olivia.taps('reg:lang:en');
    await olivia.taps('reg:consent:yes');
    expect((await olivia.sharesContact('79127770001')).text).toContain('What should we call you?');
    await olivia.says('Olivia');
    expect((await olivia.says('Skip')).text).toContain('You are in, Olivia!');
    const owner = await memberOf(olivia);
    expect(owner).toMatchObject({ phone: '+79127770001', phoneVerified: true });
    expect(await memberOf(sam)).toMatchObject({ status: 'ACTIVE', phone: null, phoneVerified: false });
    expect((await findMemberForStaff(app.domain, '8 912 777-00-01')).id).toBe(owner?.id);
  });

  it('refuses a phone number already registered to someone else', async () => {
    const first = newUser('ru', 'Пётр');
    await registerUpToBirthday(first);
    await first.says('Пропустить');
    const second = newUser('ru', 'Павел');
    await second.says('/start');
    await second.taps('reg:lang:ru');
    await second.taps('reg:consent:yes');
    const phone = `+7912${String(first.user.id).padStart(7, '0')}`;
    expect((await second.says(phone)).text).toContain('уже зарегистрирован');
    expect(await memberOf(second)).toMatchObject({ registrationStep: 'PHONE', phone: null });
  });

  it('explains declined consent and keeps the way forward open', async () => {
    const user = newUser('ru', 'Вера');
    await user.says('/start');
    await user.taps('reg:lang:ru');
    const declined = await user.taps('reg:consent:no');
    expect(declined.text).toContain('Без согласия мы не можем вас зарегистрировать');
    expect(await memberOf(user)).toMatchObject({ registrationStep: 'CONSENT', consentAt: null });
    expect((await user.taps('reg:consent:yes')).text).toContain('Поделитесь номером телефона');
  });

  it('never creates a second member on /start again, before or after registering', async () => {
    const user = newUser('ru', 'Мария');
    await user.says('/start');
    await user.taps('reg:lang:ru');
    const resumed = await user.says('/start');
    expect(resumed.text).toContain('С возвращением');
    expect((await user.nextMessage()).text).toContain('согласие');
    await user.taps('reg:consent:yes');
    await user.sharesContact(`7912${String(user.user.id).padStart(7, '0')}`);
    await user.says('Мария');
    await user.says('Пропустить');
    const again = await user.says('/start');
    expect(again.text).toContain('Вы уже участник программы, Мария');
    expect(await db.prisma.member.count({ where: { telegramId: BigInt(user.user.id) } })).toBe(1);
    expect(await db.prisma.ledgerEntry.count({ where: { member: { telegramId: BigInt(user.user.id) } } })).toBe(1);
  });

  it('answers unknown input with a hint, before and after registration', async () => {
    const stranger = newUser('en', 'Sam');
    expect((await stranger.says('hello?')).text).toContain('send /start');
    await stranger.says('/start');
    await stranger.taps('reg:lang:en');
    await stranger.taps('reg:consent:yes');
    await stranger.sharesContact(`7912${String(stranger.user.id).padStart(7, '0')}`);
    await stranger.says('Sam');
    await stranger.says('Skip');
    const hint = await stranger.says('what is this');
    expect(hint.text).toContain("I didn't understand that");
    expect(replyKeyboard(hint)).toContain('💰 Balance');
  });
});

describe('an active member', () => {
  it('reads an empty-state-free history of the welcome bonus', async () => {
    const user = newUser('en', 'Lena');
    await user.says('/start');
    await user.taps('reg:lang:en');
    await user.taps('reg:consent:yes');
    await user.sharesContact(`7912${String(user.user.id).padStart(7, '0')}`);
    await user.says('Lena');
    await user.says('Skip');
    const history = await user.says('📜 History');
    expect(history.text).toContain('Points history (page 1 of 1)');
    expect(history.text).toMatch(/\+100 · welcome bonus/);
  });

  it('opens a screen from a deep link, e.g. the button of a broadcast', async () => {
    const user = newUser('en', 'Dee');
    await user.says('/start');
    await user.taps('reg:lang:en');
    await user.taps('reg:consent:yes');
    await user.sharesContact(`7912${String(user.user.id).padStart(7, '0')}`);
    await user.says('Dee');
    await user.says('Skip');
    expect((await user.says('/start balance')).text).toContain('Tier: Basic');
    expect((await user.says('/start rewards')).text).toContain('Rewards');
    expect((await user.says('/start card')).method).toBe('sendPhoto');
    expect((await user.nextMessage()).text).toContain('Code for paying with points');
    // Anything else is the usual greeting.
    expect((await user.says('/start nonsense')).text).toContain('You are already a member');
  });

  it('switches language in Settings, menu included', async () => {
    const user = newUser('ru', 'Нина');
    await registerUpToBirthday(user);
    await user.says('Пропустить');
    const settings = await user.says('⚙️ Настройки');
    expect(settings.text).toContain('Язык: Русский');
    const languages = await user.tapsAndSeesEdit(labelled(settings, '🌐 Язык'), /Выберите язык/);
    fake.tapButton(user.user, labelled(languages, 'English'));
    const confirmation = await user.nextMessage();
    expect(confirmation.text).toBe('Language set: English.');
    expect(replyKeyboard(confirmation)).toContain('💰 Balance');
    expect(await memberOf(user)).toMatchObject({ locale: 'en' });
    expect((await user.says('💰 Balance')).text).toContain('Tier: Basic');
    // The old language's buttons still work for someone who just switched.
    expect((await user.says('💰 Баланс')).text).toContain('Tier: Basic');
  });

  it('turns notifications off and on', async () => {
    const user = newUser('en', 'Olly');
    await user.says('/start');
    await user.taps('reg:lang:en');
    await user.taps('reg:consent:yes');
    await user.sharesContact(`7912${String(user.user.id).padStart(7, '0')}`);
    await user.says('Olly');
    await user.says('Skip');
    const settings = await user.says('⚙️ Settings');
    const off = await user.tapsAndSeesEdit(labelled(settings, '🔕 Turn notifications off'), /Notifications: off/);
    expect(await memberOf(user)).toMatchObject({ notificationsEnabled: false });
    await user.tapsAndSeesEdit(labelled(off, '🔔 Turn notifications on'), /Notifications: on/);
    expect(await memberOf(user)).toMatchObject({ notificationsEnabled: true });
  });

  it('keeps the notifications choice, and answers an outdated settings button without changing anything', async () => {
    const user = newUser('en', 'Pia');
    await user.registers();
    const first = await user.says('/settings');
    const turnOff = labelled(first, '🔕 Turn notifications off');
    await user.tapsAndSeesEdit(turnOff, /Notifications: off/);
    // It persists: a new settings screen, another update, reads it back from the database.
    const second = await user.says('/settings');
    expect(second.text).toContain('Notifications: off');
    expect(inlineButtons(second).map((b) => b.text)).toContain('🔔 Turn notifications on');

    // The first screen's old "off" button (sent again, as a slow client would) no longer reads
    // so for this member: it is outdated, answered as such, and flips nothing back.
    expect(await user.sendsCallback(turnOff)).toBe('This button is no longer active.');
    expect(await memberOf(user)).toMatchObject({ notificationsEnabled: false });
    // From the newer screen the same place is "on", and works.
    await user.tapsAndSeesEdit(labelled(second, '🔔 Turn notifications on'), /Notifications: on/);
    expect(await memberOf(user)).toMatchObject({ notificationsEnabled: true });
  });

  it('acts on forged settings menu data as its sender only, or not at all', async () => {
    const eve = newUser('en', 'Eve');
    const bob = newUser('en', 'Bob');
    await eve.registers();
    await bob.registers();
    const settings = await eve.says('/settings');
    const toggle = labelled(settings, '🔕 Turn notifications off');
    // Menu data is `menu/row/column/payload/hash`.
    const hash = toggle.split('/').at(-1) as string;
    expect(hash).toMatch(/^h/);
    for (const forged of [
      // Another place on the same keyboard, another menu (the delete confirmation without its
      // screen), a submenu that does not exist, a bad hash.
      `set/9/0//${hash}`,
      `set-del/0/0//${hash}`,
      `set-nope/0/0//${hash}`,
      'set/1/0//hAAAA',
      'set-del/0/0//fAAAA',
    ]) {
      expect([forged, await eve.sendsCallback(forged)]).toEqual([forged, 'This button is no longer active.']);
    }
    expect(await memberOf(eve)).toMatchObject({ status: 'ACTIVE', notificationsEnabled: true });
    // Eve's button replayed by Bob is Bob's own tap: it changes his setting, never Eve's.
    expect(await bob.sendsCallback(toggle)).toBe('Notifications are off. We will still answer you and confirm your purchases.');
    expect(await memberOf(bob)).toMatchObject({ notificationsEnabled: false });
    expect(await memberOf(eve)).toMatchObject({ notificationsEnabled: true });
  });

  it('exports its data and deletes the account after confirming', async () => {
    const user = newUser('en', 'Kate');
    await user.says('/start');
    await user.taps('reg:lang:en');
    await user.taps('reg:consent:yes');
    expect((await user.sharesContact('447911123456')).text).toContain('What should we call you?');
    await user.says('Kate');
    await user.says('01.02.1985');
    const before = await memberOf(user);

    const settings = await user.says('⚙️ Settings');
    const myData = await user.tapsAndSeesEdit(labelled(settings, '📄 My data'), /My data/);
    const exported = await user.taps(labelled(myData, '⬇️ Download my data'));
    expect(exported.method).toBe('sendDocument');
    const file = exported.document;
    if (!file || typeof file === 'string') throw new Error('export must be an uploaded file');
    const data = JSON.parse(file.data.toString('utf8'));
    expect(data.member).toMatchObject({ cardCode: before?.code, phone: '+447911123456', name: 'Kate', birthday: '1985-02-01', balance: 100 });
    expect(data.ledger).toEqual([expect.objectContaining({ type: 'BONUS', points: 100 })]);
    expect(data).toMatchObject({
      coupons: [],
      purchases: [],
      surveys: [],
      tasks: { progress: [], badges: [], streaks: [] },
      referrals: { invitedBy: null, friendsInvited: 0, friendsWhoBought: 0 },
      leaderboard: { optedIn: false, nameShown: 'INITIALS' },
    });

    const confirm = await user.tapsAndSeesEdit(labelled(myData, '🗑 Delete my account'), /Delete your account\?/);
    expect(confirm.text).toContain('your 100 points will be lost');
    expect(inlineButtons(confirm).map((b) => b.text)).toEqual(['Yes, delete everything', 'Cancel']);
    // Cancelling goes back and deletes nothing.
    const back = await user.tapsAndSeesEdit(labelled(confirm, 'Cancel'), /My data/);
    expect(await memberOf(user)).toMatchObject({ status: 'ACTIVE' });

    // A message still waiting in the outbox and a conversation left halfway (an NPS comment).
    const waiting = await db.prisma.delivery.create({
      data: {
        dedupeKey: `e2e-waiting:${before?.id}`,
        memberId: before?.id,
        kind: 'winBack',
        class: 'reminder',
        payload: { kind: 'winBack', balance: 100, inactiveDays: 60 },
      },
    });
    await db.prisma.chatSession.create({ data: { key: `nps:${user.user.id}`, value: { surveyId: 1 } } });

    const again = await user.tapsAndSeesEdit(labelled(back, '🗑 Delete my account'), /Delete your account\?/);
    const deleted = await user.taps(labelled(again, 'Yes, delete everything'));
    expect(deleted.text).toContain('Your account is deleted');
    expect(deleted.replyMarkup).toEqual({ remove_keyboard: true });

    const erased = await db.prisma.member.findUnique({ where: { id: before?.id } });
    expect(erased).toMatchObject({ status: 'DELETED', telegramId: null, phone: null, name: null, birthday: null, balance: 0, notificationsEnabled: false });
    const entries = await db.prisma.ledgerEntry.findMany({ where: { memberId: before?.id }, orderBy: { id: 'asc' } });
    expect(entries.map((e) => [e.type, e.amount])).toEqual([
      ['BONUS', 100],
      ['CLOSE', -100],
    ]);
    expect(await db.prisma.delivery.findUnique({ where: { id: waiting.id } })).toMatchObject({ status: 'SKIPPED', error: 'account deleted' });
    expect(await db.prisma.chatSession.findUnique({ where: { key: `nps:${user.user.id}` } })).toBeNull();
    // The balance screen no longer knows them; /start would begin a new registration.
    expect((await user.says('💰 Balance')).text).toContain('send /start');
  });

  it('ignores forged callback data from someone who is not a member', async () => {
    const mallory = newUser('en', 'Mallory');
    expect(await mallory.sendsCallback('set:del:yes')).toBe('This button is no longer active.');
    expect(await mallory.sendsCallback('set-del/0/0//hAAAA')).toBe('This button is no longer active.');
    expect(await mallory.sendsCallback('hist:99999999')).toBe('This button is no longer active.');
    expect(await mallory.sendsCallback('reg:consent:yes')).toBe('This button is no longer active.');
    expect(await memberOf(mallory)).toBeNull();
  });
});
