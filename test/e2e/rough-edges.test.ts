import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { ManualClock } from '../../src/domain/clock.js';
import { recordPurchase } from '../../src/domain/purchases/record-purchase.js';
import { startTestApp } from '../support/app.js';
import { Conversation, expectNoViolations, inlineButtons, labelled, replyKeyboard } from '../support/conversation.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { eventually } from '../support/eventually.js';
import { FakeBotApi, type SentMessage } from '../support/fake-bot-api/server.js';

/**
 * Issue 15: what a real customer, cashier and owner read, word for word. The clock starts on
 * Friday 4 December 2026, 12:00 in Moscow (outside the quiet hours).
 */

const ADMIN = 15_000;
const MINUTE = 60_000;
const clock = new ManualClock(new Date('2026-12-04T09:00:00Z'));
let fake: FakeBotApi;
let db: TestDatabase;
let app: App;
let nextUserId = 15_100;

beforeAll(async () => {
  fake = await FakeBotApi.start();
  db = await createTestDatabase();
  app = await startTestApp({ fake, databaseUrl: db.url, clock, env: { ADMIN_TELEGRAM_IDS: String(ADMIN) } });
});
afterEach(() => expectNoViolations(fake));
afterAll(async () => {
  await app?.stop();
  await fake?.close();
  await db?.drop();
});

const plain = (message: SentMessage) => (message.text ?? '').replace(/[\u00a0\u202f]/g, ' ');
const memberOf = (user: Conversation) => db.prisma.member.findUniqueOrThrow({ where: { telegramId: BigInt(user.user.id) } });

/** Registers in `lang` up to the name question; returns that question. */
async function upToName(user: Conversation, lang: 'en' | 'ru') {
  await user.says('/start');
  await user.taps(`reg:lang:${lang}`);
  await user.taps('reg:consent:yes');
  return user.sharesContact(`7913${String(user.user.id).padStart(7, '0')}`);
}

async function customer(lang: 'en' | 'ru', firstName: string) {
  const user = new Conversation(fake, { id: nextUserId++, first_name: firstName, language_code: lang });
  await upToName(user, lang);
  await user.says(firstName);
  await user.says(lang === 'en' ? 'Skip' : 'Пропустить');
  return user;
}

/** A till purchase at the app's clock, as the HTTP API records it. */
/** A purchase that lifts the customer to Silver: the receipt and the tier message arrive in either order. */
async function bigPurchase(user: Conversation) {
  await purchase(user, 3_600_050);
  const tierUp = (m: { text?: string }) => /🏆/.test(m.text ?? '');
  await fake.waitFor(() => fake.messagesTo(user.user.id).some(tierUp));
  // Still unread when it came after the receipt: read it, so that the next answer is the bot's reply.
  if (tierUp(fake.lastMessageTo(user.user.id) ?? {})) await user.nextMessage(tierUp);
}

async function purchase(user: Conversation, amountMinor: number, storeCode = 'msk-01') {
  const store = await app.domain.repos.stores.findByCode(storeCode);
  const member = await memberOf(user);
  const receiptNo = `R15-${user.user.id}-${amountMinor}`;
  const result = await recordPurchase(app.domain, {
    memberId: member.id,
    storeId: store?.id as number,
    receiptNo,
    amountMinor,
    pointsToSpend: 0,
    idempotencyKey: receiptNo,
    actor: { type: 'TILL', id: 'test' },
  });
  await user.nextMessage((m) => (m.text ?? '').includes(storeCode === 'msk-01' ? 'Tverskaya 1' : 'Arbat 12'));
  return result.purchase;
}

/** Runs `test` with a changed program, then puts it back (the app reads the program live). */
async function withProgram(change: (program: App['domain']['program']) => void, test: () => Promise<void>) {
  const saved = structuredClone(app.domain.program);
  change(app.domain.program);
  try {
    await test();
  } finally {
    Object.assign(app.domain.program, saved);
  }
}

describe('registration', () => {
  it('suggests the Telegram name only as the name step would accept it, and promises the birthday gift the program gives', async () => {
    const max = new Conversation(fake, { id: nextUserId++, first_name: 'Max99 🔥', language_code: 'en' });
    const namePrompt = await upToName(max, 'en');
    expect(replyKeyboard(namePrompt)).toEqual(['Max']);
    const birthday = await max.says('Max');
    expect(birthday.text).toBe('When is your birthday? Type it as DD.MM.YYYY, e.g. 05.09.1990. On your birthday we will give you 200 points.');
    expect((await max.says('Skip')).text).toContain('You are in, Max!');

    // Nothing usable in the profile name: no suggestion to tap, a plain question.
    const fire = new Conversation(fake, { id: nextUserId++, first_name: '🔥🔥', language_code: 'ru' });
    const ask = await upToName(fire, 'ru');
    expect(ask.text).toBe('Как к вам обращаться? Напишите, пожалуйста, своё имя.');
    expect(replyKeyboard(ask)).toEqual([]);
  });

  it('promises no birthday gift when the program gives none', async () => {
    await withProgram(
      (program) => {
        program.notifications.birthday = { ...program.notifications.birthday, points: 0 };
      },
      async () => {
        const olga = new Conversation(fake, { id: nextUserId++, first_name: 'Ольга', language_code: 'ru' });
        await upToName(olga, 'ru');
        const birthday = await olga.says('Ольга');
        expect(birthday.text).toBe('Когда у вас день рождения? Введите дату в формате ДД.ММ.ГГГГ, например 05.09.1990.');
      },
    );
  });
});

describe('numbers, dates and words', () => {
  it('shows money with two decimals, points with separators and English dates with the month spelled', async () => {
    // 36 000.50 RUB - 6 % (2 160.03) = 33 840.47 paid: 1 015 points (3 %), and Silver; Gold needs
    // 50 000 - 33 840.47 = 16 159.53 more.
    const emma = await customer('en', 'Emma');
    await bigPurchase(emma);
    const balance = plain(await emma.says('/balance'));
    expect(balance).toContain('1,115 points');
    expect(balance).toContain('Spend RUB 16,159.53 more to reach Gold.');
    expect(balance).toMatch(/points expire on 4 Dec 2027\./);
    expect(balance).toContain('Saved with the program: RUB 2,160.03');
    const history = plain(await emma.says('/history'));
    expect(history).toContain('4 Dec 2026 · +1,015 · purchase, Tverskaya 1 · saved RUB 2,160.03');

    const ivan = await customer('ru', 'Иван');
    await bigPurchase(ivan);
    const rub = plain(await ivan.says('/balance'));
    expect(rub).toContain('1 115 баллов');
    expect(rub).toContain('До уровня «Золотой» осталось потратить 16 159,53 ₽.');
    expect(rub).toContain('04.12.2027');
    expect(rub).toContain('Сэкономлено с программой: 2 160,03 ₽');
  });

  it('shows a customer the reason of an admin adjustment, and refuses a debit beyond the balance before asking to confirm', async () => {
    const ada = await customer('en', 'Ada');
    const { code } = await memberOf(ada);
    const admin = new Conversation(fake, { id: ADMIN, first_name: 'Boss', language_code: 'en' });

    const tooMuch = await admin.says(`/adjust ${code} -500 duplicate bonus`);
    expect(tooMuch.text).toBe(
      'The customer has only 100 points, so −500 would take the balance below zero. Nothing was changed: send /adjust with a smaller amount.',
    );
    expect(inlineButtons(tooMuch)).toEqual([]);

    const confirm = await admin.says(`/adjust ${code} +50 compensation for a late delivery`);
    const ok = inlineButtons(confirm).find((b) => b.data?.startsWith('adm:adj:'))?.data as string;
    await admin.taps(ok);
    await ada.nextMessage((m) => (m.text ?? '').includes('50'));
    expect((await ada.says('/history')).text).toContain('+50 · adjustment: compensation for a late delivery');
  });

  it('answers /queues with words, not JSON', async () => {
    await app.queues.jobsQueue.add('points-expiry', {});
    await eventually(async () => (await db.prisma.jobRun.count({ where: { name: 'points-expiry', finishedAt: { not: null } } })) > 0, {
      what: 'a points-expiry run',
    });
    const admin = new Conversation(fake, { id: ADMIN, first_name: 'Boss', language_code: 'en' });
    const status = await admin.says('/queues');
    const run = (status.text ?? '').split('\n').find((line) => line.includes('points-expiry')) ?? '';
    expect(run).toMatch(/^• points-expiry · 4 Dec 2026, \d\d:\d\d · ✅ /);
    for (const part of [/lots \d+/, /members \d+/, /points \d+/, /batches \d+/, /complete: yes/]) expect(run).toMatch(part);
    expect(status.text).not.toContain('{');
  });
});

describe('help', () => {
  it('links the rules and names the support contact from the program file; without one it sends members to the till', async () => {
    const lena = await customer('en', 'Lena');
    const help = await lena.says('/help');
    expect(help.text).toContain('📄 Rules of the program');
    expect(help.entities).toContainEqual(expect.objectContaining({ type: 'text_link', url: 'https://example.com/loyalty/rules' }));
    expect(help.text).toContain('💬 Support: @friends_club_help');

    await withProgram(
      (program) => {
        delete program.support;
      },
      async () => {
        expect((await lena.says('/help')).text).toContain(
          '💬 Questions about points or purchases? Ask the staff at the till in any of our stores: they will help.',
        );
      },
    );
  });
});

describe('NPS', () => {
  it('asks about a purchase exactly delayMinutes after it, and alerts an admin in the admin’s language', async () => {
    // The admin uses the bot in English (as a member); the program's alertLocale is Russian.
    const boss = new Conversation(fake, { id: ADMIN, first_name: 'Boss', language_code: 'en' });
    await boss.registers();
    const nina = await customer('en', 'Nina');
    // Arbat 12 has no cashier: the alert goes to the admins.
    const bought = await purchase(nina, 100_000, 'msk-02');

    const job = await eventually(async () => app.queues.jobsQueue.getJob(`nps-survey|${bought.id}`), { what: 'the survey job' });
    expect(await job.getState()).toBe('delayed');
    expect(job.delay).toBe(120 * MINUTE);

    // Two hours on, the job runs (promoted: the test does not wait two real hours).
    clock.advance(120 * MINUTE);
    await job.promote();
    const survey = await nina.nextMessage((m) => (m.text ?? '').includes('How likely are you to recommend'));
    const surveyId = (await db.prisma.survey.findFirstOrThrow({ where: { purchaseId: bought.id } })).id;
    expect(inlineButtons(survey).length).toBe(11);

    fake.tapButton(nina.user, `nps:s:${surveyId}:2`);
    await nina.nextMessage((m) => (m.text ?? '').includes('What should we improve?'));
    await nina.taps(`nps:d:${surveyId}`);
    const alert = await boss.nextMessage((m) => (m.text ?? '').includes('Unhappy customer: 2/10'));
    expect(alert.text).toContain('Store: Arbat 12');
  });
});

describe('broadcasts', () => {
  it('says in the preview that «Send now» waits for the end of the quiet hours, and names the segments one way in Russian', async () => {
    await app.domain.repos.staff.upsert({ telegramId: 15_090, role: 'MARKETER', storeId: null, name: 'Mia' });
    const mia = new Conversation(fake, { id: 15_090, first_name: 'Mia', language_code: 'ru' });
    clock.set('2026-12-04T20:30:00Z'); // 23:30 in Moscow
    await mia.says('/broadcast');
    const askButton = await mia.says('Скидки до воскресенья!');
    const id = (inlineButtons(askButton).find((b) => b.data?.startsWith('bc:'))?.data ?? '').split(':')[2];
    const audience = await mia.taps(`bc:bt:${id}:none`);
    expect(audience.text).toContain('Аудитория');
    const picker = await mia.tapsAndSeesEdit(`bc:f:${id}:n`, /NPS/);
    expect(inlineButtons(picker).map((b) => b.text)).toEqual(expect.arrayContaining([expect.stringContaining('нейтральные')]));

    await mia.tapsAndSeesEdit(labelled(picker, '✅ Готово'), /Аудитория/);
    await mia.taps(`bc:pv:${id}`);
    const preview = await mia.nextMessage((m) => (m.text ?? '').includes('Так сообщение увидят'));
    expect(plain(preview)).toContain(
      '🌙 Сейчас тихие часы (22:00–09:00): по кнопке «Отправить сейчас» рассылка начнётся, когда они закончатся, — 05.12.2026, 09:00.',
    );
  });
});
