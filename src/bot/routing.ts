import { Composer, type Middleware } from 'grammy';
import type { BotContext } from './context.js';

/**
 * Who answers an update is decided by named stages, not by where a feature happens to be mounted.
 * Every handler passes on (`next`) what is not its own; an update runs through the stages in
 * this order, and the first handler that keeps it answers. Why each stage precedes the next:
 *
 * - `buttons`: a reply-keyboard label is a button, one Map lookup (buttons.ts), whoever else takes
 *   free text: an open dialog, a wizard, a registration step or an NPS comment never swallows a
 *   menu tap. A customer button tapped by someone who is not an active member passes on.
 * - `commands`: commands, taps and /start links of staff, marketers and admins, and the answer
 *   buttons under messages the bot sent on its own (spend requests, NPS). Before `customers`: an
 *   invite, a card's or a coupon's QR must never reach the customer /start (which registers), an
 *   admin's /rewards and /charity come before the customers' own, and these run in groups too
 *   (a manager group's NPS alerts) where the customer features never do. Handlers here match
 *   commands (never in captions) and callback prefixes of their own, so the free text below is
 *   not theirs.
 * - `openAnswers`: typed answers to what is open, from people who are not active customers
 *   (the broadcast compose step from anyone): before `hints` and `customers`, whose handlers take
 *   any text (a staff hint; a registration step answer).
 * - `hints`: text nothing open took from staff who are not customers: before `customers`, which
 *   would tell them to register.
 * - `customers`: the customer features in private chats (private-chats.ts), registration first.
 * - `memberAnswers`: typed answers of active customers to what is open. After `customers`, so
 *   that customers' own updates (almost all of them) never wait on the dialog rows.
 * - `fallback`: what nobody answered: never silence.
 *
 * Inside a stage, handlers run in the order they are added: `add` them in one place (create-bot.ts),
 * with a word where two of them may want the same update.
 */
export const STAGES = ['buttons', 'commands', 'openAnswers', 'hints', 'customers', 'memberAnswers', 'fallback'] as const;
export type Stage = (typeof STAGES)[number];

/** The bot's route table: features' handlers by stage, mounted in `STAGES` order whatever order they were added in. */
export class Routes {
  private readonly byStage = new Map<Stage, Middleware<BotContext>[]>(STAGES.map((stage) => [stage, []]));
  private mounted = false;

  /** Handlers of one stage, after those already added to it. */
  add(stage: Stage, ...handlers: Middleware<BotContext>[]): this {
    if (this.mounted) throw new Error(`a route was added to stage ${stage} after the routes were mounted`);
    this.byStage.get(stage)?.push(...handlers);
    return this;
  }

  /** Every stage, in order; nothing can be added afterwards. */
  middleware(): Composer<BotContext> {
    this.mounted = true;
    const composer = new Composer<BotContext>();
    for (const stage of STAGES) {
      const handlers = this.byStage.get(stage) ?? [];
      if (handlers.length > 0) composer.use(...handlers);
    }
    return composer;
  }
}
