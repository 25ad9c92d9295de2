import { InlineKeyboard } from 'grammy';
import { chosenOffer, offerChoices } from '../../../domain/broadcasts/choices.js';
import { contentProblems, MAX_CAPTION, MAX_TEXT } from '../../../domain/broadcasts/content.js';
import { createBroadcast } from '../../../domain/broadcasts/create-broadcast.js';
import { assertOfferReward, OFFER_LINE_RESERVE } from '../../../domain/broadcasts/offer.js';
import type { BroadcastContent, TextEntity } from '../../../domain/broadcasts/types.js';
import { getBroadcast, measureAudience } from '../../../domain/broadcasts/view-broadcasts.js';
import { nextAllowedTime } from '../../../domain/jobs/schedule-rules.js';
import { offerLine, PREVIEW_COUPON_CODE, sendBroadcastMessage, withOffer } from '../../broadcast-message.js';
import { callbackArgs, decodeCallback, encodeCallback, isCallback } from '../../callback-data.js';
import type { BotContext } from '../../context.js';
import { ack } from '../../replies.js';
import type { AudienceScreens } from './audience.js';
import { controlPercentOf, heldBack, variantBContent } from './experiment.js';
import type { BroadcastKit, Wizard } from './wizard.js';

/** The preview, the personal offer, and sending now or at a time. */
export function sending(kit: BroadcastKit, audience: AudienceScreens) {
  const { domain, program, composer, marketerOnly, author, load, save, dropButtons, guarded, current } = kit;

  const { showAudience } = audience;
  function contentOf(wizard: Wizard): BroadcastContent {
    const content = wizard.content ?? { text: '', entities: [], photoFileId: null };
    return { text: content.text, entities: content.entities as TextEntity[], photoFileId: content.photoFileId, button: wizard.button ?? null };
  }

  async function preview(ctx: BotContext, wizard: Wizard) {
    await save(ctx, { ...wizard, step: 'audience' });
    // Exactly what members get: the same function sends their copies (a sample coupon code here).
    const offer = await chosenOffer(domain, wizard.offer);
    const sample = offer ? { code: PREVIEW_COUPON_CODE, expiresAt: new Date(domain.clock.now().getTime() + offer.validityDays * 86_400_000) } : null;
    const dressed = (content: BroadcastContent) => (sample ? withOffer(content, offerLine(ctx.t, ctx.fmt, sample), sample.code) : content);
    await sendBroadcastMessage(ctx.api, ctx.chat?.id as number, dressed(contentOf(wizard)));
    const variantB = variantBContent(wizard);
    if (variantB) await sendBroadcastMessage(ctx.api, ctx.chat?.id as number, dressed(variantB));
    const size = await measureAudience(domain, author(ctx), wizard.segment);
    const percent = controlPercentOf(kit, wizard);
    const held = heldBack(size.recipients, percent);
    const keyboard = new InlineKeyboard()
      .text(ctx.t('broadcast.send_now'), encodeCallback('bc:go', wizard.id))
      .row()
      .text(ctx.t('broadcast.schedule'), encodeCallback('bc:sc', wizard.id))
      .text(ctx.t('broadcast.edit_audience'), encodeCallback('bc:a', wizard.id))
      .row()
      .text(ctx.t('common.cancel'), encodeCallback('bc:no', wizard.id));
    const lines = [ctx.t(variantB ? 'broadcast.preview_ab' : 'broadcast.preview', { count: size.recipients - held })];
    if (percent > 0) lines.push(ctx.t('broadcast.preview_control', { count: held, percent }));
    // Said before the tap, not after it: "Send now" in the quiet hours waits until they end.
    const { quietHours } = program.notifications;
    const now = domain.clock.now();
    const startsAt = nextAllowedTime(now, quietHours, program.timezone);
    if (startsAt.getTime() > now.getTime()) lines.push(ctx.t('broadcast.preview_quiet', { ...quietHours, at: ctx.fmt.dateTime(startsAt) }));
    await ctx.reply(lines.join('\n\n'), { parse_mode: 'HTML', reply_markup: keyboard });
  }

  async function launch(ctx: BotContext, wizard: Wizard, scheduledAt: Date | null) {
    const result = await createBroadcast(domain, author(ctx), {
      content: contentOf(wizard),
      segment: wizard.segment,
      scheduledAt,
      // A double tap (or the same tap served twice) creates one broadcast.
      idempotencyKey: `bot:${ctx.from?.id}:${wizard.id}`,
      offerRewardCode: wizard.offer ?? null,
      // Explicit, so the broadcast holds what the marketer saw (not a default changed meanwhile).
      controlPercent: controlPercentOf(kit, wizard),
      variantB: variantBContent(wizard),
    });
    await save(ctx, { ...wizard, step: 'done' });
    const { broadcast } = result;
    if (result.replayed) {
      await ctx.reply(ctx.t('broadcast.already', { id: broadcast.id }), { parse_mode: 'HTML' });
      return;
    }
    if (result.started) {
      const { counts } = await getBroadcast(domain, author(ctx), broadcast.id);
      await ctx.reply(ctx.t('broadcast.started', { id: broadcast.id, count: counts.pending + counts.sent + counts.failed }), { parse_mode: 'HTML' });
      return;
    }
    const lines = [ctx.t('broadcast.scheduled', { id: broadcast.id, at: ctx.fmt.dateTime(broadcast.scheduledAt), zone: program.timezone })];
    if (result.movedByQuietHours) lines.push(ctx.t('broadcast.quiet_hours', { at: ctx.fmt.dateTime(broadcast.scheduledAt) }));
    await ctx.reply(lines.join('\n'), { parse_mode: 'HTML' });
  }

  composer.filter(
    isCallback('bc:pv'),
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const wizard = await current(ctx, callbackArgs(ctx, 'bc:pv')[0], ['audience', 'number'], 'message');
      if (!wizard) return;
      await ack(ctx);
      await dropButtons(ctx);
      await preview(ctx, wizard);
    }),
  );

  // --- the personal offer: a free coupon of a catalogue reward for each member ------------------

  composer.filter(
    isCallback('bc:of'),
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const wizard = await current(ctx, callbackArgs(ctx, 'bc:of')[0], ['audience', 'number'], 'message');
      if (!wizard) return;
      const rewards = await offerChoices(domain, 30);
      if (rewards.length === 0) return ack(ctx, ctx.t('broadcast.offer_empty'), true);
      await ack(ctx);
      await save(ctx, { ...wizard, step: 'audience', numberFor: undefined });
      const keyboard = new InlineKeyboard();
      for (const reward of rewards) {
        const label = reward.title[ctx.locale] || reward.code;
        keyboard.text(wizard.offer === reward.code ? `✓ ${label}` : label, encodeCallback('bc:or', wizard.id, reward.code)).row();
      }
      keyboard.text(ctx.t('broadcast.offer_none'), encodeCallback('bc:on', wizard.id)).text(ctx.t('broadcast.done'), encodeCallback('bc:a', wizard.id));
      await ctx.editMessageText(ctx.t('broadcast.offer_pick'), { parse_mode: 'HTML', reply_markup: keyboard });
    }),
  );

  composer.filter(
    isCallback('bc:or', 'bc:on'),
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const tap = decodeCallback(ctx.callbackQuery?.data);
      if (tap.route !== 'bc:or' && tap.route !== 'bc:on') return;
      const wizard = await current(ctx, tap.args[0], ['audience'], 'message');
      if (!wizard) return;
      const code = tap.route === 'bc:or' ? tap.args[1] : undefined;
      if (code === undefined) {
        await ack(ctx);
        return showAudience(ctx, { ...wizard, offer: null }, 'edit');
      }
      // Callback data is a hint: the reward must exist and be active now (refused in the marketer's words).
      await assertOfferReward(domain, code);
      // Both messages get the coupon line: each must leave room for it.
      for (const content of [contentOf(wizard), variantBContent(wizard)]) {
        if (!content || !contentProblems(content, { reserve: OFFER_LINE_RESERVE }).some((p) => p.field === 'text')) continue;
        const max = (content.photoFileId ? MAX_CAPTION : MAX_TEXT) - OFFER_LINE_RESERVE;
        return ack(ctx, ctx.t('broadcast.offer_too_long', { length: content.text.length, max }), true);
      }
      await ack(ctx);
      await showAudience(ctx, { ...wizard, offer: code }, 'edit');
    }),
  );

  composer.filter(
    isCallback('bc:go'),
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const wizard = await load(ctx);
      if (!wizard || wizard.id !== callbackArgs(ctx, 'bc:go')[0] || wizard.mode === 'survey' || !(wizard.step === 'audience' || wizard.step === 'done'))
        return ack(ctx, ctx.t('common.stale_button'));
      await ack(ctx);
      await dropButtons(ctx);
      await launch(ctx, wizard, null);
    }),
  );

  composer.filter(
    isCallback('bc:sc'),
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const wizard = await current(ctx, callbackArgs(ctx, 'bc:sc')[0], ['audience'], 'message');
      if (!wizard) return;
      await ack(ctx);
      await dropButtons(ctx);
      await save(ctx, { ...wizard, step: 'schedule' });
      await ctx.reply(ctx.t('broadcast.ask_time', { zone: program.timezone, example: ctx.fmt.dateTime(new Date(domain.clock.now().getTime() + 86_400_000)) }), {
        parse_mode: 'HTML',
        reply_markup: new InlineKeyboard()
          .text(ctx.t('broadcast.edit_audience'), encodeCallback('bc:a', wizard.id))
          .text(ctx.t('common.cancel'), encodeCallback('bc:no', wizard.id)),
      });
    }),
  );

  return { launch };
}
export type Sending = ReturnType<typeof sending>;
