import { BUCKETS, type Split } from '../domain/broadcasts/experiment.js';
import { NO_OFFER_REASON } from '../domain/broadcasts/offer.js';
import type {
  AudienceQuery,
  AudienceSize,
  Broadcast,
  BroadcastButton,
  BroadcastContent,
  BroadcastCounts,
  BroadcastRepository,
  ExperimentCounts,
  LiftArm,
  LiftFacts,
  NewBroadcast,
  OfferCounts,
  Segment,
  TextEntity,
} from '../domain/broadcasts/types.js';
import type { Clock } from '../domain/clock.js';
import { INELIGIBLE } from '../domain/delivery/eligibility.js';
import { isLocale } from '../domain/program.js';
import { type Broadcast as BroadcastRow, Prisma, type PrismaClient } from '../generated/prisma/client.js';
import { isUniqueViolation } from './errors.js';
import { activeMember, ineligibility, offerEligible } from './offer-eligibility.js';
import type { Db } from './repositories.js';
import { ts } from './sql.js';

/** Why a member in the segment is not sent the broadcast (the words of decideDelivery). */
export const OPTED_OUT = INELIGIBLE.optedOut.reason;
export const UNREACHABLE = INELIGIBLE.unreachable.reason;
export const CANCELLED = 'cancelled';

function toBroadcast(row: BroadcastRow): Broadcast {
  return {
    id: row.id,
    status: row.status,
    content: {
      text: row.text,
      entities: row.entities as unknown as TextEntity[],
      photoFileId: row.photoFileId,
      button: (row.button as unknown as BroadcastButton | null) ?? null,
    },
    segment: row.segment as unknown as Segment,
    paid: row.paid,
    scheduledAt: row.scheduledAt,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
    cancelledAt: row.cancelledAt,
    audience: row.audience,
    queuedThroughId: row.queuedThroughId,
    final: { sent: row.sent, blocked: row.blocked, failed: row.failed, skipped: row.skipped, cancelled: row.cancelled },
    createdBy: { type: row.createdByType, id: row.createdById },
    reportTo: row.reportChatId === null ? null : { chatId: Number(row.reportChatId), locale: isLocale(row.reportLocale) ? row.reportLocale : 'ru' },
    idempotencyKey: row.idempotencyKey,
    offerRewardCode: row.offerRewardCode,
    controlPercent: row.controlPercent,
    variantB: (row.variantB as unknown as BroadcastContent | null) ?? null,
    liftReportedAt: row.liftReportedAt,
    createdAt: row.createdAt,
  };
}

/**
 * The bucket of experiment.ts `bucketOf` in SQL: the first 32 bits of md5("<split>:<broadcast>:<member>")
 * as an unsigned integer, mod BUCKETS. Both must agree (test/db/broadcast-experiments.test.ts).
 */
const bucketSql = (split: Split, broadcast: Prisma.Sql, member: Prisma.Sql) =>
  Prisma.sql`(('x' || substr(md5(${split} || ':' || ${broadcast} || ':' || ${member}), 1, 8))::bit(32)::bigint % ${BUCKETS})`;

/**
 * The members a resolved segment matches, as SQL over `"Member" m`: ACTIVE members with a chat,
 * and every filter that is set. Who of them receives it (opted in, reachable) is decided by the
 * caller, so that the same clause serves the audience size and the delivery list.
 */
export function segmentClause(query: AudienceQuery, options: { activeOnly: boolean } = { activeOnly: true }): Prisma.Sql {
  // Analytics (analytics-repository.ts) counts erased members in the periods they were members:
  // there the segment is the member's attributes only, not who can be sent a message.
  const clauses: Prisma.Sql[] = options.activeOnly ? [activeMember] : [Prisma.sql`true`];
  if (query.tiers) clauses.push(Prisma.sql`COALESCE(m."tier", ${query.firstTier}) IN (${Prisma.join(query.tiers)})`);
  if (query.locales) clauses.push(Prisma.sql`m."locale" IN (${Prisma.join(query.locales)})`);
  if (query.storeIds) {
    // The home store: the store of the latest purchase (one backward step on Purchase(memberId, createdAt)).
    clauses.push(Prisma.sql`(SELECT p."storeId" FROM "Purchase" p WHERE p."memberId" = m.id ORDER BY p."createdAt" DESC, p.id DESC LIMIT 1)
      IN (${Prisma.join(query.storeIds)})`);
  }
  if (query.lastPurchaseBefore) {
    clauses.push(Prisma.sql`(SELECT MAX(p."createdAt") FROM "Purchase" p WHERE p."memberId" = m.id) < ${ts(query.lastPurchaseBefore)}`);
  }
  if (query.lastPurchaseSince) {
    clauses.push(Prisma.sql`EXISTS (SELECT 1 FROM "Purchase" p WHERE p."memberId" = m.id AND p."createdAt" >= ${ts(query.lastPurchaseSince)})`);
  }
  if (query.neverPurchased) clauses.push(Prisma.sql`NOT EXISTS (SELECT 1 FROM "Purchase" p WHERE p."memberId" = m.id)`);
  if (query.registeredSince) clauses.push(Prisma.sql`m."registeredAt" >= ${ts(query.registeredSince)}`);
  if (query.birthdayMonth !== null) clauses.push(Prisma.sql`EXTRACT(MONTH FROM m."birthday") = ${query.birthdayMonth}`);
  if (query.npsGroups) {
    // The group of the latest answered survey (Survey(memberId, sentAt) narrows it to the member).
    const groups = query.npsGroups.map((group) => group.toUpperCase());
    clauses.push(Prisma.sql`(SELECT s."group"::text FROM "Survey" s WHERE s."memberId" = m.id AND s."group" IS NOT NULL
      ORDER BY s."answeredAt" DESC, s.id DESC LIMIT 1) IN (${Prisma.join(groups)})`);
  }
  if (query.pointsExpiring) {
    clauses.push(Prisma.sql`EXISTS (SELECT 1 FROM "PointLot" l WHERE l."memberId" = m.id AND l.remaining > 0
      AND l."expiresAt" > ${ts(query.pointsExpiring.after)} AND l."expiresAt" <= ${ts(query.pointsExpiring.before)})`);
  }
  if (query.minBalance !== null) clauses.push(Prisma.sql`m.balance >= ${query.minBalance}`);
  return Prisma.join(clauses, ' AND ');
}

interface CountRow {
  pending: number;
  sent: number;
  blocked: number;
  failed: number;
  skipped: number;
  cancelled: number;
}

export class PrismaBroadcastRepository implements BroadcastRepository {
  /** `db` is the root client (cancel opens its own transaction) or an open transaction. */
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly inTransaction: boolean,
  ) {}

  async create(value: NewBroadcast): Promise<Broadcast | null> {
    try {
      const row = await this.db.broadcast.create({
        data: {
          text: value.content.text,
          entities: value.content.entities as unknown as Prisma.InputJsonValue,
          photoFileId: value.content.photoFileId,
          button: value.content.button ? (value.content.button as unknown as Prisma.InputJsonValue) : Prisma.DbNull,
          segment: value.segment as unknown as Prisma.InputJsonValue,
          paid: value.paid,
          scheduledAt: value.scheduledAt,
          createdByType: value.createdBy.type,
          createdById: value.createdBy.id ?? '',
          reportChatId: value.reportTo ? BigInt(value.reportTo.chatId) : null,
          reportLocale: value.reportTo?.locale ?? null,
          idempotencyKey: value.idempotencyKey,
          offerRewardCode: value.offerRewardCode,
          controlPercent: value.controlPercent,
          variantB: value.variantB ? (value.variantB as unknown as Prisma.InputJsonValue) : Prisma.DbNull,
          createdAt: this.clock.now(),
        },
      });
      return toBroadcast(row);
    } catch (error) {
      if (isUniqueViolation(error)) return null;
      throw error;
    }
  }

  async findById(id: number) {
    const row = await this.db.broadcast.findUnique({ where: { id } });
    return row ? toBroadcast(row) : null;
  }

  async findByKey(idempotencyKey: string) {
    const row = await this.db.broadcast.findUnique({ where: { idempotencyKey } });
    return row ? toBroadcast(row) : null;
  }

  async list(limit: number) {
    const rows = await this.db.broadcast.findMany({ orderBy: { id: 'desc' }, take: limit });
    return rows.map(toBroadcast);
  }

  async audienceSize(query: AudienceQuery): Promise<AudienceSize> {
    const [row] = await this.db.$queryRaw<AudienceSize[]>`
      SELECT COUNT(*) FILTER (WHERE ${offerEligible})::int AS recipients,
             COUNT(*) FILTER (WHERE ${ineligibility} = 'optedOut')::int AS "optedOut",
             COUNT(*) FILTER (WHERE ${ineligibility} = 'unreachable')::int AS unreachable
      FROM "Member" m
      WHERE ${segmentClause(query)}`;
    return row ?? { recipients: 0, optedOut: 0, unreachable: 0 };
  }

  async start(id: number, query: AudienceQuery, now: Date): Promise<Broadcast | null> {
    // One statement: the broadcast row is locked and re-checked (a concurrent start or cancel
    // waits here and then finds it no longer SCHEDULED), the control group and the delivery list
    // are written in two INSERT ... SELECTs over the same members, and the status, start time and
    // audience are set. All of it or nothing. Control: members who would receive it (opted in,
    // reachable) whose bucket is under the cut; they get no Delivery row at all, so no worker can
    // send them anything. With a variant B, each delivery's payload names its variant. (A
    // data-modifying CTE runs to completion whether or not the main statement reads it.)
    const member = Prisma.sql`matched.id`;
    const broadcast = Prisma.sql`target.id`;
    const rows = await this.db.$queryRaw<BroadcastRow[]>`
      WITH target AS (
        SELECT id, "controlPercent", "variantB" IS NOT NULL AS ab FROM "Broadcast" WHERE id = ${id} AND status = 'SCHEDULED' FOR UPDATE
      ), matched AS (
        SELECT m.id, ${ineligibility} AS refused,
               (${offerEligible} AND ${bucketSql('control', Prisma.sql`target.id`, Prisma.sql`m.id`)} < target."controlPercent" * ${BUCKETS / 100}) AS held
        FROM "Member" m CROSS JOIN target
        WHERE ${segmentClause(query)}
      ), holdouts AS (
        INSERT INTO "BroadcastHoldout" ("broadcastId", "memberId", "createdAt")
        SELECT target.id, matched.id, ${ts(now)} FROM matched CROSS JOIN target WHERE matched.held
        ON CONFLICT DO NOTHING
        RETURNING 1
      ), inserted AS (
        INSERT INTO "Delivery" ("dedupeKey", "memberId", "kind", "class", "payload", "status", "error", "broadcastId", "createdAt", "updatedAt")
        SELECT 'broadcast:' || target.id || ':' || matched.id, matched.id, 'broadcast', 'broadcast',
               jsonb_build_object('kind', 'broadcast', 'broadcastId', target.id)
                 || CASE WHEN target.ab THEN jsonb_build_object('variant', CASE WHEN ${bucketSql('variant', broadcast, member)} < ${BUCKETS / 2} THEN 'A' ELSE 'B' END)
                    ELSE '{}'::jsonb END,
               (CASE matched.refused WHEN 'optedOut' THEN 'SKIPPED' WHEN 'unreachable' THEN 'BLOCKED' ELSE 'PENDING' END)::"DeliveryStatus",
               CASE matched.refused WHEN 'optedOut' THEN ${OPTED_OUT} WHEN 'unreachable' THEN ${UNREACHABLE} END,
               target.id, ${ts(now)}, now()
        FROM matched CROSS JOIN target
        WHERE NOT matched.held
        ORDER BY matched.id
        ON CONFLICT ("dedupeKey") DO NOTHING
        RETURNING 1
      )
      UPDATE "Broadcast" b
      SET status = 'SENDING', "startedAt" = ${ts(now)}, audience = (SELECT COUNT(*) FROM inserted)::int, "updatedAt" = now()
      FROM target
      WHERE b.id = target.id
      RETURNING b.*`;
    const row = rows[0];
    return row ? toBroadcast(row) : null;
  }

  async pendingDeliveries(id: number, afterId: number, limit: number): Promise<number[]> {
    const rows = await this.db.$queryRaw<{ id: number }[]>`
      SELECT id FROM "Delivery" WHERE "broadcastId" = ${id} AND status = 'PENDING' AND id > ${afterId} ORDER BY id LIMIT ${limit}`;
    return rows.map((row) => row.id);
  }

  async queuedPending(id: number, throughId: number, cap: number): Promise<number> {
    // An index range on Delivery(broadcastId, status, id), at most `cap` entries.
    const [row] = await this.db.$queryRaw<{ n: number }[]>`
      SELECT COUNT(*)::int AS n FROM (
        SELECT 1 FROM "Delivery" WHERE "broadcastId" = ${id} AND status = 'PENDING' AND id <= ${throughId} LIMIT ${cap}
      ) AS queued`;
    return row?.n ?? 0;
  }

  async markQueued(id: number, deliveryId: number): Promise<void> {
    await this.db.$executeRaw`UPDATE "Broadcast" SET "queuedThroughId" = GREATEST("queuedThroughId", ${deliveryId}) WHERE id = ${id}`;
  }

  async cancel(id: number, now: Date): Promise<{ broadcast: Broadcast; withdrawn: number[] } | null> {
    // Two statements in one transaction, not one: after waiting for the row lock (a start may be
    // writing the delivery list), only a new statement sees the rows that start committed.
    const work = async (tx: Prisma.TransactionClient) => {
      const locked = await tx.$queryRaw<{ id: number }[]>`
        SELECT id FROM "Broadcast" WHERE id = ${id} AND status IN ('SCHEDULED', 'SENDING') FOR UPDATE`;
      if (locked.length === 0) return null;
      const withdrawn = await tx.$queryRaw<{ id: number }[]>`
        UPDATE "Delivery" SET status = 'SKIPPED', error = ${CANCELLED}, "updatedAt" = now()
        WHERE "broadcastId" = ${id} AND status = 'PENDING'
        RETURNING id`;
      const counts = await countsOf(tx, id);
      const row = await tx.broadcast.update({
        where: { id },
        data: {
          status: 'CANCELLED',
          cancelledAt: now,
          sent: counts.sent,
          blocked: counts.blocked,
          failed: counts.failed,
          skipped: counts.skipped,
          cancelled: counts.cancelled,
        },
      });
      return { broadcast: toBroadcast(row), withdrawn: withdrawn.map((r) => r.id) };
    };
    return this.inTransaction ? work(this.db) : (this.db as PrismaClient).$transaction(work, { timeout: 120_000, maxWait: 30_000 });
  }

  counts(id: number): Promise<BroadcastCounts> {
    return countsOf(this.db, id);
  }

  async offerCounts(id: number): Promise<OfferCounts> {
    // Delivery(broadcastId, status, id) narrows it to the SENT rows of the broadcast.
    const [row] = await this.db.$queryRaw<OfferCounts[]>`
      SELECT COUNT(*) FILTER (WHERE error IS NULL OR error <> ${NO_OFFER_REASON})::int AS "withCoupon",
             COUNT(*) FILTER (WHERE error = ${NO_OFFER_REASON})::int AS "withoutCoupon"
      FROM "Delivery" WHERE "broadcastId" = ${id} AND status = 'SENT'`;
    return row ?? { withCoupon: 0, withoutCoupon: 0 };
  }

  async finishIfDone(id: number, now: Date): Promise<Broadcast | null> {
    // Asked often while a broadcast runs: one index probe answers "not yet" without counting.
    // A row never goes back to PENDING, so nothing can become pending after this check.
    const [pending] = await this.db.$queryRaw<{ any: boolean }[]>`
      SELECT EXISTS (SELECT 1 FROM "Delivery" WHERE "broadcastId" = ${id} AND status = 'PENDING') AS any`;
    if (pending?.any) return null;
    // Conditional on SENDING and on nothing pending: of two concurrent checks, one finishes it.
    const rows = await this.db.$queryRaw<BroadcastRow[]>`
      WITH counts AS (${countsQuery(id)})
      UPDATE "Broadcast" b
      SET status = 'DONE', "finishedAt" = ${ts(now)}, sent = counts.sent, blocked = counts.blocked, failed = counts.failed,
          skipped = counts.skipped, cancelled = counts.cancelled, "updatedAt" = now()
      FROM counts
      WHERE b.id = ${id} AND b.status = 'SENDING' AND counts.pending = 0
      RETURNING b.*`;
    const row = rows[0];
    return row ? toBroadcast(row) : null;
  }

  async due(now: Date, limit: number): Promise<number[]> {
    const rows = await this.db.broadcast.findMany({
      where: { status: 'SCHEDULED', scheduledAt: { lte: now } },
      orderBy: { scheduledAt: 'asc' },
      take: limit,
      select: { id: true },
    });
    return rows.map((row) => row.id);
  }

  async sending(): Promise<Broadcast[]> {
    const rows = await this.db.broadcast.findMany({ where: { status: 'SENDING' }, orderBy: { id: 'asc' } });
    return rows.map(toBroadcast);
  }

  async experimentCounts(id: number): Promise<ExperimentCounts> {
    const [row] = await this.db.$queryRaw<ExperimentCounts[]>`
      SELECT (SELECT COUNT(*) FROM "BroadcastHoldout" WHERE "broadcastId" = ${id})::int AS control,
             COUNT(*) FILTER (WHERE COALESCE(payload->>'variant', 'A') = 'A')::int AS "variantA",
             COUNT(*) FILTER (WHERE payload->>'variant' = 'B')::int AS "variantB"
      FROM "Delivery" WHERE "broadcastId" = ${id}`;
    return row ?? { control: 0, variantA: 0, variantB: 0 };
  }

  async liftFacts(id: number, days: number): Promise<LiftFacts> {
    // One pass: every member of the three groups with the start of their window (treated: their
    // own send time; control: the broadcast's start), their purchases in it (net of returns, on
    // Purchase(memberId, createdAt)) and whether they redeemed a coupon in it.
    const rows = await this.db.$queryRaw<(LiftArm & { arm: string })[]>`
      WITH arms AS (
        SELECT COALESCE(d.payload->>'variant', 'A') AS arm, d."memberId" AS member, d."sentAt" AS since
        FROM "Delivery" d WHERE d."broadcastId" = ${id} AND d.status = 'SENT' AND d."sentAt" IS NOT NULL AND d."memberId" IS NOT NULL
        UNION ALL
        SELECT 'control', h."memberId", h."createdAt" FROM "BroadcastHoldout" h WHERE h."broadcastId" = ${id}
      ), outcomes AS (
        SELECT a.arm, COALESCE(bought.revenue, 0)::float8 AS revenue, bought.n > 0 AS converted,
               EXISTS (SELECT 1 FROM "Coupon" c WHERE c."memberId" = a.member AND c."redeemedAt" > a.since
                       AND c."redeemedAt" <= a.since + make_interval(days => ${days}::int)) AS redeemed
        FROM arms a
        CROSS JOIN LATERAL (
          SELECT COUNT(*) AS n, SUM(p."amountMinor" - p."returnedMinor") AS revenue FROM "Purchase" p
          WHERE p."memberId" = a.member AND p."createdAt" > a.since AND p."createdAt" <= a.since + make_interval(days => ${days}::int)
        ) bought
      )
      SELECT arm, COUNT(*)::int AS members, COUNT(*) FILTER (WHERE converted)::int AS converted,
             COUNT(*) FILTER (WHERE redeemed)::int AS redeemed,
             COALESCE(AVG(revenue), 0)::float8 AS "revenueMean", COALESCE(VAR_SAMP(revenue), 0)::float8 AS "revenueVariance"
      FROM outcomes GROUP BY arm`;
    const empty: LiftArm = { members: 0, converted: 0, redeemed: 0, revenueMean: 0, revenueVariance: 0 };
    const arm = (name: string): LiftArm => {
      const row = rows.find((r) => r.arm === name);
      return row
        ? { members: row.members, converted: row.converted, redeemed: row.redeemed, revenueMean: row.revenueMean, revenueVariance: row.revenueVariance }
        : empty;
    };
    const broadcast = await this.db.broadcast.findUnique({ where: { id }, select: { variantB: true } });
    const hasB = broadcast?.variantB !== null && broadcast?.variantB !== undefined;
    return { control: arm('control'), variantA: arm('A'), variantB: hasB ? arm('B') : null };
  }

  async liftDue(finishedBefore: Date, limit: number): Promise<Broadcast[]> {
    const rows = await this.db.broadcast.findMany({
      where: { status: 'DONE', finishedAt: { lte: finishedBefore }, liftReportedAt: null },
      orderBy: { finishedAt: 'asc' },
      take: limit,
    });
    return rows.map(toBroadcast);
  }

  async markLiftReported(id: number, now: Date): Promise<boolean> {
    const count = await this.db
      .$executeRaw`UPDATE "Broadcast" SET "liftReportedAt" = ${ts(now)}, "updatedAt" = now() WHERE id = ${id} AND "liftReportedAt" IS NULL`;
    return count > 0;
  }

  async finishedBefore(finishedBefore: Date, limit: number): Promise<Broadcast[]> {
    const rows = await this.db.broadcast.findMany({
      where: { status: 'DONE', finishedAt: { lte: finishedBefore } },
      orderBy: [{ finishedAt: 'desc' }, { id: 'desc' }],
      take: limit,
    });
    return rows.map(toBroadcast);
  }
}

const countsQuery = (id: number) => Prisma.sql`
  SELECT COUNT(*) FILTER (WHERE status = 'PENDING')::int AS pending,
         COUNT(*) FILTER (WHERE status = 'SENT')::int AS sent,
         COUNT(*) FILTER (WHERE status = 'BLOCKED')::int AS blocked,
         COUNT(*) FILTER (WHERE status = 'FAILED')::int AS failed,
         COUNT(*) FILTER (WHERE status = 'SKIPPED' AND error IS DISTINCT FROM ${CANCELLED})::int AS skipped,
         COUNT(*) FILTER (WHERE status = 'SKIPPED' AND error = ${CANCELLED})::int AS cancelled
  FROM "Delivery" WHERE "broadcastId" = ${id}`;

async function countsOf(db: Db, id: number): Promise<BroadcastCounts> {
  const [row] = await db.$queryRaw<CountRow[]>(countsQuery(id));
  return row ?? { pending: 0, sent: 0, blocked: 0, failed: 0, skipped: 0, cancelled: 0 };
}
