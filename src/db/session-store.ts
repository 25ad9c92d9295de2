import type { ChatSessionRepository } from '../domain/ports.js';
import type { Prisma, PrismaClient } from '../generated/prisma/client.js';
import type { Db } from './repositories.js';

/**
 * Conversation state of the bot (a staff member halfway through a purchase) in the ChatSession
 * table, so that any instance serves the next update and a restart loses nothing. Shaped like
 * grammY's StorageAdapter (read/write/delete), so it also fits grammY's `session` middleware
 * and the bot's SessionStore port without either layer importing the other.
 */
export class PrismaSessionStore {
  constructor(private readonly prisma: PrismaClient) {}

  async read(key: string): Promise<unknown> {
    const row = await this.prisma.chatSession.findUnique({ where: { key }, select: { value: true } });
    return row?.value ?? undefined;
  }

  async readMany(keys: string[]): Promise<Map<string, unknown>> {
    const rows = await this.prisma.chatSession.findMany({ where: { key: { in: keys } }, select: { key: true, value: true } });
    return new Map(rows.map((row) => [row.key, row.value]));
  }

  async write(key: string, value: unknown): Promise<void> {
    const json = value as Prisma.InputJsonValue;
    await this.prisma.chatSession.upsert({ where: { key }, create: { key, value: json }, update: { value: json } });
  }

  async delete(key: string): Promise<void> {
    await this.prisma.chatSession.deleteMany({ where: { key } });
  }
}

/** The domain's view of the same rows (keys `<feature>:<telegramId>`, see the bot's features). */
export class PrismaChatSessionRepository implements ChatSessionRepository {
  constructor(private readonly db: Db) {}

  async deleteOfUser(telegramId: number) {
    const deleted = await this.db.chatSession.deleteMany({ where: { key: { endsWith: `:${telegramId}` } } });
    return deleted.count;
  }
}
