import type { NextFunction } from 'grammy';
import { isDomainError } from '../domain/errors.js';
import { memberOfTelegramUser } from '../domain/members/lookup.js';
import type { Member } from '../domain/members/member.js';
import { UpdateSessions } from './chat-sessions.js';
import type { BotContext, BotDeps } from './context.js';
import { formatterFor } from './format.js';
import { detectLocale } from './i18n.js';
import { askSupport } from './support.js';

/** Points the context at a member: their language, formatter and identity for this update. */
export function useMember(ctx: BotContext, member: Member | null, deps: BotDeps): void {
  ctx.member = member;
  ctx.locale = member?.locale ?? detectLocale(ctx.from?.language_code) ?? deps.defaultLocale;
  ctx.t = deps.i18n.t(ctx.locale);
  const { currency, timezone } = deps.domain.program;
  ctx.fmt = formatterFor(ctx.locale, currency, timezone);
}

/** Per-update logger (update id, never personal data) and the member behind the update. */
export function contextMiddleware(deps: BotDeps) {
  return async (ctx: BotContext, next: NextFunction) => {
    ctx.log = deps.logger.child({ updateId: ctx.update.update_id });
    const member = ctx.from ? await memberOfTelegramUser(deps.domain, ctx.from.id) : null;
    useMember(ctx, member, deps);
    // Updates without a sender (none of those the bot asks for) have no conversation state; id 0 matches no row.
    ctx.sessions = new UpdateSessions(deps.sessions, ctx.from?.id ?? 0);
    await next();
  };
}

/**
 * Domain errors are answers, not failures: the user gets the message for the code in their
 * language and nothing changed. Anything else travels on to bot.catch.
 */
export function domainErrorReplies(deps: BotDeps) {
  return async (ctx: BotContext, next: NextFunction) => {
    try {
      await next();
    } catch (error) {
      if (!isDomainError(error)) throw error;
      ctx.log.info({ code: error.code }, 'domain error answered');
      const key = `errors.${error.code}`;
      // Messages that send the user for help ("{{support}}") name where to ask.
      const text = ctx.t(key, { ...error.details, support: askSupport(ctx.t, deps.domain.program, ctx.locale) });
      const message = text === key ? ctx.t('errors.generic') : text;
      if (ctx.callbackQuery) await ctx.answerCallbackQuery({ text: message, show_alert: true });
      else await ctx.reply(message);
    }
  };
}
