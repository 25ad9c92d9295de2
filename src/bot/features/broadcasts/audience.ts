import { Menu, type MenuFlavor } from '@grammyjs/menu';
import { GrammyError, InlineKeyboard } from 'grammy';
import { chosenOffer, storeChoices } from '../../../domain/broadcasts/choices.js';
import { assertSegment, normalizeSegment } from '../../../domain/broadcasts/segment.js';
import { NPS_GROUPS, type Segment } from '../../../domain/broadcasts/types.js';
import { measureAudience } from '../../../domain/broadcasts/view-broadcasts.js';
import { previewSurveyCampaign } from '../../../domain/nps/campaign.js';
import { LOCALES } from '../../../domain/program.js';
import { callbackArgs, encodeCallback, isCallback } from '../../callback-data.js';
import type { BotContext } from '../../context.js';
import { ack } from '../../replies.js';
import { experimentButtons, experimentLines } from './experiment.js';
import { type BroadcastKit, FLAGS, type FlagCode, inlineData, LISTS, type ListCode, NUMBERS, type NumberCode, type Wizard } from './wizard.js';

/** The audience builder: filters, pickers and the live size (broadcasts and NPS surveys share it). */
export function audienceScreens(kit: BroadcastKit) {
  const { deps, domain, program, composer, marketerOnly, author, load, save, dropButtons, guarded, current } = kit;

  function filterLines(ctx: BotContext, segment: Segment): string[] {
    const lines: string[] = [];
    const tierName = (code: string) => program.tiers.levels.find((level) => level.code === code)?.name[ctx.locale] ?? code;
    if (segment.tiers) lines.push(ctx.t('broadcast.filter_line.tiers', { value: segment.tiers.map(tierName).join(', ') }));
    if (segment.languages)
      lines.push(ctx.t('broadcast.filter_line.languages', { value: segment.languages.map((l) => deps.i18n.t(l)('language.name')).join(', ') }));
    if (segment.stores) lines.push(ctx.t('broadcast.filter_line.stores', { value: segment.stores.join(', ') }));
    if (segment.npsGroups)
      lines.push(ctx.t('broadcast.filter_line.npsGroups', { value: segment.npsGroups.map((g) => ctx.t(`broadcast.nps.${g}`)).join(', ') }));
    for (const { key } of Object.values(NUMBERS)) {
      const value = segment[key];
      if (value === undefined) continue;
      // Through the plural keys: "1 day", "2 дня", "1,000 points", never "1 days".
      const shown = key === 'minBalance' ? ctx.t('common.points', { count: value }) : ctx.t('common.days', { count: value });
      lines.push(ctx.t(`broadcast.filter_line.${key}`, { value: shown }));
    }
    for (const key of Object.values(FLAGS)) if (segment[key]) lines.push(ctx.t(`broadcast.filter_line.${key}`));
    return lines;
  }

  async function audienceScreen(ctx: BotContext, wizard: Wizard) {
    if (wizard.mode === 'survey') return surveyAudienceScreen(ctx, wizard);
    const size = await measureAudience(domain, author(ctx), wizard.segment);
    const lines = filterLines(ctx, wizard.segment);
    const offer = await chosenOffer(domain, wizard.offer);
    const text = [
      ctx.t('broadcast.audience', { count: size.recipients }),
      lines.length ? lines.map((line) => `• ${line}`).join('\n') : ctx.t('broadcast.no_filters'),
      ctx.t('broadcast.audience_rule', { optedOut: size.optedOut, unreachable: size.unreachable }),
      ...(offer ? [ctx.t('broadcast.offer_chosen', { title: offer.title[ctx.locale], days: ctx.t('common.days', { count: offer.validityDays }) })] : []),
      ...experimentLines(ctx, kit, wizard, size.recipients),
    ].join('\n\n');
    const id = wizard.id;
    const keyboard = filterKeyboard(ctx, wizard)
      .text(offer ? ctx.t('broadcast.offer_button_set', { title: offer.title[ctx.locale] }) : ctx.t('broadcast.offer_button'), encodeCallback('bc:of', id))
      .row();
    for (const [label, data] of experimentButtons(ctx, kit, wizard)) keyboard.text(label, data);
    keyboard.row().text(ctx.t('broadcast.preview_button'), encodeCallback('bc:pv', id)).text(ctx.t('common.cancel'), encodeCallback('bc:no', id));
    return { text, keyboard };
  }

  /** The filters' buttons, shared by the broadcast and the survey audience screens. */
  function filterKeyboard(ctx: BotContext, wizard: Wizard): InlineKeyboard {
    const id = wizard.id;
    const mark = (on: boolean, label: string) => (on ? `✓ ${label}` : label);
    const s = wizard.segment;
    const keyboard = new InlineKeyboard()
      .text(mark(!!s.tiers, ctx.t('broadcast.filter.tiers')), encodeCallback('bc:f', id, 't'))
      .text(mark(!!s.languages, ctx.t('broadcast.filter.languages')), encodeCallback('bc:f', id, 'l'))
      .row()
      .text(mark(!!s.stores, ctx.t('broadcast.filter.stores')), encodeCallback('bc:f', id, 's'))
      .text(mark(!!s.npsGroups, ctx.t('broadcast.filter.npsGroups')), encodeCallback('bc:f', id, 'n'))
      .row();
    (Object.keys(NUMBERS) as NumberCode[]).forEach((code, i) => {
      const key = NUMBERS[code].key;
      keyboard.text(mark(s[key] !== undefined, ctx.t(`broadcast.filter.${key}`)), encodeCallback('bc:f', id, code));
      if (i % 2 === 1) keyboard.row();
    });
    keyboard.text(mark(!!s.birthdayThisMonth, ctx.t('broadcast.filter.birthdayThisMonth')), encodeCallback('bc:f', id, 'bd')).row();
    return keyboard
      .text(mark(!!s.neverPurchased, ctx.t('broadcast.filter.neverPurchased')), encodeCallback('bc:f', id, 'np'))
      .text(ctx.t('broadcast.filter.clear'), encodeCallback('bc:f', id, 'x'))
      .row();
  }

  /** The survey's audience: the same filters, counted as the campaign will ask (recently surveyed members left out). */
  async function surveyAudienceScreen(ctx: BotContext, wizard: Wizard) {
    const size = await previewSurveyCampaign(domain, author(ctx), { segment: wizard.segment, key: surveyKey(ctx, wizard) });
    const lines = filterLines(ctx, wizard.segment);
    const text = [
      ctx.t('broadcast.survey.title'),
      ctx.t('broadcast.audience', { count: size.surveyed }),
      lines.length ? lines.map((line) => `• ${line}`).join('\n') : ctx.t('broadcast.no_filters'),
      ctx.t('broadcast.survey.rule', {
        days: ctx.t('common.days', { count: program.nps.minDaysBetweenSurveys }),
        recent: size.recentlySurveyed + size.already,
        optedOut: size.optedOut,
        unreachable: size.unreachable,
      }),
    ].join('\n\n');
    const keyboard = filterKeyboard(ctx, wizard)
      .text(ctx.t('broadcast.survey.continue'), encodeCallback('bc:sv', wizard.id))
      .text(ctx.t('common.cancel'), encodeCallback('bc:no', wizard.id));
    return { text, keyboard };
  }

  /** The campaign's key: one wizard, one campaign (a double tap or a replayed update asks nobody twice). */
  const surveyKey = (ctx: BotContext, wizard: Wizard) => `bot:${ctx.from?.id}:${wizard.id}`;

  async function showAudience(ctx: BotContext, wizard: Wizard, how: 'reply' | 'edit') {
    // A contradiction (never bought, yet bought last week) is refused before it is kept.
    assertSegment(wizard.segment, program);
    await save(ctx, { ...wizard, step: 'audience', numberFor: undefined });
    const { text, keyboard } = await audienceScreen(ctx, wizard);
    if (how === 'edit')
      await ctx.editMessageText(text, { parse_mode: 'HTML', reply_markup: keyboard }).catch((error: unknown) => {
        // Nothing changed (e.g. clearing no filters): the screen is already right.
        if (error instanceof GrammyError && /not modified/i.test(error.description)) return;
        return ctx.reply(text, { parse_mode: 'HTML', reply_markup: keyboard });
      });
    else await ctx.reply(text, { parse_mode: 'HTML', reply_markup: keyboard });
  }

  async function listChoices(ctx: BotContext, code: ListCode): Promise<{ value: string; label: string }[]> {
    switch (code) {
      case 't':
        return program.tiers.levels.map((level) => ({ value: level.code, label: level.name[ctx.locale] }));
      case 'l':
        return LOCALES.map((locale) => ({ value: locale, label: deps.i18n.t(locale)('language.name') }));
      case 's':
        return (await storeChoices(domain, 30)).map((store) => ({ value: store.code, label: store.name }));
      case 'n':
        return NPS_GROUPS.map((group) => ({ value: group, label: ctx.t(`broadcast.nps.${group}`) }));
    }
  }

  /**
   * The list pickers (tiers, languages, stores, NPS groups) are a @grammyjs/menu: its buttons
   * carry no arguments, only their place in the menu and a fingerprint of the menu as rendered
   * for the tapper now (their open wizard, the list, what is chosen). A tap on a keyboard that is
   * not what this person's wizard shows now (an older picker, another wizard's, another person's)
   * is outdated: nothing is toggled, the popup says the button is no longer active.
   */
  const pickerState = async (ctx: BotContext) => {
    const wizard = await load(ctx);
    if (!wizard?.pickerFor || wizard.step !== 'audience') return null;
    return { wizard, code: wizard.pickerFor, chosen: (wizard.segment[LISTS[wizard.pickerFor]] ?? []) as string[] };
  };
  const outdated = guarded(async (ctx) => {
    await marketerOnly(ctx);
    await ack(ctx, ctx.t('common.stale_button'));
  });
  const picker = new Menu<BotContext>('bc-pick', {
    autoAnswer: false,
    onMenuOutdated: outdated,
    fingerprint: async (ctx) => {
      const state = await pickerState(ctx);
      return state ? `${state.wizard.id}:${state.code}:${state.chosen.join(',')}` : '-';
    },
  });
  picker.dynamic(async (ctx, range) => {
    const state = await pickerState(ctx);
    if (!state) return;
    const choices = await listChoices(ctx, state.code);
    choices.forEach((choice, i) => {
      range.text(
        state.chosen.includes(choice.value) ? `✓ ${choice.label}` : choice.label,
        guarded((tap) => toggle(tap, choice.value)),
      );
      if (i % 2 === 1) range.row();
    });
    if (choices.length % 2 === 1) range.row();
    range.text(
      ctx.t('broadcast.done'),
      guarded(async (tap) => {
        await marketerOnly(tap);
        const now = await pickerState(tap);
        if (!now) return ack(tap, tap.t('common.stale_button'));
        await ack(tap);
        await showAudience(tap, now.wizard, 'edit');
      }),
    );
  });
  // The plugin (1.5.0) checks a fingerprinted button's hash but not its place: forged data with
  // the right hash and a place past the menu's edge throws inside the plugin. That tap is outdated.
  const pickerMiddleware = picker.middleware();
  composer.use(async (ctx, next) => {
    try {
      await pickerMiddleware(ctx, next);
    } catch (error) {
      if (!ctx.callbackQuery?.data?.startsWith('bc-pick/') || !thrownByMenuPlugin(error)) throw error;
      await outdated(ctx, next);
    }
  });

  async function toggle(ctx: BotContext & MenuFlavor, value: string) {
    await marketerOnly(ctx);
    const state = await pickerState(ctx);
    if (!state) return ack(ctx, ctx.t('common.stale_button'));
    const key = LISTS[state.code];
    const segment = normalizeSegment({
      ...state.wizard.segment,
      [key]: state.chosen.includes(value) ? state.chosen.filter((v) => v !== value) : [...state.chosen, value],
    });
    assertSegment(segment, program);
    await save(ctx, { ...state.wizard, segment });
    await ack(ctx);
    ctx.menu.update();
  }

  async function showPicker(ctx: BotContext, code: ListCode) {
    await ctx.editMessageText(ctx.t('broadcast.pick', { filter: ctx.t(`broadcast.filter.${LISTS[code]}`) }), { parse_mode: 'HTML', reply_markup: picker });
  }

  composer.filter(
    isCallback('bc:f'),
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const wizard = await current(ctx, callbackArgs(ctx, 'bc:f')[0], ['audience', 'number']);
      if (!wizard) return;
      const code = callbackArgs(ctx, 'bc:f')[1];
      await ack(ctx);
      if (code in LISTS) {
        await save(ctx, { ...wizard, step: 'audience', numberFor: undefined, pickerFor: code as ListCode });
        return showPicker(ctx, code as ListCode);
      }
      if (code in FLAGS) {
        const key = FLAGS[code as FlagCode];
        return showAudience(ctx, { ...wizard, segment: normalizeSegment({ ...wizard.segment, [key]: !wizard.segment[key] }) }, 'edit');
      }
      if (code === 'x') return showAudience(ctx, { ...wizard, segment: {} }, 'edit');
      const filter = NUMBERS[code as NumberCode];
      await save(ctx, { ...wizard, step: 'number', numberFor: code as NumberCode });
      await ctx.reply(
        ctx.t('broadcast.ask_number', {
          filter: ctx.t(`broadcast.filter.${filter.key}`),
          min: filter.min,
          max: filter.max,
          current: wizard.segment[filter.key] ?? '—',
        }),
        { parse_mode: 'HTML' },
      );
    }),
  );

  composer.filter(
    isCallback('bc:a'),
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const wizard = await current(ctx, callbackArgs(ctx, 'bc:a')[0], ['audience', 'number', 'schedule']);
      if (!wizard) return;
      await ack(ctx);
      // From a picker: the same message becomes the audience screen again; from the preview: a new one.
      const fromPreview = inlineData(ctx).some((data) => data.startsWith('bc:go:') || data.startsWith('bc:sg:'));
      if (fromPreview) await dropButtons(ctx);
      await showAudience(ctx, wizard, fromPreview ? 'reply' : 'edit');
    }),
  );

  return { showAudience, surveyKey, listChoices };
}
export type AudienceScreens = ReturnType<typeof audienceScreens>;

/** A TypeError raised in @grammyjs/menu's own code (not in a handler of ours). */
const thrownByMenuPlugin = (error: unknown) => error instanceof TypeError && (error.stack?.split('\n')[1] ?? '').includes('@grammyjs/menu');
