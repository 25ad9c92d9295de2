import type { Clock } from './clock.js';
import type { Actor, LedgerCommand, LedgerEntry, OpenLot, PostResult } from './ledger/types.js';
import type { Member, MemberPatch } from './members/member.js';
import type { Locale, Program } from './program.js';

export interface NewMember {
  telegramId: number;
  code: string;
  locale: Locale;
  name: string | null;
  startPayload: string | null;
}

export interface MemberRepository {
  findById(id: number): Promise<Member | null>;
  findByTelegramId(telegramId: number): Promise<Member | null>;
  findByCode(code: string): Promise<Member | null>;
  findByPhone(phone: string): Promise<Member | null>;
  /** Throws DomainError PHONE_TAKEN / returns null when the code is taken (caller draws another). */
  create(member: NewMember): Promise<Member | null>;
  /** Throws DomainError PHONE_TAKEN when the phone belongs to another member. */
  update(id: number, patch: MemberPatch): Promise<Member>;
}

export interface LedgerRepository {
  /** Atomic and idempotent; see DebitCommand/CreditCommand. */
  post(command: LedgerCommand): Promise<PostResult>;
  history(memberId: number, page: { offset: number; limit: number }): Promise<{ entries: LedgerEntry[]; total: number }>;
  entries(memberId: number): Promise<LedgerEntry[]>;
  openLots(memberId: number): Promise<OpenLot[]>;
  /** Points credited by EARN minus REVERSE since `since` (null: ever). */
  pointsEarnedSince(memberId: number, since: Date | null): Promise<number>;
}

export interface PurchaseStats {
  /** Purchases minus returns, in minor units, since `since` (null: ever). */
  netSpendSince(memberId: number, since: Date | null): Promise<number>;
}

export interface Store {
  id: number;
  code: string;
  name: string;
  active: boolean;
}

export interface StoreRepository {
  findByCode(code: string): Promise<Store | null>;
  findById(id: number): Promise<Store | null>;
  list(): Promise<Store[]>;
  /** Creates the store or renames it; used to seed stores from the program file. */
  upsert(code: string, name: string): Promise<Store>;
}

export interface Purchase {
  id: number;
  memberId: number;
  storeId: number;
  receiptNo: string;
  amountMinor: number;
  paidWithPoints: number;
  pointsEarned: number;
  returnedMinor: number;
  idempotencyKey: string;
  requestHash: string;
  createdAt: Date;
}

export interface PurchaseReturn {
  id: number;
  purchaseId: number;
  amountMinor: number;
  pointsReversed: number;
  pointsRefunded: number;
  shortfall: number;
  idempotencyKey: string;
  requestHash: string;
  createdAt: Date;
}

export interface PurchaseRepository {
  findByKey(idempotencyKey: string): Promise<Purchase | null>;
  findByReceipt(storeId: number, receiptNo: string): Promise<Purchase | null>;
  /** Reads the purchase and locks it until the transaction ends (returns are serialised). */
  lockByReceipt(storeId: number, receiptNo: string): Promise<Purchase | null>;
  /** Null when the key or the store+receipt pair is already taken (a concurrent twin won). */
  create(purchase: Omit<Purchase, 'id' | 'createdAt' | 'returnedMinor' | 'pointsEarned'> & { actor: Actor }): Promise<Purchase | null>;
  setPointsEarned(id: number, points: number): Promise<void>;
  addReturned(id: number, amountMinor: number): Promise<void>;
  findReturnByKey(idempotencyKey: string): Promise<PurchaseReturn | null>;
  createReturn(value: Omit<PurchaseReturn, 'id' | 'createdAt'> & { actor: Actor }): Promise<PurchaseReturn>;
  finishReturn(id: number, outcome: { pointsReversed: number; shortfall: number }): Promise<PurchaseReturn>;
}

export type StaffRole = 'STAFF' | 'MARKETER' | 'ADMIN';

export interface StaffMember {
  id: number;
  telegramId: number;
  role: StaffRole;
  storeId: number | null;
  name: string | null;
  revokedAt: Date | null;
}

export interface StaffRepository {
  findByTelegramId(telegramId: number): Promise<StaffMember | null>;
  /** Creates or re-activates (a revoked member invited again) the staff member. */
  upsert(value: { telegramId: number; role: StaffRole; storeId: number | null; name: string | null }): Promise<StaffMember>;
  revoke(telegramId: number, at: Date): Promise<StaffMember | null>;
  list(): Promise<(StaffMember & { storeName: string | null })[]>;
}

export interface Invite {
  token: string;
  role: StaffRole;
  storeId: number | null;
  expiresAt: Date;
}

export interface InviteRepository {
  create(value: Invite & { createdBy: number }): Promise<void>;
  /** Marks the invite used by `telegramId` if it is unused and unexpired; null otherwise. Atomic. */
  consume(token: string, telegramId: number, now: Date): Promise<Invite | null>;
}

export interface ApiKeyRecord {
  id: number;
  name: string;
  storeId: number | null;
  revokedAt: Date | null;
}

export interface ApiKeyRepository {
  create(value: { name: string; prefix: string; hash: string; storeId: number | null }): Promise<ApiKeyRecord>;
  findByHash(hash: string): Promise<ApiKeyRecord | null>;
}

export interface AuditRepository {
  record(value: { actor: Actor; action: string; subject?: string | null; details?: Record<string, unknown> }): Promise<void>;
}

export interface Repositories {
  members: MemberRepository;
  ledger: LedgerRepository;
  purchaseStats: PurchaseStats;
  stores: StoreRepository;
  purchases: PurchaseRepository;
  staff: StaffRepository;
  invites: InviteRepository;
  apiKeys: ApiKeyRepository;
  audit: AuditRepository;
}

/**
 * Messages to a member that are not replies to them (points earned at a till, a tier reached).
 * Sent after the transaction commits; the adapter renders them in the member's language.
 */
export type Notification =
  | { kind: 'purchaseRecorded'; pointsEarned: number; pointsSpent: number; balance: number; storeName: string }
  | { kind: 'returnRecorded'; pointsReversed: number; pointsRefunded: number; balance: number; storeName: string }
  | { kind: 'tierUpgraded'; tierCode: string; discountPercent: number }
  | { kind: 'pointsAdjusted'; amount: number; balance: number };

/**
 * Transactional messages (the answer to something the member just did, even if at a till) are
 * always sent; reminders and offers respect the member's notification setting and quiet hours.
 */
export type NotificationClass = 'transactional' | 'reminder';

export interface NotifyOptions {
  /**
   * One message per key, ever: (purpose, recipient, period), e.g. `birthday:42:2026`. A job that
   * runs twice, or a retry, never sends twice. Defaults to a fresh key (no dedupe).
   */
  dedupeKey?: string;
  class?: NotificationClass;
}

export interface Notifier {
  notify(memberId: number, notification: Notification, options?: NotifyOptions): Promise<void>;
}

/** Runs work in one database transaction: all of it commits, or none of it. */
export interface UnitOfWork {
  run<T>(work: (repos: Repositories) => Promise<T>): Promise<T>;
}

/** What every use case may depend on. */
export interface DomainDeps {
  uow: UnitOfWork;
  repos: Repositories;
  program: Program;
  clock: Clock;
  notifier: Notifier;
  /** Telegram ids that are admins by configuration (ADMIN_TELEGRAM_IDS). */
  adminTelegramIds: readonly number[];
}
