import type { Middleware } from 'grammy';
import type { Metrics } from '../metrics.js';
import type { BotContext } from './context.js';

/**
 * Counts each update and times its handling, labelled by what it is: a known command
 * (`/balance`), or else the update's kind (`message`, `callback_query`, `my_chat_member`, ...).
 * Labels come from bounded sets only: a command nobody registered is just `message`, so
 * arbitrary text cannot grow the number of series. A feature that knows better may set
 * `ctx.metricsFeature` (a fixed name of its own) while it handles the update.
 */
export function updateMetrics(metrics: Pick<Metrics, 'updates' | 'updateSeconds'>, commands: readonly string[]): Middleware<BotContext> {
  const known = new Set(commands);
  return async (ctx, next) => {
    const stop = process.hrtime.bigint();
    let outcome = 'ok';
    try {
      await next();
    } catch (error) {
      outcome = 'error';
      throw error;
    } finally {
      const feature = ctx.metricsFeature ?? featureOf(ctx, known);
      metrics.updates.inc({ feature, outcome });
      metrics.updateSeconds.observe({ feature }, Number(process.hrtime.bigint() - stop) / 1e9);
    }
  };
}

function featureOf(ctx: BotContext, commands: Set<string>): string {
  const text = ctx.message?.text;
  if (text?.startsWith('/')) {
    const command = /^\/([a-z_]{1,32})(?:@\w+)?(?:\s|$)/.exec(text)?.[1];
    if (command && commands.has(command)) return `/${command}`;
  }
  const kind = Object.keys(ctx.update).find((key) => key !== 'update_id');
  return kind && UPDATE_KINDS.has(kind) ? kind : 'other';
}

/** Telegram's update kinds (a fixed list: an unknown key is `other`). */
const UPDATE_KINDS = new Set([
  'message',
  'edited_message',
  'channel_post',
  'edited_channel_post',
  'business_message',
  'inline_query',
  'chosen_inline_result',
  'callback_query',
  'shipping_query',
  'pre_checkout_query',
  'poll',
  'poll_answer',
  'my_chat_member',
  'chat_member',
  'chat_join_request',
  'message_reaction',
  'message_reaction_count',
]);
