import type { Composer } from 'grammy';
import { requireRole } from '../../../domain/staff/access.js';
import type { BotContext, BotDeps } from '../../context.js';

/** What every admin command shares: the role check, the argument split, the usage line. */

export const MAX_LIST = 50;

export type AdminKit = ReturnType<typeof adminKit>;

export function adminKit(deps: BotDeps) {
  const { domain } = deps;
  const adminOnly = (ctx: BotContext) => requireRole(domain, ctx.from?.id as number, ['ADMIN']);
  const words = (text: string) => text.trim().split(/\s+/).filter(Boolean);
  const usage = (ctx: BotContext, command: string) => ctx.reply(ctx.t(`admin.usage.${command}`), { parse_mode: 'HTML' });
  return { domain, adminOnly, words, usage };
}

const privateChatsOf = (composer: Composer<BotContext>) => composer.chatType('private');

/** The composer's parts the admin handlers register on (private chats for commands). */
export interface AdminComposers {
  composer: Composer<BotContext>;
  privateChats: ReturnType<typeof privateChatsOf>;
}
