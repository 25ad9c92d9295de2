import { DomainError } from '../../src/domain/errors.js';
import type { DomainEvent, EventHandler } from '../../src/domain/events.js';
import { planPost, replayOf, validateCommand } from '../../src/domain/ledger/posting.js';
import type { LedgerCommand, LedgerEntry, OpenLot, PostResult } from '../../src/domain/ledger/types.js';
import type { ErasedIdentity, ErasedIdentityRepository } from '../../src/domain/members/fingerprints.js';
import type { Member, MemberPatch } from '../../src/domain/members/member.js';
import { pendingDelivery, processDomainEvent } from '../../src/domain/outbox.js';
import type {
  Delivery,
  DomainDeps,
  DomainEventRepository,
  LedgerRepository,
  MemberRepository,
  NewMember,
  Outbox,
  OutboxWrites,
  PurchaseStats,
  Repositories,
  StoredEvent,
  UnitOfWork,
} from '../../src/domain/ports.js';

function unsupported<T extends object>(name: string): T {
  return new Proxy({} as T, {
    get: (_target, method) => () => {
      throw new Error(`MemoryStore.${name}.${String(method)} is not modelled in memory: test this on PostgreSQL`);
    },
  });
}

/** Like `unsupported`, except for the methods given. */
function partial<T extends object>(name: string, methods: Partial<T>): T {
  const rest = unsupported<T>(name);
  return new Proxy(methods as T, { get: (target, method) => (method in target ? target[method as keyof T] : rest[method as keyof T]) });
}

/**
 * In-memory ports for unit tests of use cases. They keep the same promises as the PostgreSQL
 * adapters (unique phone and code, idempotent ledger, no negative balance) but make no claim
 * about concurrency: that is proven on real PostgreSQL in test/db.
 */
export class MemoryStore implements Repositories {
  readonly memberRows = new Map<number, Member>();
  readonly entryRows: LedgerEntry[] = [];
  readonly lotRows: (OpenLot & { memberId: number; amount: number })[] = [];
  readonly spend = new Map<number, number>();
  /** The bot's conversation state (ChatSession rows) by key. */
  readonly sessionRows = new Map<string, unknown>();
  /** The outboxes: domain events by id, and member messages (Delivery rows) by dedupe key. */
  readonly eventRows = new Map<string, StoredEvent>();
  readonly deliveryRows = new Map<string, Delivery>();
  /** What the current unit of work wrote to the outboxes, handed to `followEvents`' handlers after it. */
  private written: OutboxWrites = { events: [], deliveries: [] };
  private followers: { deps: DomainDeps; handlers: readonly EventHandler[] } | null = null;
  private nextId = 1;

  members: MemberRepository = {
    findById: async (id) => this.copy(this.memberRows.get(id)),
    findByTelegramId: async (telegramId) => this.copy([...this.memberRows.values()].find((m) => m.telegramId === telegramId)),
    findByCode: async (code) => this.copy([...this.memberRows.values()].find((m) => m.code === code)),
    findByPhone: async (phone) => this.copy([...this.memberRows.values()].find((m) => m.phone === phone)),
    findByVerifiedPhone: async (phone) => this.copy([...this.memberRows.values()].find((m) => m.phone === phone && m.phoneVerified)),
    findByReferralToken: async (token) => this.copy([...this.memberRows.values()].find((m) => m.referralToken === token)),
    setReferralToken: async (id, token, { onlyIfUnset }) => {
      if ([...this.memberRows.values()].some((m) => m.referralToken === token)) return 'collision';
      const member = this.memberRows.get(id);
      if (!member || (onlyIfUnset && member.referralToken !== null)) return 'kept';
      member.referralToken = token;
      return 'set';
    },
    create: async (input: NewMember) => {
      const taken = [...this.memberRows.values()].some((m) => m.code === input.code || m.telegramId === input.telegramId);
      if (taken) return null;
      const member: Member = {
        id: this.nextId++,
        telegramId: input.telegramId,
        code: input.code,
        status: 'REGISTERING',
        registrationStep: 'LANGUAGE',
        startPayload: input.startPayload,
        locale: input.locale,
        phone: null,
        phoneVerified: false,
        name: input.name,
        birthday: null,
        consentVersion: null,
        consentAt: null,
        notificationsEnabled: true,
        reachable: true,
        balance: 0,
        tier: null,
        cardFileId: null,
        registeredAt: null,
        deletedAt: null,
        createdAt: new Date(),
        referralToken: null,
        returning: false,
        inheritedTakes: [],
        savedMinor: 0,
      };
      this.memberRows.set(member.id, member);
      return { ...member };
    },
    update: async (id, patch: MemberPatch) => {
      const member = this.memberRows.get(id);
      if (!member) throw new Error(`no member ${id}`);
      if (patch.phone && [...this.memberRows.values()].some((m) => m.id !== id && m.phone === patch.phone)) throw new DomainError('PHONE_TAKEN');
      Object.assign(member, patch);
      return { ...member };
    },
    findByTelegramIdWithStanding: async (telegramId, qualification) => {
      const member = await this.members.findByTelegramId(telegramId);
      return member ? { member, standing: await this.members.standing(member.id, qualification) } : null;
    },
    standing: async (id, { metric, since }) => {
      const expiring = this.openLotsOf(id).filter((lot) => lot.expiresAt !== null);
      const at = expiring.reduce<Date | null>((min, lot) => (min === null || (lot.expiresAt as Date) < min ? lot.expiresAt : min), null);
      const points = expiring.filter((lot) => lot.expiresAt?.getTime() === at?.getTime()).reduce((sum, lot) => sum + lot.remaining, 0);
      return {
        qualifyingTotal: metric === 'spend' ? await this.purchaseStats.netSpendSince(id, since) : await this.ledger.pointsEarnedSince(id, since),
        nearestExpiry: at ? { at, points } : null,
      };
    },
  };

  ledger: LedgerRepository = {
    // The domain's posting rules (validation, replay matching, take and FIFO draw), as
    // PostgreSQL's ledger_post executes them.
    post: async (command: LedgerCommand): Promise<PostResult> => {
      validateCommand(command);
      const member = this.memberRows.get(command.memberId);
      if (!member) throw new DomainError('MEMBER_NOT_FOUND');
      const previous = this.entryRows.find((e) => e.idempotencyKey === command.idempotencyKey);
      if (previous) return { entry: replayOf(command, previous), replayed: true };
      const plan = planPost(command, member.balance, this.openLotsOf(member.id));
      member.balance = plan.balanceAfter;
      const entry: LedgerEntry = {
        id: this.nextId++,
        memberId: member.id,
        type: command.type,
        amount: plan.amount,
        balanceAfter: plan.balanceAfter,
        idempotencyKey: command.idempotencyKey,
        actorType: command.actor.type,
        actorId: command.actor.id ?? null,
        reason: command.reason ?? null,
        storeId: command.storeId ?? null,
        purchaseId: command.purchaseId ?? null,
        createdAt: new Date(),
      };
      this.entryRows.push(entry);
      if (command.kind === 'credit') {
        this.lotRows.push({ id: entry.id, memberId: member.id, amount: command.amount, remaining: command.amount, expiresAt: command.expiresAt });
      }
      for (const allocation of plan.allocations) {
        const lot = this.lotRows.find((l) => l.id === allocation.lotId);
        if (lot) lot.remaining -= allocation.amount;
      }
      return { entry, replayed: false };
    },
    history: async (memberId, page) => {
      const all = this.entryRows.filter((e) => e.memberId === memberId).reverse();
      return { entries: all.slice(page.offset, page.offset + page.limit), total: all.length };
    },
    entries: async (memberId) => this.entryRows.filter((e) => e.memberId === memberId),
    findByKeys: async (keys) => this.entryRows.filter((e) => keys.includes(e.idempotencyKey)),
    openLots: async (memberId) => this.openLotsOf(memberId),
    pointsEarnedSince: async (memberId, since) =>
      this.entryRows
        .filter((e) => e.memberId === memberId && (e.type === 'EARN' || e.type === 'REVERSE') && (!since || e.createdAt >= since))
        .reduce((sum, e) => sum + e.amount, 0),
  };

  purchaseStats: PurchaseStats = {
    netSpendSince: async (memberId) => this.spend.get(memberId) ?? 0,
  };

  // Purchases, staff and the rest are exercised on real PostgreSQL (test/db, test/e2e).
  // The data export reads these: a member here has no purchases, surveys, tasks or referrals.
  stores = partial<Repositories['stores']>('stores', { list: async () => [] });
  purchases = partial<Repositories['purchases']>('purchases', { listByMember: async () => [] });
  donations = partial<Repositories['donations']>('donations', { listByMember: async () => [] });
  staff = unsupported<Repositories['staff']>('staff');
  invites = unsupported<Repositories['invites']>('invites');
  apiKeys = unsupported<Repositories['apiKeys']>('apiKeys');
  readonly auditRows: Parameters<Repositories['audit']['record']>[0][] = [];
  audit: Repositories['audit'] = { record: async (value) => void this.auditRows.push(value) };
  /** The fingerprints erasure keeps (ErasedIdentity rows). */
  readonly erasedRows: ErasedIdentity[] = [];
  erasedIdentities: ErasedIdentityRepository = {
    record: async (value) => void this.erasedRows.push({ ...structuredClone(value), id: this.erasedRows.length + 1 }),
    findMatching: async ({ telegram, phone }) =>
      structuredClone(this.erasedRows.filter((row) => row.telegramDigest === telegram || (phone !== null && row.phoneDigest === phone))),
    purgeErasedBefore: async (cutoff) => {
      const kept = this.erasedRows.filter((row) => row.erasedAt >= cutoff);
      const purged = this.erasedRows.length - kept.length;
      this.erasedRows.splice(0, this.erasedRows.length, ...kept);
      return purged;
    },
  };
  spendCodes = unsupported<Repositories['spendCodes']>('spendCodes');
  spendRequests = unsupported<Repositories['spendRequests']>('spendRequests');
  rewards = unsupported<Repositories['rewards']>('rewards');
  // No coupons are modelled in memory: a member here never holds one.
  coupons = partial<Repositories['coupons']>('coupons', { listByMember: async () => [], cancelIssuedOfMember: async () => [] });
  lookupThrottle = unsupported<Repositories['lookupThrottle']>('lookupThrottle');
  deliveries = partial<Repositories['deliveries']>('deliveries', { skipPendingOfMember: async () => 0, scrubSurveyAlerts: async () => 0 });
  jobs = unsupported<Repositories['jobs']>('jobs');
  jobRuns = unsupported<Repositories['jobRuns']>('jobRuns');
  broadcasts = unsupported<Repositories['broadcasts']>('broadcasts');
  tasks = partial<Repositories['tasks']>('tasks', {
    allInstances: async () => [],
    badges: async () => [],
    streaks: async () => [],
    gameProfile: async () => ({ leaderboard: false, nameStyle: 'INITIALS' }),
    deleteGameProfile: async () => {},
  });
  referrals = partial<Repositories['referrals']>('referrals', { findByFriend: async () => null, stats: async () => ({ joined: 0, bought: 0, pending: 0 }) });
  surveys = partial<Repositories['surveys']>('surveys', { listByMember: async () => [], eraseComments: async () => 0 });
  chatSessions: Repositories['chatSessions'] = {
    deleteOfUser: async (telegramId) => {
      const keys = [...this.sessionRows.keys()].filter((key) => key.endsWith(`:${telegramId}`));
      for (const key of keys) this.sessionRows.delete(key);
      return keys.length;
    },
  };

  outbox: Outbox = {
    publish: async (event: DomainEvent) => {
      if (this.eventRows.has(event.id)) return false;
      this.eventRows.set(event.id, { event: structuredClone(event), status: 'PENDING', attempts: 0, createdAt: event.at, processedAt: null });
      this.written.events.push(event);
      return true;
    },
    notify: async (memberId, notification, options) => {
      if (this.deliveryRows.has(options.dedupeKey)) return;
      const delivery = pendingDelivery(
        { memberId, notification, dedupeKey: options.dedupeKey, class: options.class ?? 'transactional' },
        { id: this.nextId++, createdAt: new Date() },
      );
      this.deliveryRows.set(options.dedupeKey, delivery);
      this.written.deliveries.push(delivery);
    },
    notifyMany: async (notices) => {
      // As PostgreSQL: one batch key for the rows written, keys used before skipped.
      const batchKey = `batch-${this.nextId}`;
      let written = 0;
      for (const notice of notices) {
        if (this.deliveryRows.has(notice.dedupeKey)) continue;
        const delivery = pendingDelivery(notice, { id: this.nextId++, createdAt: new Date(), batchKey });
        this.deliveryRows.set(notice.dedupeKey, delivery);
        this.written.deliveries.push(delivery);
        written++;
      }
      return written;
    },
  };

  // Receipts and the analytics are set-based SQL: tested on PostgreSQL (test/db/analytics.test.ts).
  receipts = unsupported<Repositories['receipts']>('receipts');
  analytics = unsupported<Repositories['analytics']>('analytics');

  domainEvents: DomainEventRepository = {
    findById: async (id) => {
      const row = this.eventRows.get(id);
      return row ? { ...row, event: structuredClone(row.event) } : null;
    },
    markProcessed: async (id, at) => {
      const row = this.eventRows.get(id);
      if (row?.status !== 'PENDING') return false;
      Object.assign(row, { status: 'PROCESSED', processedAt: at });
      return true;
    },
    recordFailure: async (id, _error, maxAttempts) => {
      const row = this.eventRows.get(id);
      if (row?.status !== 'PENDING') return;
      row.attempts += 1;
      if (row.attempts >= maxAttempts) row.status = 'FAILED';
    },
    pendingIds: async (before, limit) =>
      [...this.eventRows.values()]
        .filter((row) => row.status === 'PENDING' && (!before || row.createdAt < before))
        .slice(0, limit)
        .map((row) => row.event.id),
  };

  /**
   * Runs the work directly: no rollback, so unit tests assert on what a use case checks before
   * writing. With `followEvents`, the events the work wrote are then handled at once, in this
   * call, as the events worker would (the in-memory outbox drained synchronously).
   */
  uow: UnitOfWork = {
    run: async (work) => {
      const outer = this.written;
      this.written = { events: [], deliveries: [] };
      try {
        const result = await work(this);
        const { events } = this.written;
        this.written = outer;
        if (this.followers) for (const event of events) await processDomainEvent(this.followers.deps, this.followers.handlers, event.id);
        return result;
      } finally {
        this.written = outer;
      }
    },
    // In memory a call is atomic anyway: the same bookkeeping as `run`.
    atomic: (work) => this.uow.run(work),
  };

  /** Hands every event written from now on to `handlers` right after its unit of work. */
  followEvents(deps: DomainDeps, handlers: readonly EventHandler[]): void {
    this.followers = { deps, handlers };
  }

  private openLotsOf(memberId: number): OpenLot[] {
    return this.lotRows.filter((l) => l.memberId === memberId && l.remaining > 0).map(({ id, remaining, expiresAt }) => ({ id, remaining, expiresAt }));
  }

  private copy(member: Member | undefined): Member | null {
    return member ? { ...member } : null;
  }
}
