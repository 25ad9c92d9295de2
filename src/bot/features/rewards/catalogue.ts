import { Menu, type MenuFlavor } from '@grammyjs/menu';
import { GrammyError, InlineKeyboard } from 'grammy';
import { isDomainError } from '../../../domain/errors.js';
import { CATALOGUE_PAGE_SIZE, type CatalogueItem, type CataloguePage, listCatalogue } from '../../../domain/rewards/catalogue.js';
import { onlineShopFor } from '../../../domain/rewards/coupon.js';
import { REWARD_DESCRIPTION_MAX } from '../../../domain/rewards/definition.js';
import { takeReward } from '../../../domain/rewards/take-reward.js';
import { type Buttons, forActiveMembers } from '../../buttons.js';
import { callbackData } from '../../callback-data.js';
import type { BotContext } from '../../context.js';
import { popupText, sendCoupon } from '../../coupons.js';
import { ack } from '../../replies.js';
import type { Screens } from '../../screens.js';
import { type ActiveComposer, type CouponsInPlace, type RewardsKit, TEXT_MAX } from './kit.js';

type MenuContext = BotContext & MenuFlavor;

const CAPTION_MAX = 1024;
/** The whole catalogue in one read, to find one reward the member may take. */
const EVERYTHING = 10_000;
const REWARD_CODE = '([a-z0-9][a-z0-9_-]{0,31})';

/** Caption and message limits; the description (the only long part) is shortened to fit. */
function fitText(build: (description: string) => string, description: string, max: number): string {
  let text = build(description);
  if (text.length <= max) return text;
  let cut = description.slice(0, Math.max(0, description.length - (text.length - max) - 1));
  while (cut.length > 0) {
    text = build(`${cut}…`);
    if (text.length <= max) return text;
    cut = cut.slice(0, Math.max(0, cut.length - (text.length - max)));
  }
  return build('').slice(0, max);
}

/** The menus' ids: their buttons' data starts with them (`rw/<row>/<column>/<payload>/h<hash>`). */
const CATALOGUE = 'rw';
const TAKE = 'rw-take';
const PAGE = /^\d{1,4}$/;
const REWARD = new RegExp(`^${REWARD_CODE}$`);

/**
 * The paged catalogue, a reward's card, and taking it after a confirmation.
 *
 * The catalogue and the confirmation are @grammyjs/menus. A catalogue button carries only the
 * page it was shown on; a tap renders that page again for this member now, and a button whose
 * label or place differs (a reward gone, taken to its limit, repriced) is outdated: answered as
 * stale, nothing opened. The confirmation's buttons carry the reward's code, which is only a
 * hint: `takeReward` checks the member, the reward and the balance again, and the confirmation
 * message is its idempotency key, so a double tap takes once.
 */
export function catalogueHandlers(active: ActiveComposer, kit: RewardsKit, screens: Screens, buttons: Buttons, showCoupons: CouponsInPlace): void {
  const { domain, program, telegramId, loaded, points, title, answering } = kit;

  // Per update: the page a handler moves to (else the tapped button's), the catalogue read once
  // per page (the text and the menu show the same read), and the reward being confirmed.
  const turnedTo = new WeakMap<BotContext, number>();
  const listed = new WeakMap<BotContext, Map<number, Promise<CataloguePage>>>();
  const confirming = new WeakMap<BotContext, string>();

  const pageShown = (ctx: BotContext) => turnedTo.get(ctx) ?? (typeof ctx.match === 'string' && PAGE.test(ctx.match) ? Number(ctx.match) : 0);
  function catalogueOf(ctx: BotContext): Promise<CataloguePage> {
    const page = pageShown(ctx);
    const pages = listed.get(ctx) ?? new Map<number, Promise<CataloguePage>>();
    listed.set(ctx, pages);
    const read = pages.get(page) ?? listCatalogue(domain, loaded(ctx), page, CATALOGUE_PAGE_SIZE);
    pages.set(page, read);
    return read;
  }

  const stale = (ctx: BotContext) => ack(ctx, ctx.t('common.stale_button'));
  const catalogueMenu = new Menu<BotContext>(CATALOGUE, { autoAnswer: false, onMenuOutdated: stale });
  catalogueMenu.dynamic(async (ctx, range) => {
    const catalogue = await catalogueOf(ctx);
    const payload = String(catalogue.page);
    for (const item of catalogue.items) {
      const label = ctx.t('rewards.button', { title: title(ctx, item.reward.title), cost: item.cost, interpolation: { escapeValue: false } });
      range
        .text(
          { text: `${item.affordable ? '🎁' : '🔒'} ${label}`, payload },
          answering((tap) => showCard(tap, item, catalogue.balance)),
        )
        .row();
    }
    if (catalogue.page > 0)
      range.text(
        { text: ctx.t('rewards.prev'), payload },
        answering((tap) => turnTo(tap, catalogue.page - 1)),
      );
    if (catalogue.page + 1 < catalogue.pages)
      range.text(
        { text: ctx.t('rewards.next'), payload },
        answering((tap) => turnTo(tap, catalogue.page + 1)),
      );
    if (catalogue.pages > 1) range.row();
    range.text({ text: ctx.t('rewards.my_coupons'), payload }, answering(showCoupons));
  });

  const takeMenu = new Menu<BotContext>(TAKE, { autoAnswer: false, onMenuOutdated: stale });
  const rewardConfirmed = (ctx: BotContext) => confirming.get(ctx) ?? (typeof ctx.match === 'string' ? ctx.match : '');
  takeMenu
    .text({ text: (ctx) => ctx.t('rewards.confirm_yes'), payload: rewardConfirmed }, answering(takeConfirmed))
    .text({ text: (ctx) => ctx.t('common.cancel'), payload: rewardConfirmed }, async (ctx) => {
      await ack(ctx, ctx.t('rewards.not_taken'));
      await closeMenu(ctx);
    });

  active.use(catalogueMenu, takeMenu);
  // Screens opened from outside this composer (reply-keyboard buttons and deep links are routed
  // ahead of the features) run inside the menus' middleware, which renders them into the reply.
  const catalogueMw = catalogueMenu.middleware();
  const withMenu = (handler: (ctx: BotContext) => Promise<unknown>) => async (ctx: BotContext) => {
    await catalogueMw(ctx, async () => {
      await handler(ctx);
    });
  };

  /** The catalogue page's text; its keyboard is the menu, rendered from the same read. */
  async function catalogueText(ctx: BotContext): Promise<string> {
    const catalogue = await catalogueOf(ctx);
    const balance = points(ctx, catalogue.balance);
    if (catalogue.total === 0) return ctx.t('rewards.empty', { balance });
    const lines = [
      catalogue.pages > 1 ? ctx.t('rewards.title_paged', { page: catalogue.page + 1, pages: catalogue.pages, balance }) : ctx.t('rewards.title', { balance }),
      '',
    ];
    const first = catalogue.page * CATALOGUE_PAGE_SIZE;
    catalogue.items.forEach((item, index) => {
      const values = { n: first + index + 1, title: title(ctx, item.reward.title), cost: points(ctx, item.cost), missing: points(ctx, item.missing) };
      lines.push(ctx.t(item.affordable ? 'rewards.line' : 'rewards.line_missing', values));
    });
    lines.push('', ctx.t('rewards.hint'));
    return lines.join('\n').slice(0, TEXT_MAX);
  }

  const showCatalogue = withMenu(
    answering(async (ctx: BotContext) => {
      turnedTo.set(ctx, 0);
      await ctx.reply(await catalogueText(ctx), { parse_mode: 'HTML', reply_markup: catalogueMenu });
    }),
  );
  screens.register('rewards', showCatalogue);
  active.command('rewards', showCatalogue);
  buttons.on('menu.rewards', forActiveMembers(showCatalogue));

  // From a reminder ("120 points expire on 31.12"): the catalogue as a new message below it.
  active.callbackQuery(
    'rw:open',
    answering(async (ctx) => {
      turnedTo.set(ctx, 0);
      const text = await catalogueText(ctx);
      await ack(ctx);
      await ctx.reply(text, { parse_mode: 'HTML', reply_markup: catalogueMenu });
    }),
  );

  // From "My coupons": the catalogue in place of the list.
  active.callbackQuery(
    /^rw:p:(\d{1,4})$/,
    answering(async (ctx) => {
      turnedTo.set(ctx, Number(ctx.match[1]));
      const text = await catalogueText(ctx);
      await ack(ctx);
      const message = ctx.callbackQuery.message;
      if (!message || 'photo' in message) await ctx.reply(text, { parse_mode: 'HTML', reply_markup: catalogueMenu });
      else await ctx.editMessageText(text, { parse_mode: 'HTML', reply_markup: catalogueMenu });
    }),
  );

  async function turnTo(ctx: MenuContext, page: number) {
    turnedTo.set(ctx, page);
    const text = await catalogueText(ctx);
    await ack(ctx);
    // The menu follows the edit, rendered for the new page.
    await ctx.editMessageText(text, { parse_mode: 'HTML' });
  }

  /** The menu's keyboard goes (an edit without markup would get the menu back). */
  const closeMenu = (ctx: MenuContext) => ctx.menu.close({ immediate: true }).catch(() => undefined);

  /** The reward as this member's catalogue has it now (null: not theirs to take at the moment). */
  async function offered(ctx: BotContext, code: string): Promise<{ item: CatalogueItem; balance: number } | null> {
    const catalogue = await listCatalogue(domain, loaded(ctx), 0, EVERYTHING);
    const item = catalogue.items.find((candidate) => candidate.reward.code === code);
    return item ? { item, balance: catalogue.balance } : null;
  }

  function rewardCard(ctx: BotContext, item: CatalogueItem, balance: number, max: number): string {
    const { reward } = item;
    const build = (description: string) => {
      const lines = [ctx.t('rewards.card', { title: title(ctx, reward.title), description, cost: points(ctx, item.cost), balance: points(ctx, balance) })];
      if (!item.affordable) lines.push(ctx.t('rewards.card_missing', { missing: points(ctx, item.missing) }));
      lines.push(ctx.t('rewards.card_validity', { days: ctx.t('rewards.days', { count: reward.validityDays }) }));
      if (reward.stock !== null) lines.push(ctx.t('rewards.card_stock', { count: reward.stock }));
      return lines.join('\n');
    };
    return fitText(build, title(ctx, reward.description).slice(0, REWARD_DESCRIPTION_MAX), max);
  }

  /** A reward's card as a new message: a photo with a caption when it has an image, else text. */
  async function showCard(ctx: BotContext, item: CatalogueItem, balance: number) {
    const keyboard = item.affordable
      ? new InlineKeyboard().text(ctx.t('rewards.take', { cost: points(ctx, item.cost) }), callbackData('rw', 't', item.reward.code))
      : undefined;
    const markup = keyboard ? { reply_markup: keyboard } : {};
    await ack(ctx);
    if (item.reward.imageUrl) {
      try {
        await ctx.replyWithPhoto(item.reward.imageUrl, { caption: rewardCard(ctx, item, balance, CAPTION_MAX), parse_mode: 'HTML', ...markup });
        return;
      } catch (error) {
        // An image Telegram cannot fetch must not hide the reward: the text version follows.
        if (!(error instanceof GrammyError && error.error_code === 400)) throw error;
        ctx.log.warn({ reward: item.reward.code, err: error }, 'reward image refused by Telegram');
      }
    }
    await ctx.reply(rewardCard(ctx, item, balance, TEXT_MAX), { parse_mode: 'HTML', ...markup });
  }

  // "Take": a confirmation screen first; nothing is spent until it is confirmed.
  active.callbackQuery(
    new RegExp(`^rw:t:${REWARD_CODE}$`),
    answering(async (ctx) => {
      const found = await offered(ctx, ctx.match[1] as string);
      if (!found) return ack(ctx, ctx.t('rewards.not_available'), true);
      const { item, balance } = found;
      if (!item.affordable) return ack(ctx, popupText(ctx.t('rewards.need_more', { points: points(ctx, item.missing) })), true);
      await ack(ctx);
      confirming.set(ctx, item.reward.code);
      await ctx.reply(
        ctx.t('rewards.confirm', {
          title: title(ctx, item.reward.title),
          cost: points(ctx, item.cost),
          balance: points(ctx, balance - item.cost),
          days: ctx.t('rewards.days', { count: item.reward.validityDays }),
        }),
        { parse_mode: 'HTML', reply_markup: takeMenu },
      );
    }),
  );

  async function takeConfirmed(ctx: MenuContext) {
    const rewardCode = rewardConfirmed(ctx);
    const messageId = ctx.callbackQuery?.message?.message_id;
    if (messageId === undefined || !REWARD.test(rewardCode)) return stale(ctx);
    // The key is the confirmation message: a double tap, or a retry, takes once.
    let result: Awaited<ReturnType<typeof takeReward>>;
    try {
      result = await takeReward(domain, { telegramId: telegramId(ctx), rewardCode, idempotencyKey: `tg-confirm:${messageId}` });
    } catch (error) {
      if (isDomainError(error)) await closeMenu(ctx);
      throw error;
    }
    if (result.replayed) {
      await ack(ctx, ctx.t('rewards.already_taken'), true);
      return;
    }
    await ack(ctx, ctx.t('rewards.taken'));
    await closeMenu(ctx);
    const onlineShopUrl = onlineShopFor(program, result.reward.code);
    await sendCoupon(ctx, { code: result.coupon.code, title: result.reward.title, expiresAt: result.coupon.expiresAt, onlineShopUrl }, [
      ctx.t('coupons.balance', { balance: points(ctx, result.balance) }),
    ]);
  }
}
