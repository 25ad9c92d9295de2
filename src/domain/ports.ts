import type { Clock } from './clock.js';
import type { LedgerCommand, LedgerEntry, OpenLot, PostResult } from './ledger/types.js';
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

export interface Repositories {
  members: MemberRepository;
  ledger: LedgerRepository;
  purchaseStats: PurchaseStats;
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
}
