import { Composer } from 'grammy';
import { setReachable } from '../../domain/members/settings.js';
import type { BotContext, BotDeps } from '../context.js';
import { mainMenu } from '../keyboards.js';

/** What nothing else handled: never silence. */
export function fallbackFeature(deps: BotDeps): Composer<BotContext> {
  const composer = new Composer<BotContext>();

  // Blocked / unblocked: decides whether messages that are not replies may be sent.
  composer.on('my_chat_member', async (ctx) => {
    if (ctx.chat.type !== 'private') return;
    const status = ctx.myChatMember.new_chat_member.status;
    await setReachable(deps.domain, ctx.from.id, status !== 'kicked' && status !== 'left');
  });

  composer.on('callback_query', (ctx) => ctx.answerCallbackQuery({ text: ctx.t('common.stale_button') }));

  composer.chatType('private').on('message', async (ctx) => {
    if (ctx.member?.status === 'ACTIVE') await ctx.reply(ctx.t('menu.hint'), { reply_markup: mainMenu(ctx.t, deps.domain.program) });
    else await ctx.reply(ctx.t('common.not_registered'));
  });

  return composer;
}
