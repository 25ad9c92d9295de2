import { MAX_CONTROL_PERCENT } from '../../../domain/broadcasts/experiment.js';
import type { BroadcastContent, TextEntity } from '../../../domain/broadcasts/types.js';
import { callbackArgs, encodeCallback, isCallback } from '../../callback-data.js';
import type { BotContext } from '../../context.js';
import { ack } from '../../replies.js';
import type { AudienceScreens } from './audience.js';
import type { BroadcastKit, Wizard } from './wizard.js';

/**
 * The experiment of a broadcast in the chat: the control group (a button cycling its share) and
 * variant B (a second message composed like the first, for half of the treated members). The
 * domain checks both again when the broadcast is created (assertExperiment).
 */

/** What the control button cycles through; the program's default is where it starts. */
export const CONTROL_STEPS = [0, 5, 10, 20, 50] as const;

export const controlPercentOf = (kit: BroadcastKit, wizard: Wizard) => wizard.controlPercent ?? kit.program.broadcasts.controlPercent;

/** The next share after `percent` (from a default outside the steps too), back to 0 after the last. */
export const nextControlPercent = (percent: number) => CONTROL_STEPS.find((step) => step > percent && step <= MAX_CONTROL_PERCENT) ?? 0;

/** About how many of `recipients` are held back: the split hashes members, so it is an estimate. */
export const heldBack = (recipients: number, percent: number) => Math.round((recipients * percent) / 100);

export function variantBContent(wizard: Wizard): BroadcastContent | null {
  const b = wizard.variantB;
  return b ? { text: b.text, entities: b.entities as TextEntity[], photoFileId: b.photoFileId, button: b.button } : null;
}

/** The lines the audience screen shows about the experiment. */
export function experimentLines(ctx: BotContext, kit: BroadcastKit, wizard: Wizard, recipients: number): string[] {
  const percent = controlPercentOf(kit, wizard);
  const lines: string[] = [];
  if (percent > 0) lines.push(ctx.t('broadcast.control_line', { percent, count: heldBack(recipients, percent) }));
  if (wizard.variantB) lines.push(ctx.t('broadcast.variant_b_chosen'));
  return lines;
}

/** The experiment's row of the audience keyboard. */
export function experimentButtons(ctx: BotContext, kit: BroadcastKit, wizard: Wizard): [string, string][] {
  return [
    [ctx.t('broadcast.control_button', { percent: controlPercentOf(kit, wizard) }), encodeCallback('bc:cp', wizard.id)],
    wizard.variantB
      ? [ctx.t('broadcast.variant_b_remove'), encodeCallback('bc:vx', wizard.id)]
      : [ctx.t('broadcast.variant_b_add'), encodeCallback('bc:vb', wizard.id)],
  ];
}

export function experimentSteps(kit: BroadcastKit, audience: AudienceScreens) {
  const { composer, marketerOnly, guarded, current } = kit;
  const { showAudience } = audience;

  composer.filter(
    isCallback('bc:cp'),
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const wizard = await current(ctx, callbackArgs(ctx, 'bc:cp')[0], ['audience', 'number'], 'message');
      if (!wizard) return;
      await ack(ctx);
      await showAudience(ctx, { ...wizard, controlPercent: nextControlPercent(controlPercentOf(kit, wizard)) }, 'edit');
    }),
  );

  composer.filter(
    isCallback('bc:vx'),
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const wizard = await current(ctx, callbackArgs(ctx, 'bc:vx')[0], ['audience', 'number'], 'message');
      if (!wizard) return;
      await ack(ctx);
      await showAudience(ctx, { ...wizard, variantB: null, part: undefined }, 'edit');
    }),
  );
}
