import type { NextFunction, Transformer } from 'grammy';
import type { Logger } from 'pino';
import type { BotContext } from './context.js';

/**
 * Update shapes the features cannot act on, settled here once so that no handler has to check:
 *
 * - a message without a sender (`from` is optional: channel posts, forged updates): there is
 *   nobody to identify or answer, so it is dropped;
 * - a callback query without its message (a button on an inline message, or none at all): there
 *   is no screen to update, so the button is answered as stale.
 *
 * A callback on a message the bot can no longer access (InaccessibleMessage) goes on: what it
 * asks may still be done, and its edits are harmless (see `harmlessEdits`).
 */
export function oddUpdates() {
  return async (ctx: BotContext, next: NextFunction) => {
    if (ctx.message && !ctx.from) {
      ctx.log.debug('message without a sender ignored');
      return;
    }
    if (ctx.callbackQuery && !ctx.callbackQuery.message) {
      ctx.log.debug('callback query without a message answered as stale');
      await ctx.answerCallbackQuery({ text: ctx.t('common.stale_button') });
      return;
    }
    await next();
  };
}

const EDIT_METHODS = new Set(['editMessageText', 'editMessageCaption', 'editMessageMedia', 'editMessageReplyMarkup']);
/** Telegram's 400s for an edit that has nothing to do: the screen is gone, too old, or already shows it. */
const HARMLESS_EDIT = /message is not modified|message to edit not found|message can't be edited|MESSAGE_ID_INVALID/i;

/**
 * An API transformer: an edit that Telegram refuses because the message no longer exists, can no
 * longer be edited or already shows that content succeeds as a no-op (`true`, as an edit of an
 * inline message answers). The user tapped a button of a screen that is gone or unchanged; the
 * handler goes on to answer the callback query instead of reaching the error boundary.
 */
export function harmlessEdits(logger: Logger): Transformer {
  return async (prev, method, payload, signal) => {
    const response = await prev(method, payload, signal);
    if (response.ok || response.error_code !== 400 || !EDIT_METHODS.has(method) || !HARMLESS_EDIT.test(response.description)) return response;
    logger.debug({ method, description: response.description }, 'edit of a gone or unchanged message skipped');
    return { ok: true, result: true as never };
  };
}
