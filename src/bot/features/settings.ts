import { Menu, type MenuFlavor } from '@grammyjs/menu';
import { Composer, InputFile } from 'grammy';
import type { Member } from '../../domain/members/member.js';
import { deleteMember, exportMemberData, setLocale, setNotifications } from '../../domain/members/settings.js';
import { LOCALES, type Locale } from '../../domain/program.js';
import { type Buttons, forActiveMembers } from '../buttons.js';
import type { BotContext, BotDeps } from '../context.js';
import { mainMenu } from '../keyboards.js';
import { useMember } from '../middleware.js';
import { ack } from '../replies.js';

type MenuContext = BotContext & MenuFlavor;

/** The menus' ids: their buttons' data starts with them (`set/<row>/<column>//h<hash>`). */
const HOME = 'set';
const LANGUAGES = 'set-lang';
const DATA = 'set-data';
const ERASE = 'set-del';

/**
 * Settings: language, notifications, and the member's own data (export, delete), as one
 * @grammyjs/menu with three submenus on the same message.
 *
 * A button's data carries no argument, only its place and a hash of its label and of the
 * keyboard's shape as rendered for the tapper now, from the member loaded for this update. A
 * button that would read otherwise now (the notifications toggle after a change made elsewhere,
 * an older message, another language) is outdated: the tap is answered as stale and changes
 * nothing. Every action is the tapper's own, through the use cases, which re-check the member.
 * Only active members reach these menus (the `active` filter); anyone else's tap is stale.
 */
export function settingsFeature(deps: BotDeps, buttons: Buttons): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  const { domain, i18n } = deps;
  const member = (ctx: BotContext) => ctx.member as Member;
  /** The tapper: every action is on their own account (the `active` filter loaded it). */
  const sender = (ctx: BotContext) => ctx.from?.id as number;

  const options = {
    autoAnswer: false,
    onMenuOutdated: (ctx: MenuContext) => ack(ctx, ctx.t('common.stale_button')),
  };
  const home = new Menu<BotContext>(HOME, options);
  const languages = new Menu<BotContext>(LANGUAGES, options);
  const data = new Menu<BotContext>(DATA, options);
  const erase = new Menu<BotContext>(ERASE, options);

  const homeText = (ctx: BotContext) =>
    ctx.t('settings.title', {
      language: ctx.t('language.name'),
      notifications: ctx.t(member(ctx).notificationsEnabled ? 'settings.on' : 'settings.off'),
    });
  const eraseText = (ctx: BotContext) =>
    ctx.t('settings.delete_confirm', {
      points: ctx.t('common.points', { count: member(ctx).balance }),
      days: ctx.t('tasks.days', { count: domain.fingerprints.retentionDays }),
    });

  /** The same message becomes another screen: its text, and the menu `to` as its keyboard. */
  async function show(ctx: MenuContext, to: string, text: string) {
    ctx.menu.nav(to);
    await ctx.editMessageText(text, { parse_mode: 'HTML' });
  }

  home
    .text(
      (ctx) => ctx.t('settings.language'),
      async (ctx) => {
        await ack(ctx);
        await show(ctx, LANGUAGES, ctx.t('language.prompt'));
      },
    )
    .row()
    // The label says what a tap does for the state loaded now; a tap on a label that no longer
    // reads so (changed meanwhile) is outdated, so a late tap never flips it back.
    .text((ctx) => ctx.t(member(ctx).notificationsEnabled ? 'settings.notifications_off' : 'settings.notifications_on'), toggleNotifications)
    .row()
    .text(
      (ctx) => ctx.t('settings.my_data'),
      async (ctx) => {
        await ack(ctx);
        await show(ctx, DATA, ctx.t('settings.data_title'));
      },
    );

  for (const locale of LOCALES) languages.text(i18n.t(locale)('language.name'), (ctx) => chooseLanguage(ctx, locale));
  languages.row().text((ctx) => ctx.t('common.back'), backHome);

  data
    .text((ctx) => ctx.t('settings.export'), exportData)
    .row()
    .text(
      (ctx) => ctx.t('settings.delete'),
      async (ctx) => {
        await ack(ctx);
        await show(ctx, ERASE, eraseText(ctx));
      },
    )
    .row()
    .text((ctx) => ctx.t('common.back'), backHome);

  erase
    .text((ctx) => ctx.t('settings.delete_yes'), deleteAccount)
    .row()
    .text(
      (ctx) => ctx.t('common.cancel'),
      async (ctx) => {
        await ack(ctx);
        await show(ctx, DATA, ctx.t('settings.data_title'));
      },
    );
  home.register([languages, data, erase]);

  async function backHome(ctx: MenuContext) {
    await ack(ctx);
    await show(ctx, HOME, homeText(ctx));
  }

  async function chooseLanguage(ctx: MenuContext, locale: Locale) {
    useMember(ctx, await setLocale(domain, sender(ctx), locale), deps);
    await ack(ctx, ctx.t('language.changed'));
    await show(ctx, HOME, homeText(ctx));
    // The reply keyboard is part of the language too.
    await ctx.reply(ctx.t('language.changed'), { reply_markup: mainMenu(ctx.t, domain.program) });
  }

  async function toggleNotifications(ctx: MenuContext) {
    const enabled = !member(ctx).notificationsEnabled;
    useMember(ctx, await setNotifications(domain, sender(ctx), enabled), deps);
    await ack(ctx, ctx.t(enabled ? 'settings.notifications_changed_on' : 'settings.notifications_changed_off'));
    await show(ctx, HOME, homeText(ctx));
  }

  async function exportData(ctx: MenuContext) {
    const exported = await exportMemberData(domain, sender(ctx));
    await ack(ctx);
    await ctx.replyWithDocument(new InputFile(Buffer.from(JSON.stringify(exported, null, 2)), `my-data-${exported.member.cardCode}.json`), {
      caption: ctx.t('settings.export_caption'),
    });
  }

  async function deleteAccount(ctx: MenuContext) {
    await deleteMember(domain, sender(ctx));
    await ack(ctx);
    // The buttons go; a gone message is no reason to withhold the answer.
    await ctx.menu.close({ immediate: true }).catch(() => undefined);
    await ctx.reply(ctx.t('settings.deleted'), { reply_markup: { remove_keyboard: true } });
  }

  const active = composer.filter((ctx) => ctx.member?.status === 'ACTIVE');
  active.use(home);

  const showSettings = async (ctx: BotContext) => {
    await ctx.reply(homeText(ctx), { parse_mode: 'HTML', reply_markup: home });
  };
  active.command('settings', showSettings);
  // The reply-keyboard button is routed ahead of the features (buttons.ts): the menu's own
  // middleware, which renders it into the reply, runs around the handler there.
  const withMenu = home.middleware();
  buttons.on(
    'menu.settings',
    forActiveMembers((ctx) => withMenu(ctx, () => showSettings(ctx))),
  );

  return composer;
}
