import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { PrismaSessionStore } from '../../src/db/session-store.js';
import { charityReportKey, monthRange, previousMonth, sendCharityReport } from '../../src/domain/charity/report.js';
import { createApiKey } from '../../src/domain/staff/api-keys.js';
import { localDate } from '../../src/domain/time.js';
import { startTestApp } from '../support/app.js';
import { charityProgram } from '../support/charity.js';
import { Conversation, expectNoViolations, inlineButtons } from '../support/conversation.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { eventually } from '../support/eventually.js';
import { FakeBotApi, type SentMessage } from '../support/fake-bot-api/server.js';

/**
 * Charity through the bot: a member gives points to a cause (list with totals, amount, a
 * confirmation, the result, the history line), forged callbacks change nothing they should not,
 * admins get the month's report and the CSV with /charity, and ops read GET /v1/charity/donations.
 */

const ADMIN_ID = 900_501;
const BOT = 'loyalty_test_bot';

let fake: FakeBotApi;
let db: TestDatabase;
let app: App;
let nextUserId = 75_000;
let nextBonus = 0;

beforeAll(async () => {
  fake = await FakeBotApi.start({ botUsername: BOT });
  db = await createTestDatabase();
  app = await startTestApp({ fake, databaseUrl: db.url, program: charityProgram(), env: { ADMIN_TELEGRAM_IDS: String(ADMIN_ID) } });
});
afterAll(async () => {
  await app?.stop();
  await fake?.close();
  await db?.drop();
});
afterEach(() => expectNoViolations(fake));

const newUser = (firstName: string) => new Conversation(fake, { id: nextUserId++, first_name: firstName, language_code: 'en' });
const memberOf = (user: Conversation) => db.prisma.member.findUniqueOrThrow({ where: { telegramId: BigInt(user.user.id) } });
const balanceOf = async (user: Conversation) => (await memberOf(user)).balance;
const donationsOf = async (user: Conversation) => db.prisma.donation.findMany({ where: { memberId: (await memberOf(user)).id }, orderBy: { id: 'asc' } });
const thisMonth = () => localDate(app.domain.clock.now(), app.domain.program.timezone).slice(0, 7);
const value = (points: number) => points * app.domain.program.points.pointValueMinor;

/** A customer registered through the bot (100 welcome points) with `extra` points on top. */
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
  return user;
}

const callbackAnswers = (from: number) =>
  fake.calls
    .slice(from)
    .filter((call) => call.method === 'answerCallbackQuery')
    .map((call) => call.params.text);

/** Sends callback data as if tapped on message `messageId` (a forged or replayed tap); returns the popup. */
async function forges(user: Conversation, data: string, messageId: number): Promise<string | undefined> {
  const before = fake.calls.length;
  fake.sendCallbackQuery(user.user, data, messageId);
  const answer = await fake.waitFor(() => fake.calls.slice(before).find((call) => call.method === 'answerCallbackQuery'), { what: `the answer to ${data}` });
  return answer.params.text as string | undefined;
}

/** Through the screens: the cause, the amount button, the confirmation; returns the confirmation. */
async function confirmation(user: Conversation, cause: string, points: number): Promise<SentMessage> {
  await user.says('/charity');
  await user.taps(`ch:c:${cause}`);
  return user.taps(`ch:a:${cause}:${points}`);
}

describe('a member gives points to a cause', () => {
  it('sees the open causes with totals, picks an amount, confirms once (a double tap gives once), and reads it in the history', async () => {
    const anna = await registerCustomer('Anna', 400);

    const list = await anna.says('/charity');
    expect(list.text).toContain('Nothing has been given yet');
    expect(list.text).toContain('Animal shelter: 0 points');
    expect(list.text).toContain('Your balance: 500 points. The smallest donation is 100 points');
    // The closed cause is not offered.
    expect(inlineButtons(list).map((b) => b.data)).toEqual(['ch:c:shelter', 'ch:c:trees']);

    const cause = await anna.taps('ch:c:shelter');
    expect(cause.text).toContain('Food and care');
    expect(inlineButtons(cause).map((b) => b.data ?? b.url)).toEqual([
      'ch:a:shelter:100',
      'ch:a:shelter:200',
      'ch:a:shelter:500',
      'https://example.org/shelter',
      'ch:l',
    ]);

    const confirm = await anna.taps('ch:a:shelter:200');
    expect(confirm.text).toContain('Give 200 points to Animal shelter?');
    expect(confirm.text).toContain('Your balance after: 300 points.');
    expect(confirm.text).toContain('cannot be undone');
    expect(await balanceOf(anna)).toBe(500);

    const before = fake.calls.length;
    fake.tapButton(anna.user, 'ch:ok:shelter:200');
    fake.tapButton(anna.user, 'ch:ok:shelter:200');
    const done = await anna.nextMessage();
    await fake.waitFor(() => callbackAnswers(before).length === 2, { what: 'both taps answered' });
    expect(callbackAnswers(before)).toEqual([undefined, 'This donation has been made already.']);
    expect(done.text).toContain('Thank you! You gave 200 points to Animal shelter.');
    expect(done.text).toContain('Your balance: 300 points.');
    expect(await balanceOf(anna)).toBe(300);
    expect(await donationsOf(anna)).toEqual([expect.objectContaining({ causeCode: 'shelter', points: 200, valueMinor: BigInt(value(200)) })]);

    expect((await anna.says('/history')).text).toContain('· −200 · donated to Animal shelter');
    expect((await anna.says('/charity')).text).toContain('Together we have given 200 points');
    // The menu and the command menu offer it (the program has open causes).
    const menu = await anna.says('/help');
    expect(menu.replyMarkup?.keyboard.at(-1).map((button: { text: string }) => button.text)).toEqual(['❓ Help', '💝 Charity']);
    const fromMenu = await anna.says('💝 Charity');
    expect(fromMenu.text).toContain('Together we have given 200 points');
    expect(await app.bot.api.getMyCommands({ language_code: 'en' })).toContainEqual({ command: 'charity', description: 'Give points to charity' });
  });

  it('types an amount on a cause screen: refused outside the range, confirmed within it', async () => {
    const boris = await registerCustomer('Boris', 200);
    await boris.says('/charity');
    await boris.taps('ch:c:trees');
    expect((await boris.says('50')).text).toBe('Please type a whole number of points from 100 to 300, or tap an amount.');
    expect((await boris.says('301')).text).toBe('Please type a whole number of points from 100 to 300, or tap an amount.');
    const confirm = await boris.says('150');
    expect(confirm.text).toContain('Give 150 points to Tree planting?');
    await boris.taps('ch:ok:trees:150');
    expect(await balanceOf(boris)).toBe(150);

    // Another dialog's open step (here a staff one: Boris also works at a till) keeps its typed
    // input: no charity confirmation.
    const store = await db.prisma.store.findFirstOrThrow({ where: { active: true } });
    await app.domain.repos.staff.upsert({ telegramId: boris.user.id, role: 'STAFF', storeId: store.id, name: 'Boris' });
    await boris.says('/charity');
    await boris.taps('ch:c:trees');
    expect((await boris.says('/purchase')).text).toContain('type the card number');
    await eventually(async () => (await new PrismaSessionStore(db.prisma).read(`dialogs:${boris.user.id}`)) !== undefined, { what: 'the dialog row' });
    expect((await boris.says('120')).text).not.toContain('Give');
    expect(await balanceOf(boris)).toBe(150);
  });

  it('Cancel gives nothing', async () => {
    const vera = await registerCustomer('Vera', 100);
    await confirmation(vera, 'trees', 100);
    const before = fake.calls.length;
    fake.tapButton(vera.user, 'ch:no');
    await fake.waitFor(() => callbackAnswers(before).length === 1, { what: 'the cancel answered' });
    expect(callbackAnswers(before)).toEqual(['Nothing was given.']);
    expect(await balanceOf(vera)).toBe(200);
    expect(await donationsOf(vera)).toEqual([]);
  });
});

describe('forged and replayed callbacks', () => {
  it('a confirmation replayed with a bigger amount or another cause is a conflict; forged amounts and causes are checked again', async () => {
    const gleb = await registerCustomer('Gleb', 900);
    const confirm = await confirmation(gleb, 'shelter', 100);
    await gleb.taps('ch:ok:shelter:100');
    expect(await balanceOf(gleb)).toBe(900);

    // The same confirmation message, with its data edited: the key is taken by another donation.
    expect(await forges(gleb, 'ch:ok:shelter:800', confirm.messageId)).toBe('This was already recorded with different values. Please start again.');
    expect(await forges(gleb, 'ch:ok:trees:100', confirm.messageId)).toBe('This was already recorded with different values. Please start again.');
    // Fresh messages: more than the balance, below the minimum, a closed cause, an unknown one.
    const fresh = (await gleb.says('/charity')).messageId;
    expect(await forges(gleb, 'ch:ok:shelter:100000', fresh)).toContain('Not enough points');
    expect(await forges(gleb, 'ch:ok:shelter:50', fresh)).toBe('This donation is below the minimum. Open /charity to choose an amount.');
    expect(await forges(gleb, 'ch:ok:closed:100', fresh)).toBe('This cause no longer takes donations. Open /charity to see the causes there are now.');
    expect(await forges(gleb, 'ch:a:closed:100', fresh)).toBe('This cause no longer takes donations. Open /charity to see the causes there are now.');
    expect(await forges(gleb, 'ch:ok:nope:100', fresh)).toBe('This cause no longer takes donations. Open /charity to see the causes there are now.');

    expect(await balanceOf(gleb)).toBe(900);
    expect(await donationsOf(gleb)).toHaveLength(1);
  });

  it("callback data naming another member does nothing, and a member's tap only ever spends their own points", async () => {
    const anna = await registerCustomer('Dana', 300);
    const mallory = await registerCustomer('Mallory', 0);
    const annaId = (await memberOf(anna)).id;
    const fresh = (await mallory.says('/charity')).messageId;

    // No callback of this feature carries a member: an id tacked on matches no handler.
    expect(await forges(mallory, `ch:ok:shelter:100:${annaId}`, fresh)).toBe('This button is no longer active.');
    expect(await forges(mallory, `ch:ok:${annaId}:shelter:100`, fresh)).toBe('This button is no longer active.');
    // A valid-looking confirmation spends the sender's points: Mallory's 100.
    await forges(mallory, 'ch:ok:shelter:100', fresh);
    expect((await mallory.nextMessage()).text).toContain('You gave 100 points to Animal shelter');
    expect(await balanceOf(anna)).toBe(400);
    expect(await balanceOf(mallory)).toBe(0);
    expect(await donationsOf(anna)).toEqual([]);
    // With nothing left, a cause's screen says what is missing instead of offering amounts.
    await mallory.says('/charity');
    const low = await mallory.taps('ch:c:trees');
    expect(low.text).toBe('You need at least 100 points to give; your balance is 0 points.');
    expect(inlineButtons(low)).toEqual([]);

    // A stranger (not registered) gets nothing done.
    const stranger = newUser('Stranger');
    await stranger.says('hello');
    expect(await forges(stranger, 'ch:ok:shelter:100', (await stranger.says('/charity')).messageId)).toBe('This button is no longer active.');
  });
});

describe('admins and ops', () => {
  it("/charity gives an admin the month's totals and the transfer CSV; a bad month gets the usage line", async () => {
    const admin = new Conversation(fake, { id: ADMIN_ID, first_name: 'Boss', language_code: 'en' });
    const month = thisMonth();
    const report = await admin.says(`/charity ${month}`);
    expect(report.text).toContain(`Charity, ${month}`);
    expect(report.text).toMatch(/Animal shelter \(shelter\): 400 points/);
    const csv = await admin.nextMessage();
    expect(csv.method).toBe('sendDocument');
    const document = csv.document;
    if (!document || typeof document === 'string') throw new Error('the CSV must be an uploaded file');
    expect(document.filename).toBe(`charity-${month}.csv`);
    const lines = document.data.toString('utf8').trimEnd().split('\r\n');
    expect(lines[0]).toBe('month,cause_code,cause_name,url,points,amount,currency,donors,donations');
    expect(lines).toContain(`${month},shelter,Animal shelter,https://example.org/shelter,400,${(value(400) / 100).toFixed(2)},RUB,3,3`);

    expect((await admin.says('/charity 2026-13')).text).toContain('Usage: /charity [YYYY-MM]');
    // A member's /charity is their screen, not the report.
    const member = await registerCustomer('Eva');
    expect((await member.says(`/charity ${month}`)).text).toContain('💝 Charity');
  });

  it("the monthly job's report reaches the admin through the delivery queue, once however often it runs", async () => {
    const admin = new Conversation(fake, { id: ADMIN_ID, first_name: 'Boss', language_code: 'en' });
    const month = previousMonth(app.domain.clock.now(), app.domain.program.timezone);
    const run = await sendCharityReport(app.domain);
    expect(run).toMatchObject({ month, skipped: null, admins: 1 });
    const message = await admin.nextMessage((m) => (m.text ?? '').includes(month));
    // Last month had no donations in this test's database (they were all made now). The admin
    // has no staff or member row telling their language: the program's alert language (ru).
    expect(message.text).toBe(`В ${month} пожертвований не было.`);
    await sendCharityReport(app.domain);
    expect(await db.prisma.delivery.count({ where: { dedupeKey: charityReportKey(month, ADMIN_ID) } })).toBe(1);
  });

  it("the monthly report carries the month's transfer CSV as a document, equal to the API's CSV, sent once", async () => {
    const month = thisMonth();
    // The job runs on the 1st of the next month (program time zone) and reports this one.
    const firstOfNext = new Date(monthRange(month, app.domain.program.timezone).to.getTime() + 9 * 3_600_000);
    const nextMonth = { ...app.domain, clock: { now: () => firstOfNext } };
    const before = fake.calls.length;
    expect(await sendCharityReport(nextMonth)).toMatchObject({ month, skipped: null, admins: 1, points: 550 });
    await sendCharityReport(nextMonth);
    await eventually(async () => (await db.prisma.delivery.findUnique({ where: { dedupeKey: charityReportKey(month, ADMIN_ID) } }))?.status === 'SENT', {
      what: 'the report delivered',
    });

    const sends = fake.calls.slice(before).filter((call) => call.ok && call.chatId === ADMIN_ID);
    expect(sends.map((call) => call.method)).toEqual(['sendDocument']);
    const message = fake.messagesTo(ADMIN_ID).find((m) => m.method === 'sendDocument' && (m.caption ?? '').includes(`Благотворительность, ${month}`));
    if (!message) throw new Error('the report message was not found');
    // The admin's language is the program's alert language (ru): totals, then the file's hint.
    expect(message.caption).toMatch(/Приют \(shelter\): 400 баллов/);
    expect(message.caption).toContain('Итого: 550 баллов');
    expect(message.caption).toContain('Таблица для переводов (CSV) — в файле.');
    const document = message.document;
    if (!document || typeof document === 'string') throw new Error('the CSV must be an uploaded file');
    expect(document.filename).toBe(`charity-${month}.csv`);

    const { key } = await createApiKey(app.domain, ADMIN_ID, { name: 'report-check', storeCode: null });
    const api = await app.http.inject({
      method: 'GET',
      url: `/v1/charity/donations?month=${month}`,
      headers: { authorization: `Bearer ${key}`, accept: 'text/csv' },
    });
    expect(api.statusCode).toBe(200);
    expect(document.data.toString('utf8')).toBe(api.body);
    expect(api.body).toContain(`${month},shelter,Animal shelter,`);
  });

  it('GET /v1/charity/donations answers JSON, or CSV on Accept: text/csv; store-bound keys and bad months are refused', async () => {
    const month = thisMonth();
    const { key } = await createApiKey(app.domain, ADMIN_ID, { name: 'ops', storeCode: null });
    const { key: tillKey } = await createApiKey(app.domain, ADMIN_ID, { name: 'till', storeCode: 'msk-01' });
    const get = (url: string, headers: Record<string, string> = {}, apiKey = key) =>
      app.http.inject({ method: 'GET', url, headers: { authorization: `Bearer ${apiKey}`, ...headers } });

    const json = await get(`/v1/charity/donations?month=${month}`);
    expect(json.statusCode).toBe(200);
    expect(json.json()).toMatchObject({
      month,
      currency: 'RUB',
      causes: [
        { causeCode: 'shelter', name: { en: 'Animal shelter' }, points: 400, valueMinor: value(400), donors: 3, donations: 3 },
        { causeCode: 'trees', points: 150, donors: 1 },
      ],
      overall: { points: 550, valueMinor: value(550), donors: 4, donations: 4 },
    });

    const csv = await get(`/v1/charity/donations?month=${month}`, { accept: 'text/csv' });
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toContain('text/csv');
    expect(csv.body.split('\r\n')[0]).toBe('month,cause_code,cause_name,url,points,amount,currency,donors,donations');

    const bad = await get('/v1/charity/donations?month=2026-13');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ errors: [expect.objectContaining({ field: 'month' })] });
    expect((await get(`/v1/charity/donations?month=${month}`, {}, tillKey)).statusCode).toBe(403);
    expect((await app.http.inject({ method: 'GET', url: '/v1/charity/donations' })).statusCode).toBe(401);

    const openapi = (await app.http.inject({ method: 'GET', url: '/v1/openapi.json' })).json();
    expect(openapi.paths['/v1/charity/donations'].get.operationId).toBe('getCharityDonations');
  });
});
