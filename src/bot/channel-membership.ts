import { type Api, GrammyError } from 'grammy';
import type { ChannelMembership } from '../domain/tasks/actions.js';

const MEMBER_STATUSES = new Set(['creator', 'administrator', 'member']);

/**
 * The domain's ChannelMembership port on Telegram: getChatMember in the brand's channel (the bot
 * must be an administrator there). A user Telegram does not know in the chat is not a member.
 */
export function telegramChannelMembership(api: Api, chat: string): ChannelMembership {
  return {
    async isMember(telegramId) {
      try {
        const member = await api.getChatMember(chat, telegramId);
        return MEMBER_STATUSES.has(member.status) || (member.status === 'restricted' && member.is_member);
      } catch (error) {
        if (error instanceof GrammyError && error.error_code === 400) return false;
        throw error;
      }
    },
  };
}
