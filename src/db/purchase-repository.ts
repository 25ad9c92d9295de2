import type { Clock } from '../domain/clock.js';
import type { Actor } from '../domain/ledger/types.js';
import type { MemberStatus } from '../domain/members/member.js';
import { pendingDelivery } from '../domain/outbox.js';
import type {
  Delivery,
  OutboxWrites,
  Purchase,
  PurchasePlan,
  PurchaseQuery,
  PurchaseRecordOutcome,
  PurchaseRepository,
  PurchaseReturn,
  PurchaseSnapshot,
} from '../domain/ports.js';
import { Prisma, type Purchase as PurchaseRow, type PurchaseReturn as ReturnRow } from '../generated/prisma/client.js';
import { sqlStateOf } from './errors.js';
import { hotQuery } from './hot-sql.js';
import type { LedgerPostObserver } from './ledger-repository.js';
import type { Db } from './repositories.js';
import { type SpendCodeAttemptRow, spendCodeAttemptSql, toSpendCodeAttempt } from './spend-repositories.js';
import { ts, tsOrNull } from './sql.js';

/** What record_purchase raises when the spend's proof was used up meanwhile (see its migration). */
const PROOF_USED = 'SP409';

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
  tierCode: row.tierCode,
  discountMinor: Number(row.discountMinor),
  paidMinor: row.paidMinor === null ? null : Number(row.paidMinor),
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
  discountMinor: Number(row.discountMinor),
  refundMinor: row.refundMinor === null ? null : Number(row.refundMinor),
});

/** The one row `snapshot` reads: member, store and earlier purchase columns, prefixed, null when absent. */
type SnapshotRow = {
  memberId: number | null;
  memberTelegramId: bigint | null;
  memberStatus: MemberStatus | null;
  memberTier: string | null;
  memberBalance: number | null;
  storeId: number | null;
  storeName: string | null;
  storeActive: boolean | null;
  balanceAfter: number | null;
  total: bigint;
} & Partial<SpendCodeAttemptRow> & { [K in keyof PurchaseRow as `p_${K}`]: PurchaseRow[K] | null };

type RecordRow = {
  outcome: 'RECORDED' | 'STALE' | 'INSUFFICIENT_POINTS';
  purchaseId: number | null;
  memberBalance: number;
  receiptDeliveryId: number | null;
  tierDeliveryId: number | null;
  eventWritten: boolean | null;
};

export class PrismaPurchaseRepository implements PurchaseRepository {
  /** `written` collects the outbox rows `record` wrote, for the relay after it (uow.atomic). */
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly written?: OutboxWrites,
    /** Told of the ledger entries a recorded purchase posted (metrics). */
    private readonly onLedgerPost?: LedgerPostObserver,
  ) {}

  async snapshot(query: PurchaseQuery): Promise<PurchaseSnapshot> {
    const spend = query.spendCode ?? null;
    // One round trip: the member (by id, or by the card code a till sent), the store, the
    // purchase recorded before under the key (else under the store + receipt) with the balance
    // its last entry left, and the qualifying total; paying with a spend code, its check (which
    // writes: it counts a wrong code) unless a replay. A member found by card code who is
    // missing or not active is refused before any check (findMemberForStaff's answer), so their
    // code is not checked either.
    const byCode = 'code' in query.member;
    const memberJoin = 'code' in query.member ? Prisma.sql`m.code = ${query.member.code}` : Prisma.sql`m.id = ${query.member.id}`;
    // No member row: nothing to check against (by id, the use case then checks on its own).
    const skip = byCode ? Prisma.sql`p.id IS NOT NULL OR m.id IS NULL OR m.status <> 'ACTIVE'` : Prisma.sql`p.id IS NOT NULL OR m.id IS NULL`;
    const attempt = spend ? Prisma.sql`LEFT JOIN LATERAL ${spendCodeAttemptSql(Prisma.sql`m.id`, spend, skip)} AS attempt ON true` : Prisma.empty;
    const [row] = await hotQuery<SnapshotRow>(
      this.db,
      Prisma.sql`
      SELECT m.id AS "memberId", m."telegramId" AS "memberTelegramId", m.status AS "memberStatus", m.tier AS "memberTier", m.balance AS "memberBalance",
             s.id AS "storeId", s.name AS "storeName", s.active AS "storeActive",
             p.id AS "p_id", p."memberId" AS "p_memberId", p."storeId" AS "p_storeId", p."receiptNo" AS "p_receiptNo",
             p."amountMinor" AS "p_amountMinor", p."paidWithPoints" AS "p_paidWithPoints", p."pointsEarned" AS "p_pointsEarned",
             p."returnedMinor" AS "p_returnedMinor", p."idempotencyKey" AS "p_idempotencyKey", p."requestHash" AS "p_requestHash",
             p."createdAt" AS "p_createdAt", p."tierCode" AS "p_tierCode", p."discountMinor" AS "p_discountMinor", p."paidMinor" AS "p_paidMinor",
             (SELECT e."balanceAfter" FROM "LedgerEntry" e
              WHERE e."idempotencyKey" IN ('purchase:' || p.id || ':spend', 'purchase:' || p.id || ':earn')
              ORDER BY e.id DESC LIMIT 1) AS "balanceAfter",
             qualifying_total(m.id, ${query.qualification.metric}::text, ${tsOrNull(query.qualification.since)}) AS total
             ${spend ? Prisma.sql`, attempt.*` : Prisma.empty}
      FROM (SELECT 1) AS one
      LEFT JOIN "Member" m ON ${memberJoin}
      LEFT JOIN "Store" s ON s.id = ${query.storeId}
      LEFT JOIN LATERAL (
        SELECT * FROM "Purchase" x
        WHERE x."idempotencyKey" = ${query.idempotencyKey} OR (x."storeId" = ${query.storeId} AND x."receiptNo" = ${query.receiptNo})
        ORDER BY (x."idempotencyKey" = ${query.idempotencyKey}) DESC LIMIT 1
      ) AS p ON true
      ${attempt}`,
    );
    if (!row) throw new Error('the purchase snapshot read no row');
    const earlier: Purchase | null =
      row.p_id === null
        ? null
        : {
            id: row.p_id,
            memberId: row.p_memberId as number,
            storeId: row.p_storeId as number,
            receiptNo: row.p_receiptNo as string,
            amountMinor: Number(row.p_amountMinor),
            paidWithPoints: row.p_paidWithPoints as number,
            pointsEarned: row.p_pointsEarned as number,
            returnedMinor: Number(row.p_returnedMinor),
            idempotencyKey: row.p_idempotencyKey as string,
            requestHash: row.p_requestHash as string,
            createdAt: row.p_createdAt as Date,
            tierCode: row.p_tierCode,
            discountMinor: Number(row.p_discountMinor),
            paidMinor: row.p_paidMinor === null ? null : Number(row.p_paidMinor),
          };
    return {
      member:
        row.memberId === null
          ? null
          : {
              id: row.memberId,
              telegramId: row.memberTelegramId === null ? null : Number(row.memberTelegramId),
              status: row.memberStatus as MemberStatus,
              tier: row.memberTier,
              balance: row.memberBalance as number,
            },
      store: row.storeId === null ? null : { id: row.storeId, name: row.storeName as string, active: row.storeActive === true },
      earlier: earlier ? { purchase: earlier, balanceAfter: row.balanceAfter } : null,
      qualifyingTotal: Number(row.total),
      ...(spend ? { spendCode: toSpendCodeAttempt(row as SpendCodeAttemptRow) ?? undefined } : {}),
    };
  }

  async record(plan: PurchasePlan): Promise<PurchaseRecordOutcome> {
    const { purchase, assumes, keys } = plan;
    const { id: _id, type: eventType, ...eventPayload } = { id: keys.event, ...plan.event };
    // One statement, so one implicit transaction: see the record_purchase migration.
    let rows: RecordRow[];
    try {
      rows = await hotQuery<RecordRow>(
        this.db,
        Prisma.sql`
        SELECT r.outcome, r.purchase_id AS "purchaseId", r.member_balance AS "memberBalance",
               r.receipt_delivery_id AS "receiptDeliveryId", r.tier_delivery_id AS "tierDeliveryId", r.event_written AS "eventWritten"
        FROM record_purchase(
          ${purchase.memberId}::int, ${purchase.storeId}::int, ${purchase.receiptNo}::text, ${BigInt(purchase.amountMinor)}::bigint,
          ${purchase.paidWithPoints}::int, ${purchase.pointsEarned}::int, ${purchase.idempotencyKey}::text, ${purchase.requestHash}::text,
          ${purchase.actor.type}::"ActorType", ${purchase.actor.id ?? null}::text,
          ${assumes.tierBefore}::text, ${assumes.qualification.metric}::text, ${tsOrNull(assumes.qualification.since)},
          ${assumes.totalMin === null ? null : BigInt(assumes.totalMin)}::bigint, ${assumes.totalMax === null ? null : BigInt(assumes.totalMax)}::bigint,
          ${plan.tierAfter}::text, ${keys.spend}::text, ${keys.earn}::text, ${tsOrNull(plan.earnExpiresAt)},
          ${keys.receipt}::text, ${JSON.stringify(plan.receipt)}::jsonb,
          ${keys.tier}::text, ${plan.tierNotice ? JSON.stringify(plan.tierNotice) : null}::jsonb,
          ${keys.event}::text, ${eventType}::text, ${JSON.stringify(eventPayload)}::jsonb,
          ${ts(plan.at)},
          ${plan.spendProof?.kind === 'code' ? plan.spendProof.codeId : null}::int,
          ${plan.spendProof?.kind === 'request' ? plan.spendProof.requestId : null}::text,
          ${purchase.tierCode}::text, ${BigInt(purchase.discountMinor)}::bigint, ${purchase.paidMinor === null ? null : BigInt(purchase.paidMinor)}::bigint
        ) AS r`,
      );
    } catch (error) {
      // The proof of presence was used by a concurrent purchase (or ran out) since it was checked.
      if (sqlStateOf(error) === PROOF_USED) return { outcome: 'PROOF_USED' };
      throw error;
    }
    const [row] = rows;
    if (!row) throw new Error('record_purchase answered no row');
    if (row.outcome === 'STALE') return { outcome: 'STALE' };
    if (row.outcome === 'INSUFFICIENT_POINTS') return { outcome: 'INSUFFICIENT_POINTS', balance: row.memberBalance };

    // What the relay queues after the commit: the rows as written, ids from the database.
    const purchaseId = row.purchaseId as number;
    const withId = (key: string) => key.replace('{id}', String(purchaseId));
    const delivery = (id: number, dedupeKey: string, notification: Delivery['notification']): Delivery =>
      pendingDelivery({ memberId: purchase.memberId, dedupeKey, notification, class: 'transactional' }, { id, createdAt: plan.at });
    if (row.receiptDeliveryId !== null) {
      this.written?.deliveries.push(delivery(row.receiptDeliveryId, withId(keys.receipt), { ...plan.receipt, balance: row.memberBalance }));
    }
    if (row.tierDeliveryId !== null && plan.tierNotice) this.written?.deliveries.push(delivery(row.tierDeliveryId, withId(keys.tier), plan.tierNotice));
    if (row.eventWritten) this.written?.events.push({ ...plan.event, id: withId(keys.event), purchaseId });
    // record_purchase posted these through ledger_post (its migration).
    if (purchase.paidWithPoints > 0) this.onLedgerPost?.('SPEND');
    if (purchase.pointsEarned > 0) this.onLedgerPost?.('EARN');
    return { outcome: 'RECORDED', purchaseId, balance: row.memberBalance };
  }

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

  async create(value: Omit<Purchase, 'id' | 'createdAt' | 'returnedMinor' | 'pointsEarned' | 'tierCode' | 'discountMinor' | 'paidMinor'> & { actor: Actor }) {
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

  async addReturned(id: number, amountMinor: number, discountMinor = 0) {
    const row = await this.db.purchase.update({ where: { id }, data: { returnedMinor: { increment: BigInt(amountMinor) } }, select: { memberId: true } });
    // The savings shown on the balance screen are net of returns.
    if (discountMinor > 0) await this.db.member.update({ where: { id: row.memberId }, data: { savedMinor: { decrement: BigInt(discountMinor) } } });
  }

  async findReturnByKey(idempotencyKey: string) {
    const row = await this.db.purchaseReturn.findUnique({ where: { idempotencyKey } });
    return row ? toReturn(row) : null;
  }

  async createReturn(value: Omit<PurchaseReturn, 'id' | 'createdAt'> & { actor: Actor }) {
    const { actor, amountMinor, discountMinor, refundMinor, ...rest } = value;
    const row = await this.db.purchaseReturn.create({
      data: {
        ...rest,
        amountMinor: BigInt(amountMinor),
        discountMinor: BigInt(discountMinor),
        refundMinor: refundMinor === null ? null : BigInt(refundMinor),
        actorType: actor.type,
        actorId: actor.id ?? null,
        createdAt: this.clock.now(),
      },
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
