import type { AnalyticsRepository, ReceiptRepository } from './analytics/types.js';
import type { LiftReport } from './broadcasts/lift.js';
import type { BroadcastDispatch, BroadcastRepository } from './broadcasts/types.js';
import type { DonationRepository } from './charity/types.js';
import type { Clock } from './clock.js';
import type { DomainEvent } from './events.js';
import type { Actor, LedgerCommand, LedgerEntry, OpenLot, PostResult } from './ledger/types.js';
import type { ErasedIdentityRepository, Fingerprints } from './members/fingerprints.js';
import type { Member, MemberPatch, MemberStatus } from './members/member.js';
import type { SurveyRepository } from './nps/types.js';
import type { Locale, Localized, Program } from './program.js';
import type { Coupon, CouponDetails, CouponLookupAttempt, CouponLookupCheck, NewCoupon, Reward, RewardData, ThrottleState } from './rewards/types.js';
import type { CheckedProof } from './spending/proof.js';
import type { SpendCodeAttempt, SpendCodeCheck, SpendCodeRepository, SpendRequestRepository } from './spending/types.js';
import type { ReferralRepository, TaskRepository } from './tasks/ports.js';

export interface NewMember {
  telegramId: number;
  code: string;
  locale: Locale;
  name: string | null;
  startPayload: string | null;
}

/** What counts toward a tier: net spend or points earned, since `since` (null: ever). */
export interface Qualification {
  metric: Program['tiers']['qualification']['metric'];
  since: Date | null;
}

/** The numbers of the Balance screen beside the member row itself. */
export interface MemberStanding {
  qualifyingTotal: number;
  /** The soonest-expiring open points: their expiry and how many expire then; null when none expire. */
  nearestExpiry: { at: Date; points: number } | null;
}

export interface MemberRepository {
  findById(id: number): Promise<Member | null>;
  findByTelegramId(telegramId: number): Promise<Member | null>;
  findByCode(code: string): Promise<Member | null>;
  /** Whoever holds the phone, verified or not (registration decides who keeps it). */
  findByPhone(phone: string): Promise<Member | null>;
  /** The member whose phone is verified (their own shared contact): what lookups by phone find. */
  findByVerifiedPhone(phone: string): Promise<Member | null>;
  findByReferralToken(token: string): Promise<Member | null>;
  /**
   * Sets the member's referral token (with `onlyIfUnset`, only where none is set yet: 'kept');
   * 'collision' when another member holds the token (the caller draws another).
   */
  setReferralToken(id: number, token: string, options: { onlyIfUnset: boolean }): Promise<'set' | 'kept' | 'collision'>;
  /** Throws DomainError PHONE_TAKEN / returns null when the code is taken (caller draws another). */
  create(member: NewMember): Promise<Member | null>;
  /** Throws DomainError PHONE_TAKEN when the phone belongs to another member. */
  update(id: number, patch: MemberPatch): Promise<Member>;
  /** One aggregate query whatever the member's history: qualifying total and nearest expiry. */
  standing(id: number, qualification: Qualification): Promise<MemberStanding>;
  /** `findByTelegramId` and `standing` in one query: the Balance screen's only read. */
  findByTelegramIdWithStanding(telegramId: number, qualification: Qualification): Promise<{ member: Member; standing: MemberStanding } | null>;
}

export interface LedgerRepository {
  /** Atomic and idempotent; see DebitCommand/CreditCommand. */
  post(command: LedgerCommand): Promise<PostResult>;
  history(memberId: number, page: { offset: number; limit: number }): Promise<{ entries: LedgerEntry[]; total: number }>;
  entries(memberId: number): Promise<LedgerEntry[]>;
  /** The entries written under these idempotency keys (those that exist). */
  findByKeys(idempotencyKeys: string[]): Promise<LedgerEntry[]>;
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
  /** The tier whose discount the bill got; null for purchases recorded before discounts existed. */
  tierCode: string | null;
  /** The tier discount taken off the bill (src/domain/purchases/quote.ts). */
  discountMinor: number;
  /** What the customer paid in money; null for purchases recorded before discounts existed. */
  paidMinor: number | null;
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
  /** The share of the purchase's discount this return took back. */
  discountMinor: number;
  /** The money given back; null when the purchase's money part is unknown. */
  refundMinor: number | null;
}

export interface PurchaseRepository {
  findByKey(idempotencyKey: string): Promise<Purchase | null>;
  findByReceipt(storeId: number, receiptNo: string): Promise<Purchase | null>;
  /** Reads the purchase and locks it until the transaction ends (returns are serialised). */
  lockByReceipt(storeId: number, receiptNo: string): Promise<Purchase | null>;
  /** Null when the key or the store+receipt pair is already taken (a concurrent twin won). */
  create(
    purchase: Omit<Purchase, 'id' | 'createdAt' | 'returnedMinor' | 'pointsEarned' | 'tierCode' | 'discountMinor' | 'paidMinor'> & { actor: Actor },
  ): Promise<Purchase | null>;
  setPointsEarned(id: number, points: number): Promise<void>;
  /** Adds the returned amount and takes the returned discount share off the member's savings. */
  addReturned(id: number, amountMinor: number, discountMinor?: number): Promise<void>;
  findReturnByKey(idempotencyKey: string): Promise<PurchaseReturn | null>;
  createReturn(value: Omit<PurchaseReturn, 'id' | 'createdAt'> & { actor: Actor }): Promise<PurchaseReturn>;
  finishReturn(id: number, outcome: { pointsReversed: number; shortfall: number }): Promise<PurchaseReturn>;
  /** The member's purchases, oldest first (their data export). */
  listByMember(memberId: number): Promise<Purchase[]>;
  /** Everything a purchase is planned from, read at once (record-purchase.ts). */
  snapshot(query: PurchaseQuery): Promise<PurchaseSnapshot>;
  /**
   * Executes a planned purchase atomically, outbox rows included: one statement that commits
   * on its own (use it through `uow.atomic`, which relays the outbox rows after it). Writes
   * nothing unless everything the plan assumed still holds.
   */
  record(plan: PurchasePlan): Promise<PurchaseRecordOutcome>;
}

/** A member as the caller knows them: by id, or by card code as a till sends it (found by the read itself). */
export type MemberKey = { id: number } | { code: string };

export interface PurchaseQuery {
  member: MemberKey;
  storeId: number;
  receiptNo: string;
  idempotencyKey: string;
  qualification: Qualification;
  /**
   * Set when the purchase pays with a spend code: check (and count) it in the same round trip,
   * unless the purchase was recorded before (a replay spends nothing and needs no proof).
   */
  spendCode?: SpendCodeCheck;
}

/** What a purchase is planned from: the member, the store, an earlier recording, the tier's basis. */
export interface PurchaseSnapshot {
  member: { id: number; telegramId: number | null; status: MemberStatus; tier: string | null; balance: number } | null;
  store: { id: number; name: string; active: boolean } | null;
  /** The purchase recorded before under the key, else under the store + receipt; with the balance right after it. */
  earlier: { purchase: Purchase; balanceAfter: number | null } | null;
  /** The member's qualifying total before this purchase (`query.qualification`). */
  qualifyingTotal: number;
  /** With `query.spendCode`, unless `earlier` is set: the code's check, made in the same round trip. */
  spendCode?: SpendCodeAttempt;
}

/**
 * A purchase as the domain decided it, for the database to execute. In keys, `{id}` stands for
 * the new purchase's id; the receipt's balance and the event's purchaseId are filled in by the
 * executor, the only one that knows them at the commit.
 */
export interface PurchasePlan {
  purchase: Omit<Purchase, 'id' | 'createdAt' | 'returnedMinor'> & { actor: Actor };
  /**
   * The plan holds while the member is active with tier `tierBefore` (the earn rate came from
   * it), the store is active, key and receipt are unused, and the qualifying total before the
   * purchase lies in [totalMin, totalMax] (null: unbounded), where the tier decision is the same.
   */
  assumes: { tierBefore: string | null; qualification: Qualification; totalMin: number | null; totalMax: number | null };
  tierAfter: string;
  keys: { spend: string; earn: string; receipt: string; tier: string; event: string };
  earnExpiresAt: Date | null;
  receipt: Omit<Extract<Notification, { kind: 'purchaseRecorded' }>, 'balance'>;
  tierNotice: Extract<Notification, { kind: 'tierUpgraded' }> | null;
  event: Omit<Extract<DomainEvent, { type: 'purchaseRecorded' }>, 'id' | 'purchaseId'>;
  at: Date;
  /** The checked proof of presence a spend uses up (null: nothing is spent). */
  spendProof: CheckedProof | null;
}

export type PurchaseRecordOutcome =
  | { outcome: 'RECORDED'; purchaseId: number; balance: number }
  /** Something the plan assumed changed since the read (a concurrent twin, a tier): nothing written. */
  | { outcome: 'STALE' }
  | { outcome: 'INSUFFICIENT_POINTS'; balance: number }
  /** The spend's proof was used up or ran out since it was checked: nothing written. */
  | { outcome: 'PROOF_USED' };

export type StaffRole = 'STAFF' | 'MARKETER' | 'ADMIN';

export interface StaffMember {
  id: number;
  telegramId: number;
  role: StaffRole;
  storeId: number | null;
  name: string | null;
  revokedAt: Date | null;
  /** The language they use the bot in, when known (set when they accept an invite). */
  locale?: Locale | null;
}

export interface StaffRepository {
  findByTelegramId(telegramId: number): Promise<StaffMember | null>;
  /** Creates or re-activates (a revoked member invited again) the staff member. */
  upsert(value: { telegramId: number; role: StaffRole; storeId: number | null; name: string | null; locale?: Locale | null }): Promise<StaffMember>;
  revoke(telegramId: number, at: Date): Promise<StaffMember | null>;
  list(): Promise<(StaffMember & { storeName: string | null })[]>;
  /** Unrevoked staff of the store with the STAFF role (cashiers), ascending id. */
  listByStore(storeId: number): Promise<StaffMember[]>;
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
  /** The public part of the key (`lk_<prefix>_...`): how an admin recognises it. */
  prefix: string;
  storeId: number | null;
  revokedAt: Date | null;
  /** The admin who created it (Telegram id); null for keys older than this column. */
  createdBy: number | null;
  createdAt: Date;
  lastUsedAt: Date | null;
}

export interface ApiKeyRepository {
  create(value: { name: string; prefix: string; hash: string; storeId: number | null; createdBy: number | null; createdAt: Date }): Promise<ApiKeyRecord>;
  findByHash(hash: string): Promise<ApiKeyRecord | null>;
  findById(id: number): Promise<ApiKeyRecord | null>;
  /** Every key, newest first, with its store's code. */
  list(): Promise<(ApiKeyRecord & { storeCode: string | null })[]>;
  /** Unrevoked -> revoked at `at` (one conditional update); false when it was revoked already. */
  revoke(id: number, at: Date): Promise<boolean>;
  /** lastUsedAt = `at` unless it was set after `staleBefore` (one conditional update). */
  touch(id: number, at: Date, staleBefore: Date): Promise<void>;
}

export interface AuditRepository {
  record(value: { actor: Actor; action: string; subject?: string | null; details?: Record<string, unknown> }): Promise<void>;
}

export interface RewardRepository {
  findByCode(code: string): Promise<Reward | null>;
  findById(id: number): Promise<Reward | null>;
  /** Reads the reward and locks its row until the transaction ends: takes of one reward are serialised. */
  lockByCode(code: string): Promise<Reward | null>;
  lockById(id: number): Promise<Reward | null>;
  list(filter?: { activeOnly?: boolean }): Promise<Reward[]>;
  /** Null when the code is taken. */
  create(value: RewardData): Promise<Reward | null>;
  update(id: number, patch: Partial<RewardData>): Promise<Reward>;
  /** `stock - 1` where `stock > 0` (conditional update); false when none was left. Unlimited stock: true. */
  takeStock(id: number): Promise<boolean>;
  /** Gives `count` back to a limited stock (a cancelled or expired coupon); no-op when unlimited. */
  returnStock(id: number, count: number): Promise<void>;
}

export interface CouponRepository {
  findByKey(idempotencyKey: string): Promise<Coupon | null>;
  findById(id: number): Promise<CouponDetails | null>;
  /** Reads the coupon and locks its row until the transaction ends. */
  lock(id: number): Promise<Coupon | null>;
  /** Null when the code or the idempotency key is taken (a concurrent twin, or a code collision). */
  create(value: NewCoupon): Promise<Coupon | null>;
  /** Coupons of the reward the member took since `since` (null: ever), cancelled ones not counted. */
  countTaken(memberId: number, rewardId: number, since: Date | null): Promise<number>;
  listByMember(memberId: number): Promise<CouponDetails[]>;
  /** ISSUED and unexpired at `at` -> REDEEMED, in one conditional update; false when it was not. */
  markRedeemed(id: number, value: { at: Date; storeId: number | null; actor: Actor; redeemKey: string | null }): Promise<boolean>;
  /** ISSUED and unexpired at `at` -> CANCELLED, in one conditional update; false when it was not. */
  markCancelled(id: number, at: Date): Promise<boolean>;
  /** ISSUED coupons past expiry at `now` (oldest first), not locked: candidates for `markExpired`. */
  findDue(now: Date, limit: number): Promise<{ id: number; rewardId: number }[]>;
  /** Those of `ids` that are still ISSUED and past expiry at `now` -> EXPIRED; returns them. */
  markExpired(ids: number[], now: Date): Promise<Coupon[]>;
  setPointsRefunded(id: number, points: number): Promise<void>;
  /** Every ISSUED coupon of the member -> CANCELLED at `at` (no refund here); returns them. */
  cancelIssuedOfMember(memberId: number, at: Date): Promise<Coupon[]>;
  /** Expiry of each point lot the ledger entry with this key drew from (null: never expires). */
  lotExpiriesOf(entryKey: string): Promise<(Date | null)[]>;
}

/** The brute-force guard's counters, one row per staff account or till. */
export interface LookupThrottleRepository {
  get(key: string): Promise<ThrottleState | null>;
  /** Looks up one coupon code and counts a miss, under the operator's row lock (see CouponLookupCheck); one statement. */
  attemptCoupon(check: CouponLookupCheck): Promise<CouponLookupAttempt>;
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
  rewards: RewardRepository;
  coupons: CouponRepository;
  lookupThrottle: LookupThrottleRepository;
  /** Proof of presence for spending (src/domain/spending). */
  spendCodes: SpendCodeRepository;
  spendRequests: SpendRequestRepository;
  deliveries: DeliveryRepository;
  jobs: JobRepository;
  jobRuns: JobRunRepository;
  broadcasts: BroadcastRepository;
  tasks: TaskRepository;
  referrals: ReferralRepository;
  surveys: SurveyRepository;
  chatSessions: ChatSessionRepository;
  /** The fingerprints erasure keeps (src/domain/members/fingerprints.ts). */
  erasedIdentities: ErasedIdentityRepository;
  /** Writes domain events and member messages in the unit of work's transaction (see Outbox). */
  outbox: Outbox;
  /** The domain events written through the outbox, as the events worker reads and settles them. */
  domainEvents: DomainEventRepository;
  /** Till receipts without a member (the non-member baseline of the analytics). */
  receipts: ReceiptRepository;
  /** The program's KPIs, counted set-based (src/domain/analytics). */
  analytics: AnalyticsRepository;
  /** Donations of points to charity causes (src/domain/charity). */
  donations: DonationRepository;
}

/**
 * The bot's conversation state (ChatSession rows, keyed `<feature>:<telegramId>`), as far as the
 * domain touches it: an account's erasure removes that of its Telegram user.
 */
export interface ChatSessionRepository {
  /** Deletes every session row of the Telegram user; returns how many. */
  deleteOfUser(telegramId: number): Promise<number>;
}

/**
 * Messages to a member that are not replies to them (points earned at a till, a tier reached).
 * Written to the Delivery outbox (with the change that causes them: `repos.outbox.notify`) and
 * sent after the commit; the adapter renders them in the member's language.
 */
export type Notification =
  | {
      kind: 'purchaseRecorded';
      pointsEarned: number;
      pointsSpent: number;
      balance: number;
      storeName: string;
      /** What the tier discount saved (absent in messages queued before discounts existed). */
      savingMinor?: number;
      /** False in a discount-only program: the message says nothing about points. */
      points?: boolean;
    }
  | { kind: 'returnRecorded'; pointsReversed: number; pointsRefunded: number; balance: number; storeName: string; points?: boolean }
  | { kind: 'tierUpgraded'; tierCode: string; discountPercent: number }
  | { kind: 'pointsAdjusted'; amount: number; balance: number }
  // Spending with the member's consent (src/domain/spending): the question to the member (Yes /
  // No buttons), and the answer to the cashier's chat who asked (a button to carry on).
  | { kind: 'spendRequest'; requestId: string; points: number; storeName: string }
  | { kind: 'spendAnswered'; requestId: string; approved: boolean; points: number }
  // Rewards (src/domain/rewards): `title` is the reward's, as the catalogue names it.
  | { kind: 'couponRedeemed'; couponCode: string; title: Localized; storeName: string | null }
  | { kind: 'couponExpired'; couponCode: string; title: Localized; pointsRefunded: number }
  /** An automatic reward (program `rewards.auto`): `points` became the coupon, `balance` is what is left. */
  | { kind: 'autoRewardIssued'; couponCode: string; title: Localized; points: number; balance: number }
  // From the scheduled jobs (src/domain/jobs). Plain JSON: they wait in the delivery outbox.
  /** `coupon`: the birthday coupon, when the program gives one (absent in rows written before coupons). */
  | { kind: 'birthdayGreeting'; points: number; coupon?: { code: string; title: Localized } | null }
  /** `at`: the local calendar date (YYYY-MM-DD, program time zone) on which `points` expire. */
  | { kind: 'pointsExpiring'; points: number; at: string }
  | { kind: 'pointsExpired'; points: number; balance: number }
  | { kind: 'winBack'; balance: number; inactiveDays: number }
  // One member's copy of a broadcast (src/domain/broadcasts): the content is the Broadcast row's.
  | { kind: 'broadcast'; broadcastId: number; variant?: 'A' | 'B' }
  /** A broadcast's lift against its control group (and A vs B), to its author's chat after the attribution window. */
  | { kind: 'broadcastLift'; report: LiftReport }
  // Tasks and referrals (src/domain/tasks): texts as the program file had them when it happened.
  /** `claimable`: the reward waits for the member's «Claim» tap (nothing was paid yet). */
  | { kind: 'taskCompleted'; title: Localized; points: number; badge: { icon: string; name: Localized } | null; couponCode: string | null; claimable: boolean }
  /** A referral converted: `friend` is the newcomer's bonus, `referrer` the inviter's. */
  | { kind: 'referralRewarded'; role: 'referrer' | 'friend'; points: number }
  // NPS (src/domain/nps): the survey question (0-10 buttons), and a detractor's answer for the
  // staff (sent to a chat, see Notifier.notifyChat); reasons are codes of the program's lists.
  | { kind: 'npsSurvey'; surveyId: number; storeName: string | null }
  // Charity (src/domain/charity): last month's totals to an admin (money = points x pointValueMinor).
  | {
      kind: 'charityReport';
      month: string;
      causes: { causeCode: string; points: number; valueMinor: number; donors: number }[];
      overall: { points: number; valueMinor: number; donors: number };
    }
  | {
      kind: 'npsAlert';
      surveyId: number;
      score: number;
      reasons: string[];
      comment: string | null;
      storeName: string | null;
      memberName: string | null;
      memberCode: string;
    };

/**
 * Transactional messages (the answer to something the member just did, even if at a till) are
 * always sent; reminders and offers respect the member's notification setting and quiet hours.
 */
export type NotificationClass = 'transactional' | 'reminder' | 'broadcast';

export interface NotifyOptions {
  /**
   * One message per key, ever: (purpose, recipient, period), e.g. `birthday:42:2026`. A job that
   * runs twice, or a retry, never sends twice. Defaults to a fresh key (no dedupe).
   */
  dedupeKey?: string;
  class?: NotificationClass;
}

/** A chat that is not a member's: a staff member's, or a manager group's; `locale` renders the message. */
export interface ChatRecipient {
  chatId: number;
  locale: Locale;
}

/** One member's message among many handed over at once (see Notifier.notifyMany). */
export interface MemberNotice {
  memberId: number;
  notification: Notification;
  dedupeKey: string;
  class: NotificationClass;
}

export interface Notifier {
  notify(memberId: number, notification: Notification, options?: NotifyOptions): Promise<void>;
  /**
   * Many members' messages in as few round trips as the transport allows (the jobs that notify
   * thousands of members at once): written together, queued together. The same dedupe rules as
   * `notify`; returns how many were new. Optional so that test doubles may leave it out (callers
   * fall back to `notify`, see notifyAll).
   */
  notifyMany?(notices: readonly MemberNotice[]): Promise<number>;
  /**
   * The same queue to a chat that need not belong to a member (staff alerts): sent whatever the
   * hour, never marks a member unreachable. Optional so that test doubles may leave it out.
   */
  notifyChat?(recipient: ChatRecipient, notification: Notification, options?: NotifyOptions): Promise<void>;
}

export type DeliveryStatus = 'PENDING' | 'SENT' | 'BLOCKED' | 'SKIPPED' | 'FAILED';

/** One message waiting in (or gone through) the outbox. */
export interface Delivery {
  id: number;
  dedupeKey: string;
  /** The member it goes to; null for a message to a chat (`chat`). */
  memberId: number | null;
  chat: ChatRecipient | null;
  class: NotificationClass;
  notification: Notification;
  status: DeliveryStatus;
  attempts: number;
  createdAt: Date;
  /** Rows written together by `createMany` share it: one queue job sends them (null: sent alone). */
  batchKey?: string | null;
}

/** A new outbox row. */
export interface NewDelivery {
  dedupeKey: string;
  memberId: number | null;
  /** Instead of a member: a chat (memberId null). */
  chat?: ChatRecipient | null;
  class: NotificationClass;
  notification: Notification;
}

/**
 * The rows one delivery job sends: one row, a range of ids of one broadcast (its rows are all
 * written at its start, so a range never gains rows later), or the rows of one bulk batch.
 */
export type DeliverySelector = { id: number } | { broadcastId: number; fromId: number; toId: number } | { batchKey: string };

/** A PENDING delivery with its member (null for a chat's), as a sender needs it. */
export interface DeliveryToSend {
  delivery: Delivery;
  member: Member | null;
}

/** How a delivery ended (`status`) or, with status PENDING, that it goes back to waiting unclaimed. */
export interface DeliveryOutcome {
  id: number;
  status: DeliveryStatus;
  error?: string | null;
}

export interface DeliveryRepository {
  /** Null when the dedupe key was used before: that message exists already. */
  create(value: {
    dedupeKey: string;
    memberId: number | null;
    /** Instead of a member: a chat (memberId null). */
    chat?: ChatRecipient | null;
    class: NotificationClass;
    notification: Notification;
  }): Promise<Delivery | null>;
  findById(id: number): Promise<Delivery | null>;
  /** Moves a PENDING delivery to its final status; false when it was no longer pending. */
  finish(id: number, status: Exclude<DeliveryStatus, 'PENDING'>, error?: string | null): Promise<boolean>;
  /**
   * Counts an attempt and holds the PENDING delivery for one sender until `until` (wall-clock
   * instants: a lease between workers, not a rule). Not claimed: `heldUntil` is when another
   * sender's hold ends, or null when the delivery is no longer pending. Finishing ends the hold;
   * `release` ends it without finishing.
   */
  claim(id: number, now: Date, until: Date): Promise<{ claimed: true } | { claimed: false; heldUntil: Date | null }>;
  release(id: number): Promise<void>;
  /**
   * Writes many rows in one statement; rows whose dedupe key was used before are not written.
   * `batchKey` (optional, per row) groups rows for one queue job. Returns the rows written.
   */
  createMany(values: readonly (NewDelivery & { batchKey?: string | null })[]): Promise<{ id: number; batchKey: string | null; dedupeKey: string }[]>;
  /** The PENDING rows a job is to send, with their members, in id order (one query); the first `limit` of them when given. */
  pendingFor(selector: DeliverySelector, limit?: number): Promise<DeliveryToSend[]>;
  /** `claim` for many rows in one statement: returns the ids claimed (the others are held elsewhere or no longer pending). */
  claimMany(ids: readonly number[], now: Date, until: Date): Promise<number[]>;
  /**
   * Settles a job's rows in one statement: each still PENDING row gets its outcome (SENT rows
   * their send time), and every row's hold ends. An outcome of PENDING only ends the hold.
   */
  settle(outcomes: readonly DeliveryOutcome[]): Promise<void>;
  /**
   * Deliveries still pending that were created before `before` (lost on the way to the queue?).
   * Broadcast deliveries are left out: their broadcast queues them (the paid ones on another queue).
   */
  pendingBefore(before: Date, limit: number): Promise<Delivery[]>;
  /** The member's deliveries still PENDING -> SKIPPED with `reason` (nothing goes out any more); returns how many. */
  skipPendingOfMember(memberId: number, reason: string): Promise<number>;
  /** Blanks the comment and member name in the staff alerts (`npsAlert`) of these surveys, sent or not; returns how many. */
  scrubSurveyAlerts(surveyIds: number[]): Promise<number>;
}

/** Points of one member that expire on one local date (program time zone, YYYY-MM-DD). */
export interface ExpiringPoints {
  memberId: number;
  date: string;
  points: number;
}

/** A member with no purchase since `lastActiveAt` (their last purchase, else their registration). */
export interface InactiveMember {
  id: number;
  lastActiveAt: Date;
  balance: number;
}

/** What one batch of the expiry job took from one member. */
export interface ExpiredPoints {
  memberId: number;
  points: number;
  lots: number;
  balanceAfter: number;
}

/** The set-based reads and writes of the scheduled jobs; every list is in ascending member id. */
export interface JobRepository {
  /** ACTIVE members with a birthday on `month` and one of `days`, with id > `afterId`: at most `limit` ids. */
  birthdayMembers(on: { month: number; days: number[] }, afterId: number, limit: number): Promise<number[]>;
  /**
   * Open lots expiring in (`after`, `before`) of ACTIVE members who take reminders, summed per
   * member and local expiry date; all dates of at most `limitMembers` members with id > `afterMemberId`.
   */
  expiringPoints(query: { after: Date; before: Date; timeZone: string; afterMemberId: number; limitMembers: number }): Promise<ExpiringPoints[]>;
  /** ACTIVE, registered members who take reminders, last active before `activeBefore`, id > `afterId`. */
  inactiveMembers(query: { activeBefore: Date; afterId: number; limit: number }): Promise<InactiveMember[]>;
  /**
   * One transaction (the unit of work's, when called in one: the expiry writes its notices to
   * the outbox in it): takes about `batchSize` due lots (expiresAt <= now, remaining > 0), locks
   * their members (in id order) and then all their due lots, and writes per member one EXPIRE
   * entry with its lot allocations, zeroing the lots and lowering the balance. Nothing is left
   * to do for those members at `now` afterwards, so a rerun writes nothing. `candidates` counts
   * the members locked (0: nothing was due, the run is done); `members` those that had points
   * left to expire once locked.
   */
  expireDueLots(
    now: Date,
    batchSize: number,
    actor: Actor,
    lane?: ExpiryLane,
  ): Promise<{ candidates: number; candidateIds: number[]; lots: number; members: ExpiredPoints[] }>;
}

/**
 * One of `count` disjoint shares of the members (`memberId % count = index`): batches of
 * different lanes may run at once, as they never touch the same member. Default: one lane.
 */
export interface ExpiryLane {
  index: number;
  count: number;
}

export interface JobRun {
  id: number;
  name: string;
  startedAt: Date;
  /** Null while running (or when the process died during the run). */
  finishedAt: Date | null;
  outcome: Record<string, unknown> | null;
  error: string | null;
}

export interface JobRunRepository {
  start(name: string, startedAt: Date): Promise<number>;
  finish(id: number, value: { finishedAt: Date; outcome: Record<string, unknown> | null; error: string | null }): Promise<void>;
  /** The most recent run of each job, by name. */
  latest(): Promise<JobRun[]>;
}

/**
 * What follows a change, written in the change's own transaction (DESIGN principle 8): a
 * committed change always has its events and its messages, and a rolled-back one has neither.
 * Use it inside `uow.run`: the unit of work hands what was written to the OutboxRelay after the
 * commit, which queues it (best effort; the sweeps queue whatever Redis never got).
 */
export interface Outbox {
  /** Records the event; false when an event with its id exists already (a replay writes nothing). */
  publish(event: DomainEvent): Promise<boolean>;
  /**
   * Writes a message to the member into the Delivery outbox; the deterministic `dedupeKey`
   * (e.g. `purchase:<id>:receipt`) makes a second write of the same message a no-op.
   */
  notify(memberId: number, notification: Notification, options: { dedupeKey: string; class?: NotificationClass }): Promise<void>;
  /**
   * Many members' messages in one write, under one batch key (one queue job sends them all);
   * keys used before are skipped as in `notify`. Returns how many were new.
   */
  notifyMany(notices: readonly MemberNotice[]): Promise<number>;
}

/** What one unit of work wrote to the outboxes: handed to the relay after its commit. */
export interface OutboxWrites {
  events: DomainEvent[];
  deliveries: Delivery[];
}

/** Queues committed outbox rows (src/jobs). Best effort: it never throws; the sweeps catch up. */
export interface OutboxRelay {
  relay(writes: OutboxWrites): Promise<void>;
}

export type DomainEventStatus = 'PENDING' | 'PROCESSED' | 'FAILED';

export interface StoredEvent {
  event: DomainEvent;
  status: DomainEventStatus;
  attempts: number;
  createdAt: Date;
  processedAt: Date | null;
}

export interface DomainEventRepository {
  findById(id: string): Promise<StoredEvent | null>;
  /** PENDING -> PROCESSED at `at`; false when it was not pending (a twin delivery settled it first). */
  markProcessed(id: string, at: Date): Promise<boolean>;
  /** Counts a failed attempt; at `maxAttempts` the event becomes FAILED (the sweep stops re-queueing it). */
  recordFailure(id: string, error: string, maxAttempts: number): Promise<void>;
  /** Ids of PENDING events created before `before` (null: all of them), oldest first. */
  pendingIds(before: Date | null, limit: number): Promise<string[]>;
}

/**
 * Runs work in one database transaction: all of it commits, or none of it. What the work wrote
 * to `repos.outbox` is handed to the OutboxRelay after the commit.
 */
export interface UnitOfWork {
  /** `timeoutMs`: how long the transaction may stay open (default: the client's, 30 s). */
  run<T>(work: (repos: Repositories) => Promise<T>, options?: { timeoutMs?: number }): Promise<T>;
  /**
   * For work whose writes are one call that commits atomically on its own (e.g.
   * `purchases.record`): no transaction is opened (no BEGIN/COMMIT round trips), and what the
   * call wrote to the outbox is relayed after it, as `run` does after its commit.
   */
  atomic<T>(work: (repos: Repositories) => Promise<T>): Promise<T>;
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
  /** Keyed digests of Telegram ids and phones, kept at erasure against reward farming. */
  fingerprints: Fingerprints;
  /**
   * The server key spend codes are hashed under (HMAC): without it a database reader could hash
   * all million codes. Absent in domain tests (a fixed key is used then).
   */
  spendCodeKey?: string;
  /** The delivery queue and report channel of broadcasts; absent where no queue runs (domain tests). */
  broadcastDispatch?: BroadcastDispatch;
}
