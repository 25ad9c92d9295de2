import { Composer } from 'grammy';
import { isDomainError } from '../../domain/errors.js';
import { answerSpendRequest } from '../../domain/spending/spend-requests.js';
import type { BotContext, BotDeps } from '../context.js';

/**
 * The member's answer to "Pay N points at <store>?" (src/domain/spending). The button carries
 * only the request id; the use case checks that the request is this Telegram user's, still
 * pending and unexpired, so a forged or replayed button changes nothing.
 */
export function spendingFeature(deps: BotDeps): Composer<BotContext> {
  const composer = new Composer<BotContext>();

  composer.callbackQuery(/^spr:([yn]):([A-Za-z0-9_-]{12})$/, async (ctx) => {
    const approve = ctx.match[1] === 'y';
    try {
      const answered = await answerSpendRequest(deps.domain, { requestId: ctx.match[2] as string, telegramId: ctx.from.id, approve });
      const points = ctx.t('common.points', { count: answered.request.points });
      await ctx.answerCallbackQuery({ text: ctx.t(approve ? 'spend.approved_popup' : 'spend.declined_popup') });
      await ctx
        .editMessageText(ctx.t(approve ? 'spend.approved' : 'spend.declined', { points, store: answered.storeName }), { parse_mode: 'HTML' })
        .catch(() => undefined);
    } catch (error) {
      if (isDomainError(error, 'SPEND_REQUEST_NOT_FOUND')) return ctx.answerCallbackQuery({ text: ctx.t('spend.not_found'), show_alert: true });
      if (isDomainError(error, 'SPEND_REQUEST_INVALID')) {
        const state = String(error.details.state);
        return ctx.answerCallbackQuery({ text: ctx.t(state === 'expired' ? 'spend.expired' : 'spend.already_answered'), show_alert: true });
      }
      throw error;
    }
  });

  return composer;
}
