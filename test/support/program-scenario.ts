import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { App } from '../../src/app.js';
import { ManualClock } from '../../src/domain/clock.js';
import type { Program } from '../../src/domain/program.js';
import { createApiKey } from '../../src/domain/staff/api-keys.js';
import { parseProgram } from '../../src/program.js';
import { startTestApp } from './app.js';
import { hireCashier } from './cashier.js';
import { Conversation } from './conversation.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import { FakeBotApi } from './fake-bot-api/server.js';

/**
 * One shipped program (programs/<name>.yaml) running in the whole app: the bot on the fake Bot
 * API, the till API on a real port, real PostgreSQL and Redis, a manual clock.
 */
export interface ProgramScenario {
  program: Program;
  fake: FakeBotApi;
  db: TestDatabase;
  app: App;
  clock: ManualClock;
  /** A customer who registered through the bot (in English), and their card code. */
  customer(id: number, firstName: string): Promise<{ user: Conversation; memberId: number; code: string }>;
  /** A cashier of `storeCode` (in English), invited by the admin in the chat. */
  cashier(id: number, firstName: string, storeCode: string): Promise<Conversation>;
  /** POST to the till API with a CRM key and a fresh Idempotency-Key. */
  post(path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  stop(): Promise<void>;
}

export const ADMIN_ID = 900_500;

export function shippedProgram(name: string): Program {
  const raw = parse(readFileSync(new URL(`../../programs/${name}.yaml`, import.meta.url), 'utf8'));
  return parseProgram(raw, `programs/${name}.yaml`);
}

export async function startProgramScenario(name: string, start: string): Promise<ProgramScenario> {
  const program = shippedProgram(name);
  const clock = new ManualClock(new Date(start));
  const fake = await FakeBotApi.start({ botUsername: 'loyalty_test_bot' });
  const db = await createTestDatabase();
  const app = await startTestApp({ fake, databaseUrl: db.url, program, clock, env: { ADMIN_TELEGRAM_IDS: String(ADMIN_ID) } });
  const { key } = await createApiKey(app.domain, ADMIN_ID, { name: 'crm', storeCode: null });
  let nextKey = 0;
  return {
    program,
    fake,
    db,
    app,
    clock,
    async customer(id, firstName) {
      const user = new Conversation(fake, { id, first_name: firstName, language_code: 'en' });
      await user.registers();
      const member = await db.prisma.member.findUniqueOrThrow({ where: { telegramId: BigInt(id) } });
      return { user, memberId: member.id, code: member.code };
    },
    cashier: (id, firstName, storeCode) =>
      hireCashier(
        new Conversation(fake, { id: ADMIN_ID, first_name: 'Boss', language_code: 'en' }),
        new Conversation(fake, { id, first_name: firstName, language_code: 'en' }),
        storeCode,
      ),
    async post(path, body) {
      const response = await fetch(`${app.httpUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'idempotency-key': `${name}-${++nextKey}` },
        body: JSON.stringify(body),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    },
    async stop() {
      await app.stop();
      await fake.close();
      await db.drop();
    },
  };
}
