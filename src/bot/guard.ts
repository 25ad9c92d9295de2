import type { NextFunction } from 'grammy';
import { type DomainError, isDomainError } from '../domain/errors.js';
import type { BotContext } from './context.js';

export type Handler<C extends BotContext> = (ctx: C, next: NextFunction) => Promise<unknown>;

/**
 * A guard for a feature's handlers: a domain refusal thrown by the handler is answered with
 * `answer` (the feature's wording), and nothing changed. Errors of the middleware after it
 * (reached through `next`) are that middleware's to answer, and anything that is not a domain
 * error goes on to bot.catch.
 */
export function domainErrorGuard(answer: (ctx: BotContext, error: DomainError) => Promise<unknown>) {
  return <C extends BotContext>(handler: Handler<C>) =>
    async (ctx: C, next: NextFunction) => {
      let passedOn = false;
      try {
        await handler(ctx, () => {
          passedOn = true;
          return next();
        });
      } catch (error) {
        if (passedOn || !isDomainError(error)) throw error;
        ctx.log.info({ code: error.code }, 'domain error answered');
        await answer(ctx, error);
      }
    };
}
