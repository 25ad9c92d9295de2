import type { Clock } from '../domain/clock.js';
import type { GameProfile, LeaderRow, NameStyle, Referral, ReferralRepository, TaskRepository } from '../domain/tasks/ports.js';
import type { Streak, TaskInstance, TaskRecord } from '../domain/tasks/types.js';
import { Prisma, type TaskProgress as ProgressRow, type TaskRecord as RecordRow, type Referral as ReferralRow } from '../generated/prisma/client.js';
import type { Db } from './repositories.js';

const toDay = (iso: string) => new Date(`${iso}T00:00:00Z`);
const fromDay = (date: Date | null) => (date ? date.toISOString().slice(0, 10) : null);

const toInstance = (row: ProgressRow): TaskInstance & { taskCode: string } => ({
  taskCode: row.taskCode,
  periodKey: row.periodKey,
  goal: Number(row.goal),
  progress: Number(row.progress),
  stores: (row.stores ?? {}) as Record<string, number>,
  completedAt: row.completedAt,
  rewardedAt: row.rewardedAt,
});

const toRecord = (row: RecordRow): TaskRecord => ({
  taskCode: row.taskCode,
  eventId: row.eventId,
  periodKey: row.periodKey,
  value: Number(row.value),
  amountMinor: Number(row.amountMinor),
  storeId: row.storeId,
});

/** Task state on PostgreSQL: one row per (member, task, period), one per (member, task, event). */
export class PrismaTaskRepository implements TaskRepository {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  async lockMember(memberId: number) {
    await this.db.$queryRaw`SELECT id FROM "Member" WHERE id = ${memberId} FOR NO KEY UPDATE`;
  }

  async instance(memberId: number, taskCode: string, periodKey: string) {
    const row = await this.db.taskProgress.findUnique({ where: { memberId_taskCode_periodKey: { memberId, taskCode, periodKey } } });
    return row ? toInstance(row) : null;
  }

  async instances(memberId: number, keys: { taskCode: string; periodKey: string }[]) {
    if (keys.length === 0) return [];
    const rows = await this.db.taskProgress.findMany({ where: { memberId, OR: keys.map((key) => ({ taskCode: key.taskCode, periodKey: key.periodKey })) } });
    return rows.map(toInstance);
  }

  async unclaimed(memberId: number) {
    const rows = await this.db.taskProgress.findMany({ where: { memberId, completedAt: { not: null }, rewardedAt: null }, orderBy: { completedAt: 'asc' } });
    return rows.map(toInstance);
  }

  async saveInstance(memberId: number, taskCode: string, instance: TaskInstance) {
    const data = {
      goal: BigInt(instance.goal),
      progress: BigInt(instance.progress),
      stores: instance.stores,
      completedAt: instance.completedAt,
      rewardedAt: instance.rewardedAt,
    };
    await this.db.taskProgress.upsert({
      where: { memberId_taskCode_periodKey: { memberId, taskCode, periodKey: instance.periodKey } },
      create: { memberId, taskCode, periodKey: instance.periodKey, ...data },
      update: data,
    });
  }

  async markRewarded(memberId: number, taskCode: string, periodKey: string, at: Date) {
    const { count } = await this.db.taskProgress.updateMany({
      where: { memberId, taskCode, periodKey, completedAt: { not: null }, rewardedAt: null },
      data: { rewardedAt: at },
    });
    return count === 1;
  }

  async findRecord(memberId: number, taskCode: string, eventId: string) {
    const row = await this.db.taskRecord.findUnique({ where: { memberId_taskCode_eventId: { memberId, taskCode, eventId } } });
    return row ? toRecord(row) : null;
  }

  async countedBy(memberId: number, eventId: string, taskCodes: string[]) {
    if (taskCodes.length === 0) return [];
    const rows = await this.db.taskRecord.findMany({ where: { memberId, eventId, taskCode: { in: taskCodes } }, select: { taskCode: true } });
    return rows.map((row) => row.taskCode);
  }

  async addRecord(memberId: number, record: TaskRecord) {
    // ON CONFLICT DO NOTHING: a concurrent twin waits for the first to commit, then inserts nothing.
    const rows = await this.db.$queryRaw<{ id: number }[]>`
      INSERT INTO "TaskRecord" ("memberId", "taskCode", "eventId", "periodKey", "value", "amountMinor", "storeId", "createdAt")
      VALUES (${memberId}, ${record.taskCode}, ${record.eventId}, ${record.periodKey}, ${BigInt(record.value)}, ${BigInt(record.amountMinor)}, ${record.storeId}, ${this.clock.now()})
      ON CONFLICT DO NOTHING RETURNING id`;
    return rows.length === 1;
  }

  async updateRecord(memberId: number, record: TaskRecord) {
    await this.db.taskRecord.update({
      where: { memberId_taskCode_eventId: { memberId, taskCode: record.taskCode, eventId: record.eventId } },
      data: { value: BigInt(record.value), amountMinor: BigInt(record.amountMinor) },
    });
  }

  async streak(memberId: number, taskCode: string): Promise<Streak | null> {
    const row = await this.db.taskStreak.findUnique({ where: { memberId_taskCode: { memberId, taskCode } } });
    return row ? { current: row.current, best: row.best, startDate: fromDay(row.startDate), lastDate: fromDay(row.lastDate) } : null;
  }

  async saveStreak(memberId: number, taskCode: string, streak: Streak) {
    const data = {
      current: streak.current,
      best: streak.best,
      startDate: streak.startDate ? toDay(streak.startDate) : null,
      lastDate: streak.lastDate ? toDay(streak.lastDate) : null,
    };
    await this.db.taskStreak.upsert({ where: { memberId_taskCode: { memberId, taskCode } }, create: { memberId, taskCode, ...data }, update: data });
  }

  async awardBadge(memberId: number, code: string, taskCode: string | null, at: Date) {
    const rows = await this.db.$queryRaw<{ code: string }[]>`
      INSERT INTO "MemberBadge" ("memberId", "code", "taskCode", "awardedAt") VALUES (${memberId}, ${code}, ${taskCode}, ${at})
      ON CONFLICT DO NOTHING RETURNING code`;
    return rows.length === 1;
  }

  badges(memberId: number) {
    return this.db.memberBadge.findMany({ where: { memberId }, orderBy: { awardedAt: 'asc' }, select: { code: true, awardedAt: true } });
  }

  async allInstances(memberId: number) {
    const rows = await this.db.taskProgress.findMany({ where: { memberId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
    return rows.map(toInstance);
  }

  async streaks(memberId: number) {
    const rows = await this.db.taskStreak.findMany({ where: { memberId }, orderBy: { taskCode: 'asc' } });
    return rows.map((row) => ({
      taskCode: row.taskCode,
      current: row.current,
      best: row.best,
      startDate: fromDay(row.startDate),
      lastDate: fromDay(row.lastDate),
    }));
  }

  async isFirstPurchase(memberId: number, purchaseId: number) {
    return (await this.db.purchase.count({ where: { memberId, id: { lt: purchaseId } } })) === 0;
  }

  async hasPurchases(memberId: number) {
    return (await this.db.purchase.count({ where: { memberId } })) > 0;
  }

  async recordVisit(memberId: number, storeId: number, day: string, at: Date) {
    const rows = await this.db.$queryRaw<{ id: number }[]>`
      INSERT INTO "StoreVisit" ("memberId", "storeId", "day", "createdAt") VALUES (${memberId}, ${storeId}, ${toDay(day)}::date, ${at})
      ON CONFLICT DO NOTHING RETURNING id`;
    return rows.length === 1;
  }

  async gameProfile(memberId: number): Promise<GameProfile> {
    const row = await this.db.gameProfile.findUnique({ where: { memberId } });
    return row ? { leaderboard: row.leaderboard, nameStyle: row.nameStyle } : { leaderboard: false, nameStyle: 'INITIALS' };
  }

  async saveGameProfile(memberId: number, profile: GameProfile) {
    await this.db.gameProfile.upsert({ where: { memberId }, create: { memberId, ...profile }, update: profile });
  }

  async deleteGameProfile(memberId: number) {
    await this.db.gameProfile.deleteMany({ where: { memberId } });
  }

  async leaderboard(query: { metric: 'points' | 'tasks'; from: Date; to: Date; size: number; memberId: number }) {
    const score =
      query.metric === 'points'
        ? Prisma.sql`(SELECT COALESCE(SUM(e.amount), 0) FROM "LedgerEntry" e
             WHERE e."memberId" = g."memberId" AND e.type IN ('EARN', 'BONUS', 'REVERSE')
               AND e."createdAt" >= ${query.from} AND e."createdAt" < ${query.to})`
        : Prisma.sql`(SELECT COUNT(*) FROM "TaskProgress" t
             WHERE t."memberId" = g."memberId" AND t."completedAt" >= ${query.from} AND t."completedAt" < ${query.to})`;
    const rows = await this.db.$queryRaw<{ memberId: number; nameStyle: NameStyle; name: string | null; score: bigint; rank: number; participants: number }[]>`
      WITH scores AS (
        SELECT g."memberId", g."nameStyle", m.name, ${score}::bigint AS score
        FROM "GameProfile" g JOIN "Member" m ON m.id = g."memberId"
        WHERE g.leaderboard AND m.status = 'ACTIVE'
      ), ranked AS (
        SELECT *, RANK() OVER (ORDER BY score DESC)::int AS rank, COUNT(*) OVER ()::int AS participants FROM scores
      )
      SELECT * FROM ranked WHERE rank <= ${query.size} OR "memberId" = ${query.memberId} ORDER BY rank, "memberId"`;
    const toRow = (row: (typeof rows)[number]): LeaderRow => ({
      memberId: row.memberId,
      rank: row.rank,
      score: Number(row.score),
      name: row.name,
      nameStyle: row.nameStyle,
    });
    const own = rows.find((row) => row.memberId === query.memberId);
    return {
      top: rows
        .filter((row) => row.rank <= query.size)
        .slice(0, query.size)
        .map(toRow),
      own: own ? toRow(own) : null,
      participants: rows[0]?.participants ?? 0,
    };
  }
}

const toReferral = (row: ReferralRow): Referral => ({
  id: row.id,
  referrerId: row.referrerId,
  friendId: row.friendId,
  status: row.status,
  referrerRewarded: row.referrerRewarded,
  purchaseId: row.purchaseId,
  createdAt: row.createdAt,
  convertedAt: row.convertedAt,
});

export class PrismaReferralRepository implements ReferralRepository {
  constructor(private readonly db: Db) {}

  async create(value: { referrerId: number; friendId: number; createdAt: Date }) {
    const rows = await this.db.$queryRaw<{ id: number }[]>`
      INSERT INTO "Referral" ("referrerId", "friendId", "createdAt") VALUES (${value.referrerId}, ${value.friendId}, ${value.createdAt})
      ON CONFLICT DO NOTHING RETURNING id`;
    const id = rows[0]?.id;
    if (id === undefined) return null;
    return toReferral(await this.db.referral.findUniqueOrThrow({ where: { id } }));
  }

  async lockByFriend(friendId: number) {
    const rows = await this.db.$queryRaw<{ id: number }[]>`SELECT id FROM "Referral" WHERE "friendId" = ${friendId} FOR UPDATE`;
    const id = rows[0]?.id;
    if (id === undefined) return null;
    return toReferral(await this.db.referral.findUniqueOrThrow({ where: { id } }));
  }

  async findByFriend(friendId: number) {
    const row = await this.db.referral.findUnique({ where: { friendId } });
    return row ? toReferral(row) : null;
  }

  async finish(id: number, value: { status: 'CONVERTED' | 'EXPIRED'; at: Date; purchaseId: number | null; referrerRewarded: boolean }) {
    const { count } = await this.db.referral.updateMany({
      where: { id, status: 'PENDING' },
      data: {
        status: value.status,
        convertedAt: value.status === 'CONVERTED' ? value.at : null,
        purchaseId: value.purchaseId,
        referrerRewarded: value.referrerRewarded,
      },
    });
    return count === 1;
  }

  countRewarded(referrerId: number, from: Date, to: Date) {
    return this.db.referral.count({ where: { referrerId, referrerRewarded: true, convertedAt: { gte: from, lt: to } } });
  }

  async stats(referrerId: number) {
    const groups = await this.db.referral.groupBy({ by: ['status'], where: { referrerId }, _count: { _all: true } });
    const count = (status: string) => groups.find((group) => group.status === status)?._count._all ?? 0;
    return { joined: groups.reduce((sum, group) => sum + group._count._all, 0), bought: count('CONVERTED'), pending: count('PENDING') };
  }
}
