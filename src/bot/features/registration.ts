import { Composer, InlineKeyboard, Keyboard } from 'grammy';
import { formatCode } from '../../domain/codes.js';
import type { Member } from '../../domain/members/member.js';
import { acceptConsent, chooseLanguage, provideBirthday, provideName, providePhone, startRegistration } from '../../domain/members/registration.js';
import { suggestedName } from '../../domain/members/validation.js';
import { LOCALES } from '../../domain/program.js';
import { STORE_VISIT_PREFIX } from '../../domain/tasks/actions.js';
import { callbackArgs, encodeCallback, isCallback } from '../callback-data.js';
import type { BotContext, BotDeps } from '../context.js';
import type { I18n } from '../i18n.js';
import { mainMenu } from '../keyboards.js';
import { useMember } from '../middleware.js';
import type { Screens } from '../screens.js';
import { replyToStoreVisit } from './tasks/index.js';

/**
 * /start and the registration steps. The step lives on the member row, so each update is
 * routed by what the database says, not by anything kept in memory.
 *
 * Not a @grammyjs/conversations dialog (dialogs.ts), on purpose: the step must stay on the member
 * row (the domain checks it at every step, /start resumes from it, and it outlives what a dialog
 * does not: a DIALOGS_VERSION bump drops stored dialogs, and a staff dialog started meanwhile ends
 * every other open one), and it never expires, takes shared contacts and re-asks on anything
 * else. A dialog would only mirror the row, with a second write per answer.
 */
export function registrationFeature(deps: BotDeps, screens: Screens): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  const { domain, i18n } = deps;
  const privateChats = composer.chatType('private');

  const telegramName = (ctx: BotContext) => [ctx.from?.first_name, ctx.from?.last_name].filter(Boolean).join(' ').trim() || null;

  async function prompt(ctx: BotContext, member: Member): Promise<void> {
    const { t } = ctx;
    switch (member.registrationStep) {
      case 'LANGUAGE':
        await ctx.reply(`${t('registration.welcome', { program: domain.program.name[ctx.locale] })}\n\n${t('language.prompt')}`, {
          parse_mode: 'HTML',
          reply_markup: languageKeyboard(i18n),
        });
        return;
      case 'CONSENT':
        await ctx.reply(
          t('registration.consent', {
            url: domain.program.policy.url,
            version: domain.program.policy.version,
            days: t('tasks.days', { count: domain.fingerprints.retentionDays }),
          }),
          {
            parse_mode: 'HTML',
            link_preview_options: { is_disabled: true },
            reply_markup: new InlineKeyboard()
              .text(t('registration.consent_accept'), encodeCallback('reg:consent', 'yes'))
              .text(t('registration.consent_decline'), encodeCallback('reg:consent', 'no')),
          },
        );
        return;
      case 'PHONE':
        await ctx.reply(t('registration.phone'), {
          reply_markup: new Keyboard().requestContact(t('registration.phone_button')).resized(),
        });
        return;
      case 'NAME': {
        // Only a name the next step accepts is offered: "Анна 🌸" is suggested as "Анна".
        const suggestion = suggestedName(member.name ?? telegramName(ctx));
        await ctx.reply(t(suggestion ? 'registration.name' : 'registration.name_typed'), {
          reply_markup: suggestion ? new Keyboard().text(suggestion).resized() : { remove_keyboard: true },
        });
        return;
      }
      case 'BIRTHDAY': {
        // A gift is promised only when the program gives one.
        const { birthday } = domain.program.notifications;
        const lines = [t('registration.birthday')];
        if (birthday.enabled && birthday.points > 0) lines.push(t('registration.birthday_gift', { points: t('common.points', { count: birthday.points }) }));
        const coupon = birthday.enabled && birthday.reward !== null ? domain.program.rewards.catalogue.find((r) => r.code === birthday.reward) : undefined;
        if (coupon) lines.push(t('registration.birthday_coupon', { title: coupon.title[ctx.locale] }));
        const text = lines.join(' ');
        await ctx.reply(text, {
          reply_markup: new Keyboard().text(t('registration.birthday_skip')).resized(),
        });
        return;
      }
      default:
        return;
    }
  }

  /** After a step succeeded: the next prompt, or the welcome when the last step completed. */
  async function advance(ctx: BotContext, member: Member): Promise<void> {
    useMember(ctx, member, deps);
    await prompt(ctx, member);
  }

  privateChats.command('start', async (ctx) => {
    const payload = ctx.match.trim() || null;
    const result = await startRegistration(domain, {
      telegramId: ctx.from.id,
      locale: ctx.locale,
      telegramName: telegramName(ctx),
      payload,
    });
    useMember(ctx, result.member, deps);
    if (result.kind === 'active') {
      // A store's QR (s_<store>): the visit counts, once per store and day.
      if (payload?.startsWith(STORE_VISIT_PREFIX)) return replyToStoreVisit(deps, ctx, result.member, payload.slice(STORE_VISIT_PREFIX.length));
      // A deep link into a screen (a broadcast's button): open it.
      const screen = screens.get(payload);
      if (screen) {
        await screen(ctx);
        return;
      }
      await ctx.reply(ctx.t('registration.already', { name: result.member.name ?? '' }), { reply_markup: mainMenu(ctx.t, deps.domain.program) });
      return;
    }
    if (!result.created && result.member.registrationStep !== 'LANGUAGE') await ctx.reply(ctx.t('registration.resume'));
    await prompt(ctx, result.member);
  });

  // Registration's buttons go through the callback codec: data that is not exactly one of them
  // (an unknown language, a forged answer) is no button of this feature (fallback.ts answers it).
  const taps = composer.on('callback_query:data');
  taps.filter(isCallback('reg:lang'), async (ctx) => {
    const [locale] = callbackArgs(ctx, 'reg:lang');
    if (ctx.member?.status !== 'REGISTERING') {
      await ctx.answerCallbackQuery({ text: ctx.t('common.stale_button') });
      return;
    }
    const member = await chooseLanguage(domain, ctx.from.id, locale);
    useMember(ctx, member, deps);
    await ctx.answerCallbackQuery({ text: ctx.t('language.changed') });
    await ctx.editMessageReplyMarkup().catch(() => undefined);
    await prompt(ctx, member);
  });

  taps.filter(isCallback('reg:consent'), async (ctx) => {
    if (ctx.member?.status !== 'REGISTERING' || ctx.member.registrationStep !== 'CONSENT') {
      await ctx.answerCallbackQuery({ text: ctx.t('common.stale_button') });
      return;
    }
    if (callbackArgs(ctx, 'reg:consent')[0] === 'no') {
      await ctx.answerCallbackQuery();
      await ctx.reply(ctx.t('registration.consent_declined'));
      return;
    }
    const member = await acceptConsent(domain, ctx.from.id);
    await ctx.answerCallbackQuery();
    await ctx.editMessageReplyMarkup().catch(() => undefined);
    await advance(ctx, member);
  });

  // Everything else a registering member sends is an answer to the current step.
  const registering = privateChats.filter((ctx) => ctx.member?.status === 'REGISTERING');

  registering.on('message:contact', async (ctx) => {
    if (ctx.member?.registrationStep !== 'PHONE') return prompt(ctx, ctx.member as Member);
    const { contact } = ctx.message;
    const member = await providePhone(domain, ctx.from.id, { kind: 'contact', phone: contact.phone_number, contactUserId: contact.user_id ?? null });
    await advance(ctx, member);
  });

  registering.on('message:text', async (ctx) => {
    const member = ctx.member as Member;
    const text = ctx.message.text;
    switch (member.registrationStep) {
      case 'PHONE':
        return advance(ctx, await providePhone(domain, ctx.from.id, { kind: 'typed', text }));
      case 'NAME':
        return advance(ctx, await provideName(domain, ctx.from.id, text));
      case 'BIRTHDAY': {
        const skip = i18n.all('registration.birthday_skip').includes(text.trim());
        const { member: active, welcomeBonus } = await provideBirthday(domain, ctx.from.id, skip ? null : text);
        useMember(ctx, active, deps);
        const lines = [ctx.t('registration.done', { name: active.name ?? '', code: formatCode(active.code) })];
        if (welcomeBonus > 0) lines.push(ctx.t('registration.welcome_bonus', { points: ctx.t('common.points', { count: welcomeBonus }) }));
        await ctx.reply(lines.join('\n\n'), { parse_mode: 'HTML', reply_markup: mainMenu(ctx.t, deps.domain.program) });
        return;
      }
      default:
        await ctx.reply(ctx.t('common.finish_registration'));
        return prompt(ctx, member);
    }
  });

  // Photos, stickers and the like during registration: repeat the current question.
  registering.on('message', (ctx) => prompt(ctx, ctx.member as Member));

  return composer;
}

/** Language buttons, each labelled in its own language. */
function languageKeyboard(i18n: I18n): InlineKeyboard {
  const keyboard = new InlineKeyboard();
  for (const locale of LOCALES) keyboard.text(i18n.t(locale)('language.name'), encodeCallback('reg:lang', locale));
  return keyboard;
}

export type { Member };
