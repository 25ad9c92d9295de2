import type { Actor } from '../ledger/types.js';
import type { NpsGroup } from '../nps/score.js';
import type { Locale } from '../program.js';
import type { Segment } from './segment-schema.js';

/**
 * Broadcasts: a marketer's (or the CRM's) message to a segment of members. Plain data here; the
 * adapters validate input (zod) and render it. See start-broadcast.ts for how a broadcast runs.
 */

/**
 * A Telegram MessageEntity of the text or caption, kept exactly as the marketer typed it and
 * sent back as is (`entities` / `caption_entities`): the text is never re-parsed as markup.
 * Offsets and lengths are in UTF-16 code units, like JavaScript string indices.
 */
export interface TextEntity {
  type: string;
  offset: number;
  length: number;
  url?: string;
  language?: string;
  custom_emoji_id?: string;
  [key: string]: unknown;
}

/** An inline URL button under the message: a web link or a bot deep link (https://t.me/<bot>?start=rewards). */
export interface BroadcastButton {
  text: string;
  url: string;
}

export interface BroadcastContent {
  /** The text, or the caption when there is a photo (may then be empty). */
  text: string;
  entities: TextEntity[];
  /** Telegram's file_id of the photo the marketer uploaded; null: a text message. */
  photoFileId: string | null;
  button: BroadcastButton | null;
}

export { NPS_GROUPS, type NpsGroup } from '../nps/score.js';

/** Who a broadcast goes to: declared once, as a zod schema (segment-schema.ts). */
export type { Segment };

/** A segment resolved against the clock and the database: what the audience query runs. */
export interface AudienceQuery {
  tiers: string[] | null;
  /** Members with no tier yet hold the program's first tier. */
  firstTier: string;
  locales: Locale[] | null;
  storeIds: number[] | null;
  lastPurchaseBefore: Date | null;
  lastPurchaseSince: Date | null;
  registeredSince: Date | null;
  birthdayMonth: number | null;
  npsGroups: NpsGroup[] | null;
  pointsExpiring: { after: Date; before: Date } | null;
  minBalance: number | null;
  neverPurchased: boolean;
}

/** Members the segment matches: those who will receive it, and those it leaves out and why. */
export interface AudienceSize {
  recipients: number;
  /** Matching, but they turned notifications off. */
  optedOut: number;
  /** Matching, but they blocked the bot. */
  unreachable: number;
}

/** How a broadcast's personal offer went: copies sent with a coupon, and without (paused or out of stock). */
export interface OfferCounts {
  withCoupon: number;
  withoutCoupon: number;
}

export type BroadcastStatus = 'SCHEDULED' | 'SENDING' | 'DONE' | 'CANCELLED';

/** The delivery list of a broadcast by outcome. */
export interface BroadcastCounts {
  pending: number;
  sent: number;
  /** Blocked the bot: known when the list was resolved, or answered 403. */
  blocked: number;
  failed: number;
  /** Opted out of marketing messages (when resolved, or since) or no longer active. */
  skipped: number;
  /** Not sent because the broadcast was cancelled. */
  cancelled: number;
}

export interface Broadcast {
  id: number;
  status: BroadcastStatus;
  content: BroadcastContent;
  segment: Segment;
  paid: boolean;
  /** When it starts (or started): the requested time, moved past the program's quiet hours. */
  scheduledAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  cancelledAt: Date | null;
  /** Rows in the delivery list (0 until it starts). */
  audience: number;
  /** Deliveries with ids up to this one have been handed to the queue. */
  queuedThroughId: number;
  /** The final counts, written when it finishes or is cancelled (live counts: BroadcastRepository.counts). */
  final: Omit<BroadcastCounts, 'pending'>;
  createdBy: Actor;
  /** The marketer's chat for the final report, and their language; null when created through the API. */
  reportTo: { chatId: number; locale: Locale } | null;
  idempotencyKey: string | null;
  /**
   * A personal offer: the code of a catalogue reward of which each recipient gets a free coupon
   * with the message (issued at send time, once per member; see offer.ts). Null: none.
   */
  offerRewardCode: string | null;
  /** Percent of the recipients held back as the control group (0-50; see experiment.ts). */
  controlPercent: number;
  /** A second message for half of the treated members (A/B test); null: one message for all. */
  variantB: BroadcastContent | null;
  /** When the lift report went to the author (after the attribution window); null: not yet. */
  liftReportedAt: Date | null;
  createdAt: Date;
}

export interface NewBroadcast {
  content: BroadcastContent;
  segment: Segment;
  paid: boolean;
  scheduledAt: Date;
  createdBy: Actor;
  reportTo: { chatId: number; locale: Locale } | null;
  idempotencyKey: string | null;
  offerRewardCode: string | null;
  controlPercent: number;
  variantB: BroadcastContent | null;
}

/** What a broadcast's delivery sends: the message, and the reward of its personal offer (null: none). */
export interface BroadcastMessage {
  content: BroadcastContent;
  offerRewardCode: string | null;
  /** The message of the members assigned variant B (their delivery's payload says so); null: none. */
  variantB: BroadcastContent | null;
}

/** The control group and the A/B split of a started broadcast. */
export interface ExperimentCounts {
  /** Members held back (BroadcastHoldout rows). */
  control: number;
  /** Delivery rows per variant (all of them A when there is no variant B). */
  variantA: number;
  variantB: number;
}

/** One group of a lift measurement: its members' outcomes within the attribution window. */
export interface LiftArm {
  members: number;
  /** Members with a purchase in their window. */
  converted: number;
  /** Members who redeemed a coupon in their window. */
  redeemed: number;
  /** Mean and sample variance of the revenue per member in the window (minor units, net of returns). */
  revenueMean: number;
  revenueVariance: number;
}

/** The groups of a broadcast for its lift report: SENT copies by variant, and the control group. */
export interface LiftFacts {
  control: LiftArm;
  variantA: LiftArm;
  /** Null when the broadcast had no variant B. */
  variantB: LiftArm | null;
}

export interface BroadcastRepository {
  /** Null when the idempotency key was used before. */
  create(value: NewBroadcast): Promise<Broadcast | null>;
  findById(id: number): Promise<Broadcast | null>;
  findByKey(idempotencyKey: string): Promise<Broadcast | null>;
  /** The most recent first. */
  list(limit: number): Promise<Broadcast[]>;
  audienceSize(query: AudienceQuery): Promise<AudienceSize>;
  /**
   * SCHEDULED -> SENDING and the delivery list, atomically, in one set-based statement: one row
   * per matching ACTIVE member (dedupe key `broadcast:<id>:<memberId>`, conflicts ignored),
   * PENDING for recipients, SKIPPED for the opted-out, BLOCKED for the unreachable. Null (and
   * nothing written) when the broadcast was not SCHEDULED: started by someone else, or cancelled.
   */
  start(id: number, query: AudienceQuery, now: Date): Promise<Broadcast | null>;
  /** Ids of PENDING deliveries of the broadcast with id > `afterId`, ascending, at most `limit`. */
  pendingDeliveries(id: number, afterId: number, limit: number): Promise<number[]>;
  /** How many PENDING deliveries with id <= `throughId` there are (those queued, not yet done), counting at most `cap`. */
  queuedPending(id: number, throughId: number, cap: number): Promise<number>;
  /** Records that deliveries up to `deliveryId` are queued (never moves back). */
  markQueued(id: number, deliveryId: number): Promise<void>;
  /**
   * SCHEDULED or SENDING -> CANCELLED, and its PENDING deliveries -> SKIPPED ('cancelled'), in
   * one transaction; returns those deliveries' ids. Null when it was neither.
   */
  cancel(id: number, now: Date): Promise<{ broadcast: Broadcast; withdrawn: number[] } | null>;
  /** Live counts of the delivery list. */
  counts(id: number): Promise<BroadcastCounts>;
  /** Of the SENT deliveries of a broadcast with an offer: with the coupon, and without (NO_OFFER_REASON). */
  offerCounts(id: number): Promise<OfferCounts>;
  /** SENDING with no PENDING delivery left -> DONE with the final counts; null otherwise. */
  finishIfDone(id: number, now: Date): Promise<Broadcast | null>;
  /** SCHEDULED broadcasts due at `now`, oldest first. */
  due(now: Date, limit: number): Promise<number[]>;
  /** Every SENDING broadcast. */
  sending(): Promise<Broadcast[]>;
  /** Control group size and deliveries per variant. */
  experimentCounts(id: number): Promise<ExperimentCounts>;
  /**
   * The outcomes of each group within `days` days: treated members (SENT deliveries, by variant)
   * from their own send time, control members from the broadcast's start. Set-based, one query.
   */
  liftFacts(id: number, days: number): Promise<LiftFacts>;
  /** DONE broadcasts finished at or before `finishedBefore` whose lift report is not sent; oldest first. */
  liftDue(finishedBefore: Date, limit: number): Promise<Broadcast[]>;
  /** Marks the lift report sent (once: false when it was already). */
  markLiftReported(id: number, now: Date): Promise<boolean>;
  /** The latest DONE broadcasts finished at or before `finishedBefore`, newest first. */
  finishedBefore(finishedBefore: Date, limit: number): Promise<Broadcast[]>;
}

/**
 * The way out of the domain for a running broadcast: the delivery queue (the paid queue for a
 * paid broadcast) and the final report to its creator. Implemented in src/jobs/broadcasts.ts.
 */
export interface BroadcastDispatch {
  /** Queues these deliveries (PENDING rows of the broadcast); queueing one already queued does nothing. */
  enqueue(broadcast: Pick<Broadcast, 'id' | 'paid'>, deliveryIds: readonly number[]): Promise<void>;
  /** Takes cancelled deliveries out of the queue; best effort (the worker drops them anyway). */
  withdraw(broadcast: Pick<Broadcast, 'id' | 'paid'>, deliveryIds: readonly number[]): Promise<void>;
  /** The final report to whoever created it (when created in the chat). */
  report(broadcast: Broadcast, counts: BroadcastCounts): Promise<void>;
}
