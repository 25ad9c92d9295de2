import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { formatCode } from '../../src/domain/codes.js';
import { startTestApp } from '../support/app.js';
import { Conversation, expectNoViolations, inlineButtons } from '../support/conversation.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { FakeBotApi, type SentMessage } from '../support/fake-bot-api/server.js';
import { programWithTasks } from '../support/program.js';

/**
 * Personal screens only in private chats (DESIGN principle 10): a customer command typed in a
 * group, supergroup or channel must not post the balance, tier, card QR and code or coupon codes
 * where others read along. At most the bot answers with a button that opens the private chat.
 */

let fake: FakeBotApi;
let db: TestDatabase;
let app: App;

const GROUP = -4242;
const SUPERGROUP = -1001234567890;

beforeAll(async () => {
  fake = await FakeBotApi.start({ botUsername: 'loyalty_test_bot' });
  db = await createTestDatabase();
  app = await startTestApp({ fake, databaseUrl: db.url, program: programWithTasks() });
});
afterAll(async () => {
  await app?.stop();
  await fake?.close();
  await db?.drop();
});
afterEach(() => expectNoViolations(fake));

const COMMANDS = ['/balance', '/card', '/coupons', '/history', '/tasks', '/rewards', '/settings', '/start', '/help'];

describe('customer commands in a group', () => {
  it('reveal nothing personal: every command (also /cmd@bot) gets only a button to the private chat', async () => {
    const rita = new Conversation(fake, { id: 91_001, first_name: 'Rita', language_code: 'en' });
    await rita.registers();
    const member = await db.prisma.member.findUniqueOrThrow({ where: { telegramId: BigInt(rita.user.id) } });
    const privateBefore = fake.messagesTo(rita.user.id).length;

    const sent: string[] = [];
    for (const [index, command] of COMMANDS.flatMap((c) => [c, `${c}@loyalty_test_bot`]).entries()) {
      const group = index % 2 === 0 ? GROUP : SUPERGROUP;
      const before = fake.messagesTo(group).length;
      fake.sendTextInGroup(rita.user, group, command);
      const reply = await fake.waitFor(() => fake.messagesTo(group)[before], { what: `the answer to ${command}` });
      expectOnlyTheWayToPrivate(reply, command);
      sent.push(command);
    }

    // Everything the groups got: one button message per command, nothing personal in any of it.
    const inGroups = [...fake.messagesTo(GROUP), ...fake.messagesTo(SUPERGROUP)];
    expect(inGroups).toHaveLength(sent.length);
    for (const message of inGroups) {
      expect(message.method).toBe('sendMessage');
      expect(message.photo).toBeUndefined();
      expect(message.document).toBeUndefined();
      const everything = JSON.stringify(message.params);
      expect(everything).not.toMatch(/\d+\s+points?/);
      for (const secret of [member.code, formatCode(member.code), 'Tier', 'Basic', 'discount', member.phone ?? 'no phone', (member.phone ?? '').slice(1)]) {
        expect(everything).not.toContain(secret);
      }
    }
    // Nor was anything posted to Rita's private chat instead.
    expect(fake.messagesTo(rita.user.id)).toHaveLength(privateBefore);
    expect(fake.calls.filter((call) => call.method === 'sendPhoto' && Number(call.params.chat_id) < 0)).toEqual([]);
  });

  it('ignores menu words, commands for other bots, and customer and registration buttons tapped in a group', async () => {
    const sid = new Conversation(fake, { id: 91_002, first_name: 'Sid', language_code: 'en' });
    await sid.registers();
    const before = fake.messagesTo(GROUP).length;
    const callsBefore = fake.calls.length;

    fake.sendTextInGroup(sid.user, GROUP, '💰 Balance');
    fake.sendTextInGroup(sid.user, GROUP, '💳 Member card');
    fake.sendTextInGroup(sid.user, GROUP, '/balance@some_other_bot');
    for (const data of ['tsk:ref', 'tsk:in', 'reg:lang:en', 'reg:consent:yes', 'rw:list']) fake.sendCallbackQueryInGroup(sid.user, GROUP, data);
    // A marker: once its answer is there, everything sent before it has been handled (one chat, in order).
    fake.sendTextInGroup(sid.user, GROUP, '/help');
    const marker = await fake.waitFor(
      () =>
        fake
          .messagesTo(GROUP)
          .slice(before)
          .find((m) => inlineButtons(m).length > 0),
      { what: 'the marker answer' },
    );
    expectOnlyTheWayToPrivate(marker, '/help');

    expect(fake.messagesTo(GROUP).slice(before)).toEqual([marker]);
    const later = fake.calls.slice(callsBefore);
    expect(later.filter((call) => call.method.startsWith('edit') || call.method === 'sendPhoto')).toEqual([]);
    // Taps get at most an empty or "stale button" popup: nothing of the member's.
    for (const answer of later.filter((call) => call.method === 'answerCallbackQuery')) {
      expect(String(answer.params.text ?? '')).not.toMatch(/\d+\s+points|invite|t\.me/i);
    }
  });
});

function expectOnlyTheWayToPrivate(reply: SentMessage, command: string): void {
  expect(reply.text, command).toBe('Your card, points and coupons are shown only in a private chat with me.');
  const buttons = inlineButtons(reply);
  expect(buttons, command).toHaveLength(1);
  expect(buttons[0]?.url, command).toMatch(/^https:\/\/t\.me\/loyalty_test_bot\?start=[a-z]+$/);
}
