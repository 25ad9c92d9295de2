import type { Clock } from '../domain/clock.js';
import { DomainError } from '../domain/errors.js';
import { replayOf, validateCommand } from '../domain/ledger/posting.js';
import type { LedgerCommand, LedgerEntry, OpenLot, PostResult } from '../domain/ledger/types.js';
import type { LedgerRepository } from '../domain/ports.js';
import { type LedgerEntry as EntryRow, Prisma } from '../generated/prisma/client.js';
import { sqlStateOf } from './errors.js';
import { hotQuery } from './hot-sql.js';
import { qualifyingTotalSql } from './qualification.js';
import type { Db } from './repositories.js';
import { ts, tsOrNull } from './sql.js';

const toEntry = (row: EntryRow & { store?: { name: string } | null; purchase?: { discountMinor: bigint; pointsEarned: number } | null }): LedgerEntry => ({
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
  // One line per purchase carries its saving: the earn, or the spend when nothing was earned.
  ...(row.purchase && (row.type === 'EARN' || (row.type === 'SPEND' && row.purchase.pointsEarned === 0))
    ? { savingMinor: Number(row.purchase.discountMinor) }
    : {}),
});

/** The row `ledger_post` returns: its outcome, the balance it locked, and the entry's columns. */
type PostRow = { outcome: 'POSTED' | 'REPLAYED' | 'MEMBER_NOT_FOUND' | 'INSUFFICIENT_POINTS'; memberBalance: number | null } & EntryRow;

/** Told the entry type of each ledger entry posted. */
export type LedgerPostObserver = (type: string) => void;

/** SQLSTATE `ledger_post` raises when another member's transaction took the key meanwhile. */
const KEY_TAKEN_ELSEWHERE = 'LE409';

/**
 * The ledger on PostgreSQL. A post is one call of the `ledger_post` function (see its migration):
 * it locks the member row (so changes to one member are serialised and a replayed key sees the
 * first result), moves the balance with a conditional update that `CHECK (balance >= 0)` backs
 * up, writes the entry, and keeps lots in step: balance = sum of entries = sum of lot remainders.
 * One round trip: alone it is its own transaction; inside a unit of work it joins it. The rules
 * (validation, what a replay must match, FIFO order) are the domain's (ledger/posting.ts).
 */
export class PrismaLedgerRepository implements LedgerRepository {
  /** `db` is either the root client or an open transaction: the call joins whichever it is. */
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    /** Told of each entry posted (not of replays): the metrics' count, after the commit (see PrismaUnitOfWork). */
    private readonly onPosted?: LedgerPostObserver,
  ) {}

  async post(command: LedgerCommand): Promise<PostResult> {
    validateCommand(command);
    const credit = command.kind === 'credit';
    let rows: PostRow[];
    try {
      // A hot statement (hot-sql.ts): every accrual, spend and expiry post.
      rows = await hotQuery<PostRow>(
        this.db,
        Prisma.sql`
        SELECT r.outcome, r.member_balance AS "memberBalance", (r.entry).*
        FROM ledger_post(
          ${command.memberId}::int, ${command.kind}::text, ${command.type}::"EntryType", ${command.amount}::int,
          ${!credit && command.upToBalance === true}::boolean, ${command.idempotencyKey}::text,
          ${command.actor.type}::"ActorType", ${command.actor.id ?? null}::text, ${command.reason ?? null}::text,
          ${command.storeId ?? null}::int, ${command.purchaseId ?? null}::int,
          ${tsOrNull(credit ? command.expiresAt : null)}, ${ts(this.clock.now())}
        ) AS r`,
      );
    } catch (error) {
      if (sqlStateOf(error) === KEY_TAKEN_ELSEWHERE) throw new DomainError('IDEMPOTENCY_CONFLICT', { key: command.idempotencyKey });
      throw error;
    }
    const row = rows[0] as PostRow;
    switch (row.outcome) {
      case 'MEMBER_NOT_FOUND':
        throw new DomainError('MEMBER_NOT_FOUND');
      case 'INSUFFICIENT_POINTS':
        throw new DomainError('INSUFFICIENT_POINTS', { balance: row.memberBalance, needed: command.amount });
      case 'REPLAYED':
        return { entry: replayOf(command, toEntry(row)), replayed: true };
      case 'POSTED':
        this.onPosted?.(command.type);
        return { entry: toEntry(row), replayed: false };
    }
  }

  async history(memberId: number, page: { offset: number; limit: number }) {
    const [rows, total] = await Promise.all([
      this.db.ledgerEntry.findMany({
        where: { memberId },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        skip: page.offset,
        take: page.limit,
        // The purchase's discount comes with the page (a join, not one more query per line).
        include: { store: { select: { name: true } }, purchase: { select: { discountMinor: true, pointsEarned: true } } },
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
    const [row] = await this.db.$queryRaw<{ total: bigint }[]>`SELECT ${qualifyingTotalSql(memberId, { metric: 'pointsEarned', since })} AS total`;
    return Number(row?.total ?? 0n);
  }
}
