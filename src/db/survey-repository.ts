import type { AudienceQuery } from '../domain/broadcasts/types.js';
import type { NpsGroup } from '../domain/nps/score.js';
import type {
  CampaignSurveys,
  NpsCountsRow,
  NpsPeriodQuery,
  ReasonCountRow,
  Survey,
  SurveyAnswerRow,
  SurveyPatch,
  SurveyRepository,
} from '../domain/nps/types.js';
import { Prisma, type PrismaClient, type Survey as SurveyRow } from '../generated/prisma/client.js';
import { segmentClause } from './broadcast-repository.js';
import { ineligibility, offerEligible } from './offer-eligibility.js';
import type { Db } from './repositories.js';
import { ts } from './sql.js';

const GROUP_TO_DB = { promoter: 'PROMOTER', passive: 'PASSIVE', detractor: 'DETRACTOR' } as const;
const groupFromDb = (group: string | null): NpsGroup | null => (group === null ? null : (group.toLowerCase() as NpsGroup));
const reasonsOf = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);

/** Serialises dispatchers (several workers, or a rerun overlapping a slow run): pg_advisory_xact_lock key. */
const DISPATCH_LOCK = 7_000_700_7;

export function toSurvey(row: SurveyRow): Survey {
  return {
    id: row.id,
    memberId: row.memberId,
    trigger: row.trigger,
    purchaseId: row.purchaseId,
    storeId: row.storeId,
    status: row.status,
    score: row.score,
    group: groupFromDb(row.group),
    reasons: reasonsOf(row.reasons),
    comment: row.comment,
    sentAt: row.sentAt,
    answeredAt: row.answeredAt,
    completedAt: row.completedAt,
    closedAt: row.closedAt,
    alertedAt: row.alertedAt,
    handledAt: row.handledAt,
    handledBy: row.handledBy === null ? null : Number(row.handledBy),
  };
}

/** The period filter shared by the statistics (surveys sent in [from, to), optionally one store). */
const inPeriod = (query: NpsPeriodQuery) =>
  Prisma.sql`s."sentAt" >= ${ts(query.from)} AND s."sentAt" < ${ts(query.to)}${query.storeId === null ? Prisma.empty : Prisma.sql` AND s."storeId" = ${query.storeId}`}`;

export class PrismaSurveyRepository implements SurveyRepository {
  constructor(
    private readonly db: Db,
    private readonly inTransaction: boolean,
  ) {}

  private transaction<T>(work: (tx: Prisma.TransactionClient) => Promise<T>): Promise<T> {
    return this.inTransaction ? work(this.db) : (this.db as PrismaClient).$transaction(work, { timeout: 60_000, maxWait: 30_000 });
  }

  async findById(id: number) {
    const row = await this.db.survey.findUnique({ where: { id } });
    return row ? toSurvey(row) : null;
  }

  async lock(id: number) {
    const locked = await this.db.$queryRaw<{ id: number }[]>`SELECT id FROM "Survey" WHERE id = ${id} FOR UPDATE`;
    return locked.length === 0 ? null : this.findById(id);
  }

  async update(id: number, patch: SurveyPatch) {
    const { group, reasons, ...rest } = patch;
    const row = await this.db.survey.update({
      where: { id },
      data: {
        ...rest,
        ...(group !== undefined ? { group: group === null ? null : GROUP_TO_DB[group] } : {}),
        ...(reasons !== undefined ? { reasons } : {}),
      },
    });
    return toSurvey(row);
  }

  createForPurchases(query: {
    purchasedAfter: Date;
    purchasedBefore: Date;
    surveyedSince: Date;
    sentAt: Date;
    limit: number;
    purchaseId?: number;
  }): Promise<Survey[]> {
    return this.transaction(async (tx) => {
      // One dispatcher at a time: the "no survey since" check and the insert must not interleave
      // with another run's, or a member with two purchases could get two surveys.
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${DISPATCH_LOCK}::bigint)`;
      const rows = await tx.$queryRaw<{ id: number }[]>`
        INSERT INTO "Survey" ("memberId", "trigger", "purchaseId", "storeId", "sentAt", "updatedAt")
        SELECT DISTINCT ON (p."memberId") p."memberId", 'purchase:' || p.id, p.id, p."storeId", ${ts(query.sentAt)}, now()
        FROM "Purchase" p
        JOIN "Member" m ON m.id = p."memberId"
        WHERE p."createdAt" > ${ts(query.purchasedAfter)} AND p."createdAt" <= ${ts(query.purchasedBefore)}
          AND (${query.purchaseId ?? null}::int IS NULL OR p.id = ${query.purchaseId ?? null}::int)
          AND p."returnedMinor" < p."amountMinor"
          AND ${offerEligible}
          AND NOT EXISTS (SELECT 1 FROM "Survey" s WHERE s."purchaseId" = p.id)
          AND NOT EXISTS (SELECT 1 FROM "Survey" s WHERE s."memberId" = p."memberId" AND s."sentAt" > ${ts(query.surveyedSince)})
        ORDER BY p."memberId", p."createdAt" DESC, p.id DESC
        LIMIT ${query.limit}
        ON CONFLICT DO NOTHING
        RETURNING id`;
      if (rows.length === 0) return [];
      const created = await tx.survey.findMany({ where: { id: { in: rows.map((row) => row.id) } }, orderBy: { id: 'asc' } });
      return created.map(toSurvey);
    });
  }

  createForCampaign(query: { audience: AudienceQuery; trigger: string; surveyedSince: Date; sentAt: Date; dryRun?: boolean }): Promise<CampaignSurveys> {
    const dryRun = query.dryRun === true;
    return this.transaction(async (tx) => {
      // Serialised with the dispatch job and with another run of the campaign (a double tap):
      // the "no survey since" check and the insert must not interleave with theirs.
      if (!dryRun) await tx.$executeRaw`SELECT pg_advisory_xact_lock(${DISPATCH_LOCK}::bigint)`;
      // The audience is resolved once, by the broadcasts' own segment clause; each member falls
      // in the first bucket that applies, and only the eligible are inserted (none in a dry run).
      const [row] = await tx.$queryRaw<(Omit<CampaignSurveys, 'created' | 'surveyed'> & { eligible: number; created: CampaignSurveys['created'] | null })[]>`
        WITH audience AS (
          SELECT m.id,
                 CASE
                   WHEN EXISTS (SELECT 1 FROM "Survey" s WHERE s."memberId" = m.id AND s."trigger" = ${query.trigger}) THEN 'already'
                   -- The segment holds active members only: what is left is 'optedOut' or 'unreachable'.
                   WHEN ${ineligibility} IS NOT NULL THEN ${ineligibility}
                   WHEN EXISTS (SELECT 1 FROM "Survey" s WHERE s."memberId" = m.id AND s."sentAt" > ${ts(query.surveyedSince)}) THEN 'recent'
                   ELSE 'eligible'
                 END AS bucket
          FROM "Member" m
          WHERE ${segmentClause(query.audience)}
        ), inserted AS (
          INSERT INTO "Survey" ("memberId", "trigger", "sentAt", "updatedAt")
          SELECT a.id, ${query.trigger}, ${ts(query.sentAt)}, now() FROM audience a WHERE a.bucket = 'eligible' AND NOT ${dryRun}
          ORDER BY a.id
          ON CONFLICT DO NOTHING
          RETURNING id, "memberId"
        )
        SELECT (COUNT(*) FILTER (WHERE bucket = 'eligible'))::int AS eligible,
               (SELECT json_agg(json_build_object('id', id, 'memberId', "memberId") ORDER BY id) FROM inserted) AS created,
               (COUNT(*) FILTER (WHERE bucket = 'already'))::int AS already,
               (COUNT(*) FILTER (WHERE bucket = 'optedOut'))::int AS "optedOut",
               (COUNT(*) FILTER (WHERE bucket = 'unreachable'))::int AS unreachable,
               (COUNT(*) FILTER (WHERE bucket = 'recent'))::int AS "recentlySurveyed"
        FROM audience`;
      const created = row?.created ?? [];
      return {
        surveyed: dryRun ? (row?.eligible ?? 0) : created.length,
        created,
        already: row?.already ?? 0,
        optedOut: row?.optedOut ?? 0,
        unreachable: row?.unreachable ?? 0,
        recentlySurveyed: row?.recentlySurveyed ?? 0,
      };
    });
  }

  async withoutMessage(query: { since: Date; dedupeKeyPrefix: string; afterId: number; limit: number }) {
    const rows = await this.db.$queryRaw<{ id: number }[]>`
      SELECT s.id FROM "Survey" s
      WHERE s."status" = 'SENT' AND s."sentAt" >= ${ts(query.since)} AND s.id > ${query.afterId}
        AND NOT EXISTS (SELECT 1 FROM "Delivery" d WHERE d."dedupeKey" = ${query.dedupeKeyPrefix} || s.id::text)
      ORDER BY s.id
      LIMIT ${query.limit}`;
    if (rows.length === 0) return [];
    const found = await this.db.survey.findMany({ where: { id: { in: rows.map((row) => row.id) } }, orderBy: { id: 'asc' } });
    return found.map(toSurvey);
  }

  async alertedWithoutMessage(query: { since: Date; dedupeKeyPrefix: string; limit: number }) {
    const rows = await this.db.$queryRaw<{ id: number }[]>`
      SELECT s.id FROM "Survey" s
      WHERE s."alertedAt" >= ${ts(query.since)}
        AND NOT EXISTS (SELECT 1 FROM "Delivery" d WHERE d."dedupeKey" LIKE ${query.dedupeKeyPrefix} || s.id::text || ':%')
      ORDER BY s.id
      LIMIT ${query.limit}`;
    if (rows.length === 0) return [];
    const found = await this.db.survey.findMany({ where: { id: { in: rows.map((row) => row.id) } }, orderBy: { id: 'asc' } });
    return found.map(toSurvey);
  }

  async closeUnanswered(before: Date, now: Date) {
    const closed = await this.db.survey.updateMany({ where: { status: 'SENT', sentAt: { lte: before } }, data: { status: 'CLOSED', closedAt: now } });
    return closed.count;
  }

  async answeredBefore(before: Date, afterId: number, limit: number) {
    const rows = await this.db.survey.findMany({
      where: { status: 'ANSWERED', answeredAt: { lte: before }, id: { gt: afterId } },
      orderBy: { id: 'asc' },
      take: limit,
    });
    return rows.map(toSurvey);
  }

  async markHandled(id: number, by: number, at: Date) {
    const updated = await this.db.survey.updateMany({ where: { id, handledAt: null }, data: { handledAt: at, handledBy: BigInt(by) } });
    return updated.count === 1;
  }

  async counts(query: NpsPeriodQuery): Promise<NpsCountsRow[]> {
    return this.db.$queryRaw<NpsCountsRow[]>`
      SELECT s."storeId",
             to_char(date_trunc('week', (s."sentAt" AT TIME ZONE 'UTC') AT TIME ZONE ${query.timeZone}), 'YYYY-MM-DD') AS week,
             COUNT(*)::int AS sent,
             (COUNT(*) FILTER (WHERE s."group" = 'PROMOTER'))::int AS promoters,
             (COUNT(*) FILTER (WHERE s."group" = 'PASSIVE'))::int AS passives,
             (COUNT(*) FILTER (WHERE s."group" = 'DETRACTOR'))::int AS detractors
      FROM "Survey" s
      WHERE ${inPeriod(query)}
      GROUP BY 1, 2
      ORDER BY 2, 1`;
  }

  async reasonCounts(query: NpsPeriodQuery): Promise<ReasonCountRow[]> {
    const rows = await this.db.$queryRaw<{ group: string; code: string; count: number }[]>`
      SELECT s."group"::text AS "group", r.code, COUNT(*)::int AS count
      FROM "Survey" s, jsonb_array_elements_text(s.reasons) AS r(code)
      WHERE ${inPeriod(query)} AND s."group" IS NOT NULL
      GROUP BY 1, 2
      ORDER BY 3 DESC, 1, 2`;
    return rows.map((row) => ({ group: groupFromDb(row.group) as NpsGroup, code: row.code, count: row.count }));
  }

  async answers(query: NpsPeriodQuery & { limit: number }): Promise<SurveyAnswerRow[]> {
    const rows = await this.db.$queryRaw<
      {
        id: number;
        sentAt: Date;
        answeredAt: Date;
        storeCode: string | null;
        memberCode: string;
        score: number;
        group: string;
        reasons: unknown;
        comment: string | null;
        handledAt: Date | null;
      }[]
    >`
      SELECT s.id, s."sentAt", s."answeredAt", st.code AS "storeCode", m.code AS "memberCode", s.score, s."group"::text AS "group",
             s.reasons, s.comment, s."handledAt"
      FROM "Survey" s
      JOIN "Member" m ON m.id = s."memberId"
      LEFT JOIN "Store" st ON st.id = s."storeId"
      WHERE ${inPeriod(query)} AND s.score IS NOT NULL
      ORDER BY s."sentAt", s.id
      LIMIT ${query.limit}`;
    return rows.map((row) => ({ ...row, group: groupFromDb(row.group) as NpsGroup, reasons: reasonsOf(row.reasons) }));
  }

  async listByMember(memberId: number) {
    const rows = await this.db.survey.findMany({ where: { memberId }, orderBy: [{ sentAt: 'asc' }, { id: 'asc' }] });
    return rows.map(toSurvey);
  }

  async eraseComments(memberId: number) {
    // Every survey of the member, not only those with a comment: all their rows are locked until the
    // erasure commits, so an answer in flight (it locks its survey) waits for it.
    const erased = await this.db.survey.updateMany({ where: { memberId }, data: { comment: null } });
    return erased.count;
  }
}
