import { randomBytes } from 'node:crypto';
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
import { type DomainError, isDomainError } from '../domain/errors.js';
import { type DecodedCallback, decodeCallback } from './callback-data.js';
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
   * user's open dialogs end first (one open dialog per person), and when this is the update's
   * first mount they never see it.
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

/** A dialog's or a confirmation screen's id in its buttons: 8 url-safe characters (callback-data.ts `dialog`). */
export const newDialogId = () => randomBytes(6).toString('base64url');

/** An answer to a dialog's open step: typed text (not a command), or a tap on one of its own buttons. */
export type Answer = { text: string } | { tap: DecodedCallback };

/** A dialog that moves from step to step on each answer; its state is plain JSON (the plugin stores it). */
export interface StepDialog<S extends { touchedAt: number }, P> {
  /** Whether a tap is one of this dialog's current buttons; any other tap is not its business. */
  belongs(tap: DecodedCallback, state: S): boolean;
  /** The role, asked of the server for every answer: a refusal is answered and ends the dialog. */
  role(ctx: BotContext): Promise<P>;
  /** The next state after an answer, its question asked; null: the dialog has ended. */
  flow(ctx: BotContext, state: S, answer: Answer, principal: P): Promise<S | null>;
  /** A domain refusal in the dialog's words (the step stays open). */
  refused(ctx: BotContext, error: DomainError): Promise<void>;
  /** An abandoned dialog does not capture later messages: after this long they pass it by. */
  ttlMs: number;
  /** The domain clock (ms). */
  now(): number;
}

/**
 * A step dialog as a conversation: the first question was asked when it was entered (with its
 * first state as the argument). Each answer is handled in ONE `conversation.external` with the
 * update's own context, so replies and bookings happen once and never on a replay; the role
 * is asked again first. Commands, other screens' taps and stale or forged taps of this dialog
 * pass on untouched (the handlers outside answer them), and the step stays open.
 */
export function stepDialog<S extends { touchedAt: number }, P>(spec: StepDialog<S, P>): ConversationBuilder<BotContext, Context> {
  async function handle(ctx: BotContext, state: S, answer: Answer): Promise<S | null | 'pass'> {
    if (spec.now() - state.touchedAt > spec.ttlMs) return 'pass';
    let principal: P;
    try {
      principal = await spec.role(ctx);
    } catch (error) {
      if (!isDomainError(error)) throw error;
      ctx.log.info({ code: error.code }, 'dialog answer refused: role');
      await spec.refused(ctx, error);
      return null;
    }
    try {
      const next = await spec.flow(ctx, state, answer, principal);
      return next && { ...next, touchedAt: spec.now() };
    } catch (error) {
      if (!isDomainError(error)) throw error;
      ctx.log.info({ code: error.code }, 'dialog answer refused');
      await spec.refused(ctx, error);
      return state;
    }
  }

  return async (conversation: DialogConversation, _ctx: Context, start: S) => {
    let state: S | null = start;
    while (state) {
      const current: S = state;
      const update = await conversation.wait();
      const text = update.message?.text;
      const tap = decodeCallback(update.callbackQuery?.data);
      let answer: Answer;
      if (text !== undefined && !text.startsWith('/')) answer = { text };
      else if (tap.route !== 'unknown' && spec.belongs(tap, current)) answer = { tap };
      else return conversation.skip({ next: true });
      const next = await conversation.external((ctx) => handle(ctx, current, answer));
      if (next === 'pass') return conversation.halt({ next: true });
      state = next;
    }
  };
}
