import { expect } from 'vitest';
import type { FakeBotApi, FakeUser, SentMessage } from './fake-bot-api/server.js';

/**
 * A user talking to the bot through the fake Bot API, so that scenarios read like the
 * conversation they test: `await anna.says('/start')`, `await anna.taps('reg:lang:ru')`.
 */
export class Conversation {
  constructor(
    readonly fake: FakeBotApi,
    readonly user: FakeUser,
  ) {}

  /** Sends text and returns the bot's next new message to this chat. */
  async says(text: string): Promise<SentMessage> {
    this.fake.sendText(this.user, text);
    return this.nextMessage();
  }

  async sharesContact(phone: string, ownerId: number = this.user.id): Promise<SentMessage> {
    this.fake.sendContact(this.user, { phone_number: phone, first_name: this.user.first_name, user_id: ownerId });
    return this.nextMessage();
  }

  /** Taps an inline button that is on screen; returns the bot's next new message. */
  async taps(callbackData: string): Promise<SentMessage> {
    this.fake.tapButton(this.user, callbackData);
    return this.nextMessage();
  }

  /** Taps an inline button whose answer is an edit of the message it sits on. */
  async tapsAndSeesEdit(callbackData: string, expected: RegExp): Promise<SentMessage> {
    const before = this.fake.calls.length;
    this.fake.tapButton(this.user, callbackData);
    return this.fake.waitFor(
      () => {
        const edit = this.fake.calls.slice(before).find((call) => call.method === 'editMessageText' && call.ok && expected.test(String(call.params.text)));
        return edit ? this.fake.messagesTo(this.user.id).find((m) => m.messageId === edit.params.message_id) : undefined;
      },
      { what: `an edit matching ${expected}` },
    );
  }

  /**
   * Taps an inline button whose answer is a new keyboard on the message it sits on (a menu
   * re-rendered in place); returns that message with its new keyboard.
   */
  async tapsAndSeesKeyboard(callbackData: string): Promise<SentMessage> {
    const before = this.fake.calls.length;
    this.fake.tapButton(this.user, callbackData);
    return this.fake.waitFor(
      () => {
        const edit = this.fake.calls.slice(before).find((call) => call.method === 'editMessageReplyMarkup' && call.ok);
        return edit ? this.fake.messagesTo(this.user.id).find((m) => m.messageId === edit.params.message_id) : undefined;
      },
      { what: 'a new keyboard' },
    );
  }

  /**
   * Sends callback data as if from a button (forged: no such button need be on screen) and
   * returns the popup text the bot answers with.
   */
  async sendsCallback(data: string): Promise<string | undefined> {
    const before = this.fake.calls.length;
    this.fake.sendCallbackQuery(this.user, data);
    const answer = await this.fake.waitFor(() => this.fake.calls.slice(before).find((call) => call.method === 'answerCallbackQuery'), {
      what: `the answer to callback ${data}`,
    });
    return answer.params.text as string | undefined;
  }

  /**
   * Registers through the bot in English, with a phone number made from the user id and the
   * birthday skipped: the member then holds the welcome bonus.
   */
  async registers(start = '/start'): Promise<void> {
    await this.says(start);
    await this.taps('reg:lang:en');
    await this.taps('reg:consent:yes');
    await this.sharesContact(`7912${String(this.user.id).padStart(7, '0')}`);
    await this.says(this.user.first_name);
    expect((await this.says('Skip')).text).toContain(`You are in, ${this.user.first_name}!`);
  }

  nextMessage(predicate?: (m: SentMessage) => boolean): Promise<SentMessage> {
    return this.fake.waitForMessageTo(this.user.id, predicate);
  }
}

export function inlineButtons(message: SentMessage): { text: string; data?: string; url?: string }[] {
  const rows: { text: string; callback_data?: string; url?: string }[][] = message.replyMarkup?.inline_keyboard ?? [];
  return rows.flat().map((button) => ({ text: button.text, data: button.callback_data, url: button.url }));
}

/** The callback data of the inline button labelled `label` (menus' data is opaque: taps go by label). */
export function labelled(message: SentMessage, label: string): string {
  const found = inlineButtons(message).find((b) => b.text === label);
  if (!found?.data) throw new Error(`no button ${JSON.stringify(label)} in ${JSON.stringify(inlineButtons(message))}`);
  return found.data;
}

export function replyKeyboard(message: SentMessage): string[] {
  const rows: { text: string }[][] = message.replyMarkup?.keyboard ?? [];
  return rows.flat().map((button) => button.text);
}

export function expectNoViolations(fake: FakeBotApi): void {
  expect(fake.violations).toEqual([]);
}
