import type { Clock } from '../domain/clock.js';
import type { Actor } from '../domain/ledger/types.js';
import type { Purchase, PurchaseRepository, PurchaseReturn } from '../domain/ports.js';
import type { Purchase as PurchaseRow, PurchaseReturn as ReturnRow } from '../generated/prisma/client.js';
import type { Db } from './repositories.js';

const toPurchase = (row: PurchaseRow): Purchase => ({
  id: row.id,
  memberId: row.memberId,
  storeId: row.storeId,
  receiptNo: row.receiptNo,
  amountMinor: Number(row.amountMinor),
  paidWithPoints: row.paidWithPoints,
  pointsEarned: row.pointsEarned,
  returnedMinor: Number(row.returnedMinor),
  idempotencyKey: row.idempotencyKey,
  requestHash: row.requestHash,
  createdAt: row.createdAt,
});

const toReturn = (row: ReturnRow): PurchaseReturn => ({
  id: row.id,
  purchaseId: row.purchaseId,
  amountMinor: Number(row.amountMinor),
  pointsReversed: row.pointsReversed,
  pointsRefunded: row.pointsRefunded,
  shortfall: row.shortfall,
  idempotencyKey: row.idempotencyKey,
  requestHash: row.requestHash,
  createdAt: row.createdAt,
});

export class PrismaPurchaseRepository implements PurchaseRepository {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  async findByKey(idempotencyKey: string) {
    const row = await this.db.purchase.findUnique({ where: { idempotencyKey } });
    return row ? toPurchase(row) : null;
  }

  async findByReceipt(storeId: number, receiptNo: string) {
    const row = await this.db.purchase.findUnique({ where: { storeId_receiptNo: { storeId, receiptNo } } });
    return row ? toPurchase(row) : null;
  }

  async lockByReceipt(storeId: number, receiptNo: string) {
    const rows = await this.db.$queryRaw<{ id: number }[]>`
      SELECT id FROM "Purchase" WHERE "storeId" = ${storeId} AND "receiptNo" = ${receiptNo} FOR UPDATE`;
    const id = rows[0]?.id;
    if (id === undefined) return null;
    return toPurchase(await this.db.purchase.findUniqueOrThrow({ where: { id } }));
  }

  async create(value: Omit<Purchase, 'id' | 'createdAt' | 'returnedMinor' | 'pointsEarned'> & { actor: Actor }) {
    // ON CONFLICT DO NOTHING keeps the transaction usable when a concurrent twin (same key or
    // same store + receipt) got there first: it waits for the twin to commit, then inserts nothing.
    const rows = await this.db.$queryRaw<{ id: number }[]>`
      INSERT INTO "Purchase" ("memberId", "storeId", "receiptNo", "amountMinor", "paidWithPoints", "idempotencyKey", "requestHash", "actorType", "actorId", "createdAt")
      VALUES (${value.memberId}, ${value.storeId}, ${value.receiptNo}, ${BigInt(value.amountMinor)}, ${value.paidWithPoints},
              ${value.idempotencyKey}, ${value.requestHash}, ${value.actor.type}::"ActorType", ${value.actor.id ?? null}, ${this.clock.now()})
      ON CONFLICT DO NOTHING RETURNING id`;
    const id = rows[0]?.id;
    if (id === undefined) return null;
    return toPurchase(await this.db.purchase.findUniqueOrThrow({ where: { id } }));
  }

  async setPointsEarned(id: number, points: number) {
    await this.db.purchase.update({ where: { id }, data: { pointsEarned: points } });
  }

  async addReturned(id: number, amountMinor: number) {
    await this.db.purchase.update({ where: { id }, data: { returnedMinor: { increment: BigInt(amountMinor) } } });
  }

  async findReturnByKey(idempotencyKey: string) {
    const row = await this.db.purchaseReturn.findUnique({ where: { idempotencyKey } });
    return row ? toReturn(row) : null;
  }

  async createReturn(value: Omit<PurchaseReturn, 'id' | 'createdAt'> & { actor: Actor }) {
    const { actor, amountMinor, ...rest } = value;
    const row = await this.db.purchaseReturn.create({
      data: { ...rest, amountMinor: BigInt(amountMinor), actorType: actor.type, actorId: actor.id ?? null, createdAt: this.clock.now() },
    });
    return toReturn(row);
  }

  async finishReturn(id: number, outcome: { pointsReversed: number; shortfall: number }) {
    return toReturn(await this.db.purchaseReturn.update({ where: { id }, data: outcome }));
  }

  async listByMember(memberId: number) {
    const rows = await this.db.purchase.findMany({ where: { memberId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
    return rows.map(toPurchase);
  }
}
