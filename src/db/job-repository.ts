import type { Actor } from '../domain/ledger/types.js';
import type { ExpiredPoints, ExpiringPoints, ExpiryLane, InactiveMember, JobRepository, JobRun, JobRunRepository } from '../domain/ports.js';
import { Prisma, type PrismaClient } from '../generated/prisma/client.js';
import type { LedgerPostObserver } from './ledger-repository.js';
import { offerEligible } from './offer-eligibility.js';
import type { Db } from './repositories.js';
import { ts } from './sql.js';

/**
 * The scheduled jobs' reads and the points expiry on PostgreSQL. Reads are keyset-paginated on
 * member id; the expiry is set-based: one transaction per batch, a handful of statements
 * whatever the batch size.
 */
export class PrismaJobRepository implements JobRepository {
  /**
   * `db` is either the root client (each expiry batch opens its own transaction) or an open
   * transaction (a unit of work's: the expiry job runs each batch in one, with its notices).
   */
  constructor(
    private readonly db: Db,
    private readonly inTransaction: boolean,
    /** Told of each EXPIRE entry posted (metrics). */
    private readonly onLedgerPost?: LedgerPostObserver,
  ) {}

  private transaction<T>(work: (tx: Prisma.TransactionClient) => Promise<T>): Promise<T> {
    return this.inTransaction ? work(this.db) : (this.db as PrismaClient).$transaction(work, { timeout: 120_000, maxWait: 30_000 });
  }

  async birthdayMembers(on: { month: number; days: number[] }, afterId: number, limit: number): Promise<number[]> {
    if (on.days.length === 0) return [];
    // The same expressions and predicate as the partial index Member_birthday_month_day_idx.
    const rows = await this.db.$queryRaw<{ id: number }[]>`
      SELECT id FROM "Member"
      WHERE "birthday" IS NOT NULL AND "status" = 'ACTIVE'
        AND EXTRACT(MONTH FROM "birthday") = ${on.month}
        AND EXTRACT(DAY FROM "birthday") IN (${Prisma.join(on.days)})
        AND id > ${afterId}
      ORDER BY id
      LIMIT ${limit}`;
    return rows.map((row) => row.id);
  }

  async expiringPoints(query: { after: Date; before: Date; timeZone: string; afterMemberId: number; limitMembers: number }): Promise<ExpiringPoints[]> {
    return this.db.$queryRaw<ExpiringPoints[]>`
      WITH members AS (
        SELECT DISTINCT l."memberId" AS id
        FROM "PointLot" l JOIN "Member" m ON m.id = l."memberId"
        WHERE l.remaining > 0 AND l."expiresAt" > ${ts(query.after)} AND l."expiresAt" < ${ts(query.before)}
          AND l."memberId" > ${query.afterMemberId}
          AND ${offerEligible}
        ORDER BY 1
        LIMIT ${query.limitMembers}
      )
      SELECT l."memberId",
             to_char((l."expiresAt" AT TIME ZONE 'UTC') AT TIME ZONE ${query.timeZone}, 'YYYY-MM-DD') AS date,
             SUM(l.remaining)::int AS points
      FROM "PointLot" l JOIN members ON members.id = l."memberId"
      WHERE l.remaining > 0 AND l."expiresAt" > ${ts(query.after)} AND l."expiresAt" < ${ts(query.before)}
      GROUP BY 1, 2
      ORDER BY 1, 2`;
  }

  async inactiveMembers(query: { activeBefore: Date; afterId: number; limit: number }): Promise<InactiveMember[]> {
    // The last purchase per member is one backward step on Purchase(memberId, createdAt).
    return this.db.$queryRaw<InactiveMember[]>`
      SELECT m.id, GREATEST(m."registeredAt", p.last) AS "lastActiveAt", m.balance
      FROM "Member" m
      LEFT JOIN LATERAL (SELECT MAX("createdAt") AS last FROM "Purchase" WHERE "memberId" = m.id) p ON true
      WHERE ${offerEligible} AND m."registeredAt" IS NOT NULL
        AND m.id > ${query.afterId}
        AND m."registeredAt" < ${ts(query.activeBefore)}
        AND (p.last IS NULL OR p.last < ${ts(query.activeBefore)})
      ORDER BY m.id
      LIMIT ${query.limit}`;
  }

  async expireDueLots(
    now: Date,
    batchSize: number,
    actor: Actor,
    lane: ExpiryLane = { index: 0, count: 1 },
  ): Promise<{ candidates: number; candidateIds: number[]; lots: number; members: ExpiredPoints[] }> {
    const result = await this.expireBatch(now, batchSize, actor, lane);
    for (const _member of result.members) this.onLedgerPost?.('EXPIRE');
    return result;
  }

  private expireBatch(
    now: Date,
    batchSize: number,
    actor: Actor,
    lane: ExpiryLane,
  ): Promise<{ candidates: number; candidateIds: number[]; lots: number; members: ExpiredPoints[] }> {
    // A lane takes only its own members (id modulo the lane count), so batches of different
    // lanes running at once never lock the same member, and each takes its locks in id order.
    const inLane = lane.count > 1 ? Prisma.sql`AND "memberId" % ${lane.count}::int = ${lane.index}::int` : Prisma.empty;
    return this.transaction(async (tx) => {
      // Members first, in id order: a spend locks its member row before its lots, so taking the
      // lots only under the member locks cannot deadlock with it (nor with a second expiry run).
      // `= ANY(ARRAY(...))` looks the members up by key; `IN (subquery)` was planned as a scan
      // of the whole member table per batch.
      const locked = await tx.$queryRaw<{ id: number }[]>`
        SELECT id FROM "Member"
        WHERE id = ANY(ARRAY(
          SELECT "memberId" FROM "PointLot"
          WHERE "expiresAt" <= ${ts(now)} AND remaining > 0 ${inLane}
          ORDER BY "expiresAt"
          LIMIT ${batchSize}
        ))
        ORDER BY id
        FOR NO KEY UPDATE`;
      if (locked.length === 0) return { candidates: 0, candidateIds: [], lots: 0, members: [] };
      const memberIds = locked.map((row) => row.id).join(',');

      // Under the member locks nothing else moves these members' lots. All their due lots go,
      // so each member gets one EXPIRE entry per run, and a rerun finds the lots at 0. A lot
      // expires once (credits open new lots, never refill old ones), so the key naming the
      // newest lot an entry expired is unique.
      // This is the posting of ledger_post (its migration) done for a batch at once: due lots are
      // the first in spending order (src/domain/ledger/fifo.ts), so zeroing them is exactly the
      // FIFO draw of an EXPIRE debit of their sum. Calling ledger_post per member from this one
      // statement was measured 5x slower (bench/expiry.ts, 100k due lots of 40k members: 37.9 s
      // against 7.5 s), so the set-based form stays; test/db/jobs.test.ts holds it to the same
      // invariants.
      // The plan must not grow with the run: the lots are read per locked member from the
      // partial index of open lots (a LATERAL scan, as `"memberId" = ANY(...)` was planned as a
      // bitmap scan of every due lot, dead index entries included), and zeroed by key through
      // `= ANY(ARRAY(...))` (a join was planned as a merge join walking the whole primary key).
      // The lots' FOR UPDATE is redundant under the member locks: the only other writer of
      // PointLot is ledger_post (record_purchase, returns, reversals and every other post call
      // it; grep the migrations), which takes the member's row lock first (its fast path by the
      // balance UPDATE, its careful path by FOR NO KEY UPDATE). It stays as it costs nothing
      // measurable: without it a batch (5000 members, 15000 lots) wrote the same WAL records,
      // 213k, row locks included (pg_waldump by xid), and bench CPU was within noise.
      const members = await tx.$queryRaw<ExpiredPoints[]>`
        WITH lots AS (
          SELECT l.id, l."memberId", l.remaining
          FROM unnest(string_to_array(${memberIds}, ',')::int[]) AS locked(id)
          CROSS JOIN LATERAL (
            SELECT id, "memberId", remaining FROM "PointLot"
            WHERE "memberId" = locked.id AND "expiresAt" <= ${ts(now)} AND remaining > 0
            FOR UPDATE
          ) l
        ), per_member AS (
          SELECT "memberId", SUM(remaining)::int AS points, COUNT(*)::int AS lots, MAX(id) AS "maxLotId"
          FROM lots GROUP BY "memberId"
        ), moved AS (
          UPDATE "Member" m SET balance = m.balance - p.points, "updatedAt" = now()
          FROM per_member p WHERE m.id = p."memberId"
          RETURNING m.id, m.balance
        ), entries AS (
          INSERT INTO "LedgerEntry" ("memberId", "type", "amount", "balanceAfter", "idempotencyKey", "actorType", "actorId", "createdAt")
          SELECT p."memberId", 'EXPIRE'::"EntryType", -p.points, moved.balance, 'expire:' || p."memberId" || ':' || p."maxLotId",
                 ${actor.type}::"ActorType", ${actor.id ?? null}::text, ${ts(now)}
          FROM per_member p JOIN moved ON moved.id = p."memberId"
          RETURNING id, "memberId"
        ), allocations AS (
          INSERT INTO "LotAllocation" ("entryId", "lotId", "amount")
          SELECT entries.id, lots.id, lots.remaining FROM lots JOIN entries ON entries."memberId" = lots."memberId"
        ), zeroed AS (
          UPDATE "PointLot" lot SET remaining = 0 WHERE lot.id = ANY(ARRAY(SELECT id FROM lots))
        )
        SELECT p."memberId", p.points, p.lots, moved.balance AS "balanceAfter"
        FROM per_member p JOIN moved ON moved.id = p."memberId"
        ORDER BY p."memberId"`;
      return { candidates: locked.length, candidateIds: locked.map((row) => row.id), lots: members.reduce((sum, m) => sum + m.lots, 0), members };
    });
  }
}

export class PrismaJobRunRepository implements JobRunRepository {
  constructor(private readonly db: Db) {}

  async start(name: string, startedAt: Date): Promise<number> {
    const row = await this.db.jobRun.create({ data: { name, startedAt }, select: { id: true } });
    return row.id;
  }

  async finish(id: number, value: { finishedAt: Date; outcome: Record<string, unknown> | null; error: string | null }): Promise<void> {
    await this.db.jobRun.update({
      where: { id },
      data: { finishedAt: value.finishedAt, outcome: value.outcome === null ? Prisma.DbNull : (value.outcome as Prisma.InputJsonValue), error: value.error },
    });
  }

  async latest(): Promise<JobRun[]> {
    const last = await this.db.$queryRaw<{ id: number }[]>`
      SELECT DISTINCT ON (name) id FROM "JobRun" ORDER BY name, "startedAt" DESC, id DESC`;
    const rows = await this.db.jobRun.findMany({ where: { id: { in: last.map((row) => row.id) } }, orderBy: { name: 'asc' } });
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      startedAt: row.startedAt,
      finishedAt: row.finishedAt,
      outcome: (row.outcome ?? null) as Record<string, unknown> | null,
      error: row.error,
    }));
  }
}
