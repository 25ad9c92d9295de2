import { randomBytes } from 'node:crypto';
import { Composer, InlineKeyboard } from 'grammy';
import { z } from 'zod';
import type { BroadcastAuthor } from '../../../domain/broadcasts/access.js';
import { MAX_CONTROL_PERCENT } from '../../../domain/broadcasts/experiment.js';
import { segmentSchema } from '../../../domain/broadcasts/segment-schema.js';
import { requireRole } from '../../../domain/staff/access.js';
import { encodeCallback } from '../../callback-data.js';
import type { BotContext, BotDeps } from '../../context.js';
import { domainErrorGuard } from '../../guard.js';
import { ack, errorText } from '../../replies.js';

/**
 * Broadcasts in the chat, for marketers (and admins): the /broadcast wizard (compose, button,
 * audience with its live size, preview, send now or at a time) and /broadcasts (progress,
 * cancel). Every command, message and button re-checks the role on the server (`requireRole`
 * through the use cases, and here before anything is read), whatever led there: callback data
 * is only a hint. Wizard state lives in the session store, so restarts and other instances carry on.
 * From /nps, the same audience builder sends an NPS survey instead (`mode: 'survey'`, `bc:nps`):
 * the message-only buttons (preview, offer, send, schedule) refuse such a wizard.
 */

export const WIZARD_TTL_MS = 60 * 60_000;
export const LIST_SIZE = 10;
export const newId = () => randomBytes(6).toString('base64url');

type NumberKey = 'lastPurchaseOlderThanDays' | 'lastPurchaseWithinDays' | 'registeredWithinDays' | 'pointsExpiringWithinDays' | 'minBalance';
/** The bounds the marketer may type, from the segment schema (0 clears a filter, so at least 1). */
function numberFilter<K extends NumberKey>(key: K) {
  const field = segmentSchema.shape[key].unwrap();
  return { key, min: Math.max(1, field.minValue ?? 1), max: field.maxValue ?? Number.MAX_SAFE_INTEGER };
}
/** Filters that take a number, by their short code in callback data. */
export const NUMBERS = {
  o: numberFilter('lastPurchaseOlderThanDays'),
  w: numberFilter('lastPurchaseWithinDays'),
  r: numberFilter('registeredWithinDays'),
  e: numberFilter('pointsExpiringWithinDays'),
  b: numberFilter('minBalance'),
} as const;
export type NumberCode = keyof typeof NUMBERS;
/** Filters that list values to pick from. */
export const LISTS = { t: 'tiers', l: 'languages', s: 'stores', n: 'npsGroups' } as const;
export type ListCode = keyof typeof LISTS;
export const FLAGS = { bd: 'birthdayThisMonth', np: 'neverPurchased' } as const;
export type FlagCode = keyof typeof FLAGS;

const messageSchema = z.object({
  text: z.string(),
  entities: z.array(z.looseObject({ type: z.string(), offset: z.number(), length: z.number() })),
  photoFileId: z.string().nullable(),
});
const buttonSchema = z.object({ text: z.string(), url: z.string() });

const wizardSchema = z.object({
  id: z.string(),
  step: z.enum(['compose', 'button', 'buttonUrl', 'buttonLabel', 'audience', 'number', 'schedule', 'done']),
  content: messageSchema.optional(),
  /** Which message the compose and button steps are filling: the broadcast's (A, the default) or variant B. */
  part: z.enum(['A', 'B']).optional(),
  /** The A/B test's second message with its own button; null or absent: one message for all. */
  variantB: messageSchema.extend({ button: buttonSchema.nullable() }).nullable().optional(),
  /** Percent held back as the control group; absent: the program's default. */
  controlPercent: z.int().min(0).max(MAX_CONTROL_PERCENT).optional(),
  buttonUrl: z.string().optional(),
  button: buttonSchema.nullable().optional(),
  /** Validated by the domain's one segment schema: a stored segment of another shape is no wizard. */
  segment: segmentSchema,
  numberFor: z.enum(Object.keys(NUMBERS) as [NumberCode, ...NumberCode[]]).optional(),
  /** The list the picker menu (audience.ts) shows. */
  pickerFor: z.enum(Object.keys(LISTS) as [ListCode, ...ListCode[]]).optional(),
  /** The reward of the personal offer (a free coupon for each member); null or absent: none. */
  offer: z.string().nullable().optional(),
  /** `survey`: the audience builder opened from /nps, to send the NPS survey instead of a message. */
  mode: z.enum(['message', 'survey']).optional(),
  touchedAt: z.number(),
});
export type Wizard = z.infer<typeof wizardSchema>;

/** What every broadcast screen is built with: the role check, the wizard's row, the shared answers. */
export function broadcastKit(deps: BotDeps) {
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
  // Its compose dialog (compose-dialog.ts) checks the wizard at each answer, and ends without it.
  const clear = (ctx: BotContext) => ctx.sessions.delete('broadcast');
  const dropButtons = (ctx: BotContext) => ctx.editMessageReplyMarkup().catch(() => undefined);
  const cancelKeyboard = (ctx: BotContext, wizard: Wizard) => new InlineKeyboard().text(ctx.t('common.cancel'), encodeCallback('bc:no', wizard.id));

  /** Domain refusals as answers in the marketer's words; anything else goes on to bot.catch. */
  const guarded = domainErrorGuard(async (ctx, error) => {
    const key = `broadcast.errors.${error.code}`;
    const own = ctx.t(key, { ...error.details });
    const text = own === key ? errorText(ctx, error) : own;
    if (ctx.callbackQuery) await ack(ctx, text, true);
    else await ctx.reply(text, { parse_mode: 'HTML' });
  });

  /** The open wizard the button belongs to, at one of `steps`; `mode`: only a broadcast's (or only a survey's) buttons. */
  async function current(ctx: BotContext, id: string, steps: Wizard['step'][], mode?: 'message' | 'survey'): Promise<Wizard | null> {
    const wizard = await load(ctx);
    if (wizard && wizard.id === id && steps.includes(wizard.step) && (mode === undefined || (wizard.mode ?? 'message') === mode)) return wizard;
    await ack(ctx, ctx.t('common.stale_button'));
    return null;
  }

  return { deps, domain, program, composer, privateChats, marketerOnly, author, load, save, clear, dropButtons, cancelKeyboard, guarded, current };
}
export type BroadcastKit = ReturnType<typeof broadcastKit>;

/** The callback data of the buttons on the message a button was tapped on. */
export function inlineData(ctx: BotContext): string[] {
  const rows = ctx.callbackQuery?.message?.reply_markup?.inline_keyboard ?? [];
  return rows.flat().flatMap((button) => ('callback_data' in button && button.callback_data ? [button.callback_data] : []));
}
