import type {
  AnalyticsRepository,
  AnalyticsScope,
  BuyingFacts,
  ChurnFacts,
  CohortFacts,
  CouponFacts,
  MembershipFacts,
  NewReceipt,
  PointsFacts,
  Receipt,
  ReceiptRecordOutcome,
  ReceiptRepository,
  SeriesBucketFacts,
  SeriesFacts,
} from '../domain/analytics/types.js';
import { zonedParts, zonedTimeToUtc } from '../domain/time.js';
import { Prisma, type PrismaClient } from '../generated/prisma/client.js';
import { segmentClause } from './broadcast-repository.js';
import type { Db } from './repositories.js';
import { ts } from './sql.js';

/**
 * The program's KPIs as set-based SQL (src/domain/analytics/types.ts says what each figure is;
 * README "Analytics" the definitions). One statement per method, counts and sums only: the
 * ratios, averages and money live in the pure domain functions. Timestamps are UTC `timestamp`
 * columns compared with instants from the domain (one clock: no `now()` here).
 */

const DAY_MS = 86_400_000;
const minus = (date: Date, days: number) => new Date(date.getTime() - days * DAY_MS);
const num = (value: bigint | number | null | undefined) => Number(value ?? 0);

/**
 * `AND <member "m"> is of the scope's tier and in its segment` (both resolved now: tiers are not
 * historised, and the segment's relative filters count from the clock). segmentClause reads the
 * member as `m`, so every caller aliases "Member" as `m`.
 */
function memberClause(scope: AnalyticsScope): Prisma.Sql {
  const tier = scope.tier === null ? Prisma.empty : Prisma.sql` AND COALESCE(m."tier", ${scope.baseTier}) = ${scope.tier}`;
  const segment = scope.segment === null ? Prisma.empty : Prisma.sql` AND (${segmentClause(scope.segment, { activeOnly: false })})`;
  return Prisma.sql`${tier}${segment}`;
}

/** Whether the scope restricts members: rows that are not "Member" then need it joined as `m`. */
const filtersMembers = (scope: AnalyticsScope) => scope.tier !== null || scope.segment !== null;

/** `JOIN "Member" m ON m.id = <column>` when the scope restricts members, else nothing. */
const joinMember = (scope: AnalyticsScope, column: Prisma.Sql) => (filtersMembers(scope) ? Prisma.sql`JOIN "Member" m ON m.id = ${column}` : Prisma.empty);

/** `AND <alias>."storeId" = the scope's store` for rows that carry a store. */
function storeClause(scope: AnalyticsScope, column: Prisma.Sql): Prisma.Sql {
  return scope.storeId === null ? Prisma.empty : Prisma.sql` AND ${column} = ${scope.storeId}`;
}

/** With a store, the members counted are that store's customers: a purchase there before `to`. */
function storeCustomerClause(scope: AnalyticsScope, memberId: Prisma.Sql): Prisma.Sql {
  return scope.storeId === null
    ? Prisma.empty
    : Prisma.sql` AND EXISTS (SELECT 1 FROM "Purchase" sp WHERE sp."memberId" = ${memberId} AND sp."storeId" = ${scope.storeId} AND sp."createdAt" < ${ts(scope.to)})`;
}

type SeriesRow = { [K in keyof SeriesBucketFacts]: bigint | number | null } & { bucket: number; membersBefore: number };

export class PrismaAnalyticsRepository implements AnalyticsRepository {
  constructor(private readonly db: Db) {}

  /**
   * One statement with JIT compilation off for its transaction. The planner cannot know how many
   * buckets a width_bucket groups into, overestimates these statements by orders of magnitude and
   * then spends 1-4 s compiling them with LLVM at 1M purchases (EXPLAIN ANALYZE: "JIT ... Inlining
   * true, Optimization true"), longer than running them. A session setting, not the server's.
   */
  private async read<R>(query: Prisma.Sql): Promise<R> {
    if ('$transaction' in this.db) {
      const db = this.db as PrismaClient;
      const [, rows] = await db.$transaction([db.$executeRaw`SET LOCAL jit = off`, db.$queryRaw<R>(query)]);
      return rows;
    }
    // Already inside a caller's transaction: the setting lasts until it ends.
    const tx = this.db as Prisma.TransactionClient;
    await tx.$executeRaw`SET LOCAL jit = off`;
    return tx.$queryRaw<R>(query);
  }

  async membership(scope: AnalyticsScope, activeSince: Date): Promise<MembershipFacts> {
    // The active buyers are one set (a hash of the window's distinct buyers) joined to the
    // members, not an EXISTS per member (a subplan run for each of 100k members).
    const [row] = await this.read<{ members: number; newMembers: number; activeMembers: number }[]>(Prisma.sql`
      WITH active AS (
        SELECT DISTINCT p."memberId" FROM "Purchase" p
        WHERE p."createdAt" >= ${ts(activeSince)} AND p."createdAt" < ${ts(scope.to)}${storeClause(scope, Prisma.sql`p."storeId"`)}
      )
      SELECT count(*)::int AS members,
             count(*) FILTER (WHERE m."registeredAt" >= ${ts(scope.from)})::int AS "newMembers",
             count(a."memberId")::int AS "activeMembers"
      FROM "Member" m LEFT JOIN active a ON a."memberId" = m.id
      WHERE m."registeredAt" < ${ts(scope.to)} AND (m."deletedAt" IS NULL OR m."deletedAt" >= ${ts(scope.to)})
        ${memberClause(scope)}${storeCustomerClause(scope, Prisma.sql`m.id`)}`);
    return { members: row?.members ?? 0, newMembers: row?.newMembers ?? 0, activeMembers: row?.activeMembers ?? 0 };
  }

  async buying(scope: AnalyticsScope): Promise<BuyingFacts> {
    const period = Prisma.sql`p."createdAt" >= ${ts(scope.from)} AND p."createdAt" < ${ts(scope.to)}${storeClause(scope, Prisma.sql`p."storeId"`)}${memberClause(scope)}`;
    const joinPurchaseMember = joinMember(scope, Prisma.sql`p."memberId"`);
    // Receipts that a till also sent as a member's purchase (same store and number) are the
    // member's: skipped here, so that a sale is never counted on both sides. The discount given
    // back by returns is read from the returns (few) joined to their purchases by key.
    const [row] = await this.read<
      {
        memberPurchases: bigint;
        memberRevenue: bigint;
        discount: bigint;
        returnedDiscount: bigint;
        buyers: number;
        repeatBuyers: number;
        receipts: bigint;
        receiptRevenue: bigint;
      }[]
    >(Prisma.sql`
      WITH totals AS (
        SELECT count(*) AS n, sum(p."amountMinor" - p."returnedMinor") AS revenue, sum(p."discountMinor") AS discount
        FROM "Purchase" p ${joinPurchaseMember}
        WHERE ${period}
      ), per_member AS (
        -- Only the count per member: a narrow row to group (the sums above need no grouping).
        SELECT count(*) AS n
        FROM "Purchase" p ${joinPurchaseMember}
        WHERE ${period}
        GROUP BY p."memberId"
      ), returned AS (
        -- A return comes after its purchase: only returns since \`from\` can belong to the period's purchases.
        SELECT sum(r."discountMinor") AS discount
        FROM "PurchaseReturn" r JOIN "Purchase" p ON p.id = r."purchaseId" ${joinPurchaseMember}
        WHERE r."discountMinor" > 0 AND r."createdAt" >= ${ts(scope.from)} AND ${period}
      ), receipts AS (
        SELECT count(*) AS n, sum(r."amountMinor") AS revenue
        FROM "Receipt" r
        WHERE r."createdAt" >= ${ts(scope.from)} AND r."createdAt" < ${ts(scope.to)}${storeClause(scope, Prisma.sql`r."storeId"`)}
          AND NOT EXISTS (SELECT 1 FROM "Purchase" x WHERE x."storeId" = r."storeId" AND x."receiptNo" = r."receiptNo")
      )
      SELECT (SELECT n FROM totals)::bigint AS "memberPurchases", COALESCE((SELECT revenue FROM totals), 0)::bigint AS "memberRevenue",
             COALESCE((SELECT discount FROM totals), 0)::bigint AS discount, COALESCE((SELECT discount FROM returned), 0)::bigint AS "returnedDiscount",
             count(*)::int AS buyers, (count(*) FILTER (WHERE pm.n >= 2))::int AS "repeatBuyers",
             (SELECT n FROM receipts)::bigint AS receipts, COALESCE((SELECT revenue FROM receipts), 0)::bigint AS "receiptRevenue"
      FROM per_member pm`);
    return {
      memberPurchases: num(row?.memberPurchases),
      memberRevenueMinor: num(row?.memberRevenue),
      buyers: row?.buyers ?? 0,
      repeatBuyers: row?.repeatBuyers ?? 0,
      tierDiscountMinor: num(row?.discount) - num(row?.returnedDiscount),
      receipts: num(row?.receipts),
      receiptRevenueMinor: num(row?.receiptRevenue),
    };
  }

  async churn(scope: AnalyticsScope, churnDays: number): Promise<ChurnFacts[]> {
    // Two sets of distinct buyers (the base window and the last window) joined, not a NOT EXISTS per member.
    const rows = await this.read<{ tier: string; base: number; churned: number }[]>(Prisma.sql`
      WITH base AS (
        SELECT DISTINCT p."memberId" FROM "Purchase" p
        WHERE p."createdAt" >= ${ts(minus(scope.from, churnDays))} AND p."createdAt" < ${ts(scope.from)}${storeClause(scope, Prisma.sql`p."storeId"`)}
      ), recent AS (
        SELECT DISTINCT q."memberId" FROM "Purchase" q
        WHERE q."createdAt" >= ${ts(minus(scope.to, churnDays))} AND q."createdAt" < ${ts(scope.to)}${storeClause(scope, Prisma.sql`q."storeId"`)}
      )
      SELECT COALESCE(m."tier", ${scope.baseTier}) AS tier, count(*)::int AS base, count(*) FILTER (WHERE r."memberId" IS NULL)::int AS churned
      FROM base b JOIN "Member" m ON m.id = b."memberId" LEFT JOIN recent r ON r."memberId" = b."memberId"
      WHERE true${memberClause(scope)}
      GROUP BY 1 ORDER BY 1`);
    return rows.map((row) => ({ tier: row.tier, base: row.base, churned: row.churned }));
  }

  async points(scope: AnalyticsScope): Promise<PointsFacts> {
    const joinEntryMember = joinMember(scope, Prisma.sql`e."memberId"`);
    const [row] = await this.read<{ issued: bigint; redeemed: bigint; expired: bigint }[]>(Prisma.sql`
      SELECT COALESCE(sum(e.amount) FILTER (WHERE e.type IN ('EARN', 'BONUS', 'ADJUST', 'REVERSE')), 0)::bigint AS issued,
             COALESCE(-sum(e.amount) FILTER (WHERE e.type IN ('SPEND', 'REFUND')), 0)::bigint AS redeemed,
             COALESCE(-sum(e.amount) FILTER (WHERE e.type IN ('EXPIRE', 'CLOSE')), 0)::bigint AS expired
      FROM "LedgerEntry" e ${joinEntryMember}
      WHERE e."createdAt" >= ${ts(scope.from)} AND e."createdAt" < ${ts(scope.to)}
        ${storeClause(scope, Prisma.sql`e."storeId"`)}${memberClause(scope)}`);
    if (scope.storeId !== null) return { issued: num(row?.issued), redeemed: num(row?.redeemed), expired: null, outstanding: null };
    // Balances at `to`: today's balances (kept equal to the sum of entries, DESIGN.md 2) minus
    // what was entered since `to`. For a recent `to` this reads the members and a few entries
    // instead of the whole ledger.
    const [balance] = await this.read<{ outstanding: bigint }[]>(Prisma.sql`
      SELECT (SELECT COALESCE(sum(m.balance), 0) FROM "Member" m WHERE true${memberClause(scope)})
           - (SELECT COALESCE(sum(e.amount), 0) FROM "LedgerEntry" e ${joinEntryMember} WHERE e."createdAt" >= ${ts(scope.to)}${memberClause(scope)})
             AS outstanding`);
    return { issued: num(row?.issued), redeemed: num(row?.redeemed), expired: num(row?.expired), outstanding: num(balance?.outstanding) };
  }

  async coupons(scope: AnalyticsScope): Promise<CouponFacts> {
    const [row] = await this.read<{ redeemed: number; freeFixedValue: bigint; freeUnvalued: number }[]>(Prisma.sql`
      SELECT count(*)::int AS redeemed,
             COALESCE(sum(c.value) FILTER (WHERE c.cost = 0 AND c.kind = 'FIXED_COUPON'), 0)::bigint AS "freeFixedValue",
             (count(*) FILTER (WHERE c.cost = 0 AND c.kind <> 'FIXED_COUPON'))::int AS "freeUnvalued"
      FROM "Coupon" c ${joinMember(scope, Prisma.sql`c."memberId"`)}
      WHERE c."redeemedAt" >= ${ts(scope.from)} AND c."redeemedAt" < ${ts(scope.to)}
        ${storeClause(scope, Prisma.sql`c."redeemedStoreId"`)}${memberClause(scope)}`);
    return { redeemed: row?.redeemed ?? 0, freeFixedValueMinor: num(row?.freeFixedValue), freeUnvalued: row?.freeUnvalued ?? 0 };
  }

  async cohorts(scope: AnalyticsScope): Promise<CohortFacts[]> {
    // Months are found by binary search among the local month starts (width_bucket), not by
    // converting every purchase's time to the program's zone. Each buyer's months are one
    // bitmask (a period of 1830 days touches at most 62 months, bit k = month k), so the purchases are grouped
    // once by member (100k groups at 1M purchases) instead of deduplicated per (member, month);
    // members are read from "Member" itself, not a CTE, so the planner knows ids are unique
    // (a CTE's unknown statistics made it expect a billion rows and spend a second in JIT).
    const months = localMonths(scope);
    const starts = Prisma.sql`ARRAY[${Prisma.join(months.map((month) => ts(month.start)))}]::timestamp[]`;
    const rows = await this.read<{ cohort: number; size: number; offset: number | null; members: number | null }[]>(Prisma.sql`
      WITH per_member AS (
        SELECT p."memberId", bit_or(1::bigint << width_bucket(p."createdAt", ${starts})) AS months
        FROM "Purchase" p
        WHERE p."createdAt" >= ${ts(scope.from)} AND p."createdAt" < ${ts(scope.to)}${storeClause(scope, Prisma.sql`p."storeId"`)}
        GROUP BY 1
      ), masks AS (
        SELECT width_bucket(m."registeredAt", ${starts}) AS cohort, a.months, count(*) AS n
        FROM "Member" m LEFT JOIN per_member a ON a."memberId" = m.id
        WHERE m."registeredAt" >= ${ts(scope.from)} AND m."registeredAt" < ${ts(scope.to)}
          ${memberClause(scope)}${storeCustomerClause(scope, Prisma.sql`m.id`)}
        GROUP BY 1, 2
      ), sizes AS (
        SELECT cohort, sum(n)::int AS size FROM masks GROUP BY 1
      ), cells AS (
        SELECT c.cohort, (k.k - c.cohort)::int AS "offset", sum(c.n)::int AS members
        FROM masks c JOIN generate_series(1, ${months.length}::int) AS k(k) ON c.months & (1::bigint << k.k) <> 0
        GROUP BY 1, 2
      )
      SELECT s.cohort, s.size, c."offset", c.members
      FROM sizes s LEFT JOIN cells c ON c.cohort = s.cohort
      ORDER BY 1, 3`);
    const byCohort = new Map<number, CohortFacts>();
    for (const row of rows) {
      let cohort = byCohort.get(row.cohort);
      if (!cohort) {
        // width_bucket counts from 1: bucket k is months[k - 1].
        cohort = { cohort: months[row.cohort - 1]?.label ?? '', size: row.size, active: [] };
        byCohort.set(row.cohort, cohort);
      }
      if (row.offset !== null && row.members !== null) cohort.active.push({ offset: row.offset, members: row.members });
    }
    return [...byCohort.values()];
  }

  /**
   * Every bucket's counts in one statement: each source table is read once over [from, to)
   * through its createdAt index and grouped by width_bucket (a binary search among the bucket
   * starts), then joined to the list of buckets so empty ones come back as zeros.
   */
  async series(scope: AnalyticsScope, starts: Date[]): Promise<SeriesFacts> {
    if (starts.length === 0) return { membersBefore: 0, buckets: [] };
    const bounds = Prisma.sql`ARRAY[${Prisma.join(starts.map((start) => ts(start)))}]::timestamp[]`;
    const from = ts(scope.from);
    const to = ts(scope.to);
    const members = memberClause(scope);
    const purchases = Prisma.sql`p."createdAt" >= ${from} AND p."createdAt" < ${to}${storeClause(scope, Prisma.sql`p."storeId"`)}${members}`;
    // Distinct buyers per bucket. Up to 62 buckets, each buyer's buckets are one bitmask (bit k =
    // bucket k): one group per member, then each bit summed, instead of one group per
    // (bucket, member), which at 1M purchases spilled to disk. Longer daily series keep the pairs.
    const activeBuyers =
      starts.length <= 62
        ? Prisma.sql`per_member AS (
            SELECT bit_or(1::bigint << width_bucket(p."createdAt", ${bounds})) AS buckets
            FROM "Purchase" p ${joinMember(scope, Prisma.sql`p."memberId"`)}
            WHERE ${purchases}
            GROUP BY p."memberId"
          ), act AS (
            -- Bit k summed over the buyers, for every k at once: one pass over one row per buyer.
            SELECT t.k::int AS k, t.active
            FROM (SELECT ARRAY[${Prisma.join(starts.map((_, index) => Prisma.raw(`sum((buckets >> ${index + 1}) & 1)`)))}] AS a FROM per_member) s,
                 unnest(s.a) WITH ORDINALITY AS t(active, k)
          )`
        : Prisma.sql`pairs AS (
            SELECT DISTINCT width_bucket(p."createdAt", ${bounds}) AS k, p."memberId"
            FROM "Purchase" p ${joinMember(scope, Prisma.sql`p."memberId"`)}
            WHERE ${purchases}
          ), act AS (
            SELECT k, count(*) AS active FROM pairs GROUP BY 1
          )`;
    const rows = await this.read<SeriesRow[]>(Prisma.sql`
      WITH reg AS (
        SELECT width_bucket(m."registeredAt", ${bounds}) AS k, count(*) AS n FROM "Member" m
        WHERE m."registeredAt" >= ${from} AND m."registeredAt" < ${to}${members}${storeCustomerClause(scope, Prisma.sql`m.id`)}
        GROUP BY 1
      ), del AS (
        SELECT width_bucket(m."deletedAt", ${bounds}) AS k, count(*) AS n FROM "Member" m
        WHERE m."deletedAt" >= ${from} AND m."deletedAt" < ${to} AND m."registeredAt" < ${to}${members}${storeCustomerClause(scope, Prisma.sql`m.id`)}
        GROUP BY 1
      ), ${activeBuyers}, pur AS (
        SELECT width_bucket(p."createdAt", ${bounds}) AS k, count(*) AS n, sum(p."amountMinor" - p."returnedMinor") AS revenue
        FROM "Purchase" p ${joinMember(scope, Prisma.sql`p."memberId"`)}
        WHERE ${purchases}
        GROUP BY 1
      ), rec AS (
        SELECT width_bucket(r."createdAt", ${bounds}) AS k, count(*) AS n, sum(r."amountMinor") AS revenue
        FROM "Receipt" r
        WHERE r."createdAt" >= ${from} AND r."createdAt" < ${to}${storeClause(scope, Prisma.sql`r."storeId"`)}
          AND NOT EXISTS (SELECT 1 FROM "Purchase" x WHERE x."storeId" = r."storeId" AND x."receiptNo" = r."receiptNo")
        GROUP BY 1
      ), led AS (
        SELECT width_bucket(e."createdAt", ${bounds}) AS k,
               COALESCE(sum(e.amount) FILTER (WHERE e.type IN ('EARN', 'BONUS', 'ADJUST', 'REVERSE')), 0) AS issued,
               COALESCE(-sum(e.amount) FILTER (WHERE e.type IN ('SPEND', 'REFUND')), 0) AS redeemed,
               COALESCE(-sum(e.amount) FILTER (WHERE e.type IN ('EXPIRE', 'CLOSE')), 0) AS expired
        FROM "LedgerEntry" e ${joinMember(scope, Prisma.sql`e."memberId"`)}
        WHERE e."createdAt" >= ${from} AND e."createdAt" < ${to}${storeClause(scope, Prisma.sql`e."storeId"`)}${members}
        GROUP BY 1
      )
      SELECT b.k::int AS bucket,
             (SELECT count(*) FROM "Member" m
               WHERE m."registeredAt" < ${from} AND (m."deletedAt" IS NULL OR m."deletedAt" >= ${from})${members}${storeCustomerClause(scope, Prisma.sql`m.id`)}
             )::int AS "membersBefore",
             COALESCE(reg.n, 0)::int AS registered, COALESCE(del.n, 0)::int AS erased,
             COALESCE(act.active, 0)::int AS "activeMembers", COALESCE(pur.n, 0)::int AS "memberPurchases",
             COALESCE(pur.revenue, 0)::bigint AS "memberRevenueMinor",
             COALESCE(rec.n, 0)::int AS receipts, COALESCE(rec.revenue, 0)::bigint AS "receiptRevenueMinor",
             COALESCE(led.issued, 0)::bigint AS issued, COALESCE(led.redeemed, 0)::bigint AS redeemed, COALESCE(led.expired, 0)::bigint AS expired
      FROM generate_series(1, ${starts.length}::int) AS b(k)
      LEFT JOIN reg ON reg.k = b.k LEFT JOIN del ON del.k = b.k LEFT JOIN pur ON pur.k = b.k LEFT JOIN act ON act.k = b.k
      LEFT JOIN rec ON rec.k = b.k LEFT JOIN led ON led.k = b.k
      ORDER BY b.k`);
    return {
      membersBefore: rows[0]?.membersBefore ?? 0,
      buckets: rows.map((row) => ({
        registered: num(row.registered),
        erased: num(row.erased),
        activeMembers: num(row.activeMembers),
        memberPurchases: num(row.memberPurchases),
        memberRevenueMinor: num(row.memberRevenueMinor),
        receipts: num(row.receipts),
        receiptRevenueMinor: num(row.receiptRevenueMinor),
        issued: num(row.issued),
        redeemed: num(row.redeemed),
        expired: num(row.expired),
      })),
    };
  }
}

/** The local calendar months the scope touches: label YYYY-MM and the instant each one starts. */
function localMonths(scope: AnalyticsScope): { label: string; start: Date }[] {
  const first = zonedParts(scope.from, scope.timeZone);
  const last = zonedParts(new Date(scope.to.getTime() - 1), scope.timeZone);
  const months: { label: string; start: Date }[] = [];
  for (let index = first.year * 12 + first.month - 1; index <= last.year * 12 + last.month - 1; index++) {
    const year = Math.floor(index / 12);
    const month = (index % 12) + 1;
    months.push({
      label: `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}`,
      start: zonedTimeToUtc({ year, month, day: 1, hour: 0, minute: 0 }, scope.timeZone),
    });
  }
  return months;
}

type ReceiptRow = {
  id: number;
  storeId: number;
  receiptNo: string;
  amountMinor: bigint;
  idempotencyKey: string;
  requestHash: string;
  createdAt: Date;
  inserted: boolean;
};

const toReceipt = (row: ReceiptRow): Receipt => ({
  id: row.id,
  storeId: row.storeId,
  receiptNo: row.receiptNo,
  amountMinor: Number(row.amountMinor),
  idempotencyKey: row.idempotencyKey,
  requestHash: row.requestHash,
  createdAt: row.createdAt,
});

export class PrismaReceiptRepository implements ReceiptRepository {
  constructor(private readonly db: Db) {}

  async record(receipt: NewReceipt): Promise<ReceiptRecordOutcome> {
    // One statement: insert unless the key or the store + number is taken (by a receipt: ON
    // CONFLICT; by a member's purchase: NOT EXISTS), else read what holds them.
    const rows = await this.db.$queryRaw<(ReceiptRow | { id: null; inserted: false; memberPurchase: true })[]>`
      WITH taken AS (
        SELECT EXISTS (SELECT 1 FROM "Purchase" x WHERE x."storeId" = ${receipt.storeId} AND x."receiptNo" = ${receipt.receiptNo}) AS purchase
      ), inserted AS (
        INSERT INTO "Receipt" ("storeId", "receiptNo", "amountMinor", "idempotencyKey", "requestHash", "actorType", "actorId", "createdAt")
        SELECT ${receipt.storeId}, ${receipt.receiptNo}, ${BigInt(receipt.amountMinor)}, ${receipt.idempotencyKey}, ${receipt.requestHash},
               ${receipt.actor.type}::"ActorType", ${receipt.actor.id ?? null}, ${ts(receipt.createdAt)}
        WHERE NOT (SELECT purchase FROM taken)
        ON CONFLICT DO NOTHING
        RETURNING id, "storeId", "receiptNo", "amountMinor", "idempotencyKey", "requestHash", "createdAt"
      )
      SELECT i.*, true AS inserted, false AS "memberPurchase" FROM inserted i
      UNION ALL
      (SELECT r.id, r."storeId", r."receiptNo", r."amountMinor", r."idempotencyKey", r."requestHash", r."createdAt", false, false
       FROM "Receipt" r
       WHERE r."idempotencyKey" = ${receipt.idempotencyKey} OR (r."storeId" = ${receipt.storeId} AND r."receiptNo" = ${receipt.receiptNo})
       ORDER BY (r."idempotencyKey" = ${receipt.idempotencyKey}) DESC LIMIT 1)
      UNION ALL
      SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, false, true FROM taken WHERE purchase`;
    const row = rows.find((r) => r.inserted) ?? rows.find((r) => r.id !== null);
    if (row && row.id !== null) return { outcome: row.inserted ? 'RECORDED' : 'EXISTS', receipt: toReceipt(row as ReceiptRow) };
    if (rows.some((r) => 'memberPurchase' in r && r.memberPurchase)) return { outcome: 'MEMBER_PURCHASE' };
    return { outcome: 'RACED' };
  }
}
