import type { Message } from 'grammy/types';
import type { BroadcastContent, TextEntity } from '../../../domain/broadcasts/types.js';
import type { BotContext } from '../../context.js';
import type { DialogConversation } from '../../dialogs.js';
import type { BroadcastKit, Wizard } from './wizard.js';

export const COMPOSE_DIALOG = 'broadcast-compose';

/** The message as the marketer sent it: a text, or a photo (the largest size) with its caption. */
export function contentOf(message: Message): BroadcastContent | null {
  const photo = message.photo?.[message.photo.length - 1];
  if (photo) return { text: message.caption ?? '', entities: (message.caption_entities ?? []) as TextEntity[], photoFileId: photo.file_id, button: null };
  if (message.text !== undefined) return { text: message.text, entities: (message.entities ?? []) as TextEntity[], photoFileId: null, button: null };
  return null;
}

/**
 * The compose step (message A, or variant B) as a @grammyjs/conversations dialog; the steps after
 * it (button, audience, preview) stay on the wizard row and its buttons. It waits for a text or a
 * photo:
 * - a command ends it and is served as usual (/cancel, /broadcast, ...);
 * - the wizard row must still be at this step, within its lifetime (the injected clock, in
 *   `load`): otherwise (cancelled, expired) the dialog ends and the message passes on;
 * - the role is asked again NOW, after the wait (a marketer revoked meanwhile is refused);
 * - `accept` checks and keeps the message (compose.ts): refused, the step stays open.
 * Everything with side effects runs in `conversation.external`, so a replay never repeats it.
 */
export function composeDialog(kit: BroadcastKit, accept: (ctx: BotContext, wizard: Wizard, content: BroadcastContent) => Promise<boolean>) {
  const { load, marketerOnly, guarded } = kit;
  return async function broadcastCompose(conversation: DialogConversation) {
    for (;;) {
      // Anything else (a tap meant for another screen) passes on, the step stays open.
      const answer = await conversation.waitFor(['message:text', 'message:photo'], { next: true });
      if (answer.message.text?.startsWith('/')) await conversation.halt({ next: true });
      const content = contentOf(answer.message);
      const outcome = await conversation.external(async (ctx) => {
        const wizard = await load(ctx);
        if (wizard?.step !== 'compose' || !content) return 'gone';
        let result = 'refused' as 'refused' | 'done' | 'again';
        // A refusal (not a marketer any more) is answered in the marketer's words, as on every step.
        await guarded(async (inner: BotContext) => {
          await marketerOnly(inner);
          result = (await accept(inner, wizard, content)) ? 'done' : 'again';
        })(ctx, async () => undefined);
        return result;
      });
      if (outcome === 'gone') await conversation.halt({ next: true });
      if (outcome !== 'again') return;
    }
  };
}
