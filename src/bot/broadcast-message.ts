import type { Api } from 'grammy';
import type { InlineKeyboardMarkup, Message, MessageEntity } from 'grammy/types';
import { MAX_CAPTION, MAX_TEXT } from '../domain/broadcasts/content.js';
import type { BroadcastContent, TextEntity } from '../domain/broadcasts/types.js';
import { formatCouponCode } from '../domain/codes.js';
import type { Formatter } from './format.js';
import type { Translate } from './i18n.js';

/**
 * A broadcast as Telegram gets it: the text (or a photo with its caption) with the marketer's
 * entities exactly as typed, never re-parsed as markup (no parse_mode), and the optional URL
 * button. The marketer's preview and every member's copy are sent by this one function, so the
 * preview is what members see.
 */
export function broadcastKeyboard(content: BroadcastContent): InlineKeyboardMarkup | undefined {
  return content.button ? { inline_keyboard: [[{ text: content.button.text, url: content.button.url }]] } : undefined;
}

/** A personal offer's coupon as the message carries it: the code and until when it is valid. */
export interface OfferCoupon {
  /** The code without separators (12 characters). */
  code: string;
  expiresAt: Date;
}

/** The code a preview shows in place of a member's coupon. */
export const PREVIEW_COUPON_CODE = 'XXXXXXXXXXXX';

/** "🎁 Your personal coupon: ABCD-EFGH-JKMN, valid until 30.11.2026, 12:00" in the reader's language (plain text). */
export function offerLine(t: Translate, fmt: Formatter, coupon: OfferCoupon): string {
  return t('broadcast.offer_line', { code: formatCouponCode(coupon.code), expires: fmt.dateTime(coupon.expiresAt) });
}

/**
 * The content with the coupon line appended after a blank line, its code set in `code` (tap to
 * copy). The marketer's entities keep their offsets. A broadcast with an offer leaves room for
 * the line (OFFER_LINE_RESERVE); should a line not fit all the same, only the code is appended.
 */
export function withOffer(content: BroadcastContent, line: string, code: string): BroadcastContent {
  const limit = content.photoFileId ? MAX_CAPTION : MAX_TEXT;
  const display = formatCouponCode(code);
  const separator = content.text.length > 0 ? '\n\n' : '';
  const chosen = content.text.length + separator.length + line.length <= limit ? line : display;
  const text = `${content.text}${separator}${chosen}`;
  const at = text.length - chosen.length + Math.max(0, chosen.indexOf(display));
  const entities: TextEntity[] = chosen.includes(display) ? [...content.entities, { type: 'code', offset: at, length: display.length }] : content.entities;
  return { ...content, text, entities };
}

export function sendBroadcastMessage(api: Api, chatId: number, content: BroadcastContent, options: { paid?: boolean } = {}): Promise<Message> {
  const replyMarkup = broadcastKeyboard(content);
  const entities = content.entities as unknown as MessageEntity[];
  const common = {
    ...(replyMarkup ? { reply_markup: replyMarkup } : {}),
    // Paid broadcasts: Telegram lets them past the free ~30 messages/s and charges Stars for them.
    ...(options.paid ? { allow_paid_broadcast: true } : {}),
  };
  if (content.photoFileId) {
    return api.sendPhoto(chatId, content.photoFileId, {
      ...(content.text ? { caption: content.text } : {}),
      ...(content.text && entities.length > 0 ? { caption_entities: entities } : {}),
      ...common,
    });
  }
  return api.sendMessage(chatId, content.text, { ...(entities.length > 0 ? { entities } : {}), ...common });
}
