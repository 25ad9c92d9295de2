import type { Api } from 'grammy';
import type { InlineKeyboardMarkup, Message, MessageEntity } from 'grammy/types';
import type { BroadcastContent } from '../domain/broadcasts/types.js';

/**
 * A broadcast as Telegram gets it: the text (or a photo with its caption) with the marketer's
 * entities exactly as typed, never re-parsed as markup (no parse_mode), and the optional URL
 * button. The marketer's preview and every member's copy are sent by this one function, so the
 * preview is what members see.
 */
export function broadcastKeyboard(content: BroadcastContent): InlineKeyboardMarkup | undefined {
  return content.button ? { inline_keyboard: [[{ text: content.button.text, url: content.button.url }]] } : undefined;
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
