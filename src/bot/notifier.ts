import type { InlineKeyboardMarkup } from 'grammy/types';
import { formatCouponCode } from '../domain/codes.js';
import type { DomainDeps, Notification } from '../domain/ports.js';
import type { Locale, Program } from '../domain/program.js';
import { tierByCode } from '../domain/tiers.js';
import { renderLiftReport } from './broadcast-report.js';
import { encodeCallback } from './callback-data.js';
import { charityCsvDocument, renderCharityReport } from './features/charity/report.js';
import { formatterFor } from './format.js';
import type { I18n } from './i18n.js';
import { renderNpsAlert, renderSurveyQuestion } from './nps-messages.js';

/** A file a notification carries; its message's text becomes the caption (at most 1024 characters). */
export interface OutgoingDocument {
  filename: string;
  bytes: Uint8Array;
}

export interface RenderedMessage {
  text: string;
  replyMarkup?: InlineKeyboardMarkup;
  document?: OutgoingDocument;
}

/**
 * A notification in the member's language, ready to send with parse_mode HTML. Sending is the
 * delivery queue's job (src/jobs/delivery.ts): it calls this when a message is due.
 */
export function renderNotification(i18n: I18n, program: Program, locale: Locale, notification: Notification): RenderedMessage {
  const t = i18n.t(locale);
  const points = (count: number) => t('common.points', { count });
  switch (notification.kind) {
    case 'purchaseRecorded': {
      // A discount-only program never mentions points (no "+0 points").
      const lines = [
        notification.points === false
          ? t('notify.purchase_plain', { store: notification.storeName })
          : notification.pointsSpent > 0
            ? t('notify.purchase_spent', {
                store: notification.storeName,
                spent: points(notification.pointsSpent),
                earned: points(notification.pointsEarned),
                balance: points(notification.balance),
              })
            : t('notify.purchase', { store: notification.storeName, earned: points(notification.pointsEarned), balance: points(notification.balance) }),
      ];
      if (notification.savingMinor) {
        lines.push(t('notify.purchase_saved', { saving: formatterFor(locale, program.currency, program.timezone).money(notification.savingMinor) }));
      }
      return { text: lines.join('\n') };
    }
    case 'returnRecorded':
      return {
        text:
          notification.points === false
            ? t('notify.return_plain', { store: notification.storeName })
            : t('notify.return', {
                store: notification.storeName,
                reversed: points(notification.pointsReversed),
                refunded: points(notification.pointsRefunded),
                balance: points(notification.balance),
              }),
      };
    case 'tierUpgraded': {
      const tier = tierByCode(program, notification.tierCode).name[locale];
      // A tier without a discount is not "your discount is now 0 %".
      return { text: notification.discountPercent > 0 ? t('notify.tier', { tier, discount: notification.discountPercent }) : t('notify.tier_plain', { tier }) };
    }
    case 'pointsAdjusted':
      return {
        text: t(notification.amount > 0 ? 'notify.adjusted_plus' : 'notify.adjusted_minus', {
          points: points(Math.abs(notification.amount)),
          balance: points(notification.balance),
        }),
      };
    case 'birthdayGreeting': {
      const lines = [notification.points > 0 ? t('notify.birthday_gift', { points: points(notification.points) }) : t('notify.birthday')];
      const coupon = notification.coupon;
      if (coupon) lines.push(t('notify.birthday_coupon', { title: coupon.title[locale], code: formatCouponCode(coupon.code) }));
      return { text: lines.join('\n') };
    }
    case 'pointsExpiring':
      return {
        text: t('notify.expiring', {
          points: points(notification.points),
          date: formatterFor(locale, program.currency, program.timezone).calendarDate(notification.at),
        }),
        // Opens the rewards catalogue: what the points can still buy before they burn.
        replyMarkup: { inline_keyboard: [[{ text: t('notify.expiring_button'), callback_data: 'rw:open' }]] },
      };
    case 'pointsExpired':
      return { text: t('notify.expired', { points: points(notification.points), balance: points(notification.balance) }) };
    case 'winBack':
      return { text: notification.balance > 0 ? t('notify.win_back_points', { points: points(notification.balance) }) : t('notify.win_back') };
    case 'couponRedeemed': {
      const values = { title: notification.title[locale], code: formatCouponCode(notification.couponCode), store: notification.storeName ?? '' };
      return { text: t(notification.storeName ? 'notify.coupon_redeemed_at' : 'notify.coupon_redeemed', values) };
    }
    case 'couponExpired': {
      const values = { title: notification.title[locale], code: formatCouponCode(notification.couponCode), points: points(notification.pointsRefunded) };
      return { text: t(notification.pointsRefunded > 0 ? 'notify.coupon_expired_refund' : 'notify.coupon_expired', values) };
    }
    case 'autoRewardIssued':
      return {
        text: t('notify.auto_reward', {
          points: points(notification.points),
          title: notification.title[locale],
          code: formatCouponCode(notification.couponCode),
          balance: points(notification.balance),
        }),
      };
    case 'taskCompleted': {
      const title = notification.title[locale];
      if (notification.claimable) return { text: t('notify.task_claimable', { title }) };
      const lines = [t('notify.task_done', { title })];
      if (notification.points > 0) lines.push(t('notify.task_points', { points: points(notification.points) }));
      if (notification.badge) lines.push(t('notify.task_badge', { badge: `${notification.badge.icon} ${notification.badge.name[locale]}` }));
      if (notification.couponCode) lines.push(t('notify.task_coupon', { code: formatCouponCode(notification.couponCode) }));
      return { text: lines.join('\n') };
    }
    case 'referralRewarded':
      return { text: t(notification.role === 'friend' ? 'notify.referral_friend' : 'notify.referral_referrer', { points: points(notification.points) }) };
    case 'spendRequest':
      // The answer buttons carry only the request id: the handler checks whose it is, its state and expiry.
      return {
        text: t('spend.request', { points: points(notification.points), store: notification.storeName }),
        replyMarkup: {
          inline_keyboard: [
            [
              { text: t('spend.yes'), callback_data: `spr:y:${notification.requestId}` },
              { text: t('spend.no'), callback_data: `spr:n:${notification.requestId}` },
            ],
          ],
        },
      };
    case 'spendAnswered':
      return {
        text: t(notification.approved ? 'staff.spend.approved' : 'staff.spend.declined', { points: points(notification.points) }),
        replyMarkup: { inline_keyboard: [[{ text: t('staff.spend.continue'), callback_data: encodeCallback('stf:chk', notification.requestId) }]] },
      };
    case 'npsSurvey':
      return renderSurveyQuestion(t, program, locale, notification);
    case 'npsAlert':
      return renderNpsAlert(t, program, locale, notification);
    case 'broadcastLift':
      return { text: renderLiftReport(t, program, locale, notification.report) };
    case 'charityReport':
      // The caption of the month's CSV (renderDelivery attaches it), or the only text of an empty month.
      return { text: renderCharityReport(t, program, locale, notification) };
    case 'broadcast':
      // A broadcast is sent as its marketer wrote it (entities, photo), from the Broadcast row.
      throw new Error('broadcast deliveries are rendered from their broadcast (src/bot/broadcast-message.ts)');
  }
}

/**
 * What the delivery queue sends for a notification: its text, and for the kinds that carry a file
 * the file, built now from the database (the outbox row stores only what names it, e.g. a month).
 */
export async function renderDelivery(i18n: I18n, domain: DomainDeps, locale: Locale, notification: Notification): Promise<RenderedMessage> {
  const message = renderNotification(i18n, domain.program, locale, notification);
  const document = await documentOf(domain, notification);
  return document ? { ...message, document } : message;
}

function documentOf(domain: DomainDeps, notification: Notification): Promise<OutgoingDocument | null> {
  // A month without donations is one line of text: no empty sheet.
  if (notification.kind === 'charityReport' && notification.causes.length > 0) return charityCsvDocument(domain, notification.month);
  return Promise.resolve(null);
}
