import { Composer } from 'grammy';
import type { BotContext, BotDeps } from '../../context.js';
import type { Dialogs } from '../../dialogs.js';
import { ack } from '../../replies.js';
import { audienceScreens } from './audience.js';
import { composing } from './compose.js';
import { experimentSteps } from './experiment.js';
import { broadcastList } from './list.js';
import { sending } from './send.js';
import { surveys } from './survey.js';
import { broadcastKit } from './wizard.js';

/**
 * Broadcasts in the chat, for marketers (and admins): the /broadcast wizard (compose.ts: message
 * and button, the message's answer awaited by a @grammyjs/conversations dialog, compose-dialog.ts;
 * audience.ts: audience with its live size; experiment.ts: control group and variant B; send.ts:
 * preview, offer, send now or at a time) and /broadcasts (list.ts: progress, cancel). Every command, message and button re-checks
 * the role on the server (`requireRole` through the use cases, and here before anything is read),
 * whatever led there: callback data is only a hint. Wizard state lives in the session store, so
 * restarts and other instances carry on. From /nps, the same audience builder sends an NPS survey
 * instead (survey.ts, `mode: 'survey'`, `bc:nps`): the message-only buttons refuse such a wizard.
 */

/** The feature's parts, by the stage that routes them (routing.ts). */
export interface BroadcastFeatures {
  /** Commands and buttons (`commands`). */
  broadcasts: Composer<BotContext>;
  /** The compose step's answer from anyone, the wizard's other answers from people who are not active customers (`openAnswers`). */
  broadcastAnswers: Composer<BotContext>;
  /** The wizard's answers from marketers who are also active customers (`memberAnswers`). */
  broadcastInput: Composer<BotContext>;
}

export function broadcastFeatures(deps: BotDeps, dialogs: Dialogs): BroadcastFeatures {
  const kit = broadcastKit(deps);
  const { composer, marketerOnly, guarded } = kit;
  const audience = audienceScreens(kit);
  experimentSteps(kit, audience);
  const send = sending(kit, audience);
  const { wizardInput, composeInput } = composing(kit, audience, send, dialogs);
  surveys(kit, audience);
  broadcastList(kit);

  // Anything else under the prefix (or the picker menu's, malformed): still only for marketers, and never acted upon.
  composer.callbackQuery(
    /^bc(:|-pick\/)/,
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      await ack(ctx, ctx.t('common.stale_button'));
    }),
  );

  const broadcastAnswers = new Composer<BotContext>();
  const answering = broadcastAnswers.chatType('private');
  answering.on(['message:text', 'message:photo'], guarded(composeInput));
  answering.filter((ctx) => ctx.member?.status !== 'ACTIVE').on(['message:text', 'message:photo'], guarded(wizardInput));

  const broadcastInput = new Composer<BotContext>();
  broadcastInput
    .chatType('private')
    .filter((ctx) => ctx.member?.status === 'ACTIVE')
    .on(['message:text', 'message:photo'], guarded(wizardInput));

  return { broadcasts: composer, broadcastAnswers, broadcastInput };
}
