import { describe, expect, it } from 'vitest';
import type { BotContext } from '../../src/bot/context.js';
import { Dialogs } from '../../src/bot/dialogs.js';

/** One update's context with the session store the dialogs read: just what the plugin touches. */
function updateOf(rows: Map<string, unknown>, reads: string[]) {
  const update = { update_id: 1, message: { message_id: 1, date: 0, chat: { id: 7, type: 'private', first_name: 'A' }, text: 'hi' } };
  const sessions = {
    read: async (feature: string) => {
      reads.push(feature);
      return rows.get(feature);
    },
    write: async (feature: string, value: unknown) => void rows.set(feature, value),
    delete: async (feature: string) => void rows.delete(feature),
  };
  return { update, api: {}, me: {}, sessions } as unknown as BotContext;
}

describe('the one dialogs mount', () => {
  it('installs the plugin once per update however many wrapped handlers it passes, and keeps every dialog in one row', async () => {
    const dialogs = new Dialogs();
    dialogs.register(async (conversation) => conversation.wait(), 'first');
    dialogs.register(async (conversation) => conversation.wait(), 'second');
    const outer = dialogs.around((_ctx, next) => next());
    const inner = dialogs.entry(async (ctx) => {
      await ctx.conversation.enter('second');
    });
    const rows = new Map<string, unknown>();
    const reads: string[] = [];

    // Would throw "Cannot install conversations plugin twice" with a plugin per mount.
    const ctx = updateOf(rows, reads);
    await outer(ctx, () => inner(ctx, async () => undefined));
    expect(reads).toEqual(['dialogs']);
    expect([...rows.keys()]).toEqual(['dialogs']);
    expect(rows.get('dialogs')).toMatchObject({ state: { second: [expect.any(Object)] } });
  });

  it('refuses a dialog registered twice or after the first update', async () => {
    const dialogs = new Dialogs();
    dialogs.register(async () => undefined, 'once');
    expect(() => dialogs.register(async () => undefined, 'once')).toThrow('two dialogs are named once');
    await dialogs.around(async () => undefined)(updateOf(new Map(), []), async () => undefined);
    expect(() => dialogs.register(async () => undefined, 'late')).toThrow('after the bot began handling updates');
  });
});
