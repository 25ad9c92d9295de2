import type { DomainError } from '../domain/errors.js';
import type { BotContext } from './context.js';
import { domainErrorGuard } from './guard.js';

/**
 * Reply helpers shared by the staff, admin, marketer and customer features (they used to live in
 * the staff feature, which others imported).
 */

// Callback queries already answered in this update: a second answer would be refused by Telegram.
const answered = new WeakSet<BotContext>();

/** Answers the tapped button once per update (a popup when `text` is given); no-op for text. */
export async function ack(ctx: BotContext, text?: string, alert = false): Promise<void> {
  if (!ctx.callbackQuery || answered.has(ctx)) return;
  answered.add(ctx);
  await ctx.answerCallbackQuery(text ? { text, show_alert: alert } : undefined);
}

/** The text for a domain error, with staff wording where it differs from the customer's. */
export function errorText(ctx: BotContext, error: DomainError): string {
  const details: Record<string, unknown> = { ...error.details };
  if (typeof details.remaining === 'number') details.remaining = ctx.fmt.money(details.remaining);
  for (const key of [`staff.errors.${error.code}`, `errors.${error.code}`]) {
    const text = ctx.t(key, details);
    if (text !== key) return text;
  }
  return ctx.t('errors.generic');
}

/** A domain refusal in staff wording: a popup for a button, a message for text. */
export async function answerStaffError(ctx: BotContext, error: DomainError): Promise<void> {
  const text = errorText(ctx, error);
  if (ctx.callbackQuery && !answered.has(ctx)) await ack(ctx, text, true);
  else await ctx.reply(text, { parse_mode: 'HTML' });
}

/**
 * Domain errors of staff and admin handlers are answered here (`answerStaffError`). Nothing
 * changed when a use case refused.
 */
export const guard = domainErrorGuard(answerStaffError);

/** Buttons of an answered prompt go away, so that the chat shows what is still current. */
export const dropButtons = (ctx: BotContext) => ctx.editMessageReplyMarkup().catch(() => undefined);
