import { InlineKeyboard } from 'grammy';
import { cancelBroadcast } from '../../../domain/broadcasts/cancel-broadcast.js';
import { type BroadcastView, getBroadcast, listBroadcasts } from '../../../domain/broadcasts/view-broadcasts.js';
import { progressLine } from '../../broadcast-report.js';
import { callbackArgs, encodeCallback, isCallback } from '../../callback-data.js';
import type { BotContext } from '../../context.js';
import { ack } from '../../replies.js';
import { type BroadcastKit, LIST_SIZE } from './wizard.js';

/** /broadcasts: progress of the latest broadcasts, and cancelling one. */
export function broadcastList(kit: BroadcastKit) {
  const { domain, composer, privateChats, marketerOnly, author, dropButtons, guarded } = kit;

  function listScreen(ctx: BotContext, views: BroadcastView[]) {
    const keyboard = new InlineKeyboard();
    if (views.length === 0) return { text: ctx.t('broadcast.list_empty'), keyboard: keyboard.text(ctx.t('broadcast.refresh'), encodeCallback('bc:ls')) };
    const blocks = views.map(({ broadcast, counts }) => {
      const excerpt = broadcast.content.text.replace(/\s+/g, ' ').trim();
      const head = ctx.t('broadcast.line', {
        id: broadcast.id,
        status: ctx.t(`broadcast.status.${broadcast.status}`),
        at: ctx.fmt.dateTime(broadcast.startedAt ?? broadcast.scheduledAt),
        excerpt: (broadcast.content.photoFileId ? `${ctx.t('broadcast.photo')} ` : '') + (excerpt.length > 60 ? `${excerpt.slice(0, 59)}…` : excerpt),
      });
      if (broadcast.status === 'SCHEDULED') return head;
      return `${head}\n${progressLine(ctx.t, broadcast, counts)}`;
    });
    for (const { broadcast } of views) {
      if (broadcast.status === 'SCHEDULED' || broadcast.status === 'SENDING') {
        keyboard.text(ctx.t('broadcast.cancel_button', { id: broadcast.id }), encodeCallback('bc:x', broadcast.id)).row();
      }
    }
    keyboard.text(ctx.t('broadcast.refresh'), encodeCallback('bc:ls'));
    return { text: [ctx.t('broadcast.list_title'), ...blocks].join('\n\n'), keyboard };
  }

  privateChats.command(
    'broadcasts',
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const { text, keyboard } = listScreen(ctx, await listBroadcasts(domain, author(ctx), LIST_SIZE));
      await ctx.reply(text, { parse_mode: 'HTML', reply_markup: keyboard });
    }),
  );

  composer.filter(
    isCallback('bc:ls'),
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const { text, keyboard } = listScreen(ctx, await listBroadcasts(domain, author(ctx), LIST_SIZE));
      await ack(ctx);
      await ctx.editMessageText(text, { parse_mode: 'HTML', reply_markup: keyboard }).catch(() => undefined);
    }),
  );

  composer.filter(
    isCallback('bc:x'),
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const { broadcast } = await getBroadcast(domain, author(ctx), callbackArgs(ctx, 'bc:x')[0]);
      await ack(ctx);
      await ctx.reply(ctx.t('broadcast.cancel_confirm', { id: broadcast.id }), {
        parse_mode: 'HTML',
        reply_markup: new InlineKeyboard()
          .text(ctx.t('broadcast.cancel_yes'), encodeCallback('bc:xy', broadcast.id))
          .text(ctx.t('broadcast.cancel_no'), encodeCallback('bc:xn')),
      });
    }),
  );

  composer.filter(
    isCallback('bc:xy'),
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const broadcast = await cancelBroadcast(domain, author(ctx), callbackArgs(ctx, 'bc:xy')[0]);
      await ack(ctx);
      await dropButtons(ctx);
      await ctx.reply(ctx.t('broadcast.cancelled', { id: broadcast.id, count: broadcast.final.cancelled, sent: broadcast.final.sent }), { parse_mode: 'HTML' });
    }),
  );

  composer.filter(
    isCallback('bc:xn'),
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      await ack(ctx);
      await dropButtons(ctx);
    }),
  );
}
