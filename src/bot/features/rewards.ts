import { Composer, GrammyError, InlineKeyboard } from 'grammy';
import { isDomainError } from '../../domain/errors.js';
import type { Member } from '../../domain/members/member.js';
import type { Localized } from '../../domain/program.js';
import { CATALOGUE_PAGE_SIZE, type CatalogueItem, listCatalogue } from '../../domain/rewards/catalogue.js';
import type { CouponView } from '../../domain/rewards/coupon.js';
import { onlineShopFor } from '../../domain/rewards/coupon.js';
import { REWARD_DESCRIPTION_MAX } from '../../domain/rewards/definition.js';
import { cancelCoupon, listMyCoupons } from '../../domain/rewards/my-coupons.js';
import { takeReward } from '../../domain/rewards/take-reward.js';
import { type Buttons, forActiveMembers } from '../buttons.js';
import { callbackData } from '../callback-data.js';
import type { BotContext, BotDeps } from '../context.js';
import { popupText, rewardErrorText, sendCoupon, showOwnCoupon } from '../coupons.js';
import { ack } from '../replies.js';
import type { Screens } from '../screens.js';

/**
 * Rewards for customers: the paged catalogue, a reward's card (photo + caption when it has an
 * image, else text), taking it after a confirmation, and "My coupons" (show again, cancel).
 *
 * Callback data only names what was tapped; every handler asks the domain again, as this
 * member: the catalogue decides what they may take, `takeReward` and `cancelCoupon` check
 * everything once more, and coupons are looked up among the member's own.
 */

const CAPTION_MAX = 1024;
const TEXT_MAX = 4096;
/** The whole catalogue in one read, to find one reward the member may take. */
const EVERYTHING = 10_000;
const MAX_ACTIVE_SHOWN = 10;
const MAX_PAST_SHOWN = 5;
const REWARD_CODE = '([a-z0-9][a-z0-9_-]{0,31})';
const COUPON_ID = '(\\d{1,9})';

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

export function rewardsFeature(deps: BotDeps, screens: Screens, buttons: Buttons): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  const { domain } = deps;
  const { program } = domain;
  const active = composer.filter((ctx) => ctx.member?.status === 'ACTIVE');

  const telegramId = (ctx: BotContext) => ctx.from?.id as number;
  /** Screens read the member loaded for this update (`active` guarantees one); writes pass the id. */
  const loaded = (ctx: BotContext) => ctx.member as Member;
  const points = (ctx: BotContext, count: number) => ctx.t('common.points', { count });
  const title = (ctx: BotContext, localized: Localized) => localized[ctx.locale];
  const dropButtons = (ctx: BotContext) => ctx.editMessageReplyMarkup().catch(() => undefined);

  /** Domain refusals become a popup (button) or a message (text), worded for customers. */
  function answering<C extends BotContext>(handler: (ctx: C) => Promise<unknown>) {
    return async (ctx: C) => {
      try {
        await handler(ctx);
      } catch (error) {
        if (!isDomainError(error)) throw error;
        ctx.log.info({ code: error.code }, 'domain error answered');
        // Someone else's coupon, or none: the same answer, so nothing is learnt about others.
        const text =
          error.code === 'FORBIDDEN' || error.code === 'COUPON_NOT_FOUND' ? ctx.t('coupons.not_found') : rewardErrorText(ctx, error, program, 'customer');
        if (ctx.callbackQuery) await ack(ctx, popupText(text), true);
        else await ctx.reply(text, { parse_mode: 'HTML' });
      }
    };
  }

  async function editOrReply(ctx: BotContext, text: string, keyboard: InlineKeyboard) {
    const message = ctx.callbackQuery?.message;
    if (!message || 'photo' in message) {
      await ctx.reply(text, { parse_mode: 'HTML', reply_markup: keyboard });
      return;
    }
    await ctx.editMessageText(text, { parse_mode: 'HTML', reply_markup: keyboard });
  }

  // --- the catalogue ---------------------------------------------------------------------------

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

  // --- my coupons -------------------------------------------------------------------------------

  function couponsScreen(ctx: BotContext, mine: Awaited<ReturnType<typeof listMyCoupons>>) {
    const keyboard = new InlineKeyboard();
    if (mine.active.length + mine.used.length + mine.expired.length === 0) {
      keyboard.text(ctx.t('coupons.rewards'), callbackData('rw', 'p', 0));
      return { text: ctx.t('coupons.empty'), keyboard };
    }
    const lines = [ctx.t('coupons.title')];
    const section = (heading: string, coupons: CouponView[], limit: number, line: (coupon: CouponView) => string) => {
      if (coupons.length === 0) return;
      lines.push('', ctx.t(heading), ...coupons.slice(0, limit).map(line));
      if (coupons.length > limit) lines.push(ctx.t('coupons.more', { count: coupons.length - limit }));
    };
    section('coupons.active', mine.active, MAX_ACTIVE_SHOWN, (coupon) =>
      ctx.t('coupons.line_active', { title: title(ctx, coupon.reward.title), code: coupon.displayCode, expires: ctx.fmt.dateTime(coupon.expiresAt) }),
    );
    section('coupons.used', mine.used, MAX_PAST_SHOWN, (coupon) => {
      const values = {
        title: title(ctx, coupon.reward.title),
        date: ctx.fmt.dateTime(coupon.redeemedAt ?? coupon.issuedAt),
        store: coupon.redeemedStoreName ?? '',
      };
      return ctx.t(coupon.redeemedStoreName ? 'coupons.line_used_at' : 'coupons.line_used', values);
    });
    section('coupons.expired', mine.expired, MAX_PAST_SHOWN, (coupon) =>
      ctx.t('coupons.line_expired', { title: title(ctx, coupon.reward.title), date: ctx.fmt.date(coupon.expiresAt) }),
    );
    for (const coupon of mine.active.slice(0, MAX_ACTIVE_SHOWN)) {
      const name = title(ctx, coupon.reward.title);
      keyboard
        .text(ctx.t('coupons.show', { title: name, interpolation: { escapeValue: false } }), callbackData('cp', 's', coupon.id))
        .text(ctx.t('coupons.cancel'), callbackData('cp', 'c', coupon.id))
        .row();
    }
    keyboard.text(ctx.t('coupons.rewards'), callbackData('rw', 'p', 0));
    return { text: lines.join('\n').slice(0, TEXT_MAX), keyboard };
  }

  const showCoupons = answering(async (ctx: BotContext) => {
    const { text, keyboard } = couponsScreen(ctx, await listMyCoupons(domain, loaded(ctx)));
    await ctx.reply(text, { parse_mode: 'HTML', reply_markup: keyboard });
  });
  active.command('coupons', showCoupons);

  active.callbackQuery(
    'cp:list',
    answering(async (ctx) => {
      const { text, keyboard } = couponsScreen(ctx, await listMyCoupons(domain, loaded(ctx)));
      await ack(ctx);
      await editOrReply(ctx, text, keyboard);
    }),
  );

  /** One of this member's coupons by id: looked up among their own, never by the id alone. */
  async function ownCoupon(ctx: BotContext, id: number): Promise<CouponView | null> {
    const mine = await listMyCoupons(domain, loaded(ctx));
    return [...mine.active, ...mine.used, ...mine.expired, ...mine.cancelled].find((coupon) => coupon.id === id) ?? null;
  }

  active.callbackQuery(
    new RegExp(`^cp:s:${COUPON_ID}$`),
    answering(async (ctx) => {
      const coupon = await ownCoupon(ctx, Number(ctx.match[1]));
      if (!coupon) return ack(ctx, ctx.t('coupons.not_found'), true);
      await ack(ctx);
      await showOwnCoupon(ctx, coupon);
    }),
  );

  active.callbackQuery(
    new RegExp(`^cp:c:${COUPON_ID}$`),
    answering(async (ctx) => {
      const coupon = await ownCoupon(ctx, Number(ctx.match[1]));
      if (!coupon) return ack(ctx, ctx.t('coupons.not_found'), true);
      if (coupon.status !== 'ISSUED') {
        await ack(ctx);
        return showOwnCoupon(ctx, coupon);
      }
      const values = { title: title(ctx, coupon.reward.title), code: coupon.displayCode, points: points(ctx, coupon.cost) };
      await ack(ctx);
      await ctx.reply(ctx.t(coupon.cost > 0 ? 'coupons.cancel_confirm' : 'coupons.cancel_confirm_free', values), {
        parse_mode: 'HTML',
        reply_markup: new InlineKeyboard()
          .text(ctx.t('coupons.cancel_yes'), callbackData('cp', 'cy', coupon.id))
          .text(ctx.t('coupons.keep'), callbackData('cp', 'k')),
      });
    }),
  );

  active.callbackQuery(
    new RegExp(`^cp:cy:${COUPON_ID}$`),
    answering(async (ctx) => {
      // cancelCoupon refuses a coupon that is not this member's (FORBIDDEN).
      const result = await cancelCoupon(domain, { telegramId: telegramId(ctx), couponId: Number(ctx.match[1]) });
      await dropButtons(ctx);
      if (result.replayed) return ack(ctx, ctx.t('coupons.already_cancelled'), true);
      await ack(ctx);
      const coupon = await ownCoupon(ctx, result.coupon.id);
      const name = coupon ? title(ctx, coupon.reward.title) : '';
      await ctx.reply(
        result.pointsRefunded > 0
          ? ctx.t('coupons.cancelled', { title: name, points: points(ctx, result.pointsRefunded), balance: points(ctx, result.balance) })
          : ctx.t('coupons.cancelled_free', { title: name }),
        { parse_mode: 'HTML' },
      );
    }),
  );

  active.callbackQuery('cp:k', async (ctx) => {
    await ack(ctx, ctx.t('coupons.kept'));
    await dropButtons(ctx);
  });

  return composer;
}
