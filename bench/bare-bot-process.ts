// The baseline: a bare grammY bot (runner long polling, echo) in a process of its own, configured
// like the real one through the environment. What any bot pays before its own work starts.

import { run } from '@grammyjs/runner';
import { Bot } from 'grammy';
import type { UserFromGetMe } from 'grammy/types';

const bot = new Bot(process.env.BOT_TOKEN as string, {
  client: { apiRoot: process.env.TELEGRAM_API_ROOT as string },
  botInfo: JSON.parse(process.env.BOT_INFO as string) as UserFromGetMe,
});
bot.on('message:text', (ctx) => ctx.reply(ctx.message.text));
const runner = run(bot, { sink: { concurrency: 500 } });
process.once('SIGTERM', () => void runner.stop().then(() => process.exit(0)));
