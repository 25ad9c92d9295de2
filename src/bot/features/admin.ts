import { Composer } from 'grammy';
import type { BotContext, BotDeps } from '../context.js';
import type { Dialogs } from '../dialogs.js';
import { ack, guard } from '../replies.js';
import { accessCommands } from './admin/access.js';
import { adjustCommand } from './admin/adjust.js';
import { apiKeyCommands } from './admin/api-keys.js';
import { adminKit } from './admin/kit.js';
import { queuesCommand } from './admin/queues.js';

/**
 * Administration in the chat, for the Telegram ids in ADMIN_TELEGRAM_IDS: invites, revoking,
 * stores, API keys and manual point adjustments. Each command checks the role on the server
 * first (the use cases check it again); wrong usage gets the usage line, never silence.
 * Access, API keys, /queues and the /adjust dialog are in admin/.
 */
export function adminFeature(deps: BotDeps, dialogs: Dialogs): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  const privateChats = composer.chatType('private');

  const kit = adminKit(deps);
  const { adminOnly } = kit;
  const parts = { composer, privateChats };
  accessCommands(parts, kit);
  apiKeyCommands(parts, kit);
  queuesCommand(parts, kit, deps);
  adjustCommand(parts, kit, dialogs);

  // Anything else under the admin prefix: refused to non-admins, stale for admins.
  composer.callbackQuery(
    /^adm:/,
    guard(async (ctx) => {
      await adminOnly(ctx);
      await ack(ctx, ctx.t('common.stale_button'));
    }),
  );

  return composer;
}
