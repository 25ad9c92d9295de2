import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { startTestApp } from '../support/app.js';
import { expectNoViolations } from '../support/conversation.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { FakeBotApi, type FakeUser } from '../support/fake-bot-api/server.js';
import { MemberSeeder } from '../support/members.js';

// Issue 12: every customer screen is answered from the member loaded once per update plus at
// most one query, and a Balance tap (most updates) reads the member and its standing in one.
// Every statement any pooled connection sends is counted (Prisma's and the hot reads' alike).

let fake: FakeBotApi;
let db: TestDatabase;
let app: App;
const members = new MemberSeeder(() => db.prisma, 52_000);
let statements: string[] | undefined;
const query = pg.Client.prototype.query;

beforeAll(async () => {
  fake = await FakeBotApi.start();
  db = await createTestDatabase();
  // No workers: nothing else in the process talks to the database while an update is counted.
  app = await startTestApp({ fake, databaseUrl: db.url, env: { RUN_WORKERS: 'false' } });
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const first = args[0] as string | { name?: string; text?: string };
    statements?.push(typeof first === 'string' ? first : (first.name ?? String(first.text)));
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
});
afterEach(() => expectNoViolations(fake));
afterAll(async () => {
  pg.Client.prototype.query = query;
  await app?.stop();
  await fake?.close();
  await db?.drop();
});

/** What the bot said back to `text`, and the statements it sent to PostgreSQL for it. */
async function counted(user: FakeUser, text: string): Promise<{ reply: string; trips: string[] }> {
  const before = fake.messagesTo(user.id).length;
  statements = [];
  fake.sendText(user, text);
  const reply = await fake.waitFor(() => fake.messagesTo(user.id)[before], { what: `the answer to ${text}` });
  const trips = statements;
  statements = undefined;
  return { reply: reply.text ?? '', trips };
}

describe('a Balance tap', () => {
  it('costs one statement: the member with their standing', async () => {
    const [seeded] = await members.add(1);
    if (!seeded) throw new Error('no member');
    const user: FakeUser = { id: seeded.chatId, first_name: 'Vera', language_code: 'en' };
    await app.domain.repos.ledger.post({
      kind: 'credit',
      type: 'BONUS',
      memberId: seeded.id,
      amount: 120,
      idempotencyKey: 'reads:1',
      actor: { type: 'SYSTEM' },
      expiresAt: new Date(Date.now() + 30 * 86_400_000),
    });

    for (const text of ['💰 Balance', '/balance', '💰 Баланс']) {
      const { reply, trips } = await counted(user, text);
      expect(reply, text).toMatch(/^120 points\nTier: Basic · discount 6%\n.*\n⏳ 120 points expire on /);
      expect(trips, text).toEqual(['member_with_standing']);
    }
  });

  it('reads an unknown user once, and any other screen reads the member alone before its own query', async () => {
    const stranger: FakeUser = { id: 52_999, first_name: 'Ida', language_code: 'en' };
    const balance = await counted(stranger, '💰 Balance');
    expect(balance.trips[0]).toBe('member_with_standing');
    expect(balance.trips.filter((t) => t === 'member_with_standing' || t === 'member_by_telegram_id')).toHaveLength(1);

    const [seeded] = await members.add(1);
    if (!seeded) throw new Error('no member');
    const help = await counted({ id: seeded.chatId, first_name: 'Lev', language_code: 'en' }, '❓ Help');
    expect(help.trips).toEqual(['member_by_telegram_id']);
  });
});
