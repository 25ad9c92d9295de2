import type { Actor } from '../domain/ledger/types.js';
import type { CouponRepository, LookupThrottleRepository, RewardRepository } from '../domain/ports.js';
import { isLocale, type Localized } from '../domain/program.js';
import type { Coupon, CouponDetails, CouponLookupAttempt, CouponLookupCheck, NewCoupon, Reward, RewardData, ThrottleState } from '../domain/rewards/types.js';
import type { Coupon as CouponRow, Prisma, Reward as RewardRow } from '../generated/prisma/client.js';
import type { Db } from './repositories.js';
import { ts } from './sql.js';

function toLocalized(value: Prisma.JsonValue): Localized {
  const record = (value ?? {}) as Record<string, unknown>;
  const text = (key: string) => (typeof record[key] === 'string' ? (record[key] as string) : '');
  return { ru: text('ru'), en: text('en') };
}

const toReward = (row: RewardRow): Reward => ({
  id: row.id,
  code: row.code,
  kind: row.kind,
  value: row.value,
  cost: row.cost,
  stock: row.stock,
  limit: row.limitCount === null ? null : { count: row.limitCount, periodDays: row.limitPeriodDays },
  minTier: row.minTier,
  validityDays: row.validityDays,
  availableFrom: row.availableFrom,
  availableTo: row.availableTo,
  imageUrl: row.imageUrl,
  title: toLocalized(row.title),
  description: toLocalized(row.description),
  active: row.active,
  programHash: row.programHash,
});

function toRewardColumns(data: Partial<RewardData>): Prisma.RewardUpdateInput {
  const { limit, title, description, ...rest } = data;
  return {
    ...rest,
    ...(limit !== undefined ? { limitCount: limit?.count ?? null, limitPeriodDays: limit?.periodDays ?? null } : {}),
    ...(title !== undefined ? { title: { ...title } } : {}),
    ...(description !== undefined ? { description: { ...description } } : {}),
  };
}

const toCoupon = (row: CouponRow): Coupon => ({
  id: row.id,
  code: row.code,
  rewardId: row.rewardId,
  memberId: row.memberId,
  kind: row.kind,
  value: row.value,
  cost: row.cost,
  status: row.status,
  idempotencyKey: row.idempotencyKey,
  issuedAt: row.issuedAt,
  expiresAt: row.expiresAt,
  redeemedAt: row.redeemedAt,
  redeemedStoreId: row.redeemedStoreId,
  redeemedBy: row.redeemedByType ? ({ type: row.redeemedByType, id: row.redeemedById } satisfies Actor) : null,
  redeemKey: row.redeemKey,
  cancelledAt: row.cancelledAt,
  expiredAt: row.expiredAt,
  pointsRefunded: row.pointsRefunded,
});

const detailsInclude = {
  reward: { select: { code: true, title: true, description: true, imageUrl: true } },
  member: { select: { telegramId: true, name: true, locale: true } },
  redeemedStore: { select: { name: true } },
} as const;

type DetailsRow = Prisma.CouponGetPayload<{ include: typeof detailsInclude }>;

const toDetails = (row: DetailsRow): CouponDetails => ({
  ...toCoupon(row),
  reward: { code: row.reward.code, title: toLocalized(row.reward.title), description: toLocalized(row.reward.description), imageUrl: row.reward.imageUrl },
  member: {
    telegramId: row.member.telegramId === null ? null : Number(row.member.telegramId),
    name: row.member.name,
    locale: isLocale(row.member.locale) ? row.member.locale : 'ru',
  },
  redeemedStoreName: row.redeemedStore?.name ?? null,
});

export class PrismaRewardRepository implements RewardRepository {
  constructor(private readonly db: Db) {}

  async findByCode(code: string) {
    const row = await this.db.reward.findUnique({ where: { code } });
    return row ? toReward(row) : null;
  }

  async findById(id: number) {
    const row = await this.db.reward.findUnique({ where: { id } });
    return row ? toReward(row) : null;
  }

  async lockByCode(code: string) {
    const rows = await this.db.$queryRaw<{ id: number }[]>`SELECT id FROM "Reward" WHERE code = ${code} FOR UPDATE`;
    const id = rows[0]?.id;
    return id === undefined ? null : this.findById(id);
  }

  async lockById(id: number) {
    const rows = await this.db.$queryRaw<{ id: number }[]>`SELECT id FROM "Reward" WHERE id = ${id} FOR UPDATE`;
    return rows.length === 0 ? null : this.findById(id);
  }

  async list(filter: { activeOnly?: boolean } = {}) {
    const rows = await this.db.reward.findMany({ where: filter.activeOnly ? { active: true } : {}, orderBy: { code: 'asc' } });
    return rows.map(toReward);
  }

  async create(value: RewardData) {
    // ON CONFLICT DO NOTHING: two instances seeding the same code at once do not fail either.
    const data = toRewardColumns(value) as Prisma.RewardCreateManyInput;
    const created = await this.db.reward.createMany({ data: [data], skipDuplicates: true });
    return created.count === 1 ? this.findByCode(value.code) : null;
  }

  async update(id: number, patch: Partial<RewardData>) {
    return toReward(await this.db.reward.update({ where: { id }, data: toRewardColumns(patch) }));
  }

  async takeStock(id: number) {
    const taken = await this.db.$executeRaw`UPDATE "Reward" SET stock = stock - 1, "updatedAt" = now() WHERE id = ${id} AND (stock IS NULL OR stock > 0)`;
    return taken === 1;
  }

  async returnStock(id: number, count: number) {
    if (count <= 0) return;
    await this.db.$executeRaw`UPDATE "Reward" SET stock = stock + ${count}, "updatedAt" = now() WHERE id = ${id} AND stock IS NOT NULL`;
  }
}

export class PrismaCouponRepository implements CouponRepository {
  constructor(private readonly db: Db) {}

  async findByKey(idempotencyKey: string) {
    const row = await this.db.coupon.findUnique({ where: { idempotencyKey } });
    return row ? toCoupon(row) : null;
  }

  async findById(id: number) {
    const row = await this.db.coupon.findUnique({ where: { id }, include: detailsInclude });
    return row ? toDetails(row) : null;
  }

  async lock(id: number) {
    const rows = await this.db.$queryRaw<{ id: number }[]>`SELECT id FROM "Coupon" WHERE id = ${id} FOR UPDATE`;
    if (rows.length === 0) return null;
    const row = await this.db.coupon.findUnique({ where: { id } });
    return row ? toCoupon(row) : null;
  }

  async create(value: NewCoupon) {
    // ON CONFLICT DO NOTHING keeps the transaction usable on a code collision (the caller draws
    // another code) or a concurrent twin with the same key. Raw SQL: Prisma compiles createMany
    // (its skipDuplicates) again on every call, with no plan cache (see PrismaOutbox.publish).
    const created = await this.db.$executeRaw`
      INSERT INTO "Coupon" (code, "rewardId", "memberId", kind, value, cost, "idempotencyKey", "issuedAt", "expiresAt")
      VALUES (${value.code}, ${value.rewardId}, ${value.memberId}, ${value.kind}::"RewardKind", ${value.value}, ${value.cost},
              ${value.idempotencyKey}, ${ts(value.issuedAt)}, ${ts(value.expiresAt)})
      ON CONFLICT DO NOTHING`;
    if (created !== 1) return null;
    const row = await this.db.coupon.findUnique({ where: { code: value.code } });
    return row && row.idempotencyKey === value.idempotencyKey ? toCoupon(row) : null;
  }

  countTaken(memberId: number, rewardId: number, since: Date | null) {
    return this.db.coupon.count({ where: { memberId, rewardId, status: { not: 'CANCELLED' }, ...(since ? { issuedAt: { gt: since } } : {}) } });
  }

  async listByMember(memberId: number) {
    const rows = await this.db.coupon.findMany({ where: { memberId }, include: detailsInclude, orderBy: { id: 'desc' } });
    return rows.map(toDetails);
  }

  async markRedeemed(id: number, value: { at: Date; storeId: number | null; actor: Actor; redeemKey: string | null }) {
    // One UPDATE with the state in its WHERE: PostgreSQL re-checks it after waiting for a
    // concurrent winner's row lock, so exactly one confirmation changes the row.
    const updated = await this.db.coupon.updateMany({
      where: { id, status: 'ISSUED', expiresAt: { gt: value.at } },
      data: {
        status: 'REDEEMED',
        redeemedAt: value.at,
        redeemedStoreId: value.storeId,
        redeemedByType: value.actor.type,
        redeemedById: value.actor.id ?? null,
        redeemKey: value.redeemKey,
      },
    });
    return updated.count === 1;
  }

  async markCancelled(id: number, at: Date) {
    const updated = await this.db.coupon.updateMany({ where: { id, status: 'ISSUED', expiresAt: { gt: at } }, data: { status: 'CANCELLED', cancelledAt: at } });
    return updated.count === 1;
  }

  findDue(now: Date, limit: number) {
    return this.db.coupon.findMany({
      where: { status: 'ISSUED', expiresAt: { lte: now } },
      select: { id: true, rewardId: true },
      orderBy: [{ expiresAt: 'asc' }, { id: 'asc' }],
      take: limit,
    });
  }

  async markExpired(ids: number[], now: Date) {
    if (ids.length === 0) return [];
    const rows = await this.db.coupon.updateManyAndReturn({
      where: { id: { in: ids }, status: 'ISSUED', expiresAt: { lte: now } },
      data: { status: 'EXPIRED', expiredAt: now },
    });
    return rows.map(toCoupon);
  }

  async setPointsRefunded(id: number, points: number) {
    await this.db.coupon.update({ where: { id }, data: { pointsRefunded: points } });
  }

  async cancelIssuedOfMember(memberId: number, at: Date) {
    const rows = await this.db.coupon.updateManyAndReturn({ where: { memberId, status: 'ISSUED' }, data: { status: 'CANCELLED', cancelledAt: at } });
    return rows.map(toCoupon);
  }

  async lotExpiriesOf(entryKey: string) {
    const entry = await this.db.ledgerEntry.findUnique({
      where: { idempotencyKey: entryKey },
      select: { allocations: { select: { lot: { select: { expiresAt: true } } } } },
    });
    return entry?.allocations.map((allocation) => allocation.lot.expiresAt) ?? [];
  }
}

/** The columns of coupon_lookup_attempt (see its migration). */
interface CouponLookupRow {
  outcome: 'FOUND' | 'WRONG' | 'LOCKED';
  couponId: number | null;
  failures: number | null;
  windowStart: Date | null;
  blockedUntil: Date | null;
}

export class PrismaLookupThrottleRepository implements LookupThrottleRepository {
  constructor(private readonly db: Db) {}
  private readonly select = { failures: true, windowStart: true, blockedUntil: true } as const;

  get(key: string): Promise<ThrottleState | null> {
    return this.db.lookupThrottle.findUnique({ where: { key }, select: this.select });
  }

  async attemptCoupon(check: CouponLookupCheck): Promise<CouponLookupAttempt> {
    const { policy } = check;
    const [row] = await this.db.$queryRaw<CouponLookupRow[]>`
      SELECT outcome, coupon_id AS "couponId", failures, window_start AS "windowStart", blocked_until AS "blockedUntil"
      FROM coupon_lookup_attempt(${check.throttleKey}::text, ${check.code}::text, ${ts(check.now)},
                                 ${policy.maxFailures}::int, ${policy.windowMs}::int, ${policy.blockMs}::int)`;
    switch (row?.outcome) {
      case 'FOUND':
        return { outcome: 'found', couponId: row.couponId as number };
      case 'LOCKED':
        return { outcome: 'locked', blockedUntil: row.blockedUntil as Date };
      case 'WRONG':
        return { outcome: 'wrong', throttle: { failures: row.failures as number, windowStart: row.windowStart as Date, blockedUntil: row.blockedUntil } };
      default:
        throw new Error('coupon_lookup_attempt answered nothing');
    }
  }
}
