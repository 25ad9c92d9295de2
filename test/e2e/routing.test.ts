import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { startTestApp } from '../support/app.js';
import { hireCashier } from '../support/cashier.js';
import { Conversation, expectNoViolations } from '../support/conversation.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { FakeBotApi } from '../support/fake-bot-api/server.js';

/**
 * Who answers an update when two features could (src/bot/routing.ts): a reply-keyboard button
 * is its handler's even while another feature takes any text, and what the button's handler
 * passes on reaches the feature that takes the text.
 */

const ADMIN_ID = 900_301;
let fake: FakeBotApi;
let db: TestDatabase;
let app: App;
let nextUserId = 66_000;

beforeAll(async () => {
  fake = await FakeBotApi.start({ botUsername: 'loyalty_test_bot' });
  db = await createTestDatabase();
  app = await startTestApp({ fake, databaseUrl: db.url, env: { ADMIN_TELEGRAM_IDS: String(ADMIN_ID) } });
});
afterAll(async () => {
  await app?.stop();
  await fake?.close();
  await db?.drop();
});
afterEach(() => expectNoViolations(fake));

const admin = () => new Conversation(fake, { id: ADMIN_ID, first_name: 'Boss', language_code: 'en' });
const newUser = (firstName: string) => new Conversation(fake, { id: nextUserId++, first_name: firstName, language_code: 'en' });
const codeOf = async (user: Conversation) => (await db.prisma.member.findUniqueOrThrow({ where: { telegramId: BigInt(user.user.id) } })).code;

describe('routing', () => {
  it('gives a menu button to its screen while the broadcast composer waits for any message; the composer takes the next one', async () => {
    const boss = admin();
    await boss.registers();
    expect((await boss.says('/broadcast')).text).toContain('New broadcast');
    // The compose step takes text or a photo from anyone, ahead of the customer features.
    expect((await boss.says('💰 Balance')).text).toContain('Tier: Basic');
    expect((await boss.says('Weekend sale')).text).toContain('Add a button');
    expect((await boss.says('/cancel')).text).toContain('Nothing was sent');
  });

  it("gives a cashier's customer button to its screen in the middle of a purchase; the dialog takes the next answer", async () => {
    const carl = newUser('Carl');
    await carl.registers();
    await hireCashier(admin(), carl, 'msk-01');
    const rhea = newUser('Rhea');
    await rhea.registers();

    expect((await carl.says('🧾 New purchase')).text).toContain("Scan the customer's card QR code");
    expect((await carl.says('💰 Balance')).text).toContain('Tier: Basic');
    expect((await carl.says(await codeOf(rhea))).text).toContain('Rhea');
    expect((await carl.says('/cancel')).text).toContain('Cancelled');
  });

  it('starts what a staff button says in the middle of another dialog, instead of taking the label as an answer', async () => {
    const olga = await hireCashier(admin(), newUser('Olga'), 'msk-01');
    expect((await olga.says('🧾 New purchase')).text).toContain("Scan the customer's card QR code");
    expect((await olga.says('↩️ Return')).text).toContain('Type the receipt number of the purchase');
    expect((await olga.says('🎟 Redeem coupon')).text).toContain('Type the coupon code');
  });

  it('passes a customer button tapped during registration on to the registration, as the answer to its step', async () => {
    const vera = newUser('Vera');
    await vera.says('/start');
    await vera.taps('reg:lang:en');
    await vera.taps('reg:consent:yes');
    expect((await vera.says('💰 Balance')).text).toContain("doesn't look like a valid phone number");
    expect(await db.prisma.member.findUniqueOrThrow({ where: { telegramId: BigInt(vera.user.id) } })).toMatchObject({
      status: 'REGISTERING',
      registrationStep: 'PHONE',
    });
  });

  it('hints staff who are not customers to use the menu, and tells anyone else to register', async () => {
    const sam = await hireCashier(admin(), newUser('Sam'), 'msk-01');
    expect((await sam.says('hello')).text).toContain('menu');
    expect((await newUser('Nobody').says('hello')).text).toContain('send /start');
  });
});
