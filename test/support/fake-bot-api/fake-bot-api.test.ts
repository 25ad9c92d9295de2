import { Bot, GrammyError, InlineKeyboard, InputFile, Keyboard } from 'grammy';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeBotApi, type FakeUser } from './server.js';

const alice: FakeUser = { id: 1001, first_name: 'Alice', username: 'alice', language_code: 'en' };
const bob: FakeUser = { id: 1002, first_name: 'Bob' };

// 1x1 transparent PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

interface ApiAnswer {
  ok: boolean;
  result?: unknown;
  error_code?: number;
  description?: string;
  parameters?: { retry_after?: number };
}

async function call(fake: FakeBotApi, method: string, body?: Record<string, unknown>, token = fake.token): Promise<{ status: number; json: ApiAnswer }> {
  const res = await fetch(`${fake.apiRoot}/bot${token}/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body ?? {}),
  });
  return { status: res.status, json: (await res.json()) as ApiAnswer };
}

function makeBot(fake: FakeBotApi): Bot {
  const bot = new Bot(fake.token, { client: { apiRoot: fake.apiRoot } });
  bot.catch((err) => {
    throw err.error;
  });
  return bot;
}

async function startBot(bot: Bot): Promise<() => Promise<void>> {
  let running: Promise<void> | undefined;
  await new Promise<void>((resolve, reject) => {
    running = bot.start({ onStart: () => resolve() }).catch((err: unknown) => {
      reject(err);
    });
  });
  return async () => {
    await bot.stop();
    await running;
  };
}

describe('FakeBotApi', () => {
  let fake: FakeBotApi;

  beforeEach(async () => {
    fake = await FakeBotApi.start();
  });

  afterEach(async () => {
    await fake.close();
  });

  describe('with a real grammY bot over long polling', () => {
    it('handles commands, inline keyboards, callback queries, edits and uploads', async () => {
      const bot = makeBot(fake);
      bot.command('start', async (ctx) => {
        await ctx.reply(`Hello, <b>${ctx.from?.first_name ?? ''}</b>!`, {
          parse_mode: 'HTML',
          reply_markup: new InlineKeyboard().text('Balance', 'balance').text('Card', 'card'),
        });
      });
      bot.callbackQuery('balance', async (ctx) => {
        await ctx.answerCallbackQuery({ text: 'Loading…' });
        await ctx.editMessageText('Your balance: 42 points', {
          reply_markup: new InlineKeyboard().text('Back', 'back'),
        });
      });
      bot.callbackQuery('card', async (ctx) => {
        await ctx.answerCallbackQuery();
        await ctx.replyWithPhoto(new InputFile(PNG, 'card.png'), { caption: 'Your card' });
      });
      bot.on('message:contact', (ctx) => ctx.reply(`Got ${ctx.message.contact.phone_number}`));
      const stop = await startBot(bot);
      try {
        fake.sendText(alice, '/start');
        const greeting = await fake.waitForMessageTo(alice.id);
        expect(greeting.text).toBe('Hello, Alice!');
        expect(greeting.entities).toEqual([{ type: 'bold', offset: 7, length: 5 }]);
        expect(greeting.replyMarkup.inline_keyboard[0]).toHaveLength(2);

        fake.tapButton(alice, 'balance');
        await fake.waitFor(() => fake.lastMessageTo(alice.id)?.edited, { what: 'the greeting to be edited' });
        const edited = fake.lastMessageTo(alice.id);
        expect(edited).toMatchObject({ messageId: greeting.messageId, text: 'Your balance: 42 points', edited: true });
        expect(fake.messagesTo(alice.id)).toHaveLength(1);
        const answer = fake.calls.find((c) => c.method === 'answerCallbackQuery');
        expect(answer).toMatchObject({ ok: true, chatId: alice.id, params: { text: 'Loading…' } });

        // The old "balance" button is gone after the edit.
        expect(() => fake.tapButton(alice, 'balance')).toThrow(/no inline button/);

        // Multipart upload of a Buffer, from a button of a fresh greeting.
        fake.sendText(alice, '/start');
        await fake.waitForMessageTo(alice.id, (m) => m.text === 'Hello, Alice!');
        fake.tapButton(alice, 'card');
        const photo = await fake.waitForMessageTo(alice.id, (m) => m.method === 'sendPhoto');
        expect(photo.caption).toBe('Your card');
        expect(photo.photo).toMatchObject({ filename: 'card.png' });
        expect(typeof photo.photo === 'object' && photo.photo.data.equals(PNG)).toBe(true);
        const sendPhoto = fake.calls.find((c) => c.method === 'sendPhoto');
        expect(sendPhoto?.files.photo?.data.equals(PNG)).toBe(true);
        const sizes = (sendPhoto?.result as { photo: { width: number; height: number }[] } | undefined)?.photo ?? [];
        expect(sizes.at(-1)).toMatchObject({ width: 1, height: 1 });

        fake.sendContact(alice, { phone_number: '+15550001111', user_id: alice.id });
        const got = await fake.waitForMessageTo(alice.id);
        expect(got.text).toBe('Got +15550001111');
      } finally {
        await stop();
      }
      expect(fake.violations).toEqual([]);
      // User messages got ids in the same per-chat sequence as the bot's.
      const ids = fake.messagesTo(alice.id).map((m) => m.messageId);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
      expect(new Set(ids).size).toBe(ids.length);
    });

    it('surfaces 429 and 403 as GrammyError', async () => {
      const bot = makeBot(fake);
      fake.failNext('sendMessage', 429, 7);
      const tooMany = await bot.api.sendMessage(alice.id, 'hi').catch((e: unknown) => e);
      expect(tooMany).toBeInstanceOf(GrammyError);
      expect((tooMany as GrammyError).error_code).toBe(429);
      expect((tooMany as GrammyError).parameters.retry_after).toBe(7);
      await bot.api.sendMessage(alice.id, 'hi again');

      fake.blockUser(bob.id);
      const blocked = await bot.api.sendMessage(bob.id, 'hi').catch((e: unknown) => e);
      expect(blocked).toBeInstanceOf(GrammyError);
      expect((blocked as GrammyError).error_code).toBe(403);
      expect((blocked as GrammyError).description).toBe('Forbidden: bot was blocked by the user');
      fake.unblockUser(bob.id);
      await bot.api.sendMessage(bob.id, 'welcome back');

      expect(fake.tooManyRequests).toBe(1);
      expect(fake.calls.map((c) => [c.method, c.ok, c.errorCode])).toEqual([
        ['sendMessage', false, 429],
        ['sendMessage', true, undefined],
        ['sendMessage', false, 403],
        ['sendMessage', true, undefined],
      ]);
      expect(fake.violations).toEqual([]);
    });

    it('delivers my_chat_member updates and blocks kicked users', async () => {
      const bot = makeBot(fake);
      const statuses: string[] = [];
      bot.on('my_chat_member', (ctx) => {
        statuses.push(ctx.myChatMember.new_chat_member.status);
      });
      const stop = await startBot(bot);
      try {
        fake.sendMyChatMember(alice, 'kicked');
        await fake.waitFor(() => statuses.length === 1);
        await expect(bot.api.sendMessage(alice.id, 'x')).rejects.toMatchObject({ error_code: 403 });
        fake.sendMyChatMember(alice, 'member');
        await fake.waitFor(() => statuses.length === 2);
        await bot.api.sendMessage(alice.id, 'x');
      } finally {
        await stop();
      }
      expect(statuses).toEqual(['kicked', 'member']);
    });
  });

  describe('getUpdates', () => {
    it('honours offset and limit and confirms updates', async () => {
      const u1 = fake.sendText(alice, 'one');
      fake.sendText(alice, 'two');
      fake.sendText(bob, 'three');
      const first = await call(fake, 'getUpdates', { limit: 2 });
      expect((first.json.result as { update_id: number }[]).map((u) => u.update_id)).toEqual([u1.update_id, u1.update_id + 1]);
      const rest = await call(fake, 'getUpdates', { offset: u1.update_id + 2 });
      expect(rest.json.result).toHaveLength(1);
      const none = await call(fake, 'getUpdates', { offset: u1.update_id + 3 });
      expect(none.json.result).toEqual([]);
    });

    it('wakes a long poll as soon as an update is enqueued', async () => {
      const started = Date.now();
      const poll = call(fake, 'getUpdates', { timeout: 10 });
      await fake.waitFor(() => true);
      setTimeout(() => fake.sendText(alice, 'ping'), 50);
      const { json } = await poll;
      expect(json.result).toHaveLength(1);
      expect(Date.now() - started).toBeLessThan(2000);
    });

    it('ends pending long polls with [] on close without hanging', async () => {
      const poll = call(fake, 'getUpdates', { timeout: 30 });
      await new Promise((r) => setTimeout(r, 50));
      const started = Date.now();
      await fake.close();
      const { json } = await poll;
      expect(json).toEqual({ ok: true, result: [] });
      expect(Date.now() - started).toBeLessThan(1000);
    });

    it('terminates a pending long poll with 409 when another one starts', async () => {
      const first = call(fake, 'getUpdates', { timeout: 30 });
      await new Promise((r) => setTimeout(r, 50));
      const second = call(fake, 'getUpdates', { timeout: 30 });
      expect((await first).status).toBe(409);
      fake.sendText(alice, 'hi');
      expect((await second).json.result).toHaveLength(1);
    });

    it('drops update kinds not in allowed_updates', async () => {
      fake.sendText(alice, 'hello');
      fake.sendMyChatMember(alice, 'member');
      const { json } = await call(fake, 'getUpdates', { allowed_updates: ['my_chat_member'] });
      expect(json.result).toHaveLength(1);
      expect((json.result as object[])[0]).toHaveProperty('my_chat_member');
    });
  });

  describe('validation against bot-api.json', () => {
    it('rejects unknown methods with 404', async () => {
      const res = await call(fake, 'sendMesage', { chat_id: 1, text: 'x' });
      expect(res.status).toBe(404);
      expect(res.json).toEqual({ ok: false, error_code: 404, description: 'Not Found' });
      expect(fake.violations).toEqual(['sendMesage: unknown method "sendMesage"']);
    });

    it('rejects unknown and missing parameters and wrong types with 400', async () => {
      const unknown = await call(fake, 'sendMessage', { chat_id: 1, text: 'x', reply_to_message_id: 3 });
      expect(unknown.status).toBe(400);
      expect(unknown.json.description).toContain('unknown parameter "reply_to_message_id"');
      const missing = await call(fake, 'sendMessage', { chat_id: 1 });
      expect(missing.status).toBe(400);
      expect(missing.json.description).toContain('missing required parameter "text"');
      const wrongType = await call(fake, 'sendMessage', { chat_id: 1, text: 'x', disable_notification: 'yes' });
      expect(wrongType.status).toBe(400);
      const nested = await call(fake, 'sendMessage', {
        chat_id: 1,
        text: 'x',
        reply_markup: { inline_keyboard: [[{ text: 'a', callback_data: 'a', colour: 'red' }]] },
      });
      expect(nested.status).toBe(400);
      expect(fake.violations).toEqual([
        'sendMessage: unknown parameter "reply_to_message_id"',
        'sendMessage: missing required parameter "text"',
        'sendMessage: wrong type: disable_notification: expected Boolean, got string "yes"',
        'sendMessage: wrong type: reply_markup.inline_keyboard[0][0].colour: unknown field of InlineKeyboardButton',
      ]);
      expect(fake.calls.every((c) => !c.ok && c.errorCode === 400)).toBe(true);
    });

    it('checks text, caption and callback_data limits', async () => {
      const bot = makeBot(fake);
      await expect(bot.api.sendMessage(alice.id, 'x'.repeat(4097))).rejects.toMatchObject({ error_code: 400 });
      await expect(bot.api.sendMessage(alice.id, '   ')).rejects.toMatchObject({ error_code: 400 });
      await expect(bot.api.sendPhoto(alice.id, new InputFile(PNG), { caption: 'c'.repeat(1025) })).rejects.toMatchObject({ error_code: 400 });
      await expect(bot.api.sendMessage(alice.id, 'pick', { reply_markup: new InlineKeyboard().text('A', 'a'.repeat(65)) })).rejects.toMatchObject({
        error_code: 400,
      });
      await bot.api.sendMessage(alice.id, 'x'.repeat(4096), {
        reply_markup: new InlineKeyboard().text('A', 'я'.repeat(32)),
      });
      expect(fake.violations).toHaveLength(4);
      expect(fake.violations[0]).toContain('message is too long');
      expect(fake.violations[1]).toContain('message text is empty');
      expect(fake.violations[2]).toContain('message caption is too long');
      expect(fake.violations[3]).toContain('BUTTON_DATA_INVALID');
    });

    it('rejects malformed HTML and MarkdownV2 like Telegram', async () => {
      const bot = makeBot(fake);
      await expect(bot.api.sendMessage(alice.id, 'a <3 b', { parse_mode: 'HTML' })).rejects.toThrow(/can't parse entities/);
      await expect(bot.api.sendMessage(alice.id, 'Total: 5.00', { parse_mode: 'MarkdownV2' })).rejects.toThrow(/reserved/);
      const md = await bot.api.sendMessage(alice.id, '*Total:* 5\\.00 & \\(net\\)', { parse_mode: 'MarkdownV2' });
      expect(md.text).toBe('Total: 5.00 & (net)');
      expect(md.entities).toEqual([{ type: 'bold', offset: 0, length: 6 }]);
      const html = await bot.api.sendMessage(alice.id, '<b>A &amp; B</b> <a href="https://x.y">link</a> 1 &lt; 2', {
        parse_mode: 'HTML',
      });
      expect(html.text).toBe('A & B link 1 < 2');
      expect(html.entities).toEqual([
        { type: 'bold', offset: 0, length: 5 },
        { type: 'text_link', offset: 6, length: 4, url: 'https://x.y' },
      ]);
      expect(fake.violations).toHaveLength(2);
    });

    it('answers 401 for a wrong token', async () => {
      const res = await call(fake, 'getMe', {}, '999:WRONG');
      expect(res.status).toBe(401);
      expect(res.json).toEqual({ ok: false, error_code: 401, description: 'Unauthorized' });
      expect(fake.violations).toHaveLength(1);
      const me = await call(fake, 'getMe');
      expect(me.json.result).toEqual(fake.botInfo);
    });

    it('accepts urlencoded and multipart bodies with plain file fields', async () => {
      const form = new URLSearchParams({ chat_id: String(alice.id), text: '123', disable_notification: 'true' });
      const res = await fetch(`${fake.apiRoot}/bot${fake.token}/sendMessage`, { method: 'POST', body: form });
      expect(res.status).toBe(200);
      expect(fake.lastMessageTo(alice.id)).toMatchObject({ text: '123', params: { chat_id: alice.id, text: '123' } });

      const fd = new FormData();
      fd.set('chat_id', String(alice.id));
      fd.set('reply_markup', JSON.stringify({ inline_keyboard: [[{ text: 'Ok', callback_data: 'ok' }]] }));
      fd.set('document', new Blob([Buffer.from('hello')], { type: 'text/plain' }), 'hello.txt');
      const doc = await fetch(`${fake.apiRoot}/bot${fake.token}/sendDocument`, { method: 'POST', body: fd });
      expect(doc.status).toBe(200);
      const sent = fake.lastMessageTo(alice.id);
      expect(sent?.document).toMatchObject({ filename: 'hello.txt', contentType: 'text/plain' });
      expect(sent?.replyMarkup).toEqual({ inline_keyboard: [[{ text: 'Ok', callback_data: 'ok' }]] });
      const result = (await doc.json()) as { result: { document: { file_name: string; mime_type: string } } };
      expect(result.result.document).toMatchObject({ file_name: 'hello.txt', mime_type: 'text/plain' });
      expect(fake.violations).toEqual([]);
    });
    it('accepts common grammY calls without violations', async () => {
      const bot = makeBot(fake);
      await bot.api.setMyCommands([{ command: 'start', description: 'Start' }], {
        scope: { type: 'all_private_chats' },
        language_code: 'en',
      });
      expect(await bot.api.getMyCommands({ scope: { type: 'all_private_chats' }, language_code: 'en' })).toEqual([{ command: 'start', description: 'Start' }]);
      expect(await bot.api.getMyCommands()).toEqual([]);
      await bot.api.setChatMenuButton({ menu_button: { type: 'commands' } });
      await bot.api.sendChatAction(alice.id, 'typing');
      const shared = await bot.api.sendMessage(alice.id, 'Share your phone', {
        reply_markup: new Keyboard().requestContact('Share').resized().oneTime(),
      });
      // Only inline keyboards show up in the returned Message; the fake keeps the sent markup.
      expect(shared.reply_markup).toBeUndefined();
      expect(fake.lastMessageTo(alice.id)?.replyMarkup.keyboard[0][0]).toEqual({ text: 'Share', request_contact: true });
      await bot.api.sendMessage(alice.id, 'Thanks', { reply_markup: { remove_keyboard: true } });
      const member = await bot.api.getChatMember(alice.id, alice.id);
      expect(member.status).toBe('member');
      expect(fake.violations).toEqual([]);

      await expect(bot.api.setMyCommands([{ command: 'Start', description: 'x' }])).rejects.toMatchObject({
        error_code: 400,
      });
      await expect(bot.api.setMyCommands([{ command: 'start', description: 'x' }], { scope: { type: 'chat' } as never })).rejects.toMatchObject({
        error_code: 400,
      });
      expect(fake.violations).toEqual([
        'setMyCommands: BOT_COMMAND_INVALID: "Start"',
        'setMyCommands: wrong type: scope.chat_id: missing required field of BotCommandScopeChat',
      ]);
    });
  });

  describe('message store', () => {
    it('applies edits and deletions and reports not found / not modified', async () => {
      const bot = makeBot(fake);
      const kb = new InlineKeyboard().text('A', 'a');
      const m = await bot.api.sendMessage(alice.id, 'one', { reply_markup: kb });
      expect(m.reply_markup).toEqual({ inline_keyboard: [[{ text: 'A', callback_data: 'a' }]] });
      await expect(bot.api.editMessageText(alice.id, m.message_id, 'one', { reply_markup: kb })).rejects.toThrow(/message is not modified/);
      await expect(bot.api.editMessageText(alice.id, 999, 'x')).rejects.toThrow(/message to edit not found/);
      // Editing without reply_markup removes the keyboard, like Telegram.
      await bot.api.editMessageText(alice.id, m.message_id, 'one');
      expect(fake.lastMessageTo(alice.id)?.replyMarkup).toBeUndefined();
      await bot.api.editMessageReplyMarkup(alice.id, m.message_id, { reply_markup: kb });
      expect(fake.lastMessageTo(alice.id)?.replyMarkup).toEqual(kb);

      const photo = await bot.api.sendPhoto(alice.id, new InputFile(PNG), { caption: 'c1' });
      await bot.api.editMessageCaption(alice.id, photo.message_id, { caption: 'c2' });
      expect(fake.lastMessageTo(alice.id)).toMatchObject({ caption: 'c2', edited: true });
      // Re-sending by file_id works; unknown ids do not.
      const fileId = photo.photo.at(-1)?.file_id ?? '';
      const again = await bot.api.sendPhoto(bob.id, fileId);
      expect(again.photo.at(-1)?.file_id).toBe(fileId);
      await expect(bot.api.sendPhoto(bob.id, 'nope')).rejects.toThrow(/wrong file identifier/);

      const copy = await bot.api.copyMessage(bob.id, alice.id, photo.message_id, { caption: 'copied' });
      expect(fake.messagesTo(bob.id).find((x) => x.messageId === copy.message_id)).toMatchObject({
        method: 'copyMessage',
        caption: 'copied',
      });

      await bot.api.deleteMessage(alice.id, m.message_id);
      await expect(bot.api.deleteMessage(alice.id, m.message_id)).rejects.toThrow(/message to delete not found/);
      expect(fake.messagesTo(alice.id).map((x) => x.messageId)).toEqual([photo.message_id]);
      expect(fake.violations).toEqual([]);
    });

    it('waitForMessageTo returns each new message once', async () => {
      const bot = makeBot(fake);
      await bot.api.sendMessage(alice.id, 'old');
      expect((await fake.waitForMessageTo(alice.id)).text).toBe('old');
      const pending = fake.waitForMessageTo(alice.id);
      await bot.api.sendMessage(alice.id, 'new');
      expect((await pending).text).toBe('new');
      await expect(fake.waitForMessageTo(alice.id, undefined, { timeoutMs: 50 })).rejects.toThrow(
        /timed out after 50ms waiting for a new message to chat 1001/,
      );
      const mark = fake.calls.length;
      await bot.api.sendMessage(alice.id, 'later');
      expect((await fake.waitForMessageTo(alice.id, undefined, { after: mark })).text).toBe('later');
    });

    it('enforces rate limits when configured', async () => {
      const bot = makeBot(fake);
      fake.setLimits({ perChatPerSecond: 2 });
      await bot.api.sendMessage(alice.id, '1');
      await bot.api.sendMessage(alice.id, '2');
      const err = await bot.api.sendMessage(alice.id, '3').catch((e: unknown) => e);
      expect(err).toMatchObject({ error_code: 429, parameters: { retry_after: 1 } });
      await bot.api.sendMessage(bob.id, 'other chat is fine');
      fake.setLimits({ globalPerSecond: 3 });
      await expect(bot.api.sendMessage(bob.id, 'global')).rejects.toMatchObject({ error_code: 429 });
      expect(fake.tooManyRequests).toBe(2);
      fake.resetRecords();
      expect(fake.calls).toEqual([]);
      expect(fake.tooManyRequests).toBe(0);
    });

    it('answers forged callback queries and rejects unknown query ids', async () => {
      const bot = makeBot(fake);
      const u = fake.sendCallbackQuery(alice, 'forged', 77);
      expect(u.callback_query?.message).toMatchObject({ message_id: 77, date: 0 });
      await bot.api.answerCallbackQuery(u.callback_query?.id ?? '');
      await expect(bot.api.answerCallbackQuery(u.callback_query?.id ?? '')).rejects.toMatchObject({ error_code: 400 });
      expect(() => fake.tapButton(alice, 'missing')).toThrow(/no inline button/);
    });
  });
});
