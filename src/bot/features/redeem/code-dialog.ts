import { normalizeCode } from '../../../domain/codes.js';
import { isDomainError } from '../../../domain/errors.js';
import { requireRole } from '../../../domain/staff/access.js';
import type { BotDeps } from '../../context.js';
import type { DialogConversation } from '../../dialogs.js';
import { answerError, showCoupon } from './coupon-screen.js';

/** What a typed code may look like before the domain checks it: Latin letters and digits, grouped at will. */
export const CODE_LIKE = /^[A-Z0-9]{4,24}$/;
export const looksLikeCode = (text: string) => CODE_LIKE.test(normalizeCode(text.trim()));
/** An abandoned step does not capture tomorrow's codes (measured on the domain clock). */
const STEP_TTL_MS = 30 * 60_000;
export const CODE_DIALOG = 'redeem-code';

/**
 * "Type the coupon code" as a @grammyjs/conversations dialog. The question was asked when it was
 * entered (features/redeem/index.ts). It waits for typed text:
 * - a command ends it and is served as usual (/purchase, /cancel, /redeem CODE, ...);
 * - text that cannot be a code passes on untouched, and the step stays open;
 * - a code: the role is asked again NOW (a revoked cashier is refused at this step, not when the
 *   dialog began), then the coupon is shown and the dialog ends; a refused code (typo, unknown,
 *   too many attempts) is answered and the step stays open for the next try.
 * Everything with side effects runs in `conversation.external` with the current update's outer
 * context, so that a replay never repeats it.
 */
export function codeDialog(deps: BotDeps) {
  const { domain } = deps;
  return async function redeemCode(conversation: DialogConversation) {
    const startedAt = await conversation.external(() => domain.clock.now().getTime());
    for (;;) {
      // Anything else (a tap meant for another screen) passes on, the step stays open.
      const answer = await conversation.waitFor('message:text', { next: true });
      const text = answer.message.text;
      if (text.startsWith('/')) await conversation.halt({ next: true });
      const now = await conversation.external(() => domain.clock.now().getTime());
      if (now - startedAt > STEP_TTL_MS) await conversation.halt({ next: true });
      if (!looksLikeCode(text)) await conversation.skip({ next: true });
      const shown = await conversation.external(async (ctx) => {
        try {
          const principal = await requireRole(domain, ctx.from?.id as number, ['STAFF']);
          await showCoupon(ctx, domain, principal, text);
          return true;
        } catch (error) {
          if (!isDomainError(error)) throw error;
          await answerError(ctx, domain.program, error);
          // Not staff any more: the dialog ends; a refused code: the next try is awaited.
          return error.code !== 'FORBIDDEN' || error.details.reason === 'own coupon' ? false : null;
        }
      });
      if (shown !== false) return;
    }
  };
}
