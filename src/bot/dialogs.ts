import {
  type Conversation,
  type ConversationBuilder,
  type ConversationData,
  type ConversationFlavor,
  type ConversationStorage,
  conversations,
  createConversation,
  type VersionedState,
} from '@grammyjs/conversations';
import { Composer, type Context, type MiddlewareFn, type NextFunction } from 'grammy';
import type { BotContext } from './context.js';

/** The outer context of a handler mounted on the dialogs (`ctx.conversation` is there). */
export type DialogContext = ConversationFlavor<BotContext>;
/** What a dialog's code receives: its conversation handle (side effects go through `external`). */
export type DialogConversation = Conversation<BotContext, Context>;

/**
 * Bumped when any dialog's code changes incompatibly (steps reordered, waits or `external` calls
 * added or removed): the plugin then drops older states instead of replaying them into new code.
 */
export const DIALOGS_VERSION = 1;

/**
 * A conversations-plugin storage over the bot's session store: one ChatSession row per user for
 * all their dialogs (`dialogs:<telegramId>`), read through the update's batched `ctx.sessions`.
 * A restart or another instance resumes the dialog, and erasing a member erases it with their
 * other rows. The row holds the plugin's versioned state, which the plugin checks itself.
 */
function dialogStorage(version: number): ConversationStorage<BotContext, ConversationData> {
  return {
    type: 'context',
    version,
    adapter: {
      read: async (ctx) => (await ctx.sessions.read('dialogs')) as VersionedState<ConversationData> | undefined,
      write: (ctx, state) => ctx.sessions.write('dialogs', state),
      delete: (ctx) => ctx.sessions.delete('dialogs'),
    },
  };
}

/** A handler as features mount it (it may pass the update on with `next`). */
export type MountedHandler = (ctx: BotContext, next: NextFunction) => Promise<void>;

const isMounted = (ctx: BotContext): ctx is DialogContext => (ctx as Partial<DialogContext>).conversation !== undefined;

/**
 * Every multi-step dialog of the bot (@grammyjs/conversations v2) behind one plugin. Features
 * register their dialogs while they are built and wrap the handlers where a dialog can matter
 * (its entries, its taps, typed answers): the plugin reads the user's dialog row only there, so
 * customers' own updates never wait on it.
 *
 * The plugin refuses to be installed twice on one update, so a wrapped handler installs it only
 * when this update has not passed a mount yet; otherwise `ctx.conversation` is already there and
 * the handler runs directly. Every registered dialog sees the update at the first mount it
 * passes, so an open dialog gets its answers and taps whichever feature's handler caught them.
 */
export class Dialogs {
  private readonly plugin: MiddlewareFn<DialogContext>;
  private readonly registered: MiddlewareFn<DialogContext>[] = [];
  private readonly ids = new Set<string>();
  private sealed = false;

  constructor(version = DIALOGS_VERSION) {
    this.plugin = conversations<BotContext, Context>({ storage: dialogStorage(version) });
  }

  /** A dialog, entered with `ctx.conversation.enter(id, ...args)` from a wrapped handler. */
  register(builder: ConversationBuilder<BotContext, Context>, id: string): void {
    if (this.sealed) throw new Error(`dialog ${id} registered after the bot began handling updates`);
    if (this.ids.has(id)) throw new Error(`two dialogs are named ${id}`);
    this.ids.add(id);
    this.registered.push(createConversation<BotContext, Context>(builder, id));
  }

  /** The handler behind the dialogs: an open dialog takes the update first; what it passes on reaches the handler. */
  around(handler: MiddlewareFn<DialogContext>): MountedHandler {
    return this.mount(handler, false);
  }

  /**
   * A handler that starts a dialog or leaves one (a command, a menu button, a deep link): the
   * user's open dialogs end first and never see the update (one open dialog per person).
   */
  entry(handler: MiddlewareFn<DialogContext>): MountedHandler {
    return this.mount(handler, true);
  }

  private mount(handler: MiddlewareFn<DialogContext>, fresh: boolean): MountedHandler {
    let chain: MiddlewareFn<DialogContext> | undefined;
    const endAll = async (ctx: DialogContext, next: NextFunction) => {
      await ctx.conversation.exitAll();
      await next();
    };
    return async (ctx: BotContext, next: NextFunction) => {
      if (isMounted(ctx)) {
        if (fresh) await ctx.conversation.exitAll();
        await handler(ctx, next);
        return;
      }
      // Built at the first update, when every feature has registered its dialogs.
      this.sealed = true;
      chain ??= new Composer<DialogContext>(this.plugin, ...(fresh ? [endAll] : []), ...this.registered, handler).middleware();
      await chain(ctx as DialogContext, next);
    };
  }
}
