import { randomBytes } from 'node:crypto';
import { Composer, GrammyError, InlineKeyboard, type NextFunction } from 'grammy';
import type { Message } from 'grammy/types';
import { z } from 'zod';
import type { BroadcastAuthor } from '../../domain/broadcasts/access.js';
import { cancelBroadcast } from '../../domain/broadcasts/cancel-broadcast.js';
import { contentProblems, isButtonUrl, MAX_BUTTON_TEXT, MAX_CAPTION, MAX_TEXT } from '../../domain/broadcasts/content.js';
import { createBroadcast } from '../../domain/broadcasts/create-broadcast.js';
import { assertOfferReward, OFFER_LINE_RESERVE } from '../../domain/broadcasts/offer.js';
import { assertSegment, normalizeSegment } from '../../domain/broadcasts/segment.js';
import { type BroadcastContent, NPS_GROUPS, type Segment, type TextEntity } from '../../domain/broadcasts/types.js';
import { type BroadcastView, getBroadcast, listBroadcasts, measureAudience } from '../../domain/broadcasts/view-broadcasts.js';
import { nextAllowedTime } from '../../domain/jobs/schedule-rules.js';
import { previewSurveyCampaign, sendSurveyCampaign } from '../../domain/nps/campaign.js';
import { LOCALES } from '../../domain/program.js';
import { requireRole } from '../../domain/staff/access.js';
import { zonedTimeToUtc } from '../../domain/time.js';
import { offerLine, PREVIEW_COUPON_CODE, sendBroadcastMessage, withOffer } from '../broadcast-message.js';
import { progressLine } from '../broadcast-report.js';
import { callbackData } from '../callback-data.js';
import type { BotContext, BotDeps } from '../context.js';
import { domainErrorGuard } from '../guard.js';
import { ack, errorText } from '../replies.js';

/**
 * Broadcasts in the chat, for marketers (and admins): the /broadcast wizard (compose, button,
 * audience with its live size, preview, send now or at a time) and /broadcasts (progress,
 * cancel). Every command, message and button re-checks the role on the server (`requireRole`
 * through the use cases, and here before anything is read), whatever led there: callback data
 * is only a hint. Wizard state lives in the session store, so restarts and other instances carry on.
 * From /nps, the same audience builder sends an NPS survey instead (`mode: 'survey'`, `bc:nps`):
 * the message-only buttons (preview, offer, send, schedule) refuse such a wizard.
 */

const WIZARD_TTL_MS = 60 * 60_000;
const LIST_SIZE = 10;
const newId = () => randomBytes(6).toString('base64url');
const ID = '([A-Za-z0-9_-]{8})';
const DEEP_LINKS = ['rewards', 'card', 'balance'] as const;

/** Filters that take a number, by their short code in callback data. */
const NUMBERS = {
  o: { key: 'lastPurchaseOlderThanDays', min: 1, max: 3650 },
  w: { key: 'lastPurchaseWithinDays', min: 1, max: 3650 },
  r: { key: 'registeredWithinDays', min: 1, max: 3650 },
  e: { key: 'pointsExpiringWithinDays', min: 1, max: 3650 },
  b: { key: 'minBalance', min: 1, max: 100_000_000 },
} as const;
type NumberCode = keyof typeof NUMBERS;
/** Filters that list values to pick from. */
const LISTS = { t: 'tiers', l: 'languages', s: 'stores', n: 'npsGroups' } as const;
type ListCode = keyof typeof LISTS;
const FLAGS = { bd: 'birthdayThisMonth', np: 'neverPurchased' } as const;
type FlagCode = keyof typeof FLAGS;

const segmentSchema = z.object({
  tiers: z.array(z.string()).optional(),
  languages: z.array(z.enum(LOCALES as ['ru', 'en'])).optional(),
  stores: z.array(z.string()).optional(),
  lastPurchaseOlderThanDays: z.number().int().optional(),
  lastPurchaseWithinDays: z.number().int().optional(),
  registeredWithinDays: z.number().int().optional(),
  birthdayThisMonth: z.boolean().optional(),
  npsGroups: z.array(z.enum(NPS_GROUPS)).optional(),
  pointsExpiringWithinDays: z.number().int().optional(),
  minBalance: z.number().int().optional(),
  neverPurchased: z.boolean().optional(),
});

const wizardSchema = z.object({
  id: z.string(),
  step: z.enum(['compose', 'button', 'buttonUrl', 'buttonLabel', 'audience', 'number', 'schedule', 'done']),
  content: z
    .object({
      text: z.string(),
      entities: z.array(z.looseObject({ type: z.string(), offset: z.number(), length: z.number() })),
      photoFileId: z.string().nullable(),
    })
    .optional(),
  buttonUrl: z.string().optional(),
  button: z.object({ text: z.string(), url: z.string() }).nullable().optional(),
  segment: segmentSchema,
  numberFor: z.enum(Object.keys(NUMBERS) as [NumberCode, ...NumberCode[]]).optional(),
  /** The reward of the personal offer (a free coupon for each member); null or absent: none. */
  offer: z.string().nullable().optional(),
  /** `survey`: the audience builder opened from /nps, to send the NPS survey instead of a message. */
  mode: z.enum(['message', 'survey']).optional(),
  touchedAt: z.number(),
});
type Wizard = z.infer<typeof wizardSchema>;

export interface BroadcastFeatures {
  /** Commands, buttons, and the wizard's input from people who are not active customers: first. */
  broadcasts: Composer<BotContext>;
  /** The wizard's input from marketers who are also active customers: after the customer features. */
  broadcastInput: Composer<BotContext>;
}

export function broadcastFeatures(deps: BotDeps): BroadcastFeatures {
  const composer = new Composer<BotContext>();
  const { domain } = deps;
  const { program } = domain;
  const privateChats = composer.chatType('private');

  const marketerOnly = (ctx: BotContext) => requireRole(domain, ctx.from?.id as number, ['MARKETER']);
  const author = (ctx: BotContext): BroadcastAuthor => ({ kind: 'staff', telegramId: ctx.from?.id as number, locale: ctx.locale });

  async function load(ctx: BotContext): Promise<Wizard | null> {
    const parsed = wizardSchema.safeParse(await ctx.sessions.read('broadcast'));
    if (!parsed.success) return null;
    if (parsed.data.step !== 'done' && domain.clock.now().getTime() - parsed.data.touchedAt > WIZARD_TTL_MS) return null;
    return parsed.data;
  }
  const save = (ctx: BotContext, wizard: Wizard) => ctx.sessions.write('broadcast', { ...wizard, touchedAt: domain.clock.now().getTime() } satisfies Wizard);
  const clear = (ctx: BotContext) => ctx.sessions.delete('broadcast');
  const dropButtons = (ctx: BotContext) => ctx.editMessageReplyMarkup().catch(() => undefined);
  const cancelKeyboard = (ctx: BotContext, wizard: Wizard) => new InlineKeyboard().text(ctx.t('common.cancel'), callbackData('bc', 'no', wizard.id));

  /** Domain refusals as answers in the marketer's words; anything else goes on to bot.catch. */
  const guarded = domainErrorGuard(async (ctx, error) => {
    const key = `broadcast.errors.${error.code}`;
    const own = ctx.t(key, { ...error.details });
    const text = own === key ? errorText(ctx, error) : own;
    if (ctx.callbackQuery) await ack(ctx, text, true);
    else await ctx.reply(text, { parse_mode: 'HTML' });
  });

  // --- the wizard's screens -------------------------------------------------------------------

  async function begin(ctx: BotContext) {
    const wizard: Wizard = { id: newId(), step: 'compose', segment: {}, touchedAt: 0 };
    await save(ctx, wizard);
    await ctx.reply(ctx.t('broadcast.compose'), { parse_mode: 'HTML', reply_markup: cancelKeyboard(ctx, wizard) });
  }

  async function onContent(ctx: BotContext, wizard: Wizard, content: BroadcastContent) {
    const problem = contentProblems(content).find((p) => p.field === 'text' || p.field.startsWith('entities'));
    if (problem) {
      const max = content.photoFileId ? MAX_CAPTION : MAX_TEXT;
      await ctx.reply(content.text.length > max ? ctx.t('broadcast.too_long', { length: content.text.length, max }) : ctx.t('broadcast.unsupported'), {
        parse_mode: 'HTML',
      });
      return;
    }
    const next: Wizard = { ...wizard, step: 'button', content: { text: content.text, entities: content.entities, photoFileId: content.photoFileId } };
    await save(ctx, next);
    const keyboard = new InlineKeyboard()
      .text(ctx.t('broadcast.button_url'), callbackData('bc', 'bt', wizard.id, 'url'))
      .text(ctx.t('broadcast.deep_link.rewards'), callbackData('bc', 'bt', wizard.id, 'rewards'))
      .row()
      .text(ctx.t('broadcast.deep_link.card'), callbackData('bc', 'bt', wizard.id, 'card'))
      .text(ctx.t('broadcast.deep_link.balance'), callbackData('bc', 'bt', wizard.id, 'balance'))
      .row()
      .text(ctx.t('broadcast.button_none'), callbackData('bc', 'bt', wizard.id, 'none'))
      .text(ctx.t('common.cancel'), callbackData('bc', 'no', wizard.id));
    await ctx.reply(ctx.t('broadcast.button_ask'), { parse_mode: 'HTML', reply_markup: keyboard });
  }

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
    const offer = wizard.offer ? await domain.repos.rewards.findByCode(wizard.offer) : null;
    const text = [
      ctx.t('broadcast.audience', { count: size.recipients }),
      lines.length ? lines.map((line) => `• ${line}`).join('\n') : ctx.t('broadcast.no_filters'),
      ctx.t('broadcast.audience_rule', { optedOut: size.optedOut, unreachable: size.unreachable }),
      ...(offer ? [ctx.t('broadcast.offer_chosen', { title: offer.title[ctx.locale], days: ctx.t('common.days', { count: offer.validityDays }) })] : []),
    ].join('\n\n');
    const id = wizard.id;
    const keyboard = filterKeyboard(ctx, wizard)
      .text(offer ? ctx.t('broadcast.offer_button_set', { title: offer.title[ctx.locale] }) : ctx.t('broadcast.offer_button'), callbackData('bc', 'of', id))
      .row()
      .text(ctx.t('broadcast.preview_button'), callbackData('bc', 'pv', id))
      .text(ctx.t('common.cancel'), callbackData('bc', 'no', id));
    return { text, keyboard };
  }

  /** The filters' buttons, shared by the broadcast and the survey audience screens. */
  function filterKeyboard(ctx: BotContext, wizard: Wizard): InlineKeyboard {
    const id = wizard.id;
    const mark = (on: boolean, label: string) => (on ? `✓ ${label}` : label);
    const s = wizard.segment;
    const keyboard = new InlineKeyboard()
      .text(mark(!!s.tiers, ctx.t('broadcast.filter.tiers')), callbackData('bc', 'f', id, 't'))
      .text(mark(!!s.languages, ctx.t('broadcast.filter.languages')), callbackData('bc', 'f', id, 'l'))
      .row()
      .text(mark(!!s.stores, ctx.t('broadcast.filter.stores')), callbackData('bc', 'f', id, 's'))
      .text(mark(!!s.npsGroups, ctx.t('broadcast.filter.npsGroups')), callbackData('bc', 'f', id, 'n'))
      .row();
    (Object.keys(NUMBERS) as NumberCode[]).forEach((code, i) => {
      const key = NUMBERS[code].key;
      keyboard.text(mark(s[key] !== undefined, ctx.t(`broadcast.filter.${key}`)), callbackData('bc', 'f', id, code));
      if (i % 2 === 1) keyboard.row();
    });
    keyboard.text(mark(!!s.birthdayThisMonth, ctx.t('broadcast.filter.birthdayThisMonth')), callbackData('bc', 'f', id, 'bd')).row();
    return keyboard
      .text(mark(!!s.neverPurchased, ctx.t('broadcast.filter.neverPurchased')), callbackData('bc', 'f', id, 'np'))
      .text(ctx.t('broadcast.filter.clear'), callbackData('bc', 'f', id, 'x'))
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
      .text(ctx.t('broadcast.survey.continue'), callbackData('bc', 'sv', wizard.id))
      .text(ctx.t('common.cancel'), callbackData('bc', 'no', wizard.id));
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
        return (await domain.repos.stores.list())
          .filter((store) => store.active)
          .slice(0, 30)
          .map((store) => ({ value: store.code, label: store.name }));
      case 'n':
        return NPS_GROUPS.map((group) => ({ value: group, label: ctx.t(`broadcast.nps.${group}`) }));
    }
  }

  async function showPicker(ctx: BotContext, wizard: Wizard, code: ListCode) {
    const chosen = (wizard.segment[LISTS[code]] ?? []) as string[];
    const keyboard = new InlineKeyboard();
    const choices = await listChoices(ctx, code);
    choices.forEach((choice, i) => {
      keyboard.text(chosen.includes(choice.value) ? `✓ ${choice.label}` : choice.label, callbackData('bc', 'tg', wizard.id, code, choice.value));
      if (i % 2 === 1) keyboard.row();
    });
    if (choices.length % 2 === 1) keyboard.row();
    keyboard.text(ctx.t('broadcast.done'), callbackData('bc', 'a', wizard.id));
    await ctx.editMessageText(ctx.t('broadcast.pick', { filter: ctx.t(`broadcast.filter.${LISTS[code]}`) }), { parse_mode: 'HTML', reply_markup: keyboard });
  }

  function contentOf(wizard: Wizard): BroadcastContent {
    const content = wizard.content ?? { text: '', entities: [], photoFileId: null };
    return { text: content.text, entities: content.entities as TextEntity[], photoFileId: content.photoFileId, button: wizard.button ?? null };
  }

  async function preview(ctx: BotContext, wizard: Wizard) {
    await save(ctx, { ...wizard, step: 'audience' });
    // Exactly what members get: the same function sends their copies (a sample coupon code here).
    const offer = wizard.offer ? await domain.repos.rewards.findByCode(wizard.offer) : null;
    const sample = offer ? { code: PREVIEW_COUPON_CODE, expiresAt: new Date(domain.clock.now().getTime() + offer.validityDays * 86_400_000) } : null;
    const content = sample ? withOffer(contentOf(wizard), offerLine(ctx.t, ctx.fmt, sample), sample.code) : contentOf(wizard);
    await sendBroadcastMessage(ctx.api, ctx.chat?.id as number, content);
    const size = await measureAudience(domain, author(ctx), wizard.segment);
    const keyboard = new InlineKeyboard()
      .text(ctx.t('broadcast.send_now', { count: size.recipients }), callbackData('bc', 'go', wizard.id))
      .row()
      .text(ctx.t('broadcast.schedule'), callbackData('bc', 'sc', wizard.id))
      .text(ctx.t('broadcast.edit_audience'), callbackData('bc', 'a', wizard.id))
      .row()
      .text(ctx.t('common.cancel'), callbackData('bc', 'no', wizard.id));
    const lines = [ctx.t('broadcast.preview', { count: size.recipients })];
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
      case 'compose':
        return onContent(ctx, wizard, { text, entities: (message.entities ?? []) as TextEntity[], photoFileId: null, button: null });
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
        return showAudience(ctx, { ...wizard, button: { text: label, url: wizard.buttonUrl }, buttonUrl: undefined }, 'reply');
      }
      case 'number': {
        const filter = wizard.numberFor ? NUMBERS[wizard.numberFor] : undefined;
        const value = /^\s*\d{1,9}\s*$/.test(text) ? Number(text) : Number.NaN;
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

  async function onPhoto(ctx: BotContext, wizard: Wizard, message: Message) {
    const photo = message.photo?.[message.photo.length - 1];
    if (wizard.step !== 'compose' || !photo) {
      await ctx.reply(ctx.t(wizard.step === 'compose' ? 'broadcast.unsupported' : 'broadcast.tap_button'), { parse_mode: 'HTML' });
      return;
    }
    return onContent(ctx, wizard, {
      text: message.caption ?? '',
      entities: (message.caption_entities ?? []) as TextEntity[],
      photoFileId: photo.file_id,
      button: null,
    });
  }

  /**
   * A message while a wizard is open is its answer. Anyone without an open wizard passes on
   * after one keyed read; commands always pass on.
   */
  async function wizardInput(ctx: BotContext, next: NextFunction) {
    const message = ctx.message;
    if (!message || message.text?.startsWith('/')) return next();
    const wizard = await load(ctx);
    if (!wizard || wizard.step === 'done') return next();
    await marketerOnly(ctx);
    if (message.photo) return onPhoto(ctx, wizard, message);
    if (message.text !== undefined) return onText(ctx, wizard, message);
    await ctx.reply(ctx.t(wizard.step === 'compose' ? 'broadcast.unsupported' : 'broadcast.tap_button'), { parse_mode: 'HTML' });
  }

  // --- commands ---------------------------------------------------------------------------------

  privateChats.command(
    'broadcast',
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      await begin(ctx);
    }),
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

  function listScreen(ctx: BotContext, views: BroadcastView[]) {
    const keyboard = new InlineKeyboard();
    if (views.length === 0) return { text: ctx.t('broadcast.list_empty'), keyboard: keyboard.text(ctx.t('broadcast.refresh'), 'bc:ls') };
    const blocks = views.map(({ broadcast, counts }) => {
      const excerpt = broadcast.content.text.replace(/\s+/g, ' ').trim();
      const head = ctx.t('broadcast.line', {
        id: broadcast.id,
        status: ctx.t(`broadcast.status.${broadcast.status}`),
        at: ctx.fmt.dateTime(broadcast.startedAt ?? broadcast.scheduledAt),
        excerpt: (broadcast.content.photoFileId ? `${ctx.t('broadcast.photo')} ` : '') + (excerpt.length > 60 ? `${excerpt.slice(0, 59)}…` : excerpt),
      });
      if (broadcast.status === 'SCHEDULED') return head;
      return `${head}\n${progressLine(ctx.t, broadcast, counts)}`;
    });
    for (const { broadcast } of views) {
      if (broadcast.status === 'SCHEDULED' || broadcast.status === 'SENDING') {
        keyboard.text(ctx.t('broadcast.cancel_button', { id: broadcast.id }), callbackData('bc', 'x', broadcast.id)).row();
      }
    }
    keyboard.text(ctx.t('broadcast.refresh'), 'bc:ls');
    return { text: [ctx.t('broadcast.list_title'), ...blocks].join('\n\n'), keyboard };
  }

  privateChats.command(
    'broadcasts',
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const { text, keyboard } = listScreen(ctx, await listBroadcasts(domain, author(ctx), LIST_SIZE));
      await ctx.reply(text, { parse_mode: 'HTML', reply_markup: keyboard });
    }),
  );

  // --- buttons: each re-checks the role, then that it belongs to the open wizard ---------------

  /** The open wizard the button belongs to, at one of `steps`; `mode`: only a broadcast's (or only a survey's) buttons. */
  async function current(ctx: BotContext, id: string, steps: Wizard['step'][], mode?: 'message' | 'survey'): Promise<Wizard | null> {
    const wizard = await load(ctx);
    if (wizard && wizard.id === id && steps.includes(wizard.step) && (mode === undefined || (wizard.mode ?? 'message') === mode)) return wizard;
    await ack(ctx, ctx.t('common.stale_button'));
    return null;
  }

  composer.callbackQuery(
    new RegExp(`^bc:bt:${ID}:(url|none|${DEEP_LINKS.join('|')})$`),
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const wizard = await current(ctx, ctx.match[1] as string, ['button'], 'message');
      if (!wizard) return;
      await ack(ctx);
      await dropButtons(ctx);
      const kind = ctx.match[2] as string;
      if (kind === 'none') return showAudience(ctx, { ...wizard, button: null }, 'reply');
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

  composer.callbackQuery(
    new RegExp(`^bc:f:${ID}:(t|l|s|n|o|w|r|e|b|bd|np|x)$`),
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const wizard = await current(ctx, ctx.match[1] as string, ['audience', 'number']);
      if (!wizard) return;
      const code = ctx.match[2] as string;
      await ack(ctx);
      if (code in LISTS) {
        const next: Wizard = { ...wizard, step: 'audience', numberFor: undefined };
        await save(ctx, next);
        return showPicker(ctx, next, code as ListCode);
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

  composer.callbackQuery(
    new RegExp(`^bc:tg:${ID}:(t|l|s|n):([A-Za-z0-9_-]{1,32})$`),
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const wizard = await current(ctx, ctx.match[1] as string, ['audience']);
      if (!wizard) return;
      const code = ctx.match[2] as ListCode;
      const value = ctx.match[3] as string;
      if (!(await listChoices(ctx, code)).some((choice) => choice.value === value)) return ack(ctx, ctx.t('common.stale_button'));
      const key = LISTS[code];
      const chosen = (wizard.segment[key] ?? []) as string[];
      const segment = normalizeSegment({ ...wizard.segment, [key]: chosen.includes(value) ? chosen.filter((v) => v !== value) : [...chosen, value] });
      const next = { ...wizard, segment };
      assertSegment(segment, program);
      await save(ctx, next);
      await ack(ctx);
      await showPicker(ctx, next, code);
    }),
  );

  composer.callbackQuery(
    new RegExp(`^bc:a:${ID}$`),
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const wizard = await current(ctx, ctx.match[1] as string, ['audience', 'number', 'schedule']);
      if (!wizard) return;
      await ack(ctx);
      // From a picker: the same message becomes the audience screen again; from the preview: a new one.
      const fromPreview = inlineData(ctx).some((data) => data.startsWith('bc:go:') || data.startsWith('bc:sg:'));
      if (fromPreview) await dropButtons(ctx);
      await showAudience(ctx, wizard, fromPreview ? 'reply' : 'edit');
    }),
  );

  composer.callbackQuery(
    new RegExp(`^bc:pv:${ID}$`),
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const wizard = await current(ctx, ctx.match[1] as string, ['audience', 'number'], 'message');
      if (!wizard) return;
      await ack(ctx);
      await dropButtons(ctx);
      await preview(ctx, wizard);
    }),
  );

  // --- the personal offer: a free coupon of a catalogue reward for each member ------------------

  composer.callbackQuery(
    new RegExp(`^bc:of:${ID}$`),
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const wizard = await current(ctx, ctx.match[1] as string, ['audience', 'number'], 'message');
      if (!wizard) return;
      const rewards = (await domain.repos.rewards.list({ activeOnly: true })).slice(0, 30);
      if (rewards.length === 0) return ack(ctx, ctx.t('broadcast.offer_empty'), true);
      await ack(ctx);
      await save(ctx, { ...wizard, step: 'audience', numberFor: undefined });
      const keyboard = new InlineKeyboard();
      for (const reward of rewards) {
        const label = reward.title[ctx.locale] || reward.code;
        keyboard.text(wizard.offer === reward.code ? `✓ ${label}` : label, callbackData('bc', 'or', wizard.id, reward.code)).row();
      }
      keyboard.text(ctx.t('broadcast.offer_none'), callbackData('bc', 'on', wizard.id)).text(ctx.t('broadcast.done'), callbackData('bc', 'a', wizard.id));
      await ctx.editMessageText(ctx.t('broadcast.offer_pick'), { parse_mode: 'HTML', reply_markup: keyboard });
    }),
  );

  composer.callbackQuery(
    new RegExp(`^bc:(or|on):${ID}(?::([a-z0-9_-]{1,32}))?$`),
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const wizard = await current(ctx, ctx.match[2] as string, ['audience'], 'message');
      if (!wizard) return;
      const code = ctx.match[3];
      if (ctx.match[1] === 'on' || code === undefined) {
        await ack(ctx);
        return showAudience(ctx, { ...wizard, offer: null }, 'edit');
      }
      // Callback data is a hint: the reward must exist and be active now (refused in the marketer's words).
      await assertOfferReward(domain, code);
      const content = contentOf(wizard);
      if (contentProblems(content, { reserve: OFFER_LINE_RESERVE }).some((p) => p.field === 'text')) {
        const max = (content.photoFileId ? MAX_CAPTION : MAX_TEXT) - OFFER_LINE_RESERVE;
        return ack(ctx, ctx.t('broadcast.offer_too_long', { length: content.text.length, max }), true);
      }
      await ack(ctx);
      await showAudience(ctx, { ...wizard, offer: code }, 'edit');
    }),
  );

  composer.callbackQuery(
    new RegExp(`^bc:go:${ID}$`),
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const wizard = await load(ctx);
      if (!wizard || wizard.id !== ctx.match[1] || wizard.mode === 'survey' || !(wizard.step === 'audience' || wizard.step === 'done'))
        return ack(ctx, ctx.t('common.stale_button'));
      await ack(ctx);
      await dropButtons(ctx);
      await launch(ctx, wizard, null);
    }),
  );

  composer.callbackQuery(
    new RegExp(`^bc:sc:${ID}$`),
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const wizard = await current(ctx, ctx.match[1] as string, ['audience'], 'message');
      if (!wizard) return;
      await ack(ctx);
      await dropButtons(ctx);
      await save(ctx, { ...wizard, step: 'schedule' });
      await ctx.reply(ctx.t('broadcast.ask_time', { zone: program.timezone, example: ctx.fmt.dateTime(new Date(domain.clock.now().getTime() + 86_400_000)) }), {
        parse_mode: 'HTML',
        reply_markup: new InlineKeyboard()
          .text(ctx.t('broadcast.edit_audience'), callbackData('bc', 'a', wizard.id))
          .text(ctx.t('common.cancel'), callbackData('bc', 'no', wizard.id)),
      });
    }),
  );

  composer.callbackQuery(
    new RegExp(`^bc:no:${ID}$`),
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const wizard = await current(ctx, ctx.match[1] as string, ['compose', 'button', 'buttonUrl', 'buttonLabel', 'audience', 'number', 'schedule']);
      if (!wizard) return;
      await clear(ctx);
      await ack(ctx);
      await dropButtons(ctx);
      await ctx.reply(ctx.t('broadcast.cancelled_wizard'));
    }),
  );

  // --- an NPS survey to a segment (from /nps): the same audience builder, then a confirmation ------

  composer.callbackQuery(
    'bc:nps',
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      if (!program.nps.enabled) return ack(ctx, ctx.t('broadcast.survey.disabled'), true);
      await ack(ctx);
      // Replaces any open wizard, as /broadcast does.
      await showAudience(ctx, { id: newId(), step: 'audience', segment: {}, mode: 'survey', touchedAt: 0 }, 'reply');
    }),
  );

  composer.callbackQuery(
    new RegExp(`^bc:sv:${ID}$`),
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const wizard = await current(ctx, ctx.match[1] as string, ['audience', 'number'], 'survey');
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
      if (size.surveyed > 0) keyboard.text(ctx.t('broadcast.survey.send', { count: size.surveyed }), callbackData('bc', 'sg', wizard.id)).row();
      keyboard.text(ctx.t('broadcast.edit_audience'), callbackData('bc', 'a', wizard.id)).text(ctx.t('common.cancel'), callbackData('bc', 'no', wizard.id));
      const head = size.surveyed > 0 ? ctx.t('broadcast.survey.confirm', { count: size.surveyed }) : ctx.t('broadcast.survey.nobody');
      await ctx.reply(`${head}\n\n${leftOut}`, { parse_mode: 'HTML', reply_markup: keyboard });
    }),
  );

  composer.callbackQuery(
    new RegExp(`^bc:sg:${ID}$`),
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const wizard = await current(ctx, ctx.match[1] as string, ['audience', 'done'], 'survey');
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

  // --- the list: progress and cancelling ---------------------------------------------------------

  composer.callbackQuery(
    'bc:ls',
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const { text, keyboard } = listScreen(ctx, await listBroadcasts(domain, author(ctx), LIST_SIZE));
      await ack(ctx);
      await ctx.editMessageText(text, { parse_mode: 'HTML', reply_markup: keyboard }).catch(() => undefined);
    }),
  );

  composer.callbackQuery(
    /^bc:x:(\d{1,9})$/,
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const { broadcast } = await getBroadcast(domain, author(ctx), Number(ctx.match[1]));
      await ack(ctx);
      await ctx.reply(ctx.t('broadcast.cancel_confirm', { id: broadcast.id }), {
        parse_mode: 'HTML',
        reply_markup: new InlineKeyboard()
          .text(ctx.t('broadcast.cancel_yes'), callbackData('bc', 'xy', broadcast.id))
          .text(ctx.t('broadcast.cancel_no'), 'bc:xn'),
      });
    }),
  );

  composer.callbackQuery(
    /^bc:xy:(\d{1,9})$/,
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      const broadcast = await cancelBroadcast(domain, author(ctx), Number(ctx.match[1]));
      await ack(ctx);
      await dropButtons(ctx);
      await ctx.reply(ctx.t('broadcast.cancelled', { id: broadcast.id, count: broadcast.final.cancelled, sent: broadcast.final.sent }), { parse_mode: 'HTML' });
    }),
  );

  composer.callbackQuery(
    'bc:xn',
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      await ack(ctx);
      await dropButtons(ctx);
    }),
  );

  // Anything else under the prefix: still only for marketers, and never acted upon.
  composer.callbackQuery(
    /^bc:/,
    guarded(async (ctx) => {
      await marketerOnly(ctx);
      await ack(ctx, ctx.t('common.stale_button'));
    }),
  );

  privateChats.filter((ctx) => ctx.member?.status !== 'ACTIVE').on(['message:text', 'message:photo'], guarded(wizardInput));

  const broadcastInput = new Composer<BotContext>();
  broadcastInput
    .chatType('private')
    .filter((ctx) => ctx.member?.status === 'ACTIVE')
    .on(['message:text', 'message:photo'], guarded(wizardInput));

  return { broadcasts: composer, broadcastInput };
}

/** The callback data of the buttons on the message a button was tapped on. */
function inlineData(ctx: BotContext): string[] {
  const rows = ctx.callbackQuery?.message?.reply_markup?.inline_keyboard ?? [];
  return rows.flat().flatMap((button) => ('callback_data' in button && button.callback_data ? [button.callback_data] : []));
}
