import { InlineKeyboard, type NextFunction } from 'grammy';
import type { Message } from 'grammy/types';
import { contentProblems, isButtonUrl, MAX_BUTTON_TEXT, MAX_CAPTION, MAX_TEXT } from '../../../domain/broadcasts/content.js';
import { OFFER_LINE_RESERVE } from '../../../domain/broadcasts/offer.js';
import { normalizeSegment } from '../../../domain/broadcasts/segment.js';
import type { BroadcastContent, Segment } from '../../../domain/broadcasts/types.js';
import { zonedTimeToUtc } from '../../../domain/time.js';
import { callbackArgs, encodeCallback, isCallback } from '../../callback-data.js';
import type { BotContext } from '../../context.js';
import type { DialogContext, Dialogs } from '../../dialogs.js';
import { ack } from '../../replies.js';
import type { AudienceScreens } from './audience.js';
import { COMPOSE_DIALOG, composeDialog } from './compose-dialog.js';
import type { Sending } from './send.js';
import { type BroadcastKit, NUMBERS, newId, type Wizard } from './wizard.js';

/** /broadcast: the message (text or photo), its button, and what the marketer types at each step. */
export function composing(kit: BroadcastKit, audience: AudienceScreens, send: Sending, dialogs: Dialogs) {
  const { domain, program, composer, privateChats, marketerOnly, load, save, clear, dropButtons, cancelKeyboard, guarded, current } = kit;

  const { showAudience } = audience;
  const { launch } = send;
  /** The compose step: the wizard row at `compose`, the question, and the dialog that waits for the answer. */
  async function askContent(ctx: DialogContext, wizard: Wizard) {
    await save(ctx, wizard);
    const question = wizard.part === 'B' ? 'broadcast.variant_b_compose' : 'broadcast.compose';
    await ctx.reply(ctx.t(question), { parse_mode: 'HTML', reply_markup: cancelKeyboard(ctx, wizard) });
    // (Reached through `dialogs.entry`, and from a lost dialog's answer: no other dialog is open.)
    await ctx.conversation.exitAll();
    await ctx.conversation.enter(COMPOSE_DIALOG);
  }

  /** The message (A or variant B) checked and kept, and the button question; false: refused, asked again. */
  async function onContent(ctx: BotContext, wizard: Wizard, content: BroadcastContent): Promise<boolean> {
    const forB = wizard.part === 'B';
    // Variant B is checked as message A is; with a personal offer already chosen, room is left for its coupon line.
    const reserve = forB && wizard.offer ? OFFER_LINE_RESERVE : 0;
    const problem = contentProblems(content, { reserve }).find((p) => p.field === 'text' || p.field.startsWith('entities'));
    if (problem) {
      const max = (content.photoFileId ? MAX_CAPTION : MAX_TEXT) - reserve;
      await ctx.reply(content.text.length > max ? ctx.t('broadcast.too_long', { length: content.text.length, max }) : ctx.t('broadcast.unsupported'), {
        parse_mode: 'HTML',
      });
      return false;
    }
    const message = { text: content.text, entities: content.entities, photoFileId: content.photoFileId };
    const next: Wizard = forB ? { ...wizard, step: 'button', variantB: { ...message, button: null } } : { ...wizard, step: 'button', content: message };
    await save(ctx, next);
    const keyboard = new InlineKeyboard()
      .text(ctx.t('broadcast.button_url'), encodeCallback('bc:bt', wizard.id, 'url'))
      .text(ctx.t('broadcast.deep_link.rewards'), encodeCallback('bc:bt', wizard.id, 'rewards'))
      .row()
      .text(ctx.t('broadcast.deep_link.card'), encodeCallback('bc:bt', wizard.id, 'card'))
      .text(ctx.t('broadcast.deep_link.balance'), encodeCallback('bc:bt', wizard.id, 'balance'))
      .row()
      .text(ctx.t('broadcast.button_none'), encodeCallback('bc:bt', wizard.id, 'none'))
      .text(ctx.t('common.cancel'), encodeCallback('bc:no', wizard.id));
    await ctx.reply(ctx.t('broadcast.button_ask'), { parse_mode: 'HTML', reply_markup: keyboard });
    return true;
  }
  dialogs.register(composeDialog(kit, onContent), COMPOSE_DIALOG);

  /** The button chosen for the message being composed (A, or variant B), and back to the audience. */
  function withButton(wizard: Wizard, button: { text: string; url: string } | null): Wizard {
    if (wizard.part === 'B' && wizard.variantB) return { ...wizard, variantB: { ...wizard.variantB, button }, part: undefined, buttonUrl: undefined };
    return { ...wizard, button, buttonUrl: undefined };
  }

  // --- what the marketer sends during the wizard ----------------------------------------------

  /** "DD.MM.YYYY HH:MM" in the program's time zone; null when it is not a date and time. */
  function parseLocalTime(text: string): Date | null {
    const match = /^\s*(\d{1,2})\.(\d{1,2})\.(\d{4})\s+(\d{1,2}):(\d{2})\s*$/.exec(text);
    if (!match) return null;
    const [day, month, year, hour, minute] = match.slice(1).map(Number) as [number, number, number, number, number];
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59) return null;
    const check = new Date(Date.UTC(year, month - 1, day));
    if (check.getUTCDate() !== day) return null;
    return zonedTimeToUtc({ year, month, day, hour, minute }, program.timezone);
  }

  async function onText(ctx: BotContext, wizard: Wizard, message: Message) {
    const text = message.text ?? '';
    switch (wizard.step) {
      case 'buttonUrl': {
        const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(text.trim()) ? text.trim() : `https://${text.trim()}`;
        if (!isButtonUrl(url) || /\s/.test(text.trim())) {
          await ctx.reply(ctx.t('broadcast.url_invalid'), { parse_mode: 'HTML' });
          return;
        }
        await save(ctx, { ...wizard, step: 'buttonLabel', buttonUrl: url });
        await ctx.reply(ctx.t('broadcast.ask_label', { max: MAX_BUTTON_TEXT }), { parse_mode: 'HTML', reply_markup: cancelKeyboard(ctx, wizard) });
        return;
      }
      case 'buttonLabel': {
        const label = text.trim();
        if (label.length === 0 || label.length > MAX_BUTTON_TEXT || !wizard.buttonUrl) {
          await ctx.reply(ctx.t('broadcast.label_invalid', { max: MAX_BUTTON_TEXT }), { parse_mode: 'HTML' });
          return;
        }
        return showAudience(ctx, withButton(wizard, { text: label, url: wizard.buttonUrl }), 'reply');
      }
      case 'number': {
        const filter = wizard.numberFor ? NUMBERS[wizard.numberFor] : undefined;
        const value = /^\s*\d{1,10}\s*$/.test(text) ? Number(text) : Number.NaN;
        if (!filter || !(value === 0 || (value >= filter.min && value <= filter.max))) {
          await ctx.reply(ctx.t('broadcast.number_invalid', { min: filter?.min ?? 1, max: filter?.max ?? 1 }), { parse_mode: 'HTML' });
          return;
        }
        const segment: Segment = { ...wizard.segment, [filter.key]: value === 0 ? undefined : value };
        return showAudience(ctx, { ...wizard, segment: normalizeSegment(segment) }, 'reply');
      }
      case 'schedule': {
        const at = parseLocalTime(text);
        if (!at || at.getTime() <= domain.clock.now().getTime()) {
          await ctx.reply(ctx.t('broadcast.time_invalid', { example: ctx.fmt.dateTime(new Date(domain.clock.now().getTime() + 86_400_000)) }), {
            parse_mode: 'HTML',
          });
          return;
        }
        return launch(ctx, wizard, at);
      }
      case 'done':
        return;
      default:
        await ctx.reply(ctx.t('broadcast.tap_button'), { parse_mode: 'HTML' });
    }
  }

  /**
   * A message while a wizard is open is its answer. Anyone without an open wizard passes on
   * after one keyed read; commands always pass on.
   */
  async function wizardInput(ctx: BotContext, next: NextFunction) {
    const message = ctx.message;
    if (!message || message.text?.startsWith('/')) return next();
    const wizard = await load(ctx);
    // The compose step's answers are the dialog's (composeInput).
    if (!wizard || wizard.step === 'done' || wizard.step === 'compose') return next();
    await marketerOnly(ctx);
    if (message.text !== undefined && !message.photo) return onText(ctx, wizard, message);
    await ctx.reply(ctx.t('broadcast.tap_button'), { parse_mode: 'HTML' });
  }

  /** Reached only when no dialog took the answer: its state was lost (a new dialog version), so it is asked again. */
  const composeAnswer = dialogs.around(async (ctx) => {
    const wizard = await load(ctx);
    if (wizard?.step !== 'compose') return;
    await marketerOnly(ctx);
    await askContent(ctx, wizard);
  });

  /**
   * The answer to the compose step, from anyone with a wizard there, whatever their membership;
   * it never passes the update on once the dialogs saw it. A dialog left behind by a wizard that
   * ended (cancelled, expired by the injected clock) ends at its next answer (compose-dialog.ts).
   */
  async function composeInput(ctx: BotContext, next: NextFunction) {
    if (!ctx.message || ctx.message.text?.startsWith('/')) return next();
    const wizard = await load(ctx);
    if (wizard?.step !== 'compose') return next();
    return composeAnswer(ctx, async () => undefined);
  }

  // --- commands ---------------------------------------------------------------------------------

  privateChats.command(
    'broadcast',
    guarded(
      dialogs.entry(async (ctx) => {
        await marketerOnly(ctx);
        await askContent(ctx, { id: newId(), step: 'compose', segment: {}, touchedAt: 0 });
      }),
    ),
  );

  // Variant B: the compose and button steps again, filling the second message this time.
  composer.filter(
    isCallback('bc:vb'),
    guarded(
      dialogs.entry(async (ctx) => {
        await marketerOnly(ctx);
        const wizard = await current(ctx, callbackArgs(ctx, 'bc:vb')[0], ['audience', 'number'], 'message');
        if (!wizard) return;
        await ack(ctx);
        await dropButtons(ctx);
        await askContent(ctx, { ...wizard, step: 'compose', part: 'B', variantB: null, numberFor: undefined, pickerFor: undefined });
      }),
    ),
  );

  privateChats.command(
    'cancel',
    guarded(async (ctx, next) => {
      const wizard = await load(ctx);
      if (!wizard || wizard.step === 'done') return next();
      await clear(ctx);
      await ctx.reply(ctx.t('broadcast.cancelled_wizard'));
    }),
  );

  composer.filter(
    isCallback('bc:bt'),
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const wizard = await current(ctx, callbackArgs(ctx, 'bc:bt')[0], ['button'], 'message');
      if (!wizard) return;
      await ack(ctx);
      await dropButtons(ctx);
      const kind = callbackArgs(ctx, 'bc:bt')[1];
      if (kind === 'none') return showAudience(ctx, withButton(wizard, null), 'reply');
      if (kind === 'url') {
        await save(ctx, { ...wizard, step: 'buttonUrl' });
        await ctx.reply(ctx.t('broadcast.ask_url'), { parse_mode: 'HTML', reply_markup: cancelKeyboard(ctx, wizard) });
        return;
      }
      // A deep link into this bot: /start <kind> opens that screen.
      await save(ctx, { ...wizard, step: 'buttonLabel', buttonUrl: `https://t.me/${ctx.me.username}?start=${kind}` });
      await ctx.reply(ctx.t('broadcast.ask_label', { max: MAX_BUTTON_TEXT }), { parse_mode: 'HTML', reply_markup: cancelKeyboard(ctx, wizard) });
    }),
  );

  composer.filter(
    isCallback('bc:no'),
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const wizard = await current(ctx, callbackArgs(ctx, 'bc:no')[0], ['compose', 'button', 'buttonUrl', 'buttonLabel', 'audience', 'number', 'schedule']);
      if (!wizard) return;
      await clear(ctx);
      await ack(ctx);
      await dropButtons(ctx);
      await ctx.reply(ctx.t('broadcast.cancelled_wizard'));
    }),
  );

  return { wizardInput, composeInput };
}
