import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { startTestApp } from '../support/app.js';
import { buttonData, hireCashier } from '../support/cashier.js';
import { Conversation, expectNoViolations, inlineButtons } from '../support/conversation.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { eventually } from '../support/eventually.js';
import { FakeBotApi } from '../support/fake-bot-api/server.js';

/**
 * The staff dialogs on @grammyjs/conversations (src/bot/dialogs.ts): one stored row per user for
 * all of them, the role asked at every answer, taps taken only by the dialog they belong to.
 */

const ADMIN_ID = 900_201;
let fake: FakeBotApi;
let db: TestDatabase;
let app: App;
let nextUserId = 64_000;

const startApp = () => startTestApp({ fake, databaseUrl: db.url, env: { ADMIN_TELEGRAM_IDS: String(ADMIN_ID) } });

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
const newUser = (firstName: string) => new Conversation(fake, { id: nextUserId++, first_name: firstName, language_code: 'en' });
const cashier = (name: string) => hireCashier(admin(), newUser(name), 'msk-01');
const dialogRow = (user: Conversation) => db.prisma.chatSession.findUnique({ where: { key: `dialogs:${user.user.id}` } });
const purchasesOf = (memberId: number) => db.prisma.purchase.count({ where: { memberId } });

async function customer(name: string) {
  const user = newUser(name);
  await user.registers();
  const member = await db.prisma.member.findUniqueOrThrow({ where: { telegramId: BigInt(user.user.id) } });
  return { user, code: member.code, memberId: member.id };
}

/** A purchase without points typed up to its confirmation screen. */
async function upToConfirm(staff: Conversation, code: string, receipt: string) {
  await staff.says('🧾 New purchase');
  await staff.says(code);
  await staff.says('300');
  const points = await staff.says(receipt);
  return staff.taps(buttonData(points, 'stf:pts:'));
}

describe('the cashier dialogs', () => {
  it('refuse a cashier revoked mid-dialog at the next step, a tap on Confirm included, and end', async () => {
    const carl = await cashier('Carl');
    const { code, memberId } = await customer('Rhea');
    const confirm = await upToConfirm(carl, code, 'RV-1');
    expect((await admin().says(`/revoke ${carl.user.id}`)).text).toContain('no longer has access');

    expect(await carl.sendsCallback(buttonData(confirm, 'stf:ok:'))).toBe('This is only for store staff and administrators.');
    expect(await purchasesOf(memberId)).toBe(0);
    await eventually(async () => (await dialogRow(carl)) === null, { what: 'the dialog ended' });
  });

  it("take no forged Confirm of someone else's dialog, even from a cashier at her own confirmation", async () => {
    const carl = await cashier('Carl');
    const olga = await cashier('Olga');
    const { code, memberId } = await customer('Fern');
    const { code: otherCode, memberId: otherId } = await customer('Gus');
    const carlsOk = buttonData(await upToConfirm(carl, code, 'FG-1'), 'stf:ok:');
    const olgasOk = buttonData(await upToConfirm(olga, otherCode, 'FG-2'), 'stf:ok:');

    expect(await olga.sendsCallback(carlsOk)).toBe('This button is no longer active.');
    expect(await purchasesOf(memberId)).toBe(0);
    // Both confirmations still book their own purchase, once each.
    expect((await olga.taps(olgasOk)).text).toContain('Purchase recorded');
    expect((await carl.taps(carlsOk)).text).toContain('Purchase recorded');
    expect(await purchasesOf(memberId)).toBe(1);
    expect(await purchasesOf(otherId)).toBe(1);
    // Carl's Confirm replayed by Olga after it was booked: still not hers.
    expect(await olga.sendsCallback(carlsOk)).toBe('This button is no longer active.');
  });

  it('resume after a restart from the one dialogs row: a purchase and an /adjust', async () => {
    const carl = await cashier('Carl');
    const boss = admin();
    const { code, memberId } = await customer('Hana');
    await carl.says('🧾 New purchase');
    await carl.says(code);
    await carl.says('200');
    const points = await carl.says('RS-9');
    expect(await boss.says('/adjust')).toMatchObject({ text: expect.stringContaining("type the customer's card number") });
    await eventually(async () => (await dialogRow(carl)) !== null && (await dialogRow(boss)) !== null, { what: 'both dialog rows' });

    await app.stop();
    app = await startApp();

    const confirm = await carl.taps(buttonData(points, 'stf:pts:'));
    expect(confirm.text).toContain('Check the purchase');
    expect((await carl.taps(buttonData(confirm, 'stf:ok:'))).text).toContain('Purchase recorded');
    expect(await purchasesOf(memberId)).toBe(1);

    // 100 welcome points and 5 earned: 6 % off RUB 200 leaves 188, 3 % of it is 5.64.
    expect((await boss.says(code)).text).toContain('Balance now: 105 points');
    await boss.says('+5');
    expect((await boss.says('after restart')).text).toContain('Change: +5');
  });

  it('keep the cashier and the coupon code apart in one chat: one dialog at a time, each answer to the open one', async () => {
    const carl = await cashier('Carl');
    const { code, memberId } = await customer('Ivo');
    await carl.says('🧾 New purchase');
    const cardStep = await carl.says(code);
    expect(cardStep.text).toContain('Type the purchase amount');

    // The coupon code dialog ends the purchase; a card code typed now is a coupon code to it.
    expect((await carl.says('🎟 Redeem coupon')).text).toContain('Type the coupon code');
    expect((await carl.says(code)).text).not.toContain('Type the receipt number');
    expect(await carl.sendsCallback(buttonData(cardStep, 'stf:no:'))).toBe('This button is no longer active.');

    // A new purchase ends the code dialog; the same text is the purchase's answer again.
    await carl.says('🧾 New purchase');
    expect((await carl.says(code)).text).toContain('Type the purchase amount');
    expect((await carl.says('150')).text).toContain('Type the receipt number');
    const points = await carl.says('TW-1');
    const confirm = await carl.taps(buttonData(points, 'stf:pts:'));
    expect((await carl.taps(buttonData(confirm, 'stf:ok:'))).text).toContain('Purchase recorded');
    expect(await purchasesOf(memberId)).toBe(1);
  });
});

describe('/adjust as a dialog', () => {
  it('asks for the member, the amount and the reason in turn, refuses what does not fit, and books once', async () => {
    const boss = admin();
    const { user: kim, code, memberId } = await customer('Kim');
    expect((await boss.says('/adjust')).text).toContain('Usage: /adjust');
    const found = await boss.says(code);
    expect(found.text).toContain('Customer: Kim');
    expect(found.text).toContain('Balance now: 100 points');
    expect((await boss.says('twenty')).text).toContain('with its sign');
    expect((await boss.says('-1000')).text).toContain('would take the balance below zero');

    await boss.says('/adjust');
    await boss.says(code);
    expect((await boss.says('+20')).text).toContain('Please give a reason');
    expect((await boss.says('ok')).text).toContain('Please give a reason');
    const confirm = await boss.says('goodwill');
    expect(confirm.text).toContain('Change: +20');
    expect(confirm.text).toContain('Reason: goodwill');
    expect(inlineButtons(confirm).map((b) => b.text)).toEqual(['✅ Confirm', 'Cancel']);
    // A customer's forged Confirm is refused; the admin's double tap books once.
    expect(await kim.sendsCallback(buttonData(confirm, 'adm:adj:'))).toBe('This is only for store staff and administrators.');
    expect((await boss.taps(buttonData(confirm, 'adm:adj:'))).text).toContain('Done: +20 for Kim. Balance: 120 points.');
    expect(await boss.sendsCallback(buttonData(confirm, 'adm:adj:'))).toBe('Already recorded: nothing was booked twice.');
    const adjustments = await db.prisma.ledgerEntry.findMany({ where: { memberId, type: 'ADJUST' } });
    expect(adjustments.map((e) => [e.amount, e.reason])).toEqual([[20, 'goodwill']]);
  });
});
