import { isLocale } from '../domain/program.js';
import type { SpendCodeRepository, SpendRequest, SpendRequestRepository, StoredSpendCode } from '../domain/spending/types.js';
import type { SpendRequest as SpendRequestRow } from '../generated/prisma/client.js';
import type { Db } from './repositories.js';

export class PrismaSpendCodeRepository implements SpendCodeRepository {
  constructor(private readonly db: Db) {}

  async replace(memberId: number, value: { codeHash: string; createdAt: Date; expiresAt: Date }): Promise<void> {
    // Only the code on screen works: the earlier ones are closed without a purchase.
    await this.db.spendCode.updateMany({ where: { memberId, usedAt: null }, data: { usedAt: value.createdAt } });
    await this.db.spendCode.create({ data: { memberId, ...value } });
  }

  current(memberId: number, now: Date): Promise<StoredSpendCode | null> {
    return this.db.spendCode.findFirst({
      where: { memberId, usedAt: null, expiresAt: { gt: now } },
      orderBy: { id: 'desc' },
      select: { id: true, codeHash: true, expiresAt: true },
    });
  }

  async consume(id: number, now: Date, purchaseId: number): Promise<boolean> {
    const used = await this.db.spendCode.updateMany({ where: { id, usedAt: null, expiresAt: { gt: now } }, data: { usedAt: now, purchaseId } });
    return used.count === 1;
  }
}

const toRequest = (row: SpendRequestRow): SpendRequest => ({
  id: row.id,
  memberId: row.memberId,
  storeId: row.storeId,
  points: row.points,
  status: row.status,
  actor: { type: row.actorType, id: row.actorId },
  notify: row.notifyChatId === null ? null : { chatId: Number(row.notifyChatId), locale: isLocale(row.notifyLocale) ? row.notifyLocale : 'ru' },
  createdAt: row.createdAt,
  expiresAt: row.expiresAt,
  decidedAt: row.decidedAt,
  usedAt: row.usedAt,
});

export class PrismaSpendRequestRepository implements SpendRequestRepository {
  constructor(private readonly db: Db) {}

  async create(value: Omit<SpendRequest, 'status' | 'decidedAt' | 'usedAt'>): Promise<SpendRequest> {
    const row = await this.db.spendRequest.create({
      data: {
        id: value.id,
        memberId: value.memberId,
        storeId: value.storeId,
        points: value.points,
        actorType: value.actor.type,
        actorId: value.actor.id ?? null,
        notifyChatId: value.notify ? BigInt(value.notify.chatId) : null,
        notifyLocale: value.notify?.locale ?? null,
        createdAt: value.createdAt,
        expiresAt: value.expiresAt,
      },
    });
    return toRequest(row);
  }

  async findById(id: string): Promise<SpendRequest | null> {
    const row = await this.db.spendRequest.findUnique({ where: { id } });
    return row ? toRequest(row) : null;
  }

  async decide(id: string, memberId: number, approve: boolean, now: Date): Promise<boolean> {
    const decided = await this.db.spendRequest.updateMany({
      where: { id, memberId, status: 'PENDING', expiresAt: { gt: now } },
      data: { status: approve ? 'APPROVED' : 'DECLINED', decidedAt: now },
    });
    return decided.count === 1;
  }

  async consume(id: string, match: { memberId: number; storeId: number; points: number }, now: Date, purchaseId: number): Promise<boolean> {
    const used = await this.db.spendRequest.updateMany({
      where: { id, ...match, status: 'APPROVED', usedAt: null, expiresAt: { gt: now } },
      data: { usedAt: now, purchaseId },
    });
    return used.count === 1;
  }
}
