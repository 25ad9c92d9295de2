import { type Api, GrammyError } from 'grammy';
import type { Logger } from 'pino';
import type { Notification, Notifier, Repositories } from '../domain/ports.js';
import type { Program } from '../domain/program.js';
import { tierByCode } from '../domain/tiers.js';
import type { I18n } from './i18n.js';

/**
 * Tells members about things that happened elsewhere (a till, an admin), in their language,
 * after the change committed. Best effort: the points are already booked, so a failed message
 * is logged, never thrown. A 403 marks the member unreachable until they unblock the bot.
 */
export class TelegramNotifier implements Notifier {
  constructor(
    private readonly api: Api,
    private readonly repos: Repositories,
    private readonly i18n: I18n,
    private readonly program: Program,
    private readonly logger: Logger,
  ) {}

  render(locale: 'ru' | 'en', notification: Notification): string {
    const t = this.i18n.t(locale);
    const points = (count: number) => t('common.points', { count });
    switch (notification.kind) {
      case 'purchaseRecorded':
        return notification.pointsSpent > 0
          ? t('notify.purchase_spent', {
              store: notification.storeName,
              spent: points(notification.pointsSpent),
              earned: points(notification.pointsEarned),
              balance: points(notification.balance),
            })
          : t('notify.purchase', { store: notification.storeName, earned: points(notification.pointsEarned), balance: points(notification.balance) });
      case 'returnRecorded':
        return t('notify.return', {
          store: notification.storeName,
          reversed: points(notification.pointsReversed),
          refunded: points(notification.pointsRefunded),
          balance: points(notification.balance),
        });
      case 'tierUpgraded':
        return t('notify.tier', { tier: tierByCode(this.program, notification.tierCode).name[locale], discount: notification.discountPercent });
      case 'pointsAdjusted':
        return t(notification.amount > 0 ? 'notify.adjusted_plus' : 'notify.adjusted_minus', {
          points: points(Math.abs(notification.amount)),
          balance: points(notification.balance),
        });
    }
  }

  async notify(memberId: number, notification: Notification): Promise<void> {
    const member = await this.repos.members.findById(memberId);
    if (!member?.telegramId || member.status !== 'ACTIVE' || !member.reachable) return;
    try {
      await this.api.sendMessage(member.telegramId, this.render(member.locale, notification), { parse_mode: 'HTML' });
    } catch (error) {
      if (error instanceof GrammyError && error.error_code === 403) {
        await this.repos.members.update(member.id, { reachable: false });
        return;
      }
      this.logger.warn({ err: error, memberId, kind: notification.kind }, 'notification not delivered');
    }
  }
}
