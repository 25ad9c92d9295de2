import { GrammyError, InlineKeyboard } from 'grammy';
import { isDomainError } from '../../../domain/errors.js';
import { CATALOGUE_PAGE_SIZE, type CatalogueItem, listCatalogue } from '../../../domain/rewards/catalogue.js';
import { onlineShopFor } from '../../../domain/rewards/coupon.js';
import { REWARD_DESCRIPTION_MAX } from '../../../domain/rewards/definition.js';
import { takeReward } from '../../../domain/rewards/take-reward.js';
import { type Buttons, forActiveMembers } from '../../buttons.js';
import { callbackData } from '../../callback-data.js';
import type { BotContext } from '../../context.js';
import { popupText, sendCoupon } from '../../coupons.js';
import { ack } from '../../replies.js';
import type { Screens } from '../../screens.js';
import { type ActiveComposer, type RewardsKit, TEXT_MAX } from './kit.js';

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

/** The paged catalogue, a reward's card, and taking it after a confirmation. */
export function catalogueHandlers(active: ActiveComposer, kit: RewardsKit, screens: Screens, buttons: Buttons): void {
  const { domain, program, telegramId, loaded, points, title, dropButtons, answering, editOrReply } = kit;

  async function catalogueScreen(ctx: BotContext, page: number) {
    const catalogue = await listCatalogue(domain, loaded(ctx), page, CATALOGUE_PAGE_SIZE);
    const balance = points(ctx, catalogue.balance);
    const keyboard = new InlineKeyboard();
    if (catalogue.total === 0) {
      keyboard.text(ctx.t('rewards.my_coupons'), callbackData('cp', 'list'));
      return { text: ctx.t('rewards.empty', { balance }), keyboard };
    }
    const lines = [
      catalogue.pages > 1 ? ctx.t('rewards.title_paged', { page: catalogue.page + 1, pages: catalogue.pages, balance }) : ctx.t('rewards.title', { balance }),
      '',
    ];
    const first = catalogue.page * CATALOGUE_PAGE_SIZE;
    catalogue.items.forEach((item, index) => {
      const values = { n: first + index + 1, title: title(ctx, item.reward.title), cost: points(ctx, item.cost), missing: points(ctx, item.missing) };
      lines.push(ctx.t(item.affordable ? 'rewards.line' : 'rewards.line_missing', values));
      const label = ctx.t('rewards.button', { title: title(ctx, item.reward.title), cost: item.cost, interpolation: { escapeValue: false } });
      keyboard.text(`${item.affordable ? '🎁' : '🔒'} ${label}`, callbackData('rw', 'v', item.reward.code)).row();
    });
    lines.push('', ctx.t('rewards.hint'));
    if (catalogue.page > 0) keyboard.text(ctx.t('rewards.prev'), callbackData('rw', 'p', catalogue.page - 1));
    if (catalogue.page + 1 < catalogue.pages) keyboard.text(ctx.t('rewards.next'), callbackData('rw', 'p', catalogue.page + 1));
    if (catalogue.pages > 1) keyboard.row();
    keyboard.text(ctx.t('rewards.my_coupons'), callbackData('cp', 'list'));
    return { text: lines.join('\n').slice(0, TEXT_MAX), keyboard };
  }

  const showCatalogue = answering(async (ctx: BotContext) => {
    const { text, keyboard } = await catalogueScreen(ctx, 0);
    await ctx.reply(text, { parse_mode: 'HTML', reply_markup: keyboard });
  });
  screens.register('rewards', showCatalogue);
  active.command('rewards', showCatalogue);
  buttons.on('menu.rewards', forActiveMembers(showCatalogue));

  // From a reminder ("120 points expire on 31.12"): the catalogue as a new message below it.
  active.callbackQuery(
    'rw:open',
    answering(async (ctx) => {
      const { text, keyboard } = await catalogueScreen(ctx, 0);
      await ack(ctx);
      await ctx.reply(text, { parse_mode: 'HTML', reply_markup: keyboard });
    }),
  );

  active.callbackQuery(
    /^rw:p:(\d{1,4})$/,
    answering(async (ctx) => {
      const { text, keyboard } = await catalogueScreen(ctx, Number(ctx.match[1]));
      await ack(ctx);
      await editOrReply(ctx, text, keyboard);
    }),
  );

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

  active.callbackQuery(
    new RegExp(`^rw:v:${REWARD_CODE}$`),
    answering(async (ctx) => {
      const found = await offered(ctx, ctx.match[1] as string);
      if (!found) return ack(ctx, ctx.t('rewards.not_available'), true);
      const { item, balance } = found;
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
    }),
  );

  // "Take": a confirmation screen first; nothing is spent until it is confirmed.
  active.callbackQuery(
    new RegExp(`^rw:t:${REWARD_CODE}$`),
    answering(async (ctx) => {
      const found = await offered(ctx, ctx.match[1] as string);
      if (!found) return ack(ctx, ctx.t('rewards.not_available'), true);
      const { item, balance } = found;
      if (!item.affordable) return ack(ctx, popupText(ctx.t('rewards.need_more', { points: points(ctx, item.missing) })), true);
      await ack(ctx);
      await ctx.reply(
        ctx.t('rewards.confirm', {
          title: title(ctx, item.reward.title),
          cost: points(ctx, item.cost),
          balance: points(ctx, balance - item.cost),
          days: ctx.t('rewards.days', { count: item.reward.validityDays }),
        }),
        {
          parse_mode: 'HTML',
          reply_markup: new InlineKeyboard()
            .text(ctx.t('rewards.confirm_yes'), callbackData('rw', 'ok', item.reward.code))
            .text(ctx.t('common.cancel'), callbackData('rw', 'no')),
        },
      );
    }),
  );

  active.callbackQuery(
    new RegExp(`^rw:ok:${REWARD_CODE}$`),
    answering(async (ctx) => {
      const messageId = ctx.callbackQuery.message?.message_id;
      if (messageId === undefined) return ack(ctx, ctx.t('common.stale_button'));
      // The key is the confirmation message: a double tap, or a retry, takes once.
      let result: Awaited<ReturnType<typeof takeReward>>;
      try {
        result = await takeReward(domain, { telegramId: telegramId(ctx), rewardCode: ctx.match[1] as string, idempotencyKey: `tg-confirm:${messageId}` });
      } catch (error) {
        if (isDomainError(error)) await dropButtons(ctx);
        throw error;
      }
      if (result.replayed) {
        await ack(ctx, ctx.t('rewards.already_taken'), true);
        return;
      }
      await ack(ctx, ctx.t('rewards.taken'));
      await dropButtons(ctx);
      const onlineShopUrl = onlineShopFor(program, result.reward.code);
      await sendCoupon(ctx, { code: result.coupon.code, title: result.reward.title, expiresAt: result.coupon.expiresAt, onlineShopUrl }, [
        ctx.t('coupons.balance', { balance: points(ctx, result.balance) }),
      ]);
    }),
  );

  active.callbackQuery('rw:no', async (ctx) => {
    await ack(ctx, ctx.t('rewards.not_taken'));
    await dropButtons(ctx);
  });
}
