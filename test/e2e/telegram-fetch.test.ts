import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Api, GrammyError, HttpError, InputFile } from 'grammy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClientOptions, telegramFetch } from '../../src/bot/telegram-fetch.js';
import { FakeBotApi, type FakeUser } from '../support/fake-bot-api/server.js';

// The bot's Bot API transport (src/bot/telegram-fetch.ts): grammY over node:http instead of
// node-fetch. What grammY relies on: JSON and multipart calls, error answers as GrammyError,
// network failures and aborts as rejections.

let fake: FakeBotApi;
let api: Api;
const user: FakeUser = { id: 64_001, first_name: 'Olga', language_code: 'en' };

beforeAll(async () => {
  fake = await FakeBotApi.start();
  api = new Api(fake.token, apiClientOptions(fake.apiRoot));
});
afterAll(async () => {
  await fake?.close();
});

/** A server of our own for answers the fake never gives; `handle` answers each request. */
async function rawServer(handle: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('the Bot API through telegramFetch', () => {
  it('sends JSON calls and reads their results', async () => {
    fake.sendText(user, 'hi');
    const sent = await api.sendMessage(user.id, 'Привет <b>мир</b> 💰', { parse_mode: 'HTML', reply_markup: { keyboard: [[{ text: '💰 Balance' }]] } });
    expect(sent.text).toBe('Привет мир 💰');
    expect(fake.lastMessageTo(user.id)?.text).toBe('Привет мир 💰');
    expect(fake.violations).toEqual([]);
  });

  it('uploads files as multipart streams', async () => {
    const png = Buffer.from(
      '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201a5d8e2a70000000049454e44ae426082',
      'hex',
    );
    const sent = await api.sendPhoto(user.id, new InputFile(png, 'card.png'), { caption: 'card' });
    expect(sent.photo?.length).toBeGreaterThan(0);
    expect(fake.violations).toEqual([]);
  });

  it("answers the API's refusals as GrammyError, with their code and parameters", async () => {
    fake.failNext('sendMessage', 429, 7);
    const error = await api.sendMessage(user.id, 'again').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GrammyError);
    expect((error as GrammyError).error_code).toBe(429);
    expect((error as GrammyError).parameters.retry_after).toBe(7);
  });

  it('fails a call that cannot reach the server as an HttpError', async () => {
    const { server, url } = await rawServer(() => {});
    await new Promise((resolve) => server.close(resolve));
    const error = await new Api('1:a', apiClientOptions(url)).getMe().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
  });

  it('fails when the answer is not JSON, or the connection drops mid-answer', async () => {
    const { server, url } = await rawServer((req, res) => {
      if (req.url?.endsWith('/getMe')) {
        res.writeHead(502, { 'content-type': 'text/html' });
        res.end('<html>Bad gateway</html>');
      } else {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
        res.write('{"ok":true,');
        setTimeout(() => res.socket?.destroy(), 20);
      }
    });
    try {
      const notJson = await new Api('1:a', apiClientOptions(url)).getMe().catch((e: unknown) => e);
      expect(notJson).toBeInstanceOf(HttpError);
      const cut = await new Api('1:a', apiClientOptions(url)).getUpdates().catch((e: unknown) => e);
      expect(cut).toBeInstanceOf(HttpError);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('gives up a call when its signal aborts, and never starts one already aborted', async () => {
    const { server, url } = await rawServer(() => {
      // Never answers: a long poll.
    });
    try {
      const controller = new AbortController();
      const pending = telegramFetch(`${url}/bot1:a/getUpdates`, { method: 'POST', body: '{}', signal: controller.signal });
      setTimeout(() => controller.abort(), 20);
      await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
      await expect(telegramFetch(`${url}/bot1:a/getUpdates`, { method: 'POST', body: '{}', signal: controller.signal })).rejects.toMatchObject({
        name: 'AbortError',
      });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
