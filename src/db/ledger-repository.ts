import type { Clock } from '../domain/clock.js';
import { DomainError } from '../domain/errors.js';
import { allocateFifo } from '../domain/ledger/fifo.js';
import type { LedgerCommand, LedgerEntry, OpenLot, PostResult } from '../domain/ledger/types.js';
import type { LedgerRepository } from '../domain/ports.js';
import { type LedgerEntry as EntryRow, Prisma, type PrismaClient } from '../generated/prisma/client.js';
import { isUniqueViolation } from './errors.js';
import type { Db } from './repositories.js';

const toEntry = (row: EntryRow & { store?: { name: string } | null }): LedgerEntry => ({
  id: row.id,
  memberId: row.memberId,
  type: row.type,
  amount: row.amount,
  balanceAfter: row.balanceAfter,
  idempotencyKey: row.idempotencyKey,
  actorType: row.actorType,
  actorId: row.actorId,
  reason: row.reason,
  storeId: row.storeId,
  storeName: row.store?.name ?? null,
  purchaseId: row.purchaseId,
  createdAt: row.createdAt,
});

function validate(command: LedgerCommand): void {
  const zeroAllowed = command.kind === 'debit' && command.upToBalance === true;
  if (!Number.isSafeInteger(command.amount) || command.amount < 0 || (command.amount === 0 && !zeroAllowed)) {
    throw new DomainError('AMOUNT_INVALID', { amount: command.amount });
  }
  if (!command.idempotencyKey || command.idempotencyKey.length > 200) throw new DomainError('AMOUNT_INVALID', { field: 'idempotencyKey' });
}

/**
 * The ledger on PostgreSQL. Every change to a member's points happens in one transaction that
 * first locks the member row (so changes to one member are serialised and a replayed key sees
 * the first result), writes the entry, moves the balance with a conditional update that the
 * `CHECK (balance >= 0)` backs up, and keeps lots in step: balance = sum of entries = sum of
 * lot remainders.
 */
export class PrismaLedgerRepository implements LedgerRepository {
  /** `db` is either the root client (each post opens its own transaction) or an open transaction. */
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly inTransaction: boolean,
  ) {}

  private transaction<T>(work: (tx: Prisma.TransactionClient) => Promise<T>): Promise<T> {
    return this.inTransaction ? work(this.db) : (this.db as PrismaClient).$transaction(work);
  }

  post(command: LedgerCommand): Promise<PostResult> {
    validate(command);
    return this.transaction(async (tx) => {
      // NO KEY UPDATE serialises changes to one member's points without blocking inserts of rows
      // that merely reference the member (a purchase, a coupon): their foreign-key checks take
      // KEY SHARE, which FOR UPDATE would conflict with and deadlock against.
      const locked = await tx.$queryRaw<{ balance: number }[]>`SELECT balance FROM "Member" WHERE id = ${command.memberId} FOR NO KEY UPDATE`;
      const current = locked[0];
      if (!current) throw new DomainError('MEMBER_NOT_FOUND');

      const previous = await tx.ledgerEntry.findUnique({ where: { idempotencyKey: command.idempotencyKey } });
      if (previous) {
        const sameCommand =
          previous.memberId === command.memberId &&
          previous.type === command.type &&
          // A capped debit (upToBalance) records what it took, which may be less than asked.
          (command.kind === 'credit'
            ? previous.amount === command.amount
            : command.upToBalance
              ? -previous.amount <= command.amount
              : -previous.amount === command.amount);
        if (!sameCommand) throw new DomainError('IDEMPOTENCY_CONFLICT', { key: command.idempotencyKey });
        return { entry: toEntry(previous), replayed: true };
      }

      const createEntry = async (data: Prisma.LedgerEntryUncheckedCreateInput) => {
        try {
          return await tx.ledgerEntry.create({ data });
        } catch (error) {
          // The same key used concurrently for another member: the member locks do not meet.
          if (isUniqueViolation(error, 'idempotencyKey')) throw new DomainError('IDEMPOTENCY_CONFLICT', { key: command.idempotencyKey });
          throw error;
        }
      };
      const createdAt = this.clock.now();
      const common = {
        createdAt,
        memberId: command.memberId,
        type: command.type,
        idempotencyKey: command.idempotencyKey,
        actorType: command.actor.type,
        actorId: command.actor.id ?? null,
        reason: command.reason ?? null,
        storeId: command.storeId ?? null,
        purchaseId: command.purchaseId ?? null,
      };

      if (command.kind === 'credit') {
        const [moved] = await tx.$queryRaw<{ balance: number }[]>`
          UPDATE "Member" SET balance = balance + ${command.amount}, "updatedAt" = now()
          WHERE id = ${command.memberId} RETURNING balance`;
        const entry = await createEntry({ ...common, amount: command.amount, balanceAfter: (moved as { balance: number }).balance });
        await tx.pointLot.create({
          data: { memberId: command.memberId, entryId: entry.id, amount: command.amount, remaining: command.amount, expiresAt: command.expiresAt, createdAt },
        });
        return { entry: toEntry(entry), replayed: false };
      }

      const take = command.upToBalance ? Math.min(command.amount, current.balance) : command.amount;
      let balanceAfter = current.balance;
      if (take > 0) {
        const moved = await tx.$queryRaw<{ balance: number }[]>`
          UPDATE "Member" SET balance = balance - ${take}, "updatedAt" = now()
          WHERE id = ${command.memberId} AND balance >= ${take} RETURNING balance`;
        if (moved.length !== 1) throw new DomainError('INSUFFICIENT_POINTS', { balance: current.balance, needed: take });
        balanceAfter = (moved[0] as { balance: number }).balance;
      }
      const entry = await createEntry({ ...common, amount: -take, balanceAfter });
      if (take > 0) {
        const lots = await tx.$queryRaw<OpenLot[]>`
          SELECT id, remaining, "expiresAt" FROM "PointLot"
          WHERE "memberId" = ${command.memberId} AND remaining > 0
          ORDER BY "expiresAt" ASC NULLS LAST, id ASC FOR UPDATE`;
        const allocations = allocateFifo(lots, take);
        const values = Prisma.join(allocations.map((a) => Prisma.sql`(${a.lotId}::int, ${a.amount}::int)`));
        await tx.$executeRaw`
          UPDATE "PointLot" AS lot SET remaining = lot.remaining - drawn.amount
          FROM (VALUES ${values}) AS drawn(id, amount) WHERE lot.id = drawn.id`;
        await tx.lotAllocation.createMany({ data: allocations.map((a) => ({ entryId: entry.id, lotId: a.lotId, amount: a.amount })) });
      }
      return { entry: toEntry(entry), replayed: false };
    });
  }

  async history(memberId: number, page: { offset: number; limit: number }) {
    const [rows, total] = await Promise.all([
      this.db.ledgerEntry.findMany({
        where: { memberId },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        skip: page.offset,
        take: page.limit,
        include: { store: { select: { name: true } } },
      }),
      this.db.ledgerEntry.count({ where: { memberId } }),
    ]);
    return { entries: rows.map(toEntry), total };
  }

  async entries(memberId: number): Promise<LedgerEntry[]> {
    const rows = await this.db.ledgerEntry.findMany({
      where: { memberId },
      orderBy: { id: 'asc' },
      include: { store: { select: { name: true } } },
    });
    return rows.map(toEntry);
  }

  async findByKeys(idempotencyKeys: string[]): Promise<LedgerEntry[]> {
    const rows = await this.db.ledgerEntry.findMany({ where: { idempotencyKey: { in: idempotencyKeys } }, orderBy: { id: 'asc' } });
    return rows.map(toEntry);
  }

  openLots(memberId: number): Promise<OpenLot[]> {
    return this.db.pointLot.findMany({
      where: { memberId, remaining: { gt: 0 } },
      select: { id: true, remaining: true, expiresAt: true },
      orderBy: [{ expiresAt: { sort: 'asc', nulls: 'last' } }, { id: 'asc' }],
    });
  }

  async pointsEarnedSince(memberId: number, since: Date | null): Promise<number> {
    const result = await this.db.ledgerEntry.aggregate({
      where: { memberId, type: { in: ['EARN', 'REVERSE'] }, ...(since ? { createdAt: { gte: since } } : {}) },
      _sum: { amount: true },
    });
    return result._sum.amount ?? 0;
  }
}
