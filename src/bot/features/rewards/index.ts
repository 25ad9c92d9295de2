import { Composer } from 'grammy';
import type { Buttons } from '../../buttons.js';
import type { BotContext, BotDeps } from '../../context.js';
import type { Screens } from '../../screens.js';
import { catalogueHandlers } from './catalogue.js';
import { couponHandlers } from './coupons.js';
import { rewardsKit } from './kit.js';

/**
 * Rewards for customers: the paged catalogue, a reward's card (photo + caption when it has an
 * image, else text), taking it after a confirmation, and "My coupons" (show again, cancel).
 *
 * Callback data only names what was tapped; every handler asks the domain again, as this
 * member: the catalogue decides what they may take, `takeReward` and `cancelCoupon` check
 * everything once more, and coupons are looked up among the member's own.
 */

export function rewardsFeature(deps: BotDeps, screens: Screens, buttons: Buttons): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  const active = composer.filter((ctx) => ctx.member?.status === 'ACTIVE');
  const kit = rewardsKit(deps);
  const showCoupons = couponHandlers(active, kit);
  catalogueHandlers(active, kit, screens, buttons, showCoupons);
  return composer;
}
