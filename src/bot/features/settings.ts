import { Composer, InlineKeyboard, InputFile } from 'grammy';
import type { Member } from '../../domain/members/member.js';
import { deleteMember, exportMemberData, setLocale, setNotifications } from '../../domain/members/settings.js';
import { isLocale } from '../../domain/program.js';
import { type Buttons, forActiveMembers } from '../buttons.js';
import { callbackData } from '../callback-data.js';
import type { BotContext, BotDeps } from '../context.js';
import { languageKeyboard, mainMenu } from '../keyboards.js';
import { useMember } from '../middleware.js';

/** Settings: language, notifications, and the member's own data (export, delete). */
export function settingsFeature(deps: BotDeps, buttons: Buttons): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  const { domain, i18n } = deps;

  function settingsScreen(ctx: BotContext, member: Member) {
    const { t } = ctx;
    return {
      text: t('settings.title', {
        language: t('language.name'),
        notifications: t(member.notificationsEnabled ? 'settings.on' : 'settings.off'),
      }),
      keyboard: new InlineKeyboard()
        .text(t('settings.language'), callbackData('set', 'lang'))
        .row()
        .text(
          t(member.notificationsEnabled ? 'settings.notifications_off' : 'settings.notifications_on'),
          callbackData('set', 'notif', member.notificationsEnabled ? 'off' : 'on'),
        )
        .row()
        .text(t('settings.my_data'), callbackData('set', 'data')),
    };
  }

  async function editTo(ctx: BotContext, text: string, keyboard?: InlineKeyboard) {
    await ctx.editMessageText(text, { parse_mode: 'HTML', ...(keyboard ? { reply_markup: keyboard } : {}) });
  }

  const active = composer.filter((ctx) => ctx.member?.status === 'ACTIVE');

  const showSettings = async (ctx: BotContext) => {
    const { text, keyboard } = settingsScreen(ctx, ctx.member as Member);
    await ctx.reply(text, { parse_mode: 'HTML', reply_markup: keyboard });
  };
  active.command('settings', showSettings);
  buttons.on('menu.settings', forActiveMembers(showSettings));

  active.callbackQuery('set:home', async (ctx) => {
    const { text, keyboard } = settingsScreen(ctx, ctx.member as Member);
    await ctx.answerCallbackQuery();
    await editTo(ctx, text, keyboard);
  });

  active.callbackQuery('set:lang', async (ctx) => {
    await ctx.answerCallbackQuery();
    await editTo(ctx, ctx.t('language.prompt'), languageKeyboard(i18n, 'set:lang').row().text(ctx.t('common.back'), callbackData('set', 'home')));
  });

  active.callbackQuery(/^set:lang:(\w+)$/, async (ctx) => {
    const locale = ctx.match[1];
    if (!isLocale(locale)) return ctx.answerCallbackQuery({ text: ctx.t('common.stale_button') });
    const member = await setLocale(domain, ctx.from.id, locale);
    useMember(ctx, member, deps);
    await ctx.answerCallbackQuery({ text: ctx.t('language.changed') });
    const { text, keyboard } = settingsScreen(ctx, member);
    await editTo(ctx, text, keyboard);
    // The reply keyboard is part of the language too.
    await ctx.reply(ctx.t('language.changed'), { reply_markup: mainMenu(ctx.t, deps.domain.program) });
  });

  active.callbackQuery(/^set:notif:(on|off)$/, async (ctx) => {
    const enabled = ctx.match[1] === 'on';
    const member = await setNotifications(domain, ctx.from.id, enabled);
    await ctx.answerCallbackQuery({ text: ctx.t(enabled ? 'settings.notifications_changed_on' : 'settings.notifications_changed_off') });
    const { text, keyboard } = settingsScreen(ctx, member);
    await editTo(ctx, text, keyboard);
  });

  const dataKeyboard = (ctx: BotContext) =>
    new InlineKeyboard()
      .text(ctx.t('settings.export'), callbackData('set', 'export'))
      .row()
      .text(ctx.t('settings.delete'), callbackData('set', 'del'))
      .row()
      .text(ctx.t('common.back'), callbackData('set', 'home'));

  active.callbackQuery('set:data', async (ctx) => {
    await ctx.answerCallbackQuery();
    await editTo(ctx, ctx.t('settings.data_title'), dataKeyboard(ctx));
  });

  active.callbackQuery('set:export', async (ctx) => {
    const data = await exportMemberData(domain, ctx.from.id);
    await ctx.answerCallbackQuery();
    await ctx.replyWithDocument(new InputFile(Buffer.from(JSON.stringify(data, null, 2)), `my-data-${data.member.cardCode}.json`), {
      caption: ctx.t('settings.export_caption'),
    });
  });

  active.callbackQuery('set:del', async (ctx) => {
    await ctx.answerCallbackQuery();
    await editTo(
      ctx,
      ctx.t('settings.delete_confirm', {
        points: ctx.t('common.points', { count: (ctx.member as Member).balance }),
        days: ctx.t('tasks.days', { count: deps.domain.fingerprints.retentionDays }),
      }),
      new InlineKeyboard()
        .text(ctx.t('settings.delete_yes'), callbackData('set', 'del', 'yes'))
        .row()
        .text(ctx.t('common.cancel'), callbackData('set', 'data')),
    );
  });

  active.callbackQuery('set:del:yes', async (ctx) => {
    await deleteMember(domain, ctx.from.id);
    await ctx.answerCallbackQuery();
    await ctx.editMessageReplyMarkup().catch(() => undefined);
    await ctx.reply(ctx.t('settings.deleted'), { reply_markup: { remove_keyboard: true } });
  });

  return composer;
}
