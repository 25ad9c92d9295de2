// The fake Bot API (test/support/fake-bot-api) as a process of its own for the sending benches
// (broadcast): it receives the app's messages, enforces the limits it is started with
// (FAKE_LIMITS, JSON FakeBotApiOptions), and answers questions about what it received over the
// IPC channel of child_process.fork. Its CPU is not the app's, and its bookkeeping does not slow
// the app's event loop. Only sendMessage calls to chats >= FAKE_MIN_CHAT_ID are kept, compactly.
//
// Messages in:  { type: 'window', from, to }   sends that succeeded in [from, to), 429s before `to`
//               { type: 'first' }              when the first send succeeded (null: none yet)
//               { type: 'chats', text }        sends with that text: how many, to how many chats
// Messages out: { type: 'ready', token, apiRoot }, then one answer per question, in order.

import { FakeBotApi, type FakeBotApiOptions, type RecordedCall } from '../test/support/fake-bot-api/server.js';

export type FakeSinkIn = { type: 'window'; from: number; to: number } | { type: 'first' } | { type: 'chats'; text: string };
export type FakeSinkOut =
  | { type: 'ready'; token: string; apiRoot: string }
  | { type: 'window'; okTimes: number[]; tooManyRequests: number }
  | { type: 'first'; at: number | null }
  | { type: 'chats'; calls: number; chats: number };

const send = (message: FakeSinkOut) => process.send?.(message);
const limits = JSON.parse(process.env.FAKE_LIMITS ?? '{}') as FakeBotApiOptions;
const minChatId = Number(process.env.FAKE_MIN_CHAT_ID ?? 0);

const okAt: number[] = [];
const tooManyAt: number[] = [];
const byText = new Map<string, number[]>();

const fake = await FakeBotApi.start(limits);
fake.calls.push = (...items: RecordedCall[]) => {
  for (const call of items) {
    if (call.method !== 'sendMessage' || call.chatId === undefined || call.chatId < minChatId) continue;
    if (call.errorCode === 429) tooManyAt.push(call.at);
    if (!call.ok) continue;
    okAt.push(call.at);
    const text = String(call.params.text ?? '');
    let chats = byText.get(text);
    if (!chats) {
      chats = [];
      byText.set(text, chats);
    }
    chats.push(call.chatId);
  }
  return 0;
};

process.on('message', (message: FakeSinkIn) => {
  if (message.type === 'first') send({ type: 'first', at: okAt[0] ?? null });
  else if (message.type === 'window') {
    send({
      type: 'window',
      okTimes: okAt.filter((at) => at >= message.from && at < message.to),
      tooManyRequests: tooManyAt.filter((at) => at < message.to).length,
    });
  } else {
    const chats = byText.get(message.text) ?? [];
    send({ type: 'chats', calls: chats.length, chats: new Set(chats).size });
  }
});
// The driver going away (even killed) ends this process too.
process.on('disconnect', () => void fake.close().then(() => process.exit(0)));
send({ type: 'ready', token: fake.token, apiRoot: fake.apiRoot });
