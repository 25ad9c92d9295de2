import { isLocale } from '../domain/program.js';
import { SPEND_THROTTLE_PREFIX } from '../domain/spending/spend-codes.js';
import type { SpendCodeAttempt, SpendCodeCheck, SpendCodeRepository, SpendRequest, SpendRequestRepository } from '../domain/spending/types.js';
import { Prisma, type SpendRequest as SpendRequestRow } from '../generated/prisma/client.js';
import type { Db } from './repositories.js';
import { ts } from './sql.js';

/** The columns of spend_code_attempt (see its migration), as `spendCodeAttemptSql` selects them. */
export interface SpendCodeAttemptRow {
  attemptOutcome: 'MATCH' | 'WRONG' | 'LOCKED' | 'SKIPPED' | null;
  attemptCodeId: number | null;
  attemptFailures: number | null;
  attemptWindowStart: Date | null;
  attemptBlockedUntil: Date | null;
}

/**
 * A FROM item that checks and counts one typed code: spend_code_attempt, which decides under
 * the member's guessing lock (`spendThrottleKey`, built here from the member id). `memberId`
 * (SQL): a parameter, or a column of the statement around it, as in the purchase snapshot,
 * which joins the check so that it costs no round trip of its own and finds the member in the
 * same statement. `skip` (SQL): check nothing, e.g. when the purchase is a replay.
 */
export function spendCodeAttemptSql(memberId: Prisma.Sql, check: SpendCodeCheck, skip: Prisma.Sql = Prisma.sql`false`): Prisma.Sql {
  const { policy } = check;
  return Prisma.sql`(SELECT a.outcome AS "attemptOutcome", a.code_id AS "attemptCodeId", a.failures AS "attemptFailures",
                            a.window_start AS "attemptWindowStart", a.blocked_until AS "attemptBlockedUntil"
                     FROM spend_code_attempt(${memberId}, ${SPEND_THROTTLE_PREFIX}::text || ${memberId}, ${check.codeHash}::text, ${ts(check.now)},
                          ${policy.maxFailures}::int, ${policy.windowMs}::int, ${policy.blockMs}::int, ${skip}) AS a)`;
}

/** The row's decision; null when the check was skipped. */
export function toSpendCodeAttempt(row: SpendCodeAttemptRow): SpendCodeAttempt | null {
  switch (row.attemptOutcome) {
    case 'MATCH':
      return { outcome: 'match', codeId: row.attemptCodeId as number };
    case 'LOCKED':
      return { outcome: 'locked', blockedUntil: row.attemptBlockedUntil as Date };
    case 'WRONG':
      return {
        outcome: 'wrong',
        throttle: { failures: row.attemptFailures as number, windowStart: row.attemptWindowStart as Date, blockedUntil: row.attemptBlockedUntil },
      };
    default:
      return null;
  }
}

export class PrismaSpendCodeRepository implements SpendCodeRepository {
  constructor(private readonly db: Db) {}

  async replace(memberId: number, value: { codeHash: string; createdAt: Date; expiresAt: Date }): Promise<void> {
    // Only the code on screen works: the earlier ones are closed without a purchase.
    await this.db.spendCode.updateMany({ where: { memberId, usedAt: null }, data: { usedAt: value.createdAt } });
    await this.db.spendCode.create({ data: { memberId, ...value } });
  }

  async attempt(memberId: number, check: SpendCodeCheck): Promise<SpendCodeAttempt> {
    const [row] = await this.db.$queryRaw<SpendCodeAttemptRow[]>`SELECT * FROM ${spendCodeAttemptSql(Prisma.sql`${memberId}::int`, check)} AS attempt`;
    const attempt = row && toSpendCodeAttempt(row);
    if (!attempt) throw new Error('spend_code_attempt answered nothing');
    return attempt;
  }

  async consume(id: number, now: Date, purchaseId: number): Promise<boolean> {
    const used = await this.db.spendCode.updateMany({ where: { id, usedAt: null, expiresAt: { gt: now } }, data: { usedAt: now, purchaseId } });
    return used.count === 1;
  }
}

const toRequest = (row: SpendRequestRow): SpendRequest => ({
  id: row.id,
  memberId: row.memberId,
  storeId: row.storeId,
  points: row.points,
  status: row.status,
  actor: { type: row.actorType, id: row.actorId },
  notify: row.notifyChatId === null ? null : { chatId: Number(row.notifyChatId), locale: isLocale(row.notifyLocale) ? row.notifyLocale : 'ru' },
  createdAt: row.createdAt,
  expiresAt: row.expiresAt,
  decidedAt: row.decidedAt,
  usedAt: row.usedAt,
});

export class PrismaSpendRequestRepository implements SpendRequestRepository {
  constructor(private readonly db: Db) {}

  async create(value: Omit<SpendRequest, 'status' | 'decidedAt' | 'usedAt'>): Promise<SpendRequest> {
    const row = await this.db.spendRequest.create({
      data: {
        id: value.id,
        memberId: value.memberId,
        storeId: value.storeId,
        points: value.points,
        actorType: value.actor.type,
        actorId: value.actor.id ?? null,
        notifyChatId: value.notify ? BigInt(value.notify.chatId) : null,
        notifyLocale: value.notify?.locale ?? null,
        createdAt: value.createdAt,
        expiresAt: value.expiresAt,
      },
    });
    return toRequest(row);
  }

  async findById(id: string): Promise<SpendRequest | null> {
    const row = await this.db.spendRequest.findUnique({ where: { id } });
    return row ? toRequest(row) : null;
  }

  async decide(id: string, memberId: number, approve: boolean, now: Date): Promise<boolean> {
    const decided = await this.db.spendRequest.updateMany({
      where: { id, memberId, status: 'PENDING', expiresAt: { gt: now } },
      data: { status: approve ? 'APPROVED' : 'DECLINED', decidedAt: now },
    });
    return decided.count === 1;
  }

  async consume(id: string, match: { memberId: number; storeId: number; points: number }, now: Date, purchaseId: number): Promise<boolean> {
    const used = await this.db.spendRequest.updateMany({
      where: { id, ...match, status: 'APPROVED', usedAt: null, expiresAt: { gt: now } },
      data: { usedAt: now, purchaseId },
    });
    return used.count === 1;
  }
}
