import type { Clock } from '../domain/clock.js';
import { DomainError } from '../domain/errors.js';
import type { Member, MemberPatch } from '../domain/members/member.js';
import type {
  MemberRepository,
  MemberStanding,
  NewMember,
  OutboxRelay,
  OutboxWrites,
  PurchaseStats,
  Qualification,
  Repositories,
  UnitOfWork,
} from '../domain/ports.js';
import { type Member as MemberRow, Prisma, type PrismaClient } from '../generated/prisma/client.js';
import { PrismaAnalyticsRepository, PrismaReceiptRepository } from './analytics-repository.js';
import { PrismaBroadcastRepository } from './broadcast-repository.js';
import { PrismaDeliveryRepository } from './delivery-repository.js';
import { PrismaDonationRepository } from './donation-repository.js';
import { PrismaErasedIdentityRepository, takesToJson } from './erased-identity-repository.js';
import { isUniqueViolation } from './errors.js';
import { PrismaDomainEventRepository, PrismaOutbox } from './event-repository.js';
import { hotQuery, hotReader, type SqlReader } from './hot-sql.js';
import { PrismaJobRepository, PrismaJobRunRepository } from './job-repository.js';
import { type LedgerPostObserver, PrismaLedgerRepository } from './ledger-repository.js';
import { memberByTelegramId, memberWithStanding, standingById, toMember } from './member-reads.js';
import { PrismaPurchaseRepository } from './purchase-repository.js';
import { qualifyingTotalSql } from './qualification.js';
import { PrismaCouponRepository, PrismaLookupThrottleRepository, PrismaRewardRepository } from './reward-repository.js';
import { PrismaChatSessionRepository } from './session-store.js';
import { PrismaSpendCodeRepository, PrismaSpendRequestRepository } from './spend-repositories.js';
import { PrismaApiKeyRepository, PrismaAuditRepository, PrismaInviteRepository, PrismaStaffRepository, PrismaStoreRepository } from './staff-repositories.js';
import { PrismaSurveyRepository } from './survey-repository.js';
import { PrismaReferralRepository, PrismaTaskRepository } from './task-repository.js';

/** A client that may be the root client or an open transaction. */
export type Db = PrismaClient | Prisma.TransactionClient;

const fromDateOnly = (date: string | null | undefined): Date | null | undefined =>
  date === undefined ? undefined : date === null ? null : new Date(`${date}T00:00:00Z`);

class PrismaMemberRepository implements MemberRepository {
  /** The hot reads' SQL (member-reads.ts): through the pool under a root client, else through this client or transaction. */
  private readonly reader: SqlReader;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {
    this.reader = hotReader(db);
  }

  private async one(where: Prisma.MemberWhereUniqueInput): Promise<Member | null> {
    const row = await this.db.member.findUnique({ where });
    return row ? toMember(row) : null;
  }

  findById(id: number) {
    return this.one({ id });
  }
  findByTelegramId(telegramId: number) {
    return memberByTelegramId(this.reader, telegramId);
  }
  findByTelegramIdWithStanding(telegramId: number, qualification: Qualification) {
    return memberWithStanding(this.reader, telegramId, qualification);
  }
  async findByCode(code: string) {
    // Every till purchase starts here: a hot statement (hot-sql.ts).
    const [row] = await hotQuery<MemberRow>(this.db, Prisma.sql`SELECT * FROM "Member" WHERE code = ${code}`);
    return row ? toMember(row) : null;
  }
  findByPhone(phone: string) {
    return this.one({ phone });
  }
  async findByVerifiedPhone(phone: string) {
    const member = await this.one({ phone });
    return member?.phoneVerified ? member : null;
  }
  findByReferralToken(token: string) {
    return this.one({ referralToken: token });
  }
  async setReferralToken(id: number, token: string, options: { onlyIfUnset: boolean }): Promise<'set' | 'kept' | 'collision'> {
    try {
      const { count } = await this.db.member.updateMany({
        where: { id, ...(options.onlyIfUnset ? { referralToken: null } : {}) },
        data: { referralToken: token },
      });
      return count === 1 ? 'set' : 'kept';
    } catch (error) {
      if (isUniqueViolation(error, 'referralToken')) return 'collision';
      throw error;
    }
  }

  async create(member: NewMember): Promise<Member | null> {
    try {
      const row = await this.db.member.create({
        data: { ...member, telegramId: BigInt(member.telegramId), createdAt: this.clock.now() },
      });
      return toMember(row);
    } catch (error) {
      if (isUniqueViolation(error)) return null;
      throw error;
    }
  }

  async update(id: number, patch: MemberPatch): Promise<Member> {
    const { telegramId, birthday, inheritedTakes, ...rest } = patch;
    try {
      const row = await this.db.member.update({
        where: { id },
        data: {
          ...rest,
          ...(telegramId !== undefined ? { telegramId: telegramId === null ? null : BigInt(telegramId) } : {}),
          ...(birthday !== undefined ? { birthday: fromDateOnly(birthday) } : {}),
          ...(inheritedTakes !== undefined ? { inheritedTakes: takesToJson(inheritedTakes) } : {}),
        },
      });
      return toMember(row);
    } catch (error) {
      if (isUniqueViolation(error, 'phone')) throw new DomainError('PHONE_TAKEN');
      throw error;
    }
  }

  standing(id: number, qualification: Qualification): Promise<MemberStanding> {
    return standingById(this.reader, id, qualification);
  }
}

class PrismaPurchaseStats implements PurchaseStats {
  constructor(private readonly db: Db) {}

  async netSpendSince(memberId: number, since: Date | null): Promise<number> {
    const [row] = await this.db.$queryRaw<{ total: bigint }[]>`SELECT ${qualifyingTotalSql(memberId, { metric: 'spend', since })} AS total`;
    return Number(row?.total ?? 0n);
  }
}

/**
 * The repositories over one client or transaction. Rows that rules later compare with the time
 * (purchases, ledger entries, deliveries, task records, ...) are stamped from `clock`, never from
 * the database's `now()`: one clock, so tests hold at any date (DESIGN.md, principle 9).
 * `written` collects what a unit of work wrote to the outboxes, for its relay after commit.
 */
export function makeRepositories(db: Db, clock: Clock, inTransaction = false, written?: OutboxWrites, onLedgerPost?: LedgerPostObserver): Repositories {
  const deliveries = new PrismaDeliveryRepository(db, clock);
  return {
    // A transaction reads through its own client (hotReader): the pool would see outside it.
    members: new PrismaMemberRepository(db, clock),
    ledger: new PrismaLedgerRepository(db, clock, onLedgerPost),
    purchaseStats: new PrismaPurchaseStats(db),
    stores: new PrismaStoreRepository(db),
    purchases: new PrismaPurchaseRepository(db, clock, written, onLedgerPost),
    staff: new PrismaStaffRepository(db),
    invites: new PrismaInviteRepository(db),
    apiKeys: new PrismaApiKeyRepository(db),
    audit: new PrismaAuditRepository(db, clock),
    rewards: new PrismaRewardRepository(db),
    coupons: new PrismaCouponRepository(db),
    lookupThrottle: new PrismaLookupThrottleRepository(db),
    spendCodes: new PrismaSpendCodeRepository(db),
    spendRequests: new PrismaSpendRequestRepository(db),
    deliveries,
    jobs: new PrismaJobRepository(db, inTransaction, onLedgerPost),
    jobRuns: new PrismaJobRunRepository(db),
    broadcasts: new PrismaBroadcastRepository(db, clock, inTransaction),
    tasks: new PrismaTaskRepository(db, clock),
    referrals: new PrismaReferralRepository(db),
    surveys: new PrismaSurveyRepository(db, inTransaction),
    chatSessions: new PrismaChatSessionRepository(db),
    erasedIdentities: new PrismaErasedIdentityRepository(db),
    outbox: new PrismaOutbox(db, deliveries, clock, written),
    domainEvents: new PrismaDomainEventRepository(db),
    receipts: new PrismaReceiptRepository(db),
    analytics: new PrismaAnalyticsRepository(db),
    donations: new PrismaDonationRepository(db),
  };
}

/**
 * One transaction per `run`. What the work wrote to the outbox is handed to `relay` once the
 * transaction has committed (never for a rollback), so consumers only ever see committed rows.
 */
export class PrismaUnitOfWork implements UnitOfWork {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly clock: Clock,
    private readonly relay?: OutboxRelay,
    /** Told of ledger entries posted, once their transaction has committed (metrics). */
    private readonly onLedgerPost?: LedgerPostObserver,
  ) {}

  async run<T>(work: (repos: Repositories) => Promise<T>, options: { timeoutMs?: number } = {}): Promise<T> {
    const written: OutboxWrites = { events: [], deliveries: [] };
    const posted: string[] = [];
    const result = await this.prisma.$transaction(
      (tx) => work(makeRepositories(tx, this.clock, true, written, this.onLedgerPost ? (type) => posted.push(type) : undefined)),
      options.timeoutMs === undefined ? undefined : { timeout: options.timeoutMs },
    );
    if (this.onLedgerPost) for (const type of posted) this.onLedgerPost(type);
    if (this.relay && (written.events.length > 0 || written.deliveries.length > 0)) await this.relay.relay(written);
    return result;
  }

  async atomic<T>(work: (repos: Repositories) => Promise<T>): Promise<T> {
    const written: OutboxWrites = { events: [], deliveries: [] };
    const result = await work(makeRepositories(this.prisma, this.clock, false, written, this.onLedgerPost));
    if (this.relay && (written.events.length > 0 || written.deliveries.length > 0)) await this.relay.relay(written);
    return result;
  }
}
