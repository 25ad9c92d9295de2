import type { App } from '../../src/app.js';
import type { Program } from '../../src/domain/program.js';
import { createApiKey } from '../../src/domain/staff/api-keys.js';
import { loadProgram } from '../../src/program.js';
import { startTestApp } from './app.js';
import { hireCashier } from './cashier.js';
import { Conversation } from './conversation.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import type { SentMessage } from './fake-bot-api/server.js';
import { FakeBotApi } from './fake-bot-api/server.js';

/**
 * A shipped program file run end to end through a till key and a cashier (test/e2e/programs-<name>.test.ts): the whole app with
 * that file, a till key for its first store, customers and a cashier in the chat.
 */
export interface TillScenario {
  app: App;
  fake: FakeBotApi;
  db: TestDatabase;
  program: Program;
  tillKey: string;
  newUser(firstName: string): Conversation;
  /** A customer registered through the bot, in English. */
  customer(firstName: string): Promise<{ user: Conversation; code: string; memberId: number }>;
  /** A cashier of `storeCode`, invited by the admin. */
  cashier(firstName: string, storeCode: string): Promise<Conversation>;
  /** A JSON request to the till API with the till key. */
  till(url: string, body: unknown, idempotencyKey?: string): Promise<{ status: number; json: Record<string, unknown> }>;
  stop(): Promise<void>;
}

const ADMIN_ID = 900_101;

export async function startTillScenario(file: string): Promise<TillScenario> {
  const program = await loadProgram(new URL(`../../programs/${file}`, import.meta.url).pathname);
  const fake = await FakeBotApi.start({ botUsername: 'loyalty_test_bot' });
  const db = await createTestDatabase();
  const app = await startTestApp({ fake, databaseUrl: db.url, env: { ADMIN_TELEGRAM_IDS: String(ADMIN_ID) }, program });
  const firstStore = program.stores[0]?.code as string;
  const tillKey = (await createApiKey(app.domain, ADMIN_ID, { name: 'till', storeCode: firstStore })).key;
  let nextUserId = 71_000;
  const newUser = (firstName: string) => new Conversation(fake, { id: nextUserId++, first_name: firstName, language_code: 'en' });
  const admin = new Conversation(fake, { id: ADMIN_ID, first_name: 'Boss', language_code: 'en' });
  return {
    app,
    fake,
    db,
    program,
    tillKey,
    newUser,
    async customer(firstName) {
      const user = newUser(firstName);
      await user.registers();
      const member = await db.prisma.member.findUniqueOrThrow({ where: { telegramId: BigInt(user.user.id) } });
      return { user, code: member.code, memberId: member.id };
    },
    cashier: (firstName, storeCode) => hireCashier(admin, newUser(firstName), storeCode),
    async till(url, body, idempotencyKey) {
      const response = await app.http.inject({
        method: 'POST',
        url,
        headers: { authorization: `Bearer ${tillKey}`, 'content-type': 'application/json', ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}) },
        payload: JSON.stringify(body),
      });
      return { status: response.statusCode, json: response.json() };
    },
    async stop() {
      await app.stop();
      await fake.close();
      await db.drop();
    },
  };
}

/** Telegram text with non-breaking spaces as plain ones, for money like "RUB 1,000". */
export const plain = (message: SentMessage | undefined) => (message?.text ?? '').replace(/\u00a0/g, ' ');
