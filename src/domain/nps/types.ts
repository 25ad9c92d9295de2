import type { AudienceQuery } from '../broadcasts/types.js';
import type { NpsGroup } from './score.js';

/**
 * NPS surveys. One Survey row per (member, trigger): the trigger is a purchase
 * (`purchase:<id>`, at most one survey per purchase) or a marketer's campaign
 * (`campaign:<key>`). A survey is SENT, then ANSWERED (score, group, reasons, comment), then
 * CLOSED: when its change window is over, or unanswered after `answerWithinDays`.
 */

export type SurveyStatus = 'SENT' | 'ANSWERED' | 'CLOSED';

export interface Survey {
  id: number;
  memberId: number;
  trigger: string;
  purchaseId: number | null;
  storeId: number | null;
  status: SurveyStatus;
  score: number | null;
  group: NpsGroup | null;
  /** Reason codes from the program's list for the group. */
  reasons: string[];
  comment: string | null;
  sentAt: Date;
  /** The first answer: the change window counts from here. */
  answeredAt: Date | null;
  /** The follow-up is done (the member finished it, or the window closed): reward and alert went out. */
  completedAt: Date | null;
  closedAt: Date | null;
  /** When a detractor's answer went to the staff (once per survey). */
  alertedAt: Date | null;
  handledAt: Date | null;
  /** Telegram id of who marked the alert handled. */
  handledBy: number | null;
}

/** What a campaign did with its audience: each member is counted once, in the first that applies. */
export interface CampaignCounts {
  /** Members who got a survey now. */
  surveyed: number;
  /** Had this campaign's survey already (a rerun, a double tap). */
  already: number;
  /** Turned such messages off. */
  optedOut: number;
  /** Blocked the bot. */
  unreachable: number;
  /** Were surveyed within `minDaysBetweenSurveys`. */
  recentlySurveyed: number;
}

export interface CampaignSurveys extends CampaignCounts {
  /** The surveys created, by ascending id. */
  created: { id: number; memberId: number }[];
}

export type SurveyPatch = Partial<Pick<Survey, 'status' | 'score' | 'group' | 'reasons' | 'comment' | 'answeredAt' | 'completedAt' | 'closedAt' | 'alertedAt'>>;

/** Counts of surveys sent in a period, per store (null: campaign surveys) and local week (Monday). */
export interface NpsCountsRow {
  storeId: number | null;
  /** YYYY-MM-DD of the Monday starting the week, in the program's time zone. */
  week: string;
  sent: number;
  promoters: number;
  passives: number;
  detractors: number;
}

export interface ReasonCountRow {
  group: NpsGroup;
  code: string;
  count: number;
}

/** One answered survey, for the CSV export. */
export interface SurveyAnswerRow {
  id: number;
  sentAt: Date;
  answeredAt: Date;
  storeCode: string | null;
  memberCode: string;
  score: number;
  group: NpsGroup;
  reasons: string[];
  comment: string | null;
  handledAt: Date | null;
}

export interface NpsPeriodQuery {
  /** Surveys sent in [from, to). */
  from: Date;
  to: Date;
  /** Only this store's surveys; null: all. */
  storeId: number | null;
  timeZone: string;
}

export interface SurveyRepository {
  findById(id: number): Promise<Survey | null>;
  /** Reads the survey and locks its row until the transaction ends (taps of one survey are serialised). */
  lock(id: number): Promise<Survey | null>;
  update(id: number, patch: SurveyPatch): Promise<Survey>;
  /**
   * One transaction, serialised with other dispatchers: surveys for purchases made in
   * (`purchasedAfter`, `purchasedBefore`], not fully returned, with no survey yet, of ACTIVE
   * members who take reminders, are reachable and had no survey since `surveyedSince`; one per
   * member (their latest such purchase), at most `limit`. Returns the surveys created.
   */
  createForPurchases(query: {
    purchasedAfter: Date;
    purchasedBefore: Date;
    surveyedSince: Date;
    sentAt: Date;
    limit: number;
    purchaseId?: number;
  }): Promise<Survey[]>;
  /**
   * A marketer's campaign, in one transaction serialised with the dispatchers: resolves the
   * audience once (the broadcasts' segment clause) and creates a survey with `trigger` for each
   * member who takes reminders, is reachable, has no survey with this trigger and none since
   * `surveyedSince`. Returns the new surveys (ascending id) and why the others were left out.
   * `dryRun`: creates nothing, `surveyed` counts who would be asked (the confirmation screen).
   */
  createForCampaign(query: { audience: AudienceQuery; trigger: string; surveyedSince: Date; sentAt: Date; dryRun?: boolean }): Promise<CampaignSurveys>;
  /**
   * SENT surveys since `since` with no message in the outbox under `dedupeKeyPrefix` + id (e.g.
   * the process stopped between creating them and queueing their message), id > `afterId`.
   */
  withoutMessage(query: { since: Date; dedupeKeyPrefix: string; afterId: number; limit: number }): Promise<Survey[]>;
  /** Surveys alerted since `since` with no alert in the outbox (dedupe keys `<prefix><id>:<chat>`). */
  alertedWithoutMessage(query: { since: Date; dedupeKeyPrefix: string; limit: number }): Promise<Survey[]>;
  /** SENT surveys sent at or before `before` -> CLOSED at `now`; returns how many. */
  closeUnanswered(before: Date, now: Date): Promise<number>;
  /** ANSWERED surveys first answered at or before `before`, ascending id > `afterId`: due to be completed and closed. */
  answeredBefore(before: Date, afterId: number, limit: number): Promise<Survey[]>;
  /** Sets handledAt/handledBy unless it was handled already (one conditional update); false then. */
  markHandled(id: number, by: number, at: Date): Promise<boolean>;
  counts(query: NpsPeriodQuery): Promise<NpsCountsRow[]>;
  reasonCounts(query: NpsPeriodQuery): Promise<ReasonCountRow[]>;
  /** Answered surveys of the period, oldest first, at most `limit`. */
  answers(query: NpsPeriodQuery & { limit: number }): Promise<SurveyAnswerRow[]>;
  /** The member's surveys, oldest first (their data export). */
  listByMember(memberId: number): Promise<Survey[]>;
  /** Erasure: the comments of the member's surveys -> null (score, group and reasons stay, anonymous); returns how many surveys. */
  eraseComments(memberId: number): Promise<number>;
}
