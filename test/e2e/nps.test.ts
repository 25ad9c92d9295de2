import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { ManualClock } from '../../src/domain/clock.js';
import { formatCode } from '../../src/domain/codes.js';
import { createApiKey } from '../../src/domain/staff/api-keys.js';
import { startTestApp } from '../support/app.js';
import { Conversation, expectNoViolations, inlineButtons } from '../support/conversation.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { eventually } from '../support/eventually.js';
import type { SentMessage, UploadedFile } from '../support/fake-bot-api/server.js';
import { FakeBotApi } from '../support/fake-bot-api/server.js';

/**
 * NPS end to end: the bot, the delivery queue and the jobs on real PostgreSQL and Redis, against
 * the fake Bot API. Time is a manual clock: the survey is due two hours after the purchase, the
 * dispatch job runs through the jobs queue as the scheduler would run it.
 */

const ADMIN_ID = 910_001;
const MINUTE = 60_000;

let fake: FakeBotApi;
let db: TestDatabase;
let app: App;
// Noon in Moscow: outside the program's quiet hours, so reminders go out at once.
const clock = new ManualClock(new Date('2026-11-24T09:00:00Z'));
let nextUserId = 71_000;

beforeAll(async () => {
  fake = await FakeBotApi.start({ botUsername: 'loyalty_test_bot' });
  db = await createTestDatabase();
  app = await startTestApp({ fake, databaseUrl: db.url, clock, env: { ADMIN_TELEGRAM_IDS: String(ADMIN_ID) } });
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

async function registerCustomer(name: string) {
  const user = newUser(name);
  await user.registers();
  return user;
}

const inviteLink = (message: SentMessage) => {
  const match = /https:\/\/t\.me\/loyalty_test_bot\?start=(inv_[\w-]+)/.exec(message.text ?? '');
  if (!match) throw new Error(`no invite link in ${message.text}`);
  return match[1] as string;
};

async function hire(role: 'staff msk-01' | 'marketer', name: string) {
  const payload = inviteLink(await admin().says(`/invite ${role}`));
  const person = newUser(name);
  await person.says(`/start ${payload}`);
  return person;
}

const button = (message: SentMessage, prefix: string) => {
  const found = inlineButtons(message).find((b) => b.data?.startsWith(prefix));
  if (!found?.data) throw new Error(`no button ${prefix}… in ${JSON.stringify(inlineButtons(message))}`);
  return found.data;
};

/** A purchase through the cashier's wizard, at the app's (manual) time. */
async function purchase(cashier: Conversation, customer: Conversation, receipt: string) {
  const { code } = await memberOf(customer);
  await cashier.says('🧾 New purchase');
  await cashier.says(code);
  await cashier.says('1500');
  let screen = await cashier.says(receipt);
  if (inlineButtons(screen).some((b) => b.data?.startsWith('stf:pts:'))) screen = await cashier.taps(button(screen, 'stf:pts:'));
  expect((await cashier.taps(button(screen, 'stf:ok:'))).text).toContain('Purchase recorded');
  await customer.nextMessage((m) => (m.text ?? '').includes('Purchase at'));
  // The till's clock is the app's: the purchase happened "now" on the manual clock.
  await db.prisma.purchase.updateMany({ where: { receiptNo: receipt }, data: { createdAt: clock.now() } });
}

/** The NPS job, run now through the jobs queue; resolves once it has finished. */
async function runDispatch() {
  const job = await app.queues.jobsQueue.add('nps-dispatch', {});
  await eventually(async () => (await job.getState()) === 'completed', { what: 'the nps-dispatch job to finish' });
}

/** The popup text answering a tap on a button that is on screen. */
async function popupAfterTap(user: Conversation, data: string) {
  const before = fake.calls.length;
  fake.tapButton(user.user, data);
  const answer = await fake.waitFor(() => fake.calls.slice(before).find((call) => call.method === 'answerCallbackQuery'), { what: `the answer to ${data}` });
  return answer.params.text as string | undefined;
}

const surveyOf = async (user: Conversation) => db.prisma.survey.findFirstOrThrow({ where: { memberId: (await memberOf(user)).id } });
const plain = (message: SentMessage) => (message.text ?? '').replace(/[\u00a0\u202f]/g, ' ');

describe('NPS surveys', () => {
  it('asks after a purchase, closes the loop on a detractor, offers a promoter the referral link, and moves the score marketers see', async () => {
    const anna = await registerCustomer('Anna');
    const ben = await registerCustomer('Ben');
    const carl = await hire('staff msk-01', 'Carl');
    const mia = await hire('marketer', 'Mia');

    expect((await mia.says('/nps')).text).toContain('No surveys were sent in this period.');
    // Not for customers (nor does it tell them anything).
    expect((await anna.says('/nps')).text).toContain('only for store staff');

    await purchase(carl, anna, 'N-1');
    await purchase(carl, ben, 'N-2');

    // An hour later the survey is not due yet; two hours after the purchase it is.
    clock.advance(60 * MINUTE);
    await runDispatch();
    expect(await db.prisma.survey.count()).toBe(0);
    clock.advance(60 * MINUTE);
    await runDispatch();

    const question = await anna.nextMessage((m) => (m.text ?? '').includes('How likely are you to recommend'));
    expect(question.text).toContain('Thank you for shopping at Tverskaya 1!');
    const scores = inlineButtons(question).map((b) => b.text);
    expect(scores).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
    expect(question.replyMarkup.inline_keyboard.map((row: unknown[]) => row.length)).toEqual([6, 5]);
    const annaSurvey = await surveyOf(anna);
    expect(annaSurvey).toMatchObject({ status: 'SENT', trigger: `purchase:${annaSurvey.purchaseId}` });

    // Anna answers 3: a detractor. She picks a reason and writes a comment.
    expect(await popupAfterTap(anna, `nps:s:${annaSurvey.id}:3`)).toBe('Thank you! Your score: 3');
    const followUp = await anna.nextMessage();
    expect(followUp.text).toContain('We are sorry to hear that. What should we improve?');
    expect(inlineButtons(followUp).map((b) => b.text)).toEqual(['Long queues', 'Unfriendly staff', 'High prices', 'Product quality', 'Out of stock', '✔️ Done']);
    await popupAfterTap(anna, `nps:r:${annaSurvey.id}:queue`);
    await fake.waitFor(
      () => inlineButtons(fake.messagesTo(anna.user.id).find((m) => m.messageId === followUp.messageId) as SentMessage)[0]?.text === '✅ Long queues',
    );
    const thanks = await anna.says('The queue took 20 minutes, and only one till was open.');
    expect(thanks.text).toContain('Thank you for your feedback! 20 points added to your account.');
    expect(thanks.text).not.toContain('t.me/');
    expect(await surveyOf(anna)).toMatchObject({
      status: 'ANSWERED',
      score: 3,
      group: 'DETRACTOR',
      reasons: ['queue'],
      comment: 'The queue took 20 minutes, and only one till was open.',
    });

    // The store's cashier hears about it at once, with the details and a button.
    const { code: annaCode } = await memberOf(anna);
    const alert = await carl.nextMessage((m) => (m.text ?? '').includes('Unhappy customer: 3/10'));
    expect(alert.text).toContain('Store: Tverskaya 1');
    expect(alert.text).toContain(`Customer: Anna · card ${formatCode(annaCode)}`);
    expect(alert.text).toContain('Reasons: Long queues');
    expect(alert.text).toContain('Comment: «The queue took 20 minutes, and only one till was open.»');
    expect(inlineButtons(alert)).toEqual([{ text: '✅ Mark handled', data: `nps:h:${annaSurvey.id}`, url: undefined }]);
    // Only staff may mark it: a customer forging the tap is refused.
    expect(await anna.sendsCallback(`nps:h:${annaSurvey.id}`)).toContain('only for store staff');
    expect(await popupAfterTap(carl, `nps:h:${annaSurvey.id}`)).toBe('Marked handled');
    await fake.waitFor(() => /Handled by Carl/.test(fake.messagesTo(carl.user.id).find((m) => m.messageId === alert.messageId)?.text ?? ''));
    expect(await db.prisma.survey.findUniqueOrThrow({ where: { id: annaSurvey.id } })).toMatchObject({ handledBy: BigInt(carl.user.id) });

    // The marketer sees the score: one detractor of two surveys.
    const afterAnna = plain(await mia.says('/nps 7'));
    expect(afterAnna).toContain('Overall: NPS −100 · answered 1 of 2 (50%)');
    expect(afterAnna).toContain('👍 promoters 0 · 😐 passives 0 · 👎 detractors 1');
    expect(afterAnna).toContain('• Tverskaya 1: NPS −100 · answered 1 of 2');
    expect(afterAnna).toContain('• Long queues (detractors): 1');

    // Ben answers 10: a promoter, offered his referral link.
    const benSurvey = await surveyOf(ben);
    await ben.nextMessage((m) => (m.text ?? '').includes('How likely are you to recommend'));
    expect(await popupAfterTap(ben, `nps:s:${benSurvey.id}:10`)).toBe('Thank you! Your score: 10');
    const benFollowUp = await ben.nextMessage();
    expect(benFollowUp.text).toContain('What did you like most?');
    const benThanks = await ben.taps(`nps:d:${benSurvey.id}`);
    const { code: benCode, referralToken: benToken } = await memberOf(ben);
    expect(benThanks.text).toContain('Thank you for your feedback! 20 points added to your account.');
    // The link carries Ben's opaque invite token, never his card code.
    expect(benToken).toMatch(/^[0-9A-Za-z]{22}$/);
    expect(benThanks.text).toContain(`https://t.me/loyalty_test_bot?start=ref_${benToken}`);
    expect(benThanks.text).not.toContain(benCode);

    // The score moved: one promoter, one detractor.
    const afterBen = plain(await mia.says('/nps'));
    expect(afterBen).toContain('Overall: NPS 0 · answered 2 of 2 (100%)');
    expect(afterBen).toContain('👍 promoters 1 · 😐 passives 0 · 👎 detractors 1');

    // The CRM reads the same numbers.
    const { key } = await createApiKey(app.domain, ADMIN_ID, { name: 'crm', storeCode: null });
    const api = await app.http.inject({ method: 'GET', url: '/v1/nps?from=2026-11-24&to=2026-11-24', headers: { authorization: `Bearer ${key}` } });
    expect(api.statusCode).toBe(200);
    expect(api.json()).toMatchObject({
      from: '2026-11-24',
      to: '2026-11-24',
      timezone: 'Europe/Moscow',
      overall: { sent: 2, answered: 2, responseRate: 100, promoters: 1, passives: 0, detractors: 1, nps: 0 },
      stores: [{ storeCode: 'msk-01', storeName: 'Tverskaya 1', nps: 0 }],
      weeks: [{ weekStart: '2026-11-23', nps: 0 }],
      reasons: [{ group: 'detractor', code: 'queue', count: 1 }],
    });
    const bad = await app.http.inject({
      method: 'GET',
      url: '/v1/nps?from=2026-13-01&to=2026-11-24&store=msk-01',
      headers: { authorization: `Bearer ${key}` },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['content-type']).toContain('application/problem+json');
    expect(bad.json()).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field: 'from', message: 'not a calendar date' }] });
    const missing = await app.http.inject({ method: 'GET', url: '/v1/nps?from=2026-11-24', headers: { authorization: `Bearer ${key}` } });
    expect(missing.json()).toMatchObject({ status: 400, errors: [{ field: 'to' }] });
    const unknownStore = await app.http.inject({
      method: 'GET',
      url: '/v1/nps?from=2026-11-24&to=2026-11-24&store=nowhere',
      headers: { authorization: `Bearer ${key}` },
    });
    expect(unknownStore.json()).toMatchObject({ status: 404, code: 'STORE_NOT_FOUND' });

    // The answers as CSV.
    const report = fake.lastMessageTo(mia.user.id) as SentMessage;
    const exportData = button(report, 'nps:x:');
    fake.tapButton(mia.user, exportData);
    const csvMessage = await mia.nextMessage((m) => m.method === 'sendDocument');
    expect(csvMessage.caption).toContain('NPS answers');
    const csv = (csvMessage.document as UploadedFile).data.toString('utf8');
    expect(csv.split('\r\n')[0]).toBe('\uFEFFsurvey_id,sent_at,answered_at,store,member_code,score,group,reasons,comment,handled_at');
    expect(csv).toContain(`,msk-01,${annaCode},3,detractor,queue,"The queue took 20 minutes, and only one till was open.",`);
    expect(csv).toContain(`,msk-01,${benCode},10,promoter,,,`);
  });

  it('answers late and forged taps politely and changes nothing', async () => {
    // The surveys of the first scenario: Anna's (answered 3) and Ben's (answered 10).
    const [annaSurvey, benSurvey] = await db.prisma.survey.findMany({ orderBy: { id: 'asc' } });
    if (!annaSurvey || !benSurvey) throw new Error('the first scenario left no surveys');
    const annaRow = await db.prisma.member.findUniqueOrThrow({ where: { id: annaSurvey.memberId } });
    const anna = new Conversation(fake, { id: Number(annaRow.telegramId), first_name: 'Anna' });
    // The change window passes, and the job closes the surveys.
    clock.advance(61 * MINUTE);
    await runDispatch();
    const before = await db.prisma.survey.findMany({ orderBy: { id: 'asc' } });
    expect(before.map((survey) => survey.status)).toEqual(['CLOSED', 'CLOSED']);

    // Someone else's survey, a score of 11: nothing happens.
    expect(await anna.sendsCallback(`nps:s:${benSurvey.id}:0`)).toBe('This button is no longer active.');
    expect(await anna.sendsCallback(`nps:s:${annaSurvey.id}:11`)).toBe('This button is no longer active.');
    expect(await anna.sendsCallback(`nps:r:${benSurvey.id}:queue`)).toBe('This button is no longer active.');

    // A tap on the old survey is thanked and changes nothing, nor does a comment.
    expect(await popupAfterTap(anna, `nps:s:${annaSurvey.id}:9`)).toBe('Thank you! This survey is already closed.');
    expect((await anna.says('Actually it was fine')).text).toContain("I didn't understand that");
    expect(await db.prisma.survey.findMany({ orderBy: { id: 'asc' } })).toEqual(before);
    expect((await db.prisma.member.findUniqueOrThrow({ where: { id: annaSurvey.memberId } })).balance).toBe(annaRow.balance);
  });

  it('a marketer surveys a segment from /nps; members in it get the 0-10 question and can answer; others may not send it', async () => {
    const mia = await hire('marketer', 'Mia');
    const dana = await registerCustomer('Dana');
    const eve = await registerCustomer('Eve');
    await db.prisma.member.update({ where: { id: (await memberOf(eve)).id }, data: { notificationsEnabled: false } });

    // Not for customers, whatever the callback data says.
    const forbidden = 'Broadcasts are only for marketers and administrators.';
    expect(await dana.sendsCallback('bc:nps')).toBe(forbidden);

    const report = await mia.says('/nps');
    const start = button(report, 'bc:nps');
    expect(inlineButtons(report).find((b) => b.data === start)?.text).toBe('📨 Survey a segment');
    let screen = await mia.taps(start);
    expect(screen.text).toContain('NPS survey to a segment');
    const id = button(screen, 'bc:sv:').slice('bc:sv:'.length);
    // The broadcast wizard's audience builder, without its message-only buttons.
    expect(inlineButtons(screen).some((b) => b.data?.startsWith('bc:pv:') || b.data?.startsWith('bc:of:'))).toBe(false);
    expect(await mia.sendsCallback(`bc:pv:${id}`)).toBe('This button is no longer active.');
    expect(await mia.sendsCallback(`bc:go:${id}`)).toBe('This button is no longer active.');
    screen = await mia.tapsAndSeesEdit(`bc:f:${id}:np`, /NPS survey to a segment/);
    expect(screen.text).toContain('Never bought anything');

    // Members who never bought, take reminders and have no survey yet (Dana among them; Eve opted out).
    const expected = await db.prisma.member.count({
      where: { status: 'ACTIVE', notificationsEnabled: true, reachable: true, purchases: { none: {} }, surveys: { none: {} } },
    });
    const confirm = await mia.taps(`bc:sv:${id}`);
    expect(plain(confirm)).toContain(`Send the NPS survey to ${expected} member`);
    const send = button(confirm, 'bc:sg:');

    // A forged send by a customer changes nothing.
    expect(await dana.sendsCallback(send)).toBe(forbidden);
    expect(await db.prisma.survey.count({ where: { trigger: { startsWith: 'campaign:' } } })).toBe(0);

    expect(plain(await mia.taps(send))).toContain(`Survey sent to ${expected} member`);
    const question = await dana.nextMessage((m) => (m.text ?? '').includes('How likely are you to recommend'));
    expect(inlineButtons(question).map((b) => b.text)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
    const survey = await surveyOf(dana);
    expect(survey).toMatchObject({ trigger: `campaign:bot:${mia.user.id}:${id}`, purchaseId: null, storeId: null });
    expect(await popupAfterTap(dana, `nps:s:${survey.id}:9`)).toBe('Thank you! Your score: 9');
    expect(await db.prisma.survey.findUniqueOrThrow({ where: { id: survey.id } })).toMatchObject({ status: 'ANSWERED', score: 9 });
    expect(await db.prisma.survey.count({ where: { memberId: (await memberOf(eve)).id } })).toBe(0);

    // A second tap on «Send» asks nobody twice.
    fake.sendCallbackQuery(mia.user, send);
    expect((await mia.nextMessage()).text).toContain('already been sent');
    expect(await db.prisma.survey.count({ where: { trigger: { startsWith: 'campaign:' } } })).toBe(expected);
  });
});
