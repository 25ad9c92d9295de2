import { type ConversationData, type ConversationFlavor, type ConversationStorage, conversations, type VersionedState } from '@grammyjs/conversations';
import type { Context } from 'grammy';
import type { SessionFeature } from './chat-sessions.js';
import type { BotContext } from './context.js';

/** The outer context of a feature that runs @grammyjs/conversations dialogs. */
export type DialogContext = ConversationFlavor<BotContext>;

/**
 * A conversations-plugin storage over the bot's session store (ChatSession `<feature>:<telegramId>`,
 * read through the update's batched `ctx.sessions`): a restart or another instance resumes the
 * dialog, and erasing a member erases it with their other rows. `version` is bumped when a
 * dialog's code changes incompatibly: the plugin then drops older states instead of replaying them.
 */
export function dialogStorage(feature: SessionFeature, version: number): ConversationStorage<BotContext, ConversationData> {
  return {
    type: 'context',
    version,
    adapter: {
      // The row was written by this adapter (JSON of the plugin's versioned state); the plugin checks the version.
      read: async (ctx) => (await ctx.sessions.read(feature)) as VersionedState<ConversationData> | undefined,
      write: (ctx, state) => ctx.sessions.write(feature, state),
      delete: (ctx) => ctx.sessions.delete(feature),
    },
  };
}

/** The plugin's middleware for one feature's dialogs (each feature keeps its own row). */
export const dialogPlugin = (feature: SessionFeature, version: number) => conversations<BotContext, Context>({ storage: dialogStorage(feature, version) });
