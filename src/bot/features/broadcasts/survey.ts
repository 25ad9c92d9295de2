import { InlineKeyboard } from 'grammy';
import { previewSurveyCampaign, sendSurveyCampaign } from '../../../domain/nps/campaign.js';
import { callbackArgs, encodeCallback, isCallback } from '../../callback-data.js';
import { ack } from '../../replies.js';
import type { AudienceScreens } from './audience.js';
import { type BroadcastKit, newId } from './wizard.js';

/** An NPS survey to a segment (from /nps): the same audience builder, then a confirmation. */
export function surveys(kit: BroadcastKit, audience: AudienceScreens) {
  const { domain, program, composer, marketerOnly, author, save, dropButtons, guarded, current } = kit;

  const { showAudience, surveyKey } = audience;
  composer.filter(
    isCallback('bc:nps'),
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      if (!program.nps.enabled) return ack(ctx, ctx.t('broadcast.survey.disabled'), true);
      await ack(ctx);
      // Replaces any open wizard, as /broadcast does.
      await showAudience(ctx, { id: newId(), step: 'audience', segment: {}, mode: 'survey', touchedAt: 0 }, 'reply');
    }),
  );

  composer.filter(
    isCallback('bc:sv'),
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const wizard = await current(ctx, callbackArgs(ctx, 'bc:sv')[0], ['audience', 'number'], 'survey');
      if (!wizard) return;
      const size = await previewSurveyCampaign(domain, author(ctx), { segment: wizard.segment, key: surveyKey(ctx, wizard) });
      if (size.skipped === 'disabled') return ack(ctx, ctx.t('broadcast.survey.disabled'), true);
      await ack(ctx);
      await dropButtons(ctx);
      await save(ctx, { ...wizard, step: 'audience', numberFor: undefined });
      const leftOut = ctx.t('broadcast.survey.left_out', {
        days: ctx.t('common.days', { count: program.nps.minDaysBetweenSurveys }),
        recent: size.recentlySurveyed + size.already,
        optedOut: size.optedOut,
        unreachable: size.unreachable,
      });
      const keyboard = new InlineKeyboard();
      if (size.surveyed > 0) keyboard.text(ctx.t('broadcast.survey.send', { count: size.surveyed }), encodeCallback('bc:sg', wizard.id)).row();
      keyboard.text(ctx.t('broadcast.edit_audience'), encodeCallback('bc:a', wizard.id)).text(ctx.t('common.cancel'), encodeCallback('bc:no', wizard.id));
      const head = size.surveyed > 0 ? ctx.t('broadcast.survey.confirm', { count: size.surveyed }) : ctx.t('broadcast.survey.nobody');
      await ctx.reply(`${head}\n\n${leftOut}`, { parse_mode: 'HTML', reply_markup: keyboard });
    }),
  );

  composer.filter(
    isCallback('bc:sg'),
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const wizard = await current(ctx, callbackArgs(ctx, 'bc:sg')[0], ['audience', 'done'], 'survey');
      if (!wizard) return;
      await ack(ctx);
      await dropButtons(ctx);
      // The key makes the campaign idempotent: a second tap finds everyone asked already.
      const result = await sendSurveyCampaign(domain, author(ctx), { segment: wizard.segment, key: surveyKey(ctx, wizard) });
      await save(ctx, { ...wizard, step: 'done' });
      if (result.skipped === 'disabled') return void (await ctx.reply(ctx.t('broadcast.survey.disabled')));
      if (result.surveyed === 0 && result.already > 0) return void (await ctx.reply(ctx.t('broadcast.survey.already')));
      const leftOut = ctx.t('broadcast.survey.left_out', {
        days: ctx.t('common.days', { count: program.nps.minDaysBetweenSurveys }),
        recent: result.recentlySurveyed,
        optedOut: result.optedOut,
        unreachable: result.unreachable,
      });
      await ctx.reply(`${ctx.t('broadcast.survey.sent', { count: result.surveyed })}\n${leftOut}`, { parse_mode: 'HTML' });
    }),
  );
}
