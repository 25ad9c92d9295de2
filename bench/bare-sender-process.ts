// The baseline for the broadcast engine: a bare grammY sender in a process of its own, no
// database, no queue, no rate: BARE_COUNT sendMessage calls to distinct chats from
// BARE_FIRST_CHAT_ID, BARE_CONCURRENCY in flight (the engine's sends in flight when unlimited).
// Prints one JSON line: { sent, ms, cpuMs } (CPU of this process during the sends).

import { Api } from 'grammy';

const api = new Api(process.env.BOT_TOKEN as string, { apiRoot: process.env.TELEGRAM_API_ROOT as string });
const count = Number(process.env.BARE_COUNT);
const concurrency = Number(process.env.BARE_CONCURRENCY);
const firstChatId = Number(process.env.BARE_FIRST_CHAT_ID);
const entities = [{ type: 'bold' as const, offset: 0, length: 5 }];

let next = 0;
let sent = 0;
const started = performance.now();
const cpuBefore = process.cpuUsage();
const lane = async () => {
  while (next < count) {
    const i = next++;
    await api.sendMessage(firstChatId + i, 'Bench bare', { entities });
    sent++;
  }
};
await Promise.all(Array.from({ length: concurrency }, lane));
const cpu = process.cpuUsage(cpuBefore);
process.stdout.write(`${JSON.stringify({ sent, ms: performance.now() - started, cpuMs: (cpu.user + cpu.system) / 1_000 })}\n`);
