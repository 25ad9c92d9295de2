// The fake Bot API (test/support/fake-bot-api) as a process of its own, driven over the IPC channel
// of child_process.fork: the load driver says "user U sends text T", this process queues the
// update and reports each reply with its latency. Queue time and reply time are both taken here,
// so the IPC hop to the driver is not part of any latency, and the fake's CPU is not the bot's.
//
// Messages in:  { type: 'send', userId, text }      queue a text message from user U
//               { type: 'watchPoll' }               report { type: 'polled' } at the next getUpdates
// Messages out: { type: 'ready', token, apiRoot, botInfo }
//               { type: 'reply', chatId, method, text, ok, latencyMs }   (one per sendMessage/sendPhoto to a chat)

import { FakeBotApi, type FakeUser, type RecordedCall } from '../test/support/fake-bot-api/server.js';

export type FakeApiIn = { type: 'send'; userId: number; text: string } | { type: 'watchPoll' };
export type FakeApiOut =
  | { type: 'ready'; token: string; apiRoot: string; botInfo: FakeBotApi['botInfo'] }
  | { type: 'polled' }
  | { type: 'reply'; chatId: number; method: string; text: string; ok: boolean; latencyMs: number };

const send = (message: FakeApiOut) => process.send?.(message);

const fake = await FakeBotApi.start();
/** When each outstanding update of a chat was queued, oldest first (replies come in order per chat). */
const queued = new Map<number, number[]>();
let watchingPoll = false;

// The fake has no events; watching its call log as it grows tells us at once when a reply arrived.
// The log itself is not kept: a long open-loop run would otherwise hold every call.
fake.calls.push = (...items: RecordedCall[]) => {
  for (const call of items) {
    if (call.method === 'getUpdates' && watchingPoll) {
      watchingPoll = false;
      send({ type: 'polled' });
    }
    if ((call.method !== 'sendMessage' && call.method !== 'sendPhoto') || call.chatId === undefined) continue;
    const queuedAt = queued.get(call.chatId)?.shift();
    if (queuedAt === undefined) continue;
    const text = String(call.params.text ?? call.params.caption ?? '').slice(0, 200);
    send({ type: 'reply', chatId: call.chatId, method: call.method, text, ok: call.ok, latencyMs: call.at - queuedAt });
  }
  return 0;
};

const users = new Map<number, FakeUser>();
process.on('message', (message: FakeApiIn) => {
  if (message.type === 'watchPoll') {
    watchingPoll = true;
    return;
  }
  let user = users.get(message.userId);
  if (!user) {
    user = { id: message.userId, first_name: 'Bench', language_code: 'en' };
    users.set(message.userId, user);
  }
  let times = queued.get(user.id);
  if (!times) {
    times = [];
    queued.set(user.id, times);
  }
  times.push(Date.now());
  fake.sendText(user, message.text);
});
// The driver going away (even killed) ends this process too.
process.on('disconnect', () => void fake.close().then(() => process.exit(0)));
send({ type: 'ready', token: fake.token, apiRoot: fake.apiRoot, botInfo: fake.botInfo });
